// Every RPC of statebridge.v1.BridgeService driven with invalid fields, through the raw
// generated client (no BridgedState in between), against a bridge-server in its own process.
// Each refusal is checked four ways: the gRPC status, the exact statebridge code in the
// trailer and in the ErrorDetail, the server still answering Ping, and the session unchanged.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { ERROR_CODE_TRAILER } from "@statebridge/grpc-wire";
import {
  BridgeService,
  ErrorDetailSchema,
  type ExportSessionResponse,
  type ValueSchema,
  type WatchStreamRequestSchema,
} from "@statebridge/proto";
import { createSessionId, packFloat64, type StateErrorCode } from "@statebridge/state-provider";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type BridgeTransport, createBridgeTransport } from "../src/transport.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";

const TOKEN = "bad-input-token";
const MAX_VARIABLES = 6;
const MAX_VALUE_BYTES = 1024;
const MAX_REQUEST_BYTES = 64 * 1024;

type BridgeClient = Client<typeof BridgeService>;
type ValueInit = MessageInitShape<typeof ValueSchema>;

let server: ServerProcess;
let transport: BridgeTransport;
let client: BridgeClient;
let sessionId: string;

const float = (value: number): ValueInit => ({ kind: { case: "floatValue", value } });
const integer = (value: bigint): ValueInit => ({ kind: { case: "integerValue", value } });
const text = (value: string): ValueInit => ({ kind: { case: "stringValue", value } });
const embedding = (bytes: Uint8Array): ValueInit => ({ kind: { case: "embeddingValue", value: bytes } });

beforeAll(async () => {
  server = await startServerProcess([
    "--token",
    TOKEN,
    "--max-variables",
    String(MAX_VARIABLES),
    "--max-value-bytes",
    String(MAX_VALUE_BYTES),
    "--max-request-bytes",
    String(MAX_REQUEST_BYTES),
  ]);
  transport = createBridgeTransport({ url: server.url, token: TOKEN });
  client = createClient(BridgeService, transport.transport);
}, 30_000);

afterAll(async () => {
  transport?.close();
  await server?.stop();
});

/**
 * A fresh session holding one variable of each kind the cases need, so that every case starts
 * from the same state: `f` (float in [0, 1]), `i` (integer), `s` (string matching ^[a-z]+$),
 * `c` (choice of a or b), `e` (embedding of 3 dimensions). One more variable fits the quota.
 */
beforeEach(async () => {
  sessionId = createSessionId();
  await client.initializeSession({ sessionId });
  const register = (name: string, type: string, value: ValueInit, constraints?: object) =>
    client.registerVariable({
      sessionId,
      name,
      type,
      initialValue: value,
      constraintsJson: constraints === undefined ? "" : JSON.stringify(constraints),
    });
  await register("f", "float", float(0.5), { min: 0, max: 1 });
  await register("i", "integer", integer(7n));
  await register("s", "string", text("abc"), { pattern: "^[a-z]+$" });
  await register("c", "choice", { kind: { case: "choiceValue", value: "a" } }, { choices: ["a", "b"] });
  await register("e", "embedding", embedding(packFloat64([1, 2, 3])), { dimensions: 3 });
});

/** Runs a call that must fail, and returns the raw ConnectError. */
async function failureOf(action: () => Promise<unknown>): Promise<ConnectError> {
  try {
    await action();
  } catch (error) {
    if (error instanceof ConnectError) return error;
    throw error;
  }
  throw new Error("the call was expected to be refused but succeeded");
}

/** Checks the status, the trailer and the ErrorDetail of a refusal. */
function expectCodes(error: ConnectError, status: Code, code: StateErrorCode): void {
  expect(Code[error.code], error.message).toBe(Code[status]);
  expect(error.metadata.get(ERROR_CODE_TRAILER), error.message).toBe(code);
  const [detail] = error.findDetails(ErrorDetailSchema);
  expect(detail?.code, error.message).toBe(code);
  expect(detail?.message.length, "the detail says what was wrong").toBeGreaterThan(0);
}

function withoutExportTime(response: ExportSessionResponse): Omit<ExportSessionResponse, "exportedAtMs"> {
  const { exportedAtMs: _exportedAtMs, ...rest } = response;
  return rest;
}

