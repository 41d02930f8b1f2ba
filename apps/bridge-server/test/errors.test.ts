import { Code } from "@connectrpc/connect";
import { ERROR_CODE_TRAILER } from "@statebridge/grpc-wire";
import { ErrorDetailSchema } from "@statebridge/proto";
import { createSessionStore } from "@statebridge/session-store";
import { StateError, type StateErrorFailure } from "@statebridge/state-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectErrorOfStateError,
  MAX_STATUS_METADATA_BYTES,
  statusMetadataBytes,
} from "../src/error-translation.js";
import { type ProtocolName, startTestServer, type TestServer } from "./support.js";
import { failureOf, wire } from "./support-values.js";

describe("errors carry the exact statebridge code in the trailer and an ErrorDetail", () => {
  let test: TestServer;
  let sessionCounter = 0;
  const session = async () => {
    const sessionId = `errors-${++sessionCounter}`;
    const client = test.client();
    await client.initializeSession({ sessionId });
    await client.registerVariable({
      sessionId,
      name: "temperature",
      type: "float",
      initialValue: wire.float(0.5),
      constraintsJson: '{"min":0,"max":2}',
    });
    return { client, sessionId };
  };

  beforeAll(async () => {
    test = await startTestServer({ maxRequestBytes: 64 * 1024 });
  });
  afterAll(() => test.close());

  it("not_found: NOT_FOUND, naming the identifier", async () => {
    const { client, sessionId } = await session();
    const failure = await failureOf(client.getVariable({ sessionId, identifier: "missing" }));
    expect(failure.error.code).toBe(Code.NotFound);
    expect(failure.trailerCode).toBe("not_found");
    expect(failure.detail?.code).toBe("not_found");
    expect(failure.detail?.message).toContain("missing");
  });

  it("session_expired: NOT_FOUND for a session that never existed or was deleted", async () => {
    const failure = await failureOf(test.client().getSession({ sessionId: "never-created" }));
    expect(failure.error.code).toBe(Code.NotFound);
    expect(failure.trailerCode).toBe("session_expired");
    expect(failure.detail?.code).toBe("session_expired");
  });

  it("already_exists: ALREADY_EXISTS for a duplicate name", async () => {
    const { client, sessionId } = await session();
    const failure = await failureOf(
      client.registerVariable({ sessionId, name: "temperature", type: "float", initialValue: wire.float(1) }),
    );
    expect(failure.error.code).toBe(Code.AlreadyExists);
    expect(failure.trailerCode).toBe("already_exists");
  });

  it("invalid_type: INVALID_ARGUMENT for an unknown type", async () => {
    const { client, sessionId } = await session();
    const failure = await failureOf(
      client.registerVariable({ sessionId, name: "x", type: "complex", initialValue: wire.float(1) }),
    );
    expect(failure.error.code).toBe(Code.InvalidArgument);
    expect(failure.trailerCode).toBe("invalid_type");
    expect(failure.detail?.message).toContain("complex");
  });

  it("invalid_value: a value in the field of another type", async () => {
    const { client, sessionId } = await session();
    const failure = await failureOf(
      client.setVariable({ sessionId, identifier: "temperature", value: wire.string("hot") }),
    );
    expect(failure.error.code).toBe(Code.InvalidArgument);
    expect(failure.trailerCode).toBe("invalid_value");
    expect(failure.detail?.message).toContain("temperature");
  });

  it("invalid_value: an empty session id", async () => {
    const failure = await failureOf(test.client().getVariable({ sessionId: "", identifier: "x" }));
    expect(failure.trailerCode).toBe("invalid_value");
    expect(failure.detail?.message).toContain("session_id");
  });

  it("invalid_value: metadata_json that is not JSON", async () => {
    const { client, sessionId } = await session();
    const failure = await failureOf(
      client.setVariable({
        sessionId,
        identifier: "temperature",
        value: wire.float(1),
        metadataJson: "{oops",
      }),
    );
    expect(failure.trailerCode).toBe("invalid_value");
    expect(failure.detail?.message).toContain("metadata_json is not valid JSON");
  });

  it("constraint_violation: OUT_OF_RANGE for a value above max", async () => {
    const { client, sessionId } = await session();
    const failure = await failureOf(
      client.setVariable({ sessionId, identifier: "temperature", value: wire.float(3.5) }),
    );
    expect(failure.error.code).toBe(Code.OutOfRange);
    expect(failure.trailerCode).toBe("constraint_violation");
    expect(failure.detail?.message).toContain("3.5");
  });

  it("version_conflict: ABORTED for a stale expected version, and nothing changes", async () => {
    const { client, sessionId } = await session();
    await client.setVariable({ sessionId, identifier: "temperature", value: wire.float(1) });
    const failure = await failureOf(
      client.setVariable({
        sessionId,
        identifier: "temperature",
        value: wire.float(1.5),
        expectedVersion: 0n,
      }),
    );
    expect(failure.error.code).toBe(Code.Aborted);
    expect(failure.trailerCode).toBe("version_conflict");
    const { variable } = await client.getVariable({ sessionId, identifier: "temperature" });
    expect(variable?.version).toBe(1n);
  });

  it("an atomic batch fails with the first failure's own code and applies nothing", async () => {
    const { client, sessionId } = await session();
    await client.registerVariable({
      sessionId,
      name: "label",
      type: "string",
      initialValue: wire.string("a"),
    });
    const failure = await failureOf(
      client.setVariables({
        sessionId,
        atomic: true,
        updates: [
          { identifier: "label", value: wire.string("b") },
          { identifier: "temperature", value: wire.float(9) },
        ],
      }),
    );
    expect(failure.trailerCode).toBe("constraint_violation");
    const { variable } = await client.getVariable({ sessionId, identifier: "label" });
    expect(variable?.value?.kind).toEqual({ case: "stringValue", value: "a" });
  });

  it("partial_failure: FAILED_PRECONDITION with each failure, the applied versions and their revision", async () => {
    const { client, sessionId } = await session();
    await client.registerVariable({
      sessionId,
      name: "label",
      type: "string",
      initialValue: wire.string("a"),
    });
    await client.registerVariable({
      sessionId,
      name: "count",
      type: "integer",
      initialValue: wire.integer(0),
    });
    const failure = await failureOf(
      client.setVariables({
        sessionId,
        atomic: false,
        updates: [
          { identifier: "label", value: wire.string("b") },
          { identifier: "temperature", value: wire.float(9) },
          { identifier: "count", value: wire.string("not a number") },
          { identifier: "nowhere", value: wire.float(1) },
        ],
      }),
    );
    expect(failure.error.code).toBe(Code.FailedPrecondition);
    expect(failure.trailerCode).toBe("partial_failure");
    const detail = failure.detail;
    expect(detail?.code).toBe("partial_failure");
    expect(detail?.failures.map((item) => [item.identifier, item.code])).toEqual([
      ["temperature", "constraint_violation"],
      ["count", "invalid_value"],
      ["nowhere", "not_found"],
    ]);
    expect(detail?.applied).toEqual({ label: 1n });
    const { session: described } = await client.getSession({ sessionId });
    expect(detail?.revision).toBe(described?.revision);
    const { variable } = await client.getVariable({ sessionId, identifier: "label" });
    expect(variable?.value?.kind).toEqual({ case: "stringValue", value: "b" });
  });

  it("invalid_export: an import whose value does not fit its type names the variable", async () => {
    const failure = await failureOf(
      test.client().importSession({
        sessionId: "import-target",
        revision: 1n,
        variables: [
          {
            id: "var_0123456789abcdef01234567",
            name: "x",
            type: "float",
            value: wire.string("nope"),
            version: 0n,
            createdAtMs: 1n,
            updatedAtMs: 1n,
            source: "test",
          },
        ],
      }),
    );
    expect(failure.error.code).toBe(Code.InvalidArgument);
    expect(failure.trailerCode).toBe("invalid_export");
    expect(failure.detail?.message).toContain("variables[0].value");
  });

  it.each<ProtocolName>(["grpc", "grpc-web-h2", "connect-h2", "connect-h1"])(
    "resource_exhausted for a request larger than max-request-bytes, over %s",
    async (protocol) => {
      const { sessionId } = await session();
      const client = test.client(protocol);
      const failure = await failureOf(
        client.registerVariable({
          sessionId,
          name: "huge",
          type: "string",
          initialValue: wire.string("x".repeat(100_000)),
        }),
      );
      expect(failure.error.code).toBe(Code.ResourceExhausted);
      expect(failure.trailerCode).toBe("resource_exhausted");
      expect(failure.detail?.code).toBe("resource_exhausted");
      expect(failure.detail?.message).toContain("65536");
      // The server is still serving afterwards.
      expect((await client.ping({ message: "still here" })).message).toBe("still here");
    },
  );

  it.each<ProtocolName>(["connect-h2", "grpc-web-h2", "grpc-web-h1"])(
    "the code and detail reach a %s client too",
    async (protocol) => {
      const { sessionId } = await session();
      const failure = await failureOf(
        test.client(protocol).setVariable({ sessionId, identifier: "temperature", value: wire.float(-1) }),
      );
      expect(failure.error.code).toBe(Code.OutOfRange);
      expect(failure.trailerCode).toBe("constraint_violation");
      expect(failure.detail?.code).toBe("constraint_violation");
    },
  );
});

