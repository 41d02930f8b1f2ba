import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { Code } from "@connectrpc/connect";
import { GetVariablesRequestSchema } from "@statebridge/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support.js";
import { doubles, failureOf, wire } from "./support-values.js";

describe("unary RPCs on a real server", () => {
  let test: TestServer;
  let sessionCounter = 0;
  const nextSessionId = () => `session-${++sessionCounter}`;

  beforeAll(async () => {
    test = await startTestServer();
  });
  afterAll(() => test.close());

  it("Ping echoes the message with the server's time and version", async () => {
    const before = Date.now();
    const response = await test.client().ping({ message: "are you there" });
    expect(response.message).toBe("are you there");
    expect(Number(response.serverTimeMs)).toBeGreaterThanOrEqual(before);
    expect(response.serverVersion).toBe("0.1.0");
  });

  it("InitializeSession creates once, then gets the same session", async () => {
    const client = test.client();
    const sessionId = nextSessionId();
    const first = await client.initializeSession({
      sessionId,
      metadataJson: '{"owner":"test"}',
      ttlSeconds: 120,
    });
    expect(first.created).toBe(true);
    expect(first.session?.sessionId).toBe(sessionId);
    expect(first.session?.ttlSeconds).toBe(120);
    expect(JSON.parse(first.session?.metadataJson ?? "")).toEqual({ owner: "test" });
    expect(Number(first.session?.expiresAtMs)).toBeGreaterThan(Number(first.session?.createdAtMs));
    const second = await client.initializeSession({ sessionId });
    expect(second.created).toBe(false);
    expect(second.session?.createdAtMs).toBe(first.session?.createdAtMs);
  });

  it("GetSession and Heartbeat describe the session; Heartbeat slides its expiry", async () => {
    const client = test.client();
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    await client.registerVariable({ sessionId, name: "x", type: "float", initialValue: wire.float(1) });
    const described = await client.getSession({ sessionId });
    expect(described.session?.variableCount).toBe(1n);
    expect(described.session?.revision).toBe(1n);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const beaten = await client.heartbeat({ sessionId });
    expect(Number(beaten.session?.expiresAtMs)).toBeGreaterThan(Number(described.session?.expiresAtMs));
  });

  it("CleanupSession deletes a session, which then answers session_expired", async () => {
    const client = test.client();
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    expect((await client.cleanupSession({ sessionId })).deleted).toBe(true);
    const failure = await failureOf(client.getSession({ sessionId }));
    expect(failure.trailerCode).toBe("session_expired");
    expect(failure.error.code).toBe(Code.NotFound);
  });

  it("RegisterVariable returns the variable at version 0 with constraints, metadata and source", async () => {
    const client = test.client();
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    const response = await client.registerVariable({
      sessionId,
      name: "temperature",
      type: "float",
      initialValue: wire.float(0.7),
      constraintsJson: '{"min":0,"max":2}',
      metadataJson: '{"unit":"none"}',
      description: "sampling temperature",
      source: "python",
    });
    const variable = response.variable;
    expect(variable?.id).toMatch(/^var_[0-9a-f]{24}$/);
    expect(variable?.name).toBe("temperature");
    expect(variable?.version).toBe(0n);
    expect(variable?.source).toBe("python");
    expect(variable?.value?.kind).toEqual({ case: "floatValue", value: 0.7 });
    expect(JSON.parse(variable?.constraintsJson ?? "")).toEqual({ min: 0, max: 2 });
    expect(JSON.parse(variable?.metadataJson ?? "")).toEqual({
      unit: "none",
      description: "sampling temperature",
    });
    expect(response.revision).toBe(1n);
  });

  it("a write without a source is recorded as unknown", async () => {
    const client = test.client();
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    const { variable } = await client.registerVariable({
      sessionId,
      name: "flag",
      type: "boolean",
      initialValue: wire.boolean(true),
    });
    expect(variable?.source).toBe("unknown");
    expect(variable?.constraintsJson).toBe("");
  });

  it("every type round-trips: integer, string, boolean, choice, module, embedding, tensor", async () => {
    const client = test.client();
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    await client.registerVariable({
      sessionId,
      name: "count",
      type: "integer",
      initialValue: wire.integer(2 ** 53 - 1),
    });
    await client.registerVariable({
      sessionId,
      name: "label",
      type: "string",
      initialValue: wire.string("héllo"),
    });
    await client.registerVariable({
      sessionId,
      name: "mode",
      type: "choice",
      initialValue: wire.string("fast"),
      constraintsJson: '{"choices":["fast","slow"]}',
    });
    await client.registerVariable({
      sessionId,
      name: "module",
      type: "module",
      initialValue: wire.string("dspy.Predict"),
    });
    await client.registerVariable({
      sessionId,
      name: "vector",
      type: "embedding",
      initialValue: wire.embedding([0.5, -1, 3.25]),
    });
    await client.registerVariable({
      sessionId,
      name: "matrix",
      type: "tensor",
      initialValue: wire.tensor([2, 2], [1, 2, 3, 4]),
    });
    const { variables } = await client.listVariables({ sessionId });
    const byName = new Map(variables.map((variable) => [variable.name, variable]));
    expect(byName.get("count")?.value?.kind).toEqual({ case: "integerValue", value: BigInt(2 ** 53 - 1) });
    expect(byName.get("label")?.value?.kind).toEqual({ case: "stringValue", value: "héllo" });
    expect(byName.get("mode")?.value?.kind).toEqual({ case: "choiceValue", value: "fast" });
    expect(byName.get("module")?.value?.kind).toEqual({ case: "moduleValue", value: "dspy.Predict" });
    const vector = byName.get("vector")?.value?.kind;
    expect(vector?.case).toBe("embeddingValue");
    expect(doubles(vector?.value as Uint8Array)).toEqual([0.5, -1, 3.25]);
    const matrix = byName.get("matrix")?.value?.kind;
    expect(matrix?.case).toBe("tensorValue");
    const tensor = matrix?.value as { shape: bigint[]; data: Uint8Array };
    expect(tensor.shape).toEqual([2n, 2n]);
    expect(doubles(tensor.data)).toEqual([1, 2, 3, 4]);
  });

  it("NaN and infinities survive a float's round trip", async () => {
    const client = test.client();
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    await client.registerVariable({
      sessionId,
      name: "nan",
      type: "float",
      initialValue: wire.float(Number.NaN),
    });
    await client.setVariable({ sessionId, identifier: "nan", value: wire.float(Number.NEGATIVE_INFINITY) });
    const { variable } = await client.getVariable({ sessionId, identifier: "nan" });
    expect(variable?.value?.kind).toEqual({ case: "floatValue", value: Number.NEGATIVE_INFINITY });
  });

  it("GetVariable reads by name and by id", async () => {
    const client = test.client();
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    const { variable } = await client.registerVariable({
      sessionId,
      name: "answer",
      type: "integer",
      initialValue: wire.integer(42),
    });
    const byName = await client.getVariable({ sessionId, identifier: "answer" });
    const byId = await client.getVariable({ sessionId, identifier: variable?.id ?? "" });
    expect(byName.variable?.id).toBe(variable?.id);
    expect(byId.variable?.name).toBe("answer");
    expect(byId.variable?.value?.kind).toEqual({ case: "integerValue", value: 42n });
  });

  it("GetVariables returns found variables keyed as asked and lists the missing ones", async () => {
    const client = test.client();
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    const { variable } = await client.registerVariable({
      sessionId,
      name: "ratio",
      type: "float",
      initialValue: wire.float(0.25),
    });
    const response = await client.getVariables({
      sessionId,
      identifiers: ["ratio", variable?.id ?? "", "absent", "absent"],
    });
    expect(Object.keys(response.variables).sort()).toEqual(["ratio", variable?.id].sort());
    expect(response.variables.ratio?.value?.kind).toEqual({ case: "floatValue", value: 0.25 });
    expect(response.missing).toEqual(["absent"]);
  });

  it("GetVariables sends a variable named __proto__ as an ordinary map entry", async () => {
    const client = test.client();
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    await client.registerVariable({
      sessionId,
      name: "__proto__",
      type: "string",
      initialValue: wire.string("safe"),
    });
    // Read the binary response by hand: protobuf-es's own parser would assign the key to a
    // plain object, where "__proto__" is lost on the receiving side.
    const response = await fetch(`${test.server.url}/statebridge.v1.BridgeService/GetVariables`, {
      method: "POST",
      headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
      body: toBinary(
        GetVariablesRequestSchema,
        create(GetVariablesRequestSchema, { sessionId, identifiers: ["__proto__"] }),
      ),
    });
    expect(response.status).toBe(200);
    const reader = new BinaryReader(new Uint8Array(await response.arrayBuffer()));
    const keys: string[] = [];
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field !== 1) {
        reader.skip(wireType);
        continue;
      }
      const entry = new BinaryReader(reader.bytes());
      const [keyField] = entry.tag();
      expect(keyField).toBe(1);
      keys.push(entry.string());
    }
    expect(keys).toEqual(["__proto__"]);
  });

  it("SetVariable writes with the variable's type and bumps the version, also to an equal value", async () => {
    const client = test.client();
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    await client.registerVariable({ sessionId, name: "n", type: "integer", initialValue: wire.integer(1) });
    // An integer variable accepts a whole float, as a local backend does.
    const first = await client.setVariable({
      sessionId,
      identifier: "n",
      value: wire.float(1),
      source: "python",
    });
    expect(first.version).toBe(1n);
    expect(first.revision).toBe(2n);
    const second = await client.setVariable({
      sessionId,
      identifier: "n",
      value: wire.integer(5),
      expectedVersion: 1n,
      metadataJson: '{"step":2}',
    });
    expect(second.version).toBe(2n);
    const { variable } = await client.getVariable({ sessionId, identifier: "n" });
    expect(variable?.value?.kind).toEqual({ case: "integerValue", value: 5n });
    expect(JSON.parse(variable?.metadataJson ?? "")).toEqual({ step: 2 });
    expect(variable?.source).toBe("unknown");
  });

  it("SetVariables applies an atomic batch in one revision", async () => {
    const client = test.client();
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    await client.registerVariable({ sessionId, name: "a", type: "float", initialValue: wire.float(0) });
    await client.registerVariable({ sessionId, name: "b", type: "string", initialValue: wire.string("") });
    const response = await client.setVariables({
      sessionId,
      atomic: true,
      updates: [
        { identifier: "a", value: wire.float(1.5) },
        { identifier: "b", value: wire.string("done") },
      ],
    });
    expect(response.revision).toBe(3n);
    expect(response.versions).toEqual({ a: 1n, b: 1n });
    const session = await client.getSession({ sessionId });
    expect(session.session?.revision).toBe(3n);
  });

  it("ListVariables lists in creation order and filters by an anchored glob", async () => {
    const client = test.client();
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    for (const name of ["model.temperature", "model.top_p", "prompt", "model"]) {
      await client.registerVariable({ sessionId, name, type: "float", initialValue: wire.float(1) });
    }
    const all = await client.listVariables({ sessionId });
    expect(all.variables.map((variable) => variable.name)).toEqual([
      "model.temperature",
      "model.top_p",
      "prompt",
      "model",
    ]);
    const matched = await client.listVariables({ sessionId, pattern: "model.*" });
    expect(matched.variables.map((variable) => variable.name)).toEqual(["model.temperature", "model.top_p"]);
  });

  it("DeleteVariable removes the variable and takes a revision", async () => {
    const client = test.client();
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    await client.registerVariable({
      sessionId,
      name: "gone",
      type: "boolean",
      initialValue: wire.boolean(false),
    });
    const response = await client.deleteVariable({ sessionId, identifier: "gone" });
    expect(response.revision).toBe(2n);
    const failure = await failureOf(client.getVariable({ sessionId, identifier: "gone" }));
    expect(failure.trailerCode).toBe("not_found");
  });

  it("ExportSession and ImportSession move a session with ids, versions and values intact", async () => {
    const client = test.client();
    const source = nextSessionId();
    await client.initializeSession({ sessionId: source, metadataJson: '{"origin":"export"}' });
    await client.registerVariable({
      sessionId: source,
      name: "x",
      type: "float",
      initialValue: wire.float(Number.NaN),
    });
    await client.registerVariable({
      sessionId: source,
      name: "v",
      type: "embedding",
      initialValue: wire.embedding([1, 2, 3]),
      constraintsJson: '{"dimensions":3}',
    });
    await client.registerVariable({
      sessionId: source,
      name: "t",
      type: "tensor",
      initialValue: wire.tensor([1, 2], [-0.5, 8]),
    });
    await client.setVariable({ sessionId: source, identifier: "x", value: wire.float(-0) });
    const exported = await client.exportSession({ sessionId: source });
    expect(exported.sessionId).toBe(source);
    expect(exported.revision).toBe(4n);
    expect(exported.variables.map((variable) => variable.name)).toEqual(["x", "v", "t"]);

    const target = nextSessionId();
    const imported = await client.importSession({
      sessionId: target,
      revision: exported.revision,
      metadataJson: exported.metadataJson,
      variables: exported.variables,
    });
    expect(imported.imported).toBe(3n);
    expect(imported.revision).toBe(4n);
    const copy = await client.exportSession({ sessionId: target });
    expect(copy.variables.map((variable) => [variable.id, variable.version])).toEqual(
      exported.variables.map((variable) => [variable.id, variable.version]),
    );
    const x = copy.variables[0]?.value?.kind;
    expect(x?.case).toBe("floatValue");
    expect(Object.is(x?.value, -0)).toBe(true);
    expect(doubles(copy.variables[1]?.value?.kind.value as Uint8Array)).toEqual([1, 2, 3]);
    const tensor = copy.variables[2]?.value?.kind.value as { shape: bigint[]; data: Uint8Array };
    expect(tensor.shape).toEqual([1n, 2n]);
    expect(doubles(tensor.data)).toEqual([-0.5, 8]);
  });

  it("a 1,000,000-element tensor round-trips exactly", async () => {
    const client = test.client();
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    const data = Array.from({ length: 1_000_000 }, (_, index) => Math.sin(index) * 1e6);
    await client.registerVariable({
      sessionId,
      name: "big",
      type: "tensor",
      initialValue: wire.tensor([1000, 1000], data),
    });
    const { variable } = await client.getVariable({ sessionId, identifier: "big" });
    const tensor = variable?.value?.kind.value as { shape: bigint[]; data: Uint8Array };
    expect(tensor.shape).toEqual([1000n, 1000n]);
    expect(doubles(tensor.data)).toEqual(data);
  });
});