/**
 * The whole check: the call is refused with `status` and `code`, the server still answers
 * Ping, and the session (every variable, version, value, the revision) is exactly as before.
 */
async function expectRefusedWithoutChange(
  action: () => Promise<unknown>,
  status: Code,
  code: StateErrorCode,
): Promise<ConnectError> {
  const before = withoutExportTime(await client.exportSession({ sessionId }));
  const error = await failureOf(action);
  expectCodes(error, status, code);
  const pong = await client.ping({ message: "still there?" });
  expect(pong.message).toBe("still there?");
  expect(withoutExportTime(await client.exportSession({ sessionId }))).toEqual(before);
  return error;
}

const unknownSession = () => `session_${"0".repeat(32)}`;

describe("session RPCs", () => {
  it.each([
    ["InitializeSession", () => client.initializeSession({ sessionId: "" })],
    ["GetSession", () => client.getSession({ sessionId: "" })],
    ["Heartbeat", () => client.heartbeat({ sessionId: "" })],
    ["CleanupSession", () => client.cleanupSession({ sessionId: "" })],
    [
      "RegisterVariable",
      () => client.registerVariable({ sessionId: "", name: "x", type: "float", initialValue: float(1) }),
    ],
    ["GetVariable", () => client.getVariable({ sessionId: "", identifier: "f" })],
    ["GetVariables", () => client.getVariables({ sessionId: "", identifiers: ["f"] })],
    ["SetVariable", () => client.setVariable({ sessionId: "", identifier: "f", value: float(0.1) })],
    [
      "SetVariables",
      () => client.setVariables({ sessionId: "", updates: [{ identifier: "f", value: float(0.1) }] }),
    ],
    ["ListVariables", () => client.listVariables({ sessionId: "" })],
    ["DeleteVariable", () => client.deleteVariable({ sessionId: "", identifier: "f" })],
    ["ExportSession", () => client.exportSession({ sessionId: "" })],
    ["ImportSession", () => client.importSession({ sessionId: "", revision: 0n })],
    ["WatchVariables", () => drain(client.watchVariables({ sessionId: "", identifiers: ["f"] }))],
  ] as const)("%s with an empty session id is refused with invalid_value", async (_name, action) => {
    await expectRefusedWithoutChange(action, Code.InvalidArgument, "invalid_value");
  });

  it.each([
    ["GetSession", () => client.getSession({ sessionId: unknownSession() })],
    ["Heartbeat", () => client.heartbeat({ sessionId: unknownSession() })],
    [
      "RegisterVariable",
      () =>
        client.registerVariable({
          sessionId: unknownSession(),
          name: "x",
          type: "float",
          initialValue: float(1),
        }),
    ],
    ["GetVariable", () => client.getVariable({ sessionId: unknownSession(), identifier: "f" })],
    ["GetVariables", () => client.getVariables({ sessionId: unknownSession(), identifiers: ["f"] })],
    [
      "SetVariable",
      () => client.setVariable({ sessionId: unknownSession(), identifier: "f", value: float(0.1) }),
    ],
    [
      "SetVariables",
      () =>
        client.setVariables({
          sessionId: unknownSession(),
          updates: [{ identifier: "f", value: float(0.1) }],
        }),
    ],
    ["ListVariables", () => client.listVariables({ sessionId: unknownSession() })],
    ["DeleteVariable", () => client.deleteVariable({ sessionId: unknownSession(), identifier: "f" })],
    ["ExportSession", () => client.exportSession({ sessionId: unknownSession() })],
    [
      "WatchVariables",
      () => drain(client.watchVariables({ sessionId: unknownSession(), identifiers: ["f"] })),
    ],
  ] as const)(
    "%s on a session that does not exist is refused with session_expired",
    async (_name, action) => {
      await expectRefusedWithoutChange(action, Code.NotFound, "session_expired");
      // Nothing silently created it.
      expectCodes(
        await failureOf(() => client.getSession({ sessionId: unknownSession() })),
        Code.NotFound,
        "session_expired",
      );
    },
  );

  it("CleanupSession of a session that does not exist deletes nothing and says so", async () => {
    const response = await client.cleanupSession({ sessionId: unknownSession() });
    expect(response.deleted).toBe(false);
  });

  it("InitializeSession with metadata that is not a JSON object is refused with invalid_value", async () => {
    const fresh = createSessionId();
    for (const metadataJson of ["{", "[1, 2]", '"text"']) {
      expectCodes(
        await failureOf(() => client.initializeSession({ sessionId: fresh, metadataJson })),
        Code.InvalidArgument,
        "invalid_value",
      );
    }
    expectCodes(
      await failureOf(() => client.getSession({ sessionId: fresh })),
      Code.NotFound,
      "session_expired",
    );
  });

  it("a deleted session answers session_expired and is not recreated by a write", async () => {
    expect((await client.cleanupSession({ sessionId })).deleted).toBe(true);
    expectCodes(
      await failureOf(() => client.getVariable({ sessionId, identifier: "f" })),
      Code.NotFound,
      "session_expired",
    );
    expectCodes(
      await failureOf(() => client.setVariable({ sessionId, identifier: "f", value: float(0.2) })),
      Code.NotFound,
      "session_expired",
    );
    expectCodes(await failureOf(() => client.getSession({ sessionId })), Code.NotFound, "session_expired");
  });
});

