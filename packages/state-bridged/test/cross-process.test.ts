import type { StateProvider } from "@statebridge/state-provider";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createBridgedState } from "../src/index.js";
import { PeerError, type PeerProcess, startPeerProcess } from "./support/peer-process.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";

// Two BridgedStates in two processes (this one, and a child running test/fixtures/peer.mjs),
// on one session of a bridge-server running as a third process.
let server: ServerProcess;
let peer: PeerProcess;
let local: StateProvider;

beforeAll(async () => {
  server = await startServerProcess();
}, 30_000);

afterAll(async () => {
  await server?.stop();
});

beforeEach(async () => {
  local = await createBridgedState({ url: server.url });
  peer = startPeerProcess();
  await peer.call("open", { url: server.url, sessionId: local.sessionId });
}, 20_000);

afterEach(async () => {
  await peer?.stop();
  await local?.close();
});

async function peerFailure(action: Promise<unknown>): Promise<PeerError> {
  try {
    await action;
  } catch (error) {
    if (error instanceof PeerError) return error;
    throw error;
  }
  throw new Error("the peer's operation was expected to fail but succeeded");
}

describe("two processes on one session", () => {
  it("a variable registered in one process is read, with the same id, in the other", async () => {
    const registered = await peer.call<{ id: string; version: number }>("register", {
      name: "temperature",
      type: "float",
      initial: 0.7,
    });
    const variable = await local.getVariable("temperature");
    expect(variable.id).toBe(registered.id);
    expect(variable.value).toBe(0.7);
    expect(variable.source).toBe("peer");
  });

  it("writes in either process are seen by the other, with versions counting both", async () => {
    await local.register("counter", "integer", 1);
    expect(await peer.call("get", { identifier: "counter" })).toBe(1);
    expect(await peer.call("set", { identifier: "counter", value: 2 })).toBe(1);
    expect(await local.get("counter")).toBe(2);
    expect(await local.set("counter", 3)).toBe(2);
    expect(await peer.call("get", { identifier: "counter" })).toBe(3);
    const variable = await local.getVariable("counter");
    expect(variable.version).toBe(2);
    expect(variable.source).toBe("typescript");
  });

  it("a batch from one process is read as a whole by the other", async () => {
    await local.register("a", "integer", 0);
    await local.register("b", "string", "x");
    const result = await peer.call<{ revision: number; versions: [string, number][] }>("updateMany", {
      updates: [
        ["a", 10],
        ["b", "y"],
      ],
      atomic: true,
    });
    expect(result.versions).toEqual([
      ["a", 1],
      ["b", 1],
    ]);
    expect(Object.fromEntries(await local.getMany(["a", "b"]))).toEqual({ a: 10, b: "y" });
    expect((await local.export()).revision).toBe(result.revision);
  });

  it("list order and deletions are shared", async () => {
    await local.register("first", "boolean", true);
    await peer.call("register", { name: "second", type: "boolean", initial: false });
    await local.register("third", "boolean", true);
    expect(await peer.call("list")).toEqual(["first", "second", "third"]);
    await peer.call("delete", { identifier: "second" });
    expect((await local.list()).map((variable) => variable.name)).toEqual(["first", "third"]);
    await expect(local.get("second")).rejects.toMatchObject({ code: "not_found" });
  });

  it("compare-and-set at the same version: the first write wins, the other gets version_conflict", async () => {
    await local.register("x", "integer", 0);
    const { version } = await local.getVariable("x");
    expect(await local.set("x", 1, { expectedVersion: version })).toBe(version + 1);
    const failure = await peerFailure(
      peer.call("set", { identifier: "x", value: 2, expectedVersion: version }),
    );
    expect(failure.code).toBe("version_conflict");
    expect(await local.get("x")).toBe(1);
    expect(await peer.call("set", { identifier: "x", value: 2, expectedVersion: version + 1 })).toBe(
      version + 2,
    );
    expect(await local.get("x")).toBe(2);
  });

  it("racing compare-and-set writes from both processes: exactly one wins", async () => {
    await local.register("race", "string", "start");
    for (let round = 0; round < 10; round++) {
      const { version } = await local.getVariable("race");
      const outcomes = await Promise.allSettled([
        local.set("race", `local ${round}`, { expectedVersion: version }),
        peer.call("set", { identifier: "race", value: `peer ${round}`, expectedVersion: version }),
      ]);
      const won = outcomes.filter((outcome) => outcome.status === "fulfilled");
      const lost = outcomes.filter((outcome) => outcome.status === "rejected");
      expect(won, `round ${round}`).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason.code, `round ${round}`).toBe("version_conflict");
      const winner = outcomes[0]?.status === "fulfilled" ? `local ${round}` : `peer ${round}`;
      expect(await local.get("race")).toBe(winner);
      expect((await local.getVariable("race")).version).toBe(version + 1);
    }
  });

  it("compare-and-set increments from both processes at once lose no update", async () => {
    await local.register("count", "integer", 0);
    const times = 25;
    const localIncrements = (async () => {
      for (let done = 0; done < times; ) {
        const variable = await local.getVariable("count");
        try {
          await local.set("count", (variable.value as number) + 1, { expectedVersion: variable.version });
          done++;
        } catch (error) {
          if ((error as { code?: string }).code !== "version_conflict") throw error;
        }
      }
    })();
    await Promise.all([localIncrements, peer.call("increment", { identifier: "count", times })]);
    expect(await local.get("count")).toBe(2 * times);
    expect((await local.getVariable("count")).version).toBe(2 * times);
  });
});