describe("an unexpected error inside the server", () => {
  it("is answered with INTERNAL, without its message, logged, and the server keeps serving", async () => {
    const store = createSessionStore();
    // The real store, with one method failing the way a defect would.
    const faulty = new Proxy(store, {
      get(target, key, receiver) {
        if (key === "getSession") {
          return async () => {
            throw new TypeError("cannot read properties of undefined (reading 'revision')");
          };
        }
        return Reflect.get(target, key, receiver);
      },
    });
    const logged: { object: object; message: string | undefined }[] = [];
    const logger = {
      debug() {},
      info() {},
      warn() {},
      error(object: object, message?: string) {
        logged.push({ object, message });
      },
    };
    const test = await startTestServer({ store: faulty, logger });
    try {
      const client = test.client();
      const failure = await failureOf(client.getSession({ sessionId: "any" }));
      expect(failure.error.code).toBe(Code.Internal);
      expect(failure.error.rawMessage).toBe("internal error");
      expect(failure.trailerCode).toBeNull();
      expect(logged).toHaveLength(1);
      expect(logged[0]?.object).toMatchObject({ procedure: "getSession" });
      expect(String((logged[0]?.object as { err?: unknown } | undefined)?.err)).toContain(
        "reading 'revision'",
      );
      expect((await client.ping({ message: "still serving" })).message).toBe("still serving");
    } finally {
      await test.close();
      await store.close();
    }
  });
});