describe("RegisterVariable", () => {
  const register = (fields: Record<string, unknown>) => () =>
    client.registerVariable({
      sessionId,
      name: "fresh",
      type: "float",
      initialValue: float(0.5),
      ...fields,
    } as MessageInitShape<typeof BridgeService.method.registerVariable.input>);

  it.each([
    ["an empty name", { name: "" }, Code.InvalidArgument, "invalid_value"],
    [
      "a name shaped like an id",
      { name: "var_0123456789abcdef01234567" },
      Code.InvalidArgument,
      "invalid_value",
    ],
    ["a name of 1025 characters", { name: "n".repeat(1025) }, Code.InvalidArgument, "invalid_value"],
    ["an existing name", { name: "f" }, Code.AlreadyExists, "already_exists"],
    ["an unknown type", { type: "complex" }, Code.InvalidArgument, "invalid_type"],
    ["an empty type", { type: "" }, Code.InvalidArgument, "invalid_type"],
    [
      "a value of the wrong kind for its type",
      { initialValue: text("0.5") },
      Code.InvalidArgument,
      "invalid_value",
    ],
    ["no value", { initialValue: {} }, Code.InvalidArgument, "invalid_value"],
    [
      "a value its constraints refuse",
      { constraintsJson: '{"max": 0.1}' },
      Code.OutOfRange,
      "constraint_violation",
    ],
    ["constraints that are not JSON", { constraintsJson: "{max:" }, Code.InvalidArgument, "invalid_value"],
    [
      "constraints of another type",
      { constraintsJson: '{"choices": ["a"]}' },
      Code.InvalidArgument,
      "invalid_value",
    ],
    ["min above max", { constraintsJson: '{"min": 2, "max": 1}' }, Code.InvalidArgument, "invalid_value"],
    [
      "a string pattern that does not compile",
      { type: "string", initialValue: text("a"), constraintsJson: '{"pattern": "(["}' },
      Code.InvalidArgument,
      "invalid_value",
    ],
    [
      "a choice without choices",
      { type: "choice", initialValue: text("a") },
      Code.InvalidArgument,
      "invalid_value",
    ],
    ["metadata that is not JSON", { metadataJson: "{" }, Code.InvalidArgument, "invalid_value"],
    ["metadata that is an array", { metadataJson: "[1]" }, Code.InvalidArgument, "invalid_value"],
    [
      "an integer outside ±(2^53−1)",
      { type: "integer", initialValue: integer(2n ** 60n) },
      Code.InvalidArgument,
      "invalid_value",
    ],
    [
      "a non-whole float for an integer",
      { type: "integer", initialValue: float(1.5) },
      Code.InvalidArgument,
      "invalid_value",
    ],
    [
      "embedding bytes that are not whole doubles",
      { type: "embedding", initialValue: embedding(new Uint8Array(7)) },
      Code.InvalidArgument,
      "invalid_value",
    ],
    [
      "a tensor whose data does not fill its shape",
      {
        type: "tensor",
        initialValue: {
          kind: { case: "tensorValue", value: { shape: [2n, 2n], data: packFloat64([1, 2, 3]) } },
        },
      },
      Code.InvalidArgument,
      "invalid_value",
    ],
    [
      "a value above the server's max value bytes",
      { type: "string", initialValue: text("x".repeat(MAX_VALUE_BYTES + 1)) },
      Code.ResourceExhausted,
      "resource_exhausted",
    ],
  ] as const)("%s is refused", async (_label, fields, status, code) => {
    await expectRefusedWithoutChange(register(fields), status, code as StateErrorCode);
  });

  it("a variable beyond the per-session quota is refused with resource_exhausted", async () => {
    await client.registerVariable({ sessionId, name: "sixth", type: "float", initialValue: float(1) });
    await expectRefusedWithoutChange(
      register({ name: "seventh" }),
      Code.ResourceExhausted,
      "resource_exhausted",
    );
  });
});

