// Embeddings and tensors cross every wire path (WIRE_PATHS) byte for byte: set, read back,
// exported and imported, at every alignment inside the request message. Regression: on the
// compressed paths the server unpacked a misaligned embedding from the whole pooled buffer its
// decompression left the message in, so it stored other requests' bytes (or refused NaN).
import { type Client, createClient } from "@connectrpc/connect";
import { BridgeService, type Value } from "@statebridge/proto";
import { createSessionId, packFloat64, unpackFloat64 } from "@statebridge/state-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";
import { WIRE_PATHS, type WirePath } from "./support/wire-paths.js";

type BridgeClient = Client<typeof BridgeService>;

let server: ServerProcess;

beforeAll(async () => {
  server = await startServerProcess();
}, 30_000);

afterAll(() => server?.stop());

/** `count` distinct doubles, none of them a value the server could make up (no 0, no NaN). */
function values(count: number, seed: number): number[] {
  return Array.from({ length: count }, (_, index) => (index + 1) / 7 + seed * 1000.5);
}

function unpacked(value: Value | undefined): number[] | undefined {
  const kind = value?.kind;
  if (kind?.case === "embeddingValue") return unpackFloat64(kind.value);
  if (kind?.case === "tensorValue") return unpackFloat64(kind.value.data);
  return undefined;
}

function clientOf(path: WirePath): BridgeClient {
  return createClient(BridgeService, path.createTransport(server.url));
}

describe.each(WIRE_PATHS.map((path) => [path.name, path] as const))("%s", (_name, path) => {
  it("embeddings and tensors at every alignment in the message round-trip exactly", async () => {
    const client = clientOf(path);
    const sessionId = createSessionId();
    await client.initializeSession({ sessionId });
    // Names of 1 to 8 characters move the packed bytes through every offset modulo 8.
    for (let padding = 1; padding <= 8; padding++) {
      for (const count of [3, 200, 3000]) {
        const name = `${"e".repeat(padding)}${count}`;
        const embedding = values(count, padding);
        await client.registerVariable({
          sessionId,
          name,
          type: "embedding",
          initialValue: { kind: { case: "embeddingValue", value: packFloat64(values(count, 0)) } },
        });
        await client.setVariable({
          sessionId,
          identifier: name,
          value: { kind: { case: "embeddingValue", value: packFloat64(embedding) } },
        });
        const read = await client.getVariable({ sessionId, identifier: name });
        expect(unpacked(read.variable?.value), `${name}`).toEqual(embedding);
      }
      const tensorName = `${"t".repeat(padding)}`;
      const tensor = values(24, padding + 100);
      await client.registerVariable({
        sessionId,
        name: tensorName,
        type: "tensor",
        initialValue: {
          kind: { case: "tensorValue", value: { shape: [2n, 3n, 4n], data: packFloat64(tensor) } },
        },
      });
      const read = await client.getVariable({ sessionId, identifier: tensorName });
      expect(unpacked(read.variable?.value), tensorName).toEqual(tensor);
    }
  });

  it("export then import keeps every packed value exactly", async () => {
    const client = clientOf(path);
    const sessionId = createSessionId();
    await client.initializeSession({ sessionId });
    for (let padding = 1; padding <= 8; padding++) {
      await client.registerVariable({
        sessionId,
        name: "x".repeat(padding),
        type: "embedding",
        initialValue: { kind: { case: "embeddingValue", value: packFloat64(values(40 + padding, padding)) } },
      });
    }
    const exported = await client.exportSession({ sessionId });
    const copyId = createSessionId();
    await client.importSession({
      sessionId: copyId,
      revision: exported.revision,
      metadataJson: exported.metadataJson,
      variables: exported.variables,
    });
    const copy = await client.exportSession({ sessionId: copyId });
    expect(copy.variables.map((variable) => [variable.name, unpacked(variable.value)])).toEqual(
      exported.variables.map((variable) => [variable.name, unpacked(variable.value)]),
    );
    for (const variable of copy.variables) {
      expect(unpacked(variable.value), variable.name).toEqual(
        values(40 + variable.name.length, variable.name.length),
      );
    }
  });
});
