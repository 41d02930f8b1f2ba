import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ERROR_CODE_TRAILER, GRPC_STATUS_OF } from "@statebridge/grpc-wire";
import { ErrorDetailSchema } from "@statebridge/proto";
import { isStateError, STATE_ERROR_CODES, StateError } from "@statebridge/state-provider";
import { describe, expect, it } from "vitest";
import { stateErrorOf } from "./error-translation.js";

/** A ConnectError as the client receives it: trailers as metadata, details still encoded. */
function received(
  message: string,
  code: Code,
  options: {
    trailer?: string;
    detail?: Parameters<typeof create<typeof ErrorDetailSchema>>[1];
    detailBytes?: Uint8Array;
  } = {},
): ConnectError {
  const metadata = new Headers();
  if (options.trailer !== undefined) metadata.set(ERROR_CODE_TRAILER, options.trailer);
  const error = new ConnectError(message, code, metadata);
  if (options.detail !== undefined) {
    error.details = [
      {
        type: ErrorDetailSchema.typeName,
        value: toBinary(ErrorDetailSchema, create(ErrorDetailSchema, options.detail)),
      },
    ];
  }
  if (options.detailBytes !== undefined) {
    error.details = [{ type: ErrorDetailSchema.typeName, value: options.detailBytes }];
  }
  return error;
}

describe("stateErrorOf", () => {
  it.each(STATE_ERROR_CODES)("recovers %s exactly from the detail and trailer the server sends", (code) => {
    const error = received(`${code}: something`, GRPC_STATUS_OF[code] as Code, {
      trailer: code,
      detail: { code, message: `${code}: something` },
    });
    const translated = stateErrorOf(error);
    expect(translated.code).toBe(code);
    expect(translated.message).toBe(`${code}: something`);
    expect(translated.cause).toBe(error);
  });

  it("prefers the detail's code to the gRPC status: session_expired travels as NOT_FOUND", () => {
    const error = received("session gone", Code.NotFound, {
      detail: { code: "session_expired", message: "session_expired: session s1 expired" },
    });
    const translated = stateErrorOf(error);
    expect(translated.code).toBe("session_expired");
    expect(translated.message).toBe("session_expired: session s1 expired");
  });

  it("uses the trailer when no detail came: invalid_type travels as INVALID_ARGUMENT", () => {
    const translated = stateErrorOf(
      received("unknown type", Code.InvalidArgument, { trailer: "invalid_type" }),
    );
    expect(translated.code).toBe("invalid_type");
    expect(translated.message).toBe("invalid_type: unknown type");
  });

  it("falls back to the trailer when the detail bytes cannot be decoded", () => {
    const translated = stateErrorOf(
      received("conflict", Code.Aborted, {
        trailer: "version_conflict",
        detailBytes: new Uint8Array([0xff, 0xff, 0xff]),
      }),
    );
    expect(translated.code).toBe("version_conflict");
  });

  it("ignores a trailer or detail code it does not know and reads the status", () => {
    const translated = stateErrorOf(
      received("odd", Code.NotFound, {
        trailer: "not_a_code",
        detail: { code: "also_not_a_code", message: "" },
      }),
    );
    expect(translated.code).toBe("not_found");
  });

  it.each([
    [Code.NotFound, "not_found"],
    [Code.AlreadyExists, "already_exists"],
    [Code.InvalidArgument, "invalid_value"],
    [Code.OutOfRange, "constraint_violation"],
    [Code.FailedPrecondition, "partial_failure"],
    [Code.ResourceExhausted, "resource_exhausted"],
    [Code.Unauthenticated, "unauthenticated"],
    [Code.Unavailable, "unavailable"],
  ] as const)("without a statebridge code, gRPC status %s means %s", (status, code) => {
    expect(stateErrorOf(received("bare status", status)).code).toBe(code);
  });

  it("reads ABORTED without a statebridge code as unavailable: connect-node reports a reset connection so", () => {
    expect(stateErrorOf(received("read ECONNRESET", Code.Aborted)).code).toBe("unavailable");
  });

  it.each([Code.DeadlineExceeded, Code.Internal, Code.Unknown, Code.Canceled])(
    "reads status %s without a statebridge code as unavailable",
    (status) => {
      expect(stateErrorOf(received("no answer", status)).code).toBe("unavailable");
    },
  );

  it("names the server's address in an unavailable message", () => {
    const translated = stateErrorOf(received("connect ECONNREFUSED 127.0.0.1:1", Code.Unavailable), {
      target: "http://127.0.0.1:1",
    });
    expect(translated.code).toBe("unavailable");
    expect(translated.message).toBe(
      "unavailable: bridge-server at http://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1",
    );
  });

  it("carries the failures and applied versions of a partial_failure", () => {
    const error = received("2 of 3 updates failed", Code.FailedPrecondition, {
      trailer: "partial_failure",
      detail: {
        code: "partial_failure",
        message: "partial_failure: 2 of 3 updates failed",
        failures: [
          {
            identifier: "temperature",
            code: "constraint_violation",
            message: '"temperature" = 3 is above max 2',
          },
          { identifier: "missing", code: "not_found", message: 'no variable "missing"' },
        ],
        applied: { ok: 4n, other: 7n },
        revision: 12n,
      },
    });
    const translated = stateErrorOf(error);
    expect(translated.code).toBe("partial_failure");
    expect([...translated.failures]).toEqual([
      ["temperature", { code: "constraint_violation", message: '"temperature" = 3 is above max 2' }],
      ["missing", { code: "not_found", message: 'no variable "missing"' }],
    ]);
    expect([...translated.applied]).toEqual([
      ["ok", 4],
      ["other", 7],
    ]);
  });

  it("reads a failure code it does not know as invalid_value", () => {
    const translated = stateErrorOf(
      received("partial", Code.FailedPrecondition, {
        detail: {
          code: "partial_failure",
          message: "partial",
          failures: [{ identifier: "x", code: "strange", message: "m" }],
        },
      }),
    );
    expect(translated.failures.get("x")?.code).toBe("invalid_value");
  });

  it("reports closed for a call cancelled by close(), whatever the transport said", () => {
    const translated = stateErrorOf(received("operation was aborted", Code.Canceled), { closed: true });
    expect(translated.code).toBe("closed");
  });

  it("returns a StateError unchanged", () => {
    const original = new StateError("not_found", "no variable x");
    expect(stateErrorOf(original)).toBe(original);
  });

  it("turns an error that is not a ConnectError into a StateError", () => {
    const translated = stateErrorOf(new TypeError("boom"));
    expect(isStateError(translated)).toBe(true);
    expect(translated.code).toBe("unavailable");
  });
});