describe("GetVariable, GetVariables", () => {
  it.each([
    ["an unknown name", "nope"],
    ["an unknown id", "var_0123456789abcdef01234567"],
    ["the empty identifier", ""],
    ["a name differing only in case", "F"],
  ])("GetVariable of %s is refused with not_found", async (_label, identifier) => {
    await expectRefusedWithoutChange(
      () => client.getVariable({ sessionId, identifier }),
      Code.NotFound,
      "not_found",
    );
  });

  it("GetVariables lists unknown identifiers as missing instead of failing", async () => {
    const response = await client.getVariables({ sessionId, identifiers: ["f", "nope", "", "__proto__"] });
    expect(Object.keys(response.variables)).toEqual(["f"]);
    expect([...response.missing].sort()).toEqual(["", "__proto__", "nope"]);
  });
});

describe("SetVariable", () => {
  const set = (fields: Record<string, unknown>) => () =>
    client.setVariable({
      sessionId,
      identifier: "f",
      value: float(0.25),
      ...fields,
    } as MessageInitShape<typeof BridgeService.method.setVariable.input>);

  it.each([
    ["an unknown identifier", { identifier: "nope" }, Code.NotFound, "not_found"],
    ["a value of the wrong kind", { value: text("0.25") }, Code.InvalidArgument, "invalid_value"],
    ["no value", { value: {} }, Code.InvalidArgument, "invalid_value"],
    ["a value above max", { value: float(1.5) }, Code.OutOfRange, "constraint_violation"],
    [
      "a string its pattern refuses",
      { identifier: "s", value: text("ABC") },
      Code.OutOfRange,
      "constraint_violation",
    ],
    ["an unlisted choice", { identifier: "c", value: text("z") }, Code.OutOfRange, "constraint_violation"],
    [
      "an embedding of the wrong dimensions",
      { identifier: "e", value: embedding(packFloat64([1, 2])) },
      Code.OutOfRange,
      "constraint_violation",
    ],
    [
      "an integer outside ±(2^53−1)",
      { identifier: "i", value: integer(-(2n ** 55n)) },
      Code.InvalidArgument,
      "invalid_value",
    ],
    ["a negative expected version", { expectedVersion: -1n }, Code.InvalidArgument, "invalid_value"],
    ["a stale expected version", { expectedVersion: 5n }, Code.Aborted, "version_conflict"],
    ["metadata that is not JSON", { metadataJson: "{oops" }, Code.InvalidArgument, "invalid_value"],
    [
      "a value above the server's max value bytes",
      { identifier: "s", value: text("x".repeat(MAX_VALUE_BYTES + 1)) },
      Code.ResourceExhausted,
      "resource_exhausted",
    ],
  ] as const)("%s is refused", async (_label, fields, status, code) => {
    await expectRefusedWithoutChange(set(fields), status, code as StateErrorCode);
  });

  it("a message above the server's max request bytes is refused with resource_exhausted", async () => {
    await expectRefusedWithoutChange(
      set({ identifier: "s", value: text("x".repeat(MAX_REQUEST_BYTES + 1)) }),
      Code.ResourceExhausted,
      "resource_exhausted",
    );
  });
});

