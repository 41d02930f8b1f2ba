import { type BridgeServer, createBridgeServer } from "@statebridge/bridge-server";
import { isStateError, type Variable } from "@statebridge/state-provider";
import { afterEach, describe, expect, it } from "vitest";
import { startTcpProxy, type TcpProxy } from "../../stream-consumer/test/support/tcp-proxy.js";
import { type BridgedStateOptions, type BridgedStateProvider, createBridgedState } from "../src/index.js";

// The near cache of BridgedState (`cache: true`) against a real bridge-server in process.
const servers: BridgeServer[] = [];
const providers: BridgedStateProvider[] = [];
const proxies: TcpProxy[] = [];

afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(port = 0): Promise<BridgeServer> {
  const server = await createBridgeServer({ host: "127.0.0.1", port, shutdownGraceMs: 100 });
  servers.push(server);
  return server;
}

async function open(url: string, options: Partial<BridgedStateOptions> = {}): Promise<BridgedStateProvider> {
  const provider = await createBridgedState({
    url,
    watch: { reconnect: { baseDelayMs: 20, maxDelayMs: 100, maxFailures: 50 } },
    ...options,
  });
  providers.push(provider);
  return provider;
}

/** Counts the GetVariable calls the server has served, from its own metrics. */
async function getCalls(server: BridgeServer): Promise<number> {
  let total = 0;
  for (const line of (await server.metrics()).split("\n")) {
    if (line.startsWith("#") || !line.includes("GetVariable") || !line.includes("_total")) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/** Reads until `accept` holds of what `read` gives, or fails after `timeoutMs`. */
async function readUntil<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 5_000,
): Promise<T[]> {
  const seen: T[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    seen.push(value);
    if (accept(value)) return seen;
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms; last read ${String(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Waits until `provider` serves `identifier` from its cache (a get that leaves no call on the server). */
async function untilCached(
  server: BridgeServer,
  provider: BridgedStateProvider,
  identifier: string,
): Promise<void> {
  for (let round = 0; round < 500; round++) {
    const before = await getCalls(server);
    await provider.get(identifier);
    if ((await getCalls(server)) === before) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`${identifier} was never served from the cache`);
}

describe("BridgedState near cache (cache: true)", () => {
  it("declares linearizableReads: false with the cache on, and true without it", async () => {
    const server = await serve();
    const cached = await open(server.url, { cache: true });
    const plain = await open(server.url, { sessionId: cached.sessionId });
    expect(cached.capabilities.linearizableReads).toBe(false);
    expect(plain.capabilities.linearizableReads).toBe(true);
  });

  it("a cached get never leaves the process, and get(…, { fresh: true }) asks the server", async () => {
    const server = await serve();
    const provider = await open(server.url, { cache: true });
    await provider.register("temperature", "float", 0.7);
    await untilCached(server, provider, "temperature");
    const before = await getCalls(server);
    for (let round = 0; round < 100; round++) expect(await provider.get("temperature")).toBe(0.7);
    expect((await provider.getVariable("temperature")).version).toBe(0);
    expect(await getCalls(server)).toBe(before);
    expect(await provider.get("temperature", { fresh: true })).toBe(0.7);
    expect(await getCalls(server)).toBe(before + 1);
  });

  it("a write made by another provider reaches the cache through the watch (eventual visibility)", async () => {
    const server = await serve();
    const reader = await open(server.url, { cache: true });
    const writer = await open(server.url, { sessionId: reader.sessionId });
    await writer.register("x", "integer", 0);
    await untilCached(server, reader, "x");
    const version = await writer.set("x", 42, { metadata: { by: "writer" } });
    await readUntil(
      () => reader.get("x"),
      (value) => value === 42,
    );
    const variable = await reader.getVariable("x");
    expect(variable).toMatchObject({ value: 42, version, source: "typescript", metadata: { by: "writer" } });
  });

  it("read-your-writes: a provider's own set, updateMany and delete are visible to its very next read", async () => {
    const server = await serve();
    const provider = await open(server.url, { cache: true });
    const other = await open(server.url, { sessionId: provider.sessionId });
    await provider.register("x", "integer", 0);
    await provider.register("y", "integer", 0);
    await untilCached(server, provider, "x");
    await untilCached(server, provider, "y");
    for (let value = 1; value <= 50; value++) {
      await other.set("y", -value);
      await provider.set("x", value);
      expect(await provider.get("x")).toBe(value);
      const { versions } = await provider.updateMany(new Map([["x", value * 10]]), { atomic: true });
      expect(await provider.getVariable("x")).toMatchObject({
        value: value * 10,
        version: versions.get("x"),
      });
    }
    const { id } = await provider.getVariable("x");
    await provider.delete("x");
    await expect(provider.get("x")).rejects.toMatchObject({ code: "not_found" });
    await expect(provider.get(id)).rejects.toMatchObject({ code: "not_found" });
    await provider.register("x", "string", "again");
    expect(await provider.get("x")).toBe("again");
  });

  it("monotonic reads: a reader's versions never go back, cached, fresh and getMany reads mixed, while another provider writes", async () => {
    const server = await serve();
    const reader = await open(server.url, { cache: true });
    const writer = await open(server.url, { sessionId: reader.sessionId });
    await writer.register("x", "integer", 0);
    let writing = true;
    const writes = (async () => {
      for (let value = 1; value <= 200; value++) await writer.set("x", value);
      writing = false;
    })();
    const versions: number[] = [];
    let round = 0;
    while (writing) {
      round++;
      if (round % 7 === 0) versions.push((await reader.getVariable("x", { fresh: true })).version);
      else if (round % 5 === 0) versions.push(Number((await reader.getMany(["x"])).get("x")));
      else versions.push((await reader.getVariable("x")).version);
    }
    await writes;
    for (let index = 1; index < versions.length; index++) {
      expect(versions[index], `read ${index} after ${versions[index - 1]}`).toBeGreaterThanOrEqual(
        versions[index - 1] as number,
      );
    }
    await readUntil(
      () => reader.get("x"),
      (value) => value === 200,
    );
  });

  it("getMany is served from the cache only when every identifier is cached", async () => {
    const server = await serve();
    const provider = await open(server.url, { cache: true });
    await provider.register("a", "integer", 1);
    await provider.register("b", "integer", 2);
    await untilCached(server, provider, "a");
    await untilCached(server, provider, "b");
    expect(await provider.getMany(["a", "b"])).toEqual(
      new Map([
        ["a", 1],
        ["b", 2],
      ]),
    );
    // "missing" is not cached: the server answers, and says it is missing.
    expect(await provider.getMany(["a", "missing"])).toEqual(new Map([["a", 1]]));
  });

  it("cache.maxEntries bounds the cache: the least recently read variable goes, and is read from the server again", async () => {
    const server = await serve();
    const provider = await open(server.url, { cache: { maxEntries: 2 } });
    for (const name of ["a", "b", "c"]) await provider.register(name, "integer", 0);
    await untilCached(server, provider, "a");
    await untilCached(server, provider, "b");
    await untilCached(server, provider, "c");
    const before = await getCalls(server);
    await provider.get("c");
    await provider.get("b");
    expect(await getCalls(server)).toBe(before);
    await provider.get("a");
    expect(await getCalls(server)).toBe(before + 1);
  });

  it("refuses a malformed cache option with invalid_value", async () => {
    const server = await serve();
    await expect(open(server.url, { cache: { maxEntries: 0 } })).rejects.toMatchObject({
      code: "invalid_value",
    });
    await expect(open(server.url, { cache: "yes" as unknown as boolean })).rejects.toMatchObject({
      code: "invalid_value",
    });
  });

  // Regression guard: a cache whose watch went silent (a partition) kept serving what it held.
  it("once its watch is known to be interrupted, the cache stops serving and reads go to the server", async () => {
    const server = await serve();
    const proxy = await startTcpProxy(Number(new URL(server.url).port));
    proxies.push(proxy);
    const reader = await open(proxy.url, {
      cache: true,
      deadlineMs: 300,
      retry: { attempts: 1 },
      watch: {
        heartbeatIntervalMs: 50,
        missedHeartbeats: 2,
        reconnect: { baseDelayMs: 20, maxDelayMs: 50, maxFailures: 1_000 },
      },
    });
    const writer = await open(server.url, { sessionId: reader.sessionId });
    await writer.register("x", "integer", 1);
    await untilCached(server, reader, "x");
    proxy.blackhole(true);
    await writer.set("x", 2);
    // While partitioned the server cannot be reached: the cache must stop answering 1.
    const seen = await readUntil(
      () =>
        reader.get("x").then(
          (value) => String(value),
          (error: unknown) => (isStateError(error) ? error.code : String(error)),
        ),
      (outcome) => outcome === "unavailable",
    );
    expect(seen.every((outcome) => outcome === "1" || outcome === "unavailable")).toBe(true);
    proxy.blackhole(false);
    await readUntil(
      () => reader.get("x").catch(() => undefined),
      (value) => value !== undefined,
    );
    expect(await reader.get("x")).toBe(2);
  });

  it("after its session was recreated on a restarted server, a cached provider's reads end with session_expired", async () => {
    const before = await serve();
    const port = Number(new URL(before.url).port);
    const reader = await open(before.url, { sessionId: "s", cache: true });
    await reader.register("x", "integer", 1);
    await untilCached(before, reader, "x");
    await before.close();
    servers.splice(servers.indexOf(before), 1);
    const after = await serve(port);
    await after.store.initializeSession("s");
    await after.store.register("s", "x", "integer", 14);
    const outcomes = await readUntil(
      () =>
        reader.get("x").then(
          (value) => String(value),
          (error: unknown) => (isStateError(error) ? error.code : String(error)),
        ),
      (outcome) => outcome === "session_expired",
    );
    expect(outcomes.at(-1)).toBe("session_expired");
    await expect(reader.get("x")).rejects.toMatchObject({ code: "session_expired" });
  });

  it("a cached variable's metadata cannot be changed through what a read returns", async () => {
    const server = await serve();
    const provider = await open(server.url, { cache: true });
    await provider.register("x", "integer", 0, { metadata: { owner: { team: "a" } } });
    await untilCached(server, provider, "x");
    const variable: Variable = await provider.getVariable("x");
    expect(() => {
      (variable.metadata.owner as { team: string }).team = "b";
    }).toThrow();
    expect((await provider.getVariable("x")).metadata).toEqual({ owner: { team: "a" } });
  });
});