describe("an error that echoes long input is shortened until its status fits in 4 KiB", () => {
  const sizes = [1, 1024, 100_000];
  it.each(sizes)("a message echoing %i characters, ASCII or not, keeps its code and fits", (length) => {
    for (const letter of ["a", "é", "😀"]) {
      const echoed = letter.repeat(length);
      const error = connectErrorOfStateError(
        new StateError("not_found", `variable "${echoed}" not found in session "${echoed}"`),
      );
      expect(statusMetadataBytes(error)).toBeLessThanOrEqual(MAX_STATUS_METADATA_BYTES);
      expect(error.metadata.get(ERROR_CODE_TRAILER)).toBe("not_found");
      expect(error.rawMessage).toMatch(/^not_found: variable "/);
      if (length > 64) expect(error.rawMessage).toContain(`(${length} characters)`);
      else expect(error.rawMessage).toContain(echoed);
    }
  });

  it("a partial_failure with thousands of long failures keeps its code, some failures and the count of the rest", () => {
    const failures = new Map<string, StateErrorFailure>();
    const applied = new Map<string, number>();
    for (let index = 0; index < 2_000; index++) {
      failures.set(`failed-${index}-${"x".repeat(300)}`, {
        code: "constraint_violation",
        message: "y".repeat(500),
      });
      applied.set(`applied-${index}-${"z".repeat(300)}`, index);
    }
    const error = connectErrorOfStateError(
      new StateError("partial_failure", "2000 of 4000 updates failed", { failures, applied }),
      7,
    );
    expect(statusMetadataBytes(error)).toBeLessThanOrEqual(MAX_STATUS_METADATA_BYTES);
    expect(error.metadata.get(ERROR_CODE_TRAILER)).toBe("partial_failure");
    expect(error.rawMessage).toContain("more failed or applied identifiers not shown");
    const detail = error.findDetails(ErrorDetailSchema)[0];
    expect(detail?.code).toBe("partial_failure");
    expect(detail?.revision).toBe(7n);
    expect(detail?.failures[0]?.code).toBe("constraint_violation");
  });

  it("a short error is sent as it is", () => {
    const error = connectErrorOfStateError(new StateError("not_found", 'variable "x" not found'));
    expect(error.rawMessage).toBe('not_found: variable "x" not found');
  });

  // Regression: a 1024-character name in a 1024-character session id made grpcio fail with
  // "received initial metadata size exceeds limit", losing the code.
  it.each<ProtocolName>(["grpc", "grpc-web-h1", "connect-h1"])(
    "over %s, a call naming a 1024-character variable in a 1024-character session keeps its code",
    async (protocol) => {
      const test = await startTestServer();
      try {
        const failure = await failureOf(
          test.client(protocol).getVariable({ sessionId: "s".repeat(1024), identifier: "n".repeat(1024) }),
        );
        expect(failure.trailerCode).toBe("session_expired");
        expect(failure.detail?.message).toContain("(1024 characters)");
        let bytes = 0;
        failure.error.metadata.forEach((value, name) => {
          bytes += name.length + value.length + 32;
        });
        expect(bytes).toBeLessThanOrEqual(4096);
      } finally {
        await test.close();
      }
    },
  );
});