describe("SetVariables", () => {
  it.each([
    ["an unknown identifier", [{ identifier: "nope", value: float(0.1) }], Code.NotFound, "not_found"],
    [
      "a value of the wrong kind",
      [{ identifier: "i", value: text("1") }],
      Code.InvalidArgument,
      "invalid_value",
    ],
    [
      "a constraint violation",
      [{ identifier: "s", value: text("UPPER") }],
      Code.OutOfRange,
      "constraint_violation",
    ],
  ] as const)(
    "an atomic batch with %s changes nothing and is refused with that code",
    async (_label, bad, status, code) => {
      await expectRefusedWithoutChange(
        () =>
          client.setVariables({
            sessionId,
            atomic: true,
            updates: [
              { identifier: "f", value: float(0.9) },
              ...bad,
              { identifier: "c", value: { kind: { case: "choiceValue", value: "b" } } },
            ],
          }),
        status,
        code as StateErrorCode,
      );
    },
  );

  it("a non-atomic batch applies what validates and names each failure in a partial_failure", async () => {
    const error = await failureOf(() =>
      client.setVariables({
        sessionId,
        atomic: false,
        updates: [
          { identifier: "f", value: float(0.9) },
          { identifier: "nope", value: float(1) },
          { identifier: "i", value: text("not a number") },
          { identifier: "s", value: text("ok") },
        ],
      }),
    );
    expectCodes(error, Code.FailedPrecondition, "partial_failure");
    const [detail] = error.findDetails(ErrorDetailSchema);
    expect(detail?.failures.map((failure) => [failure.identifier, failure.code])).toEqual([
      ["nope", "not_found"],
      ["i", "invalid_value"],
    ]);
    expect(Object.entries(detail?.applied ?? {}).sort()).toEqual([
      ["f", 1n],
      ["s", 1n],
    ]);
    const values = await client.getVariables({ sessionId, identifiers: ["f", "i", "s"] });
    expect(values.variables.f?.value?.kind).toEqual({ case: "floatValue", value: 0.9 });
    expect(values.variables.i?.version).toBe(0n);
    expect(values.variables.s?.version).toBe(1n);
  });

  it("a value above the server's max value bytes is refused with resource_exhausted", async () => {
    await expectRefusedWithoutChange(
      () =>
        client.setVariables({
          sessionId,
          atomic: true,
          updates: [{ identifier: "s", value: text("y".repeat(MAX_VALUE_BYTES + 1)) }],
        }),
      Code.ResourceExhausted,
      "resource_exhausted",
    );
  });

  it("metadata that is not a JSON object is refused with invalid_value", async () => {
    await expectRefusedWithoutChange(
      () =>
        client.setVariables({
          sessionId,
          atomic: true,
          metadataJson: "[]",
          updates: [{ identifier: "f", value: float(0.2) }],
        }),
      Code.InvalidArgument,
      "invalid_value",
    );
  });
});

describe("ListVariables", () => {
  it("a pattern ending with a lone backslash is refused with invalid_value", async () => {
    await expectRefusedWithoutChange(
      () => client.listVariables({ sessionId, pattern: "f\\" }),
      Code.InvalidArgument,
      "invalid_value",
    );
  });

  it("regex metacharacters in a pattern are literal, not an injection", async () => {
    const response = await client.listVariables({ sessionId, pattern: ".*" });
    expect(response.variables).toEqual([]);
    const all = await client.listVariables({ sessionId, pattern: "*" });
    expect(all.variables.map((variable) => variable.name)).toEqual(["f", "i", "s", "c", "e"]);
  });
});

describe("DeleteVariable", () => {
  it.each([
    ["an unknown name", "nope"],
    ["an unknown id", "var_ffffffffffffffffffffffff"],
    ["the empty identifier", ""],
  ])("deleting %s is refused with not_found", async (_label, identifier) => {
    await expectRefusedWithoutChange(
      () => client.deleteVariable({ sessionId, identifier }),
      Code.NotFound,
      "not_found",
    );
  });
});

