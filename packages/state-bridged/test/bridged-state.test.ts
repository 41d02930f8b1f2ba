import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { createClient } from "@connectrpc/connect";
import { BridgeService } from "@statebridge/proto";
import { createLocalState } from "@statebridge/state-local";
import { isStateError, type StateProvider } from "@statebridge/state-provider";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createBridgedState } from "../src/index.js";
import { createBridgeTransport } from "../src/transport.js";
import { connectionsTo } from "./support/connections.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";

let server: ServerProcess;
const opened: StateProvider[] = [];

async function open(options: Partial<Parameters<typeof createBridgedState>[0]> = {}): Promise<StateProvider> {
  const provider = await createBridgedState({ url: server.url, ...options });
  opened.push(provider);
  return provider;
}

beforeAll(async () => {
  server = await startServerProcess();
}, 30_000);

afterEach(async () => {
  await Promise.all(opened.splice(0).map((provider) => provider.close()));
});

afterAll(async () => {
  await server?.stop();
});

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** Waits until this process holds `count` connections to `port`; false if not within 2 s. */
async function connectionsSettleAt(port: number, count: number): Promise<boolean> {
  for (let round = 0; round < 200; round++) {
    if (connectionsTo(port) === count) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}

describe("createBridgedState", () => {
  it("creates the session on the server, and a second provider with that id joins it", async () => {
    const first = await open();
    expect(first.sessionId).toMatch(/^session_[0-9a-f]{32}$/);
    const transport = createBridgeTransport({ url: server.url });
    try {
      const response = await createClient(BridgeService, transport.transport).getSession({
        sessionId: first.sessionId,
      });
      expect(response.session?.sessionId).toBe(first.sessionId);
    } finally {
      transport.close();
    }
    await first.register("shared", "string", "from first");
    const second = await open({ sessionId: first.sessionId });
    expect(await second.get("shared")).toBe("from first");
  });

  it("declares what it can do truthfully: a distributed, non-persistent backend that needs a bridge", async () => {
    const provider = await open();
    expect(provider.requiresBridge).toBe(true);
    expect(provider.capabilities).toMatchObject({
      atomicUpdates: true,
      compareAndSet: true,
      persistence: false,
      distribution: true,
    });
  });

  it("refuses malformed options with invalid_value before connecting", async () => {
    await expect(createBridgedState({ url: "" })).rejects.toMatchObject({ code: "invalid_value" });
    await expect(createBridgedState({ url: server.url, deadlineMs: -1 })).rejects.toMatchObject({
      code: "invalid_value",
    });
    await expect(createBridgedState({ url: server.url, retry: { attempts: 0 } })).rejects.toMatchObject({
      code: "invalid_value",
    });
  });

  it("fails with unavailable when nothing listens at the address, and leaves no socket open", async () => {
    const port = await freePort();
    const failure = await createBridgedState({ url: `http://127.0.0.1:${port}`, deadlineMs: 2_000 }).catch(
      (error: unknown) => error,
    );
    expect(isStateError(failure, "unavailable")).toBe(true);
    expect((failure as Error).message).toContain(`127.0.0.1:${port}`);
  });

  it("gives unavailable at the deadline when the server accepts connections but never answers", async () => {
    const silent = await startSilentServer();
    try {
      const failure = await createBridgedState({
        url: `http://127.0.0.1:${silent.port}`,
        deadlineMs: 300,
      }).catch((error: unknown) => error);
      expect(isStateError(failure, "unavailable")).toBe(true);
    } finally {
      await silent.close();
    }
  });
});

describe("close()", () => {
  it("is idempotent, makes every later call fail with closed, and releases its connection", async () => {
    // A server of its own, so that no other test's connection is counted.
    const own = await startServerProcess();
    const port = portOf(own.url);
    try {
      const provider = await createBridgedState({ url: own.url });
      await provider.register("x", "integer", 1);
      expect(connectionsTo(port)).toBe(1);
      await Promise.all([provider.close(), provider.close()]);
      await provider.close();
      expect(await connectionsSettleAt(port, 0)).toBe(true);
      await expectEveryCallClosed(provider);
    } finally {
      await own.stop();
    }
  });

  it("leaves no connection open after the server refused the token", async () => {
    const own = await startServerProcess(["--token", "t"]);
    try {
      await expect(createBridgedState({ url: own.url, token: "wrong" })).rejects.toMatchObject({
        code: "unauthenticated",
      });
      expect(await connectionsSettleAt(portOf(own.url), 0)).toBe(true);
    } finally {
      await own.stop();
    }
  });

  async function expectEveryCallClosed(provider: StateProvider): Promise<void> {
    const calls: Array<() => Promise<unknown>> = [
      () => provider.register("y", "integer", 1),
      () => provider.get("x"),
      () => provider.getVariable("x"),
      () => provider.set("x", 2),
      () => provider.getMany(["x"]),
      () => provider.updateMany(new Map([["x", 3]])),
      () => provider.list(),
      () => provider.delete("x"),
      () => provider.export(),
      () => provider.import({}),
      () => provider.watch(["x"], () => {}),
    ];
    for (const call of calls) await expect(call()).rejects.toMatchObject({ code: "closed" });
  }

  it("fails calls still in flight with closed", async () => {
    const provider = await createBridgedState({ url: server.url });
    await provider.register("x", "integer", 1);
    const inFlight = provider.get("x");
    await provider.close();
    const outcome = await inFlight.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    // The call may have completed before close() reached it; if not, it says closed.
    if ("error" in outcome) expect(outcome.error).toMatchObject({ code: "closed" });
    else expect(outcome.value).toBe(1);
  });

  it("does not close a transport it was given", async () => {
    const transport = createBridgeTransport({ url: server.url });
    try {
      const first = await createBridgedState({ url: server.url, transport: transport.transport });
      await first.register("x", "integer", 1);
      await first.close();
      const second = await createBridgedState({
        url: server.url,
        transport: transport.transport,
        sessionId: first.sessionId,
      });
      expect(await second.get("x")).toBe(1);
      await second.close();
    } finally {
      transport.close();
    }
  });
});

describe("when the server goes away", () => {
  it("reads and writes fail with unavailable, not a hang", async () => {
    const own = await startServerProcess();
    const provider = await createBridgedState({ url: own.url, deadlineMs: 1_000 });
    try {
      await provider.register("x", "integer", 1);
      await own.stop();
      await expect(provider.get("x")).rejects.toMatchObject({ code: "unavailable" });
      await expect(provider.set("x", 2)).rejects.toMatchObject({ code: "unavailable" });
    } finally {
      await provider.close();
      await own.stop();
    }
  });
});

describe("when the server restarts", () => {
  it("the provider reconnects by itself and reports session_expired: nothing silently recreates the session", async () => {
    const port = await freePort();
    let own = await startServerProcess(["--port", String(port)]);
    const provider = await createBridgedState({ url: own.url, deadlineMs: 2_000 });
    try {
      await provider.register("x", "integer", 1);
      await own.stop();
      await expect(provider.get("x")).rejects.toMatchObject({ code: "unavailable" });
      own = await startServerProcess(["--port", String(port)]);
      await expect(provider.get("x")).rejects.toMatchObject({ code: "session_expired" });
      await expect(provider.set("x", 2)).rejects.toMatchObject({ code: "session_expired" });
    } finally {
      await provider.close();
      await own.stop();
    }
  });
});

describe("migration from LocalState", () => {
  it("importing a LocalState export keeps ids, versions, metadata, constraints, sources and the revision", async () => {
    const local = createLocalState({ source: "typescript" });
    await local.register("temperature", "float", 0.7, {
      constraints: { min: 0, max: 2 },
      description: "sampling",
    });
    await local.set("temperature", 1.1);
    await local.set("temperature", 1.2, { metadata: { tuned: true } });
    await local.register("model", "choice", "small", { constraints: { choices: ["small", "large"] } });
    await local.register("weights", "embedding", [0.5, -1e-300, -0, Number.MAX_VALUE]);
    await local.register("grid", "tensor", { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] });
    await local.register("count", "integer", Number.MAX_SAFE_INTEGER);
    await local.register("ratio", "float", Number.NEGATIVE_INFINITY);
    await local.register("__proto__", "string", "plain");
    await local.delete("count");
    const exported = await local.export();
    await local.close();

    const bridged = await open();
    await bridged.import(JSON.parse(JSON.stringify(exported)));
    const reexported = await bridged.export();
    expect(reexported.revision).toBe(exported.revision);
    expect(reexported.variables).toEqual(exported.variables);
    const temperature = await bridged.getVariable("temperature");
    expect(temperature.version).toBe(2);
    expect(temperature.metadata).toEqual({ description: "sampling", tuned: true });
    expect(await bridged.set("temperature", 1.3)).toBe(3);
    expect(Object.is(((await bridged.get("weights")) as readonly number[])[2], -0)).toBe(true);
  });

  it("refuses a malformed export with invalid_export and changes nothing", async () => {
    const bridged = await open();
    await bridged.register("kept", "integer", 1);
    const before = await bridged.export();
    const failure = await bridged
      .import({ format: "statebridge.export", version: 1, sessionId: "s", revision: -1 })
      .catch((error: unknown) => error);
    expect(isStateError(failure, "invalid_export")).toBe(true);
    expect((failure as Error).message).toContain("revision");
    expect((await bridged.export()).variables).toEqual(before.variables);
  });
});

