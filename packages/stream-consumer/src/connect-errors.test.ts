import type { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ERROR_CODE_TRAILER } from "@statebridge/grpc-wire";
import { ErrorDetailSchema } from "@statebridge/proto";
import { isStateError, StateError } from "@statebridge/state-provider";
import { describe, expect, it } from "vitest";
import { isRetryableWatchError, stateErrorFromConnectError } from "./connect-errors.js";

function errorWithDetail(code: Code, detail: Parameters<typeof create<typeof ErrorDetailSchema>>[1]) {
  return new ConnectError("wire message", code, undefined, [
    { desc: ErrorDetailSchema, value: detail ?? {} },
  ]);
}

describe("stateErrorFromConnectError", () => {
  it("takes the exact code from the ErrorDetail, which tells apart codes sharing a status", () => {
    const error = stateErrorFromConnectError(
      errorWithDetail(Code.NotFound, { code: "session_expired", message: 'session "s1" expired' }),
    );
    expect(isStateError(error, "session_expired")).toBe(true);
    expect(error.message).toBe('session_expired: session "s1" expired');
  });

  it("falls back to the statebridge-error-code trailer when there is no detail", () => {
    const error = stateErrorFromConnectError(
      new ConnectError("value is not whole", Code.InvalidArgument, { [ERROR_CODE_TRAILER]: "invalid_type" }),
    );
    expect(error.code).toBe("invalid_type");
    expect(error.rawMessage).toBe("value is not whole");
  });

  it("falls back to the gRPC status when neither detail nor trailer is there", () => {
    expect(stateErrorFromConnectError(new ConnectError("x", Code.NotFound)).code).toBe("not_found");
    expect(stateErrorFromConnectError(new ConnectError("x", Code.Unauthenticated)).code).toBe(
      "unauthenticated",
    );
    expect(stateErrorFromConnectError(new ConnectError("x", Code.Unavailable)).code).toBe("unavailable");
    expect(stateErrorFromConnectError(new ConnectError("x", Code.DeadlineExceeded)).code).toBe("unavailable");
    expect(stateErrorFromConnectError(new ConnectError("x", Code.Internal)).code).toBe("unavailable");
    // connect-node reports ECONNRESET as ABORTED: without a statebridge code it is the network.
    expect(stateErrorFromConnectError(new ConnectError("x", Code.Aborted)).code).toBe("unavailable");
    expect(stateErrorFromConnectError(new ConnectError("x", Code.Unknown)).code).toBe("unavailable");
  });

  it("carries the failures and applied versions of a partial_failure", () => {
    const error = stateErrorFromConnectError(
      errorWithDetail(Code.FailedPrecondition, {
        code: "partial_failure",
        message: "1 of 2 updates failed",
        failures: [{ identifier: "b", code: "constraint_violation", message: '"b" = 9 is above max 5' }],
        applied: { a: 4n },
      }),
    );
    expect(error.code).toBe("partial_failure");
    expect(error.failures.get("b")).toEqual({
      code: "constraint_violation",
      message: '"b" = 9 is above max 5',
    });
    expect(error.applied.get("a")).toBe(4);
  });

  it("keeps a StateError as it is and turns anything else into unavailable with its cause", () => {
    const original = new StateError("version_conflict", "stale");
    expect(stateErrorFromConnectError(original)).toBe(original);
    const socketError = new Error("read ECONNRESET");
    const translated = stateErrorFromConnectError(socketError);
    expect(translated.code).toBe("unavailable");
    expect(translated.cause).toBe(socketError);
  });

  it("names the server in unavailable messages and reports closed for a call its caller cancelled", () => {
    const unavailable = stateErrorFromConnectError(
      new ConnectError("connect ECONNREFUSED", Code.Unavailable),
      {
        target: "http://127.0.0.1:1",
      },
    );
    expect(unavailable.message).toBe(
      "unavailable: bridge-server at http://127.0.0.1:1: connect ECONNREFUSED",
    );
    const cancelled = stateErrorFromConnectError(new ConnectError("aborted", Code.Canceled), {
      closed: true,
    });
    expect(cancelled.code).toBe("closed");
  });

  it("prefixes the subject to the message", () => {
    const error = stateErrorFromConnectError(
      errorWithDetail(Code.NotFound, { code: "not_found", message: 'no variable "x"' }),
      { subject: 'watch "x"' },
    );
    expect(error.message).toBe('not_found: watch "x": no variable "x"');
  });
});

describe("isRetryableWatchError", () => {
  it("retries what can pass and nothing that would fail again", () => {
    const retryable = ["unavailable", "resource_exhausted", "closed"] as const;
    const terminal = [
      "session_expired",
      "not_found",
      "unauthenticated",
      "invalid_value",
      "invalid_type",
    ] as const;
    for (const code of retryable) expect(isRetryableWatchError(new StateError(code, "x"))).toBe(true);
    for (const code of terminal) expect(isRetryableWatchError(new StateError(code, "x"))).toBe(false);
  });
});