describe("ImportSession", () => {
  const variable = (overrides: Record<string, unknown> = {}) => ({
    id: "var_aaaaaaaaaaaaaaaaaaaaaaaa",
    name: "imported",
    type: "float",
    value: float(0.5),
    version: 3n,
    createdAtMs: 1_700_000_000_000n,
    updatedAtMs: 1_700_000_000_000n,
    source: "python",
    ...overrides,
  });

  it.each([
    ["a malformed id", [variable({ id: "not-an-id" })], "invalid_export"],
    ["an unknown type", [variable({ type: "complex" })], "invalid_export"],
    ["a value of the wrong kind", [variable({ value: text("x") })], "invalid_export"],
    ["a value its constraints refuse", [variable({ constraintsJson: '{"max": 0}' })], "invalid_export"],
    ["a negative version", [variable({ version: -1n })], "invalid_export"],
    ["metadata that is not JSON", [variable({ metadataJson: "{" })], "invalid_export"],
    ["an id repeated in the document", [variable(), variable({ name: "other" })], "invalid_export"],
    [
      "a name repeated in the document",
      [variable(), variable({ id: "var_bbbbbbbbbbbbbbbbbbbbbbbb" })],
      "invalid_export",
    ],
  ] as const)("a document with %s is refused as a whole", async (_label, variables, code) => {
    await expectRefusedWithoutChange(
      () =>
        client.importSession({
          sessionId,
          revision: 10n,
          variables: [variable({ id: "var_cccccccccccccccccccccccc", name: "valid" }), ...variables] as never,
        }),
      Code.InvalidArgument,
      code,
    );
  });

  it("a variable whose name is already in the session is refused with already_exists", async () => {
    await expectRefusedWithoutChange(
      () => client.importSession({ sessionId, revision: 1n, variables: [variable({ name: "f" })] as never }),
      Code.AlreadyExists,
      "already_exists",
    );
  });

  it("a variable whose id is already in the session is refused with already_exists", async () => {
    const existing = await client.getVariable({ sessionId, identifier: "i" });
    await expectRefusedWithoutChange(
      () =>
        client.importSession({
          sessionId,
          revision: 1n,
          variables: [variable({ id: existing.variable?.id })] as never,
        }),
      Code.AlreadyExists,
      "already_exists",
    );
  });

  it("more variables than the per-session quota are refused with resource_exhausted", async () => {
    const many = ["1", "2"].map((digit) =>
      variable({ id: `var_${digit.repeat(24)}`, name: `extra ${digit}` }),
    );
    await expectRefusedWithoutChange(
      () => client.importSession({ sessionId, revision: 1n, variables: many as never }),
      Code.ResourceExhausted,
      "resource_exhausted",
    );
  });
});

describe("WatchVariables", () => {
  it.each([
    ["an unknown identifier", { identifiers: ["f", "nope"] }, Code.NotFound, "not_found"],
    ["no identifiers", { identifiers: [] }, Code.InvalidArgument, "invalid_value"],
    ["an empty identifier", { identifiers: [""] }, Code.NotFound, "not_found"],
    [
      "a negative fromRevision",
      { identifiers: ["f"], fromRevision: -1n },
      Code.InvalidArgument,
      "invalid_value",
    ],
  ] as const)("a watch with %s is refused", async (_label, fields, status, code) => {
    await expectRefusedWithoutChange(
      () => drain(client.watchVariables({ sessionId, ...(fields as object) })),
      status,
      code as StateErrorCode,
    );
  });
});

describe("WatchStream", () => {
  it.each([
    ["an unknown identifier", { identifiers: ["nope"] }, "not_found"],
    ["no identifiers", { identifiers: [] }, "invalid_value"],
    ["a session that does not exist", { identifiers: ["f"], sessionId: unknownSession() }, "session_expired"],
  ] as const)(
    "creating a watch with %s ends that watch with its code, and the stream stays usable",
    async (_label, fields, code) => {
      const before = withoutExportTime(await client.exportSession({ sessionId }));
      const requests = createRequestQueue();
      const responses = client.watchStream(requests.iterable)[Symbol.asyncIterator]();
      requests.push({
        kind: { case: "create", value: { watchId: "bad", sessionId, ...(fields as object) } },
      });
      const ended = await nextOf(responses, (response) => response.watchId === "bad");
      expect(ended.kind.case).toBe("ended");
      if (ended.kind.case === "ended") expect(ended.kind.value.error?.code).toBe(code);
      // The same stream still creates a valid watch.
      requests.push({ kind: { case: "create", value: { watchId: "good", sessionId, identifiers: ["f"] } } });
      const created = await nextOf(responses, (response) => response.watchId === "good");
      expect(created.kind.case).toBe("created");
      requests.end();
      await responses.return?.();
      expect((await client.ping({ message: "ok" })).message).toBe("ok");
      expect(withoutExportTime(await client.exportSession({ sessionId }))).toEqual(before);
    },
  );
});