describe("values across the bridge", () => {
  it("a 1,000,000-element tensor round-trips exactly", async () => {
    const provider = await open();
    const data = Array.from({ length: 1_000_000 }, (_, index) => Math.sin(index) * 1e-3);
    data[17] = Number.NaN;
    data[18] = -0;
    await provider.register("big", "tensor", { shape: [1000, 1000], data });
    const stored = (await provider.get("big")) as { shape: readonly number[]; data: readonly number[] };
    expect(stored.shape).toEqual([1000, 1000]);
    expect(stored.data.length).toBe(data.length);
    let mismatches = 0;
    for (let index = 0; index < data.length; index++) {
      if (!Object.is(stored.data[index], data[index])) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it("a stale cached type does not break set(): the variable was replaced by one of another type elsewhere", async () => {
    const first = await open();
    const second = await open({ sessionId: first.sessionId });
    await first.register("x", "integer", 1);
    await first.register("pick", "choice", "a", { constraints: { choices: ["a", "b"] } });
    await first.updateMany(
      new Map<string, unknown>([
        ["x", 2],
        ["pick", "b"],
      ]),
      { atomic: true },
    );
    // Elsewhere, both are replaced by variables of other types under the same names.
    await second.delete("x");
    await second.register("x", "float", 0.5);
    await second.delete("pick");
    await second.register("pick", "string", "free text");
    expect(await first.set("x", 3)).toBe(1);
    expect(await first.set("pick", "anything")).toBe(1);
    expect((await second.getVariable("x")).type).toBe("float");
    expect(await second.get("x")).toBe(3);
    expect(await second.get("pick")).toBe("anything");
  });

  it("a stale cached type does not break an atomic updateMany()", async () => {
    const first = await open();
    const second = await open({ sessionId: first.sessionId });
    await first.register("x", "integer", 1);
    expect(await first.get("x")).toBe(1);
    await second.delete("x");
    await second.register("x", "float", 0.5);
    const result = await first.updateMany(new Map([["x", 4]]), { atomic: true });
    expect(result.versions.get("x")).toBe(1);
    expect(await second.get("x")).toBe(4);
  });
});

describe("bearer token", () => {
  let guarded: ServerProcess;
  beforeAll(async () => {
    guarded = await startServerProcess(["--token", "s3cret"]);
  }, 30_000);
  afterAll(async () => {
    await guarded?.stop();
  });

  it("a missing or wrong token fails with unauthenticated; the right one works", async () => {
    await expect(createBridgedState({ url: guarded.url })).rejects.toMatchObject({ code: "unauthenticated" });
    await expect(createBridgedState({ url: guarded.url, token: "wrong" })).rejects.toMatchObject({
      code: "unauthenticated",
    });
    const provider = await createBridgedState({ url: guarded.url, token: "s3cret" });
    try {
      await provider.register("x", "integer", 1);
      expect(await provider.get("x")).toBe(1);
    } finally {
      await provider.close();
    }
  });
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A TCP server that accepts connections and never says anything: a hung peer. */
async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const silent: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  return {
    port: (silent.address() as AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    },
  };
}