describe("Ping and oversize messages", () => {
  it("a Ping above the server's max request bytes is refused with resource_exhausted, and the server stays up", async () => {
    await expectRefusedWithoutChange(
      () => client.ping({ message: "p".repeat(MAX_REQUEST_BYTES + 10) }),
      Code.ResourceExhausted,
      "resource_exhausted",
    );
  });
});

describe("bearer token", () => {
  let anonymous: BridgeTransport;
  let wrong: BridgeTransport;
  beforeAll(() => {
    anonymous = createBridgeTransport({ url: server.url });
    wrong = createBridgeTransport({ url: server.url, token: "not-the-token" });
  });
  afterAll(() => {
    anonymous?.close();
    wrong?.close();
  });

  const calls = (other: BridgeClient) =>
    [
      ["Ping", () => other.ping({ message: "hi" })],
      ["InitializeSession", () => other.initializeSession({ sessionId: createSessionId() })],
      ["GetSession", () => other.getSession({ sessionId })],
      ["Heartbeat", () => other.heartbeat({ sessionId })],
      ["CleanupSession", () => other.cleanupSession({ sessionId })],
      [
        "RegisterVariable",
        () => other.registerVariable({ sessionId, name: "x", type: "float", initialValue: float(1) }),
      ],
      ["GetVariable", () => other.getVariable({ sessionId, identifier: "f" })],
      ["GetVariables", () => other.getVariables({ sessionId, identifiers: ["f"] })],
      ["SetVariable", () => other.setVariable({ sessionId, identifier: "f", value: float(0.1) })],
      [
        "SetVariables",
        () => other.setVariables({ sessionId, updates: [{ identifier: "f", value: float(0.1) }] }),
      ],
      ["ListVariables", () => other.listVariables({ sessionId })],
      ["DeleteVariable", () => other.deleteVariable({ sessionId, identifier: "f" })],
      ["ExportSession", () => other.exportSession({ sessionId })],
      ["ImportSession", () => other.importSession({ sessionId, revision: 0n })],
      ["WatchVariables", () => drain(other.watchVariables({ sessionId, identifiers: ["f"] }))],
    ] as const;

  it("every RPC without a token is refused with unauthenticated", async () => {
    const other = createClient(BridgeService, anonymous.transport);
    for (const [name, action] of calls(other)) {
      const error = await failureOf(action);
      expectCodes(error, Code.Unauthenticated, "unauthenticated");
      expect(error.message, name).toContain("authorization");
    }
    expect((await client.ping({ message: "up" })).message).toBe("up");
    expect((await client.getSession({ sessionId })).session?.variableCount).toBe(5n);
  });

  it("every RPC with a wrong token is refused with unauthenticated, and the session is unchanged", async () => {
    const other = createClient(BridgeService, wrong.transport);
    for (const [name, action] of calls(other)) {
      await expectRefusedWithoutChange(action, Code.Unauthenticated, "unauthenticated").catch(
        (error: unknown) => {
          throw new Error(`${name}: ${String(error)}`, { cause: error });
        },
      );
    }
  });

  it("the health service answers without a token", async () => {
    const { Health } = await import("@statebridge/proto");
    const health = createClient(Health, anonymous.transport);
    const response = await health.check({ service: "" });
    expect(response.status).toBe(1);
  });
});

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _message of stream) {
    // A refused watch fails before or instead of its first message; a heartbeat would mean
    // the watch was accepted, which these cases must not be.
    throw new Error("the watch was accepted");
  }
}

async function nextOf<T>(iterator: AsyncIterator<T>, predicate: (value: T) => boolean): Promise<T> {
  for (;;) {
    const result = await iterator.next();
    if (result.done === true) throw new Error("the stream ended before the expected message");
    if (predicate(result.value)) return result.value;
  }
}

/** An async iterable of requests that the test feeds, for a bidirectional stream. */
function createRequestQueue(): {
  iterable: AsyncIterable<MessageInitShape<typeof WatchStreamRequestSchema>>;
  push(request: MessageInitShape<typeof WatchStreamRequestSchema>): void;
  end(): void;
} {
  const queued: MessageInitShape<typeof WatchStreamRequestSchema>[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  return {
    iterable: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          while (queued.length > 0) yield queued.shift() as MessageInitShape<typeof WatchStreamRequestSchema>;
          if (ended) return;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      },
    },
    push(request) {
      queued.push(request);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
  };
}
