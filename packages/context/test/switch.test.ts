import { spawn } from "node:child_process";
import { once } from "node:events";
import { createBridgedState } from "@statebridge/state-bridged";
import { isStateError, type StateProvider, type WatchEvent } from "@statebridge/state-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BackendSwitchEvent, type BackendSwitchFailedEvent, createContext } from "../src/index.js";
import { type BridgeProcess, startBridgeProcess, startCuttingProxy } from "./bridge-process.js";

let server: BridgeProcess;

beforeAll(async () => {
  server = await startBridgeProcess();
}, 30_000);

afterAll(async () => {
  await server?.stop();
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Runs a writer in another process: a separate BridgedState on the same session. */
async function writeFromAnotherProcess(url: string, sessionId: string, name: string, value: number) {
  const script = `
    import { createBridgedState } from "@statebridge/state-bridged";
    const state = await createBridgedState({ url: ${JSON.stringify(url)}, sessionId: ${JSON.stringify(sessionId)}, source: "second-process" });
    const version = await state.set(${JSON.stringify(name)}, ${value});
    console.log(JSON.stringify({ version }));
    await state.close();
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    cwd: new URL("..", import.meta.url).pathname,
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const [code] = await once(child, "exit");
  expect(code).toBe(0);
  return JSON.parse(output) as { version: number };
}

describe("the switch from LocalState to the bridge", () => {
  it("moves 1,000 variables and live watchers, keeps ids and versions, runs concurrent writes in order, " +
    "and the original watchers see a second process's writes", async () => {
    const context = await createContext({ bridge: { url: server.url } });
    expect(context.backend).toBe("local");
    for (let index = 0; index < 1000; index++) {
      await context.register(`param_${index}`, "float", index, { metadata: { index } });
    }
    await context.set("param_7", 7.5);
    const before = await context.export();

    const seen: WatchEvent[] = [];
    await context.watch(
      ["param_0", "param_1"],
      (event) => {
        seen.push(event);
      },
      { includeInitial: true },
    );
    const slowSeen: WatchEvent[] = [];
    await context.watch(["param_0"], async (event) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      slowSeen.push(event);
    });
    const switches: BackendSwitchEvent[] = [];
    context.on("backend-switch", (event) => switches.push(event));

    const writes: Promise<number>[] = [];
    for (let index = 1; index <= 50; index++) writes.push(context.set("param_0", 1000 + index));
    const switching = context.ensureBridged();
    for (let index = 51; index <= 100; index++) writes.push(context.set("param_0", 1000 + index));
    const versions = await Promise.all(writes);
    await switching;

    expect(context.backend).toBe("bridged");
    expect(versions).toEqual(Array.from({ length: 100 }, (_, index) => index + 1));
    expect(switches).toHaveLength(1);
    expect(switches[0]?.variables).toBe(1000);
    expect(switches[0]?.watchers).toBe(2);
    expect(switches[0]?.durationMs).toBeGreaterThan(0);

    // Ids, versions and metadata survived the move.
    const after = await context.export();
    const afterById = new Map(after.variables.map((variable) => [variable.id, variable]));
    for (const variable of before.variables) {
      const moved = afterById.get(variable.id);
      expect(moved?.name).toBe(variable.name);
      if (variable.name !== "param_0") expect(moved?.version).toBe(variable.version);
      expect(moved?.metadata).toEqual(variable.metadata);
    }
    expect(await context.get("param_0")).toBe(1100);

    // A second process writes; the watchers registered before the switch see it.
    const { version } = await writeFromAnotherProcess(server.url, context.sessionId, "param_1", 42);
    expect(version).toBe(1);
    await waitFor(
      () => seen.some((event) => event.name === "param_1" && event.newValue === 42),
      "param_1 = 42",
    );
    await waitFor(() => slowSeen.length === 100, "the slow watcher's 100 events");

    const param0 = seen.filter((event) => event.name === "param_0");
    expect(param0[0]?.type).toBe("initial");
    // Every change exactly once, in order: versions 1..100 after the initial value.
    expect(param0.slice(1).map((event) => event.version)).toEqual(versions);
    expect(slowSeen.map((event) => event.version)).toEqual(versions);
    const remote = seen.find((event) => event.name === "param_1" && event.type === "value_change");
    expect(remote?.source).toBe("second-process");
    expect(context.listWatchers()).toHaveLength(2);
    for (const info of context.listWatchers()) expect(info.reconnects).toBeGreaterThanOrEqual(1);
    await context.close();
  }, 60_000);

  it("switching twice is a no-op", async () => {
    const context = await createContext({ bridge: { url: server.url } });
    await context.register("x", "integer", 1);
    const switches: BackendSwitchEvent[] = [];
    context.on("backend-switch", (event) => switches.push(event));
    await Promise.all([context.ensureBridged(), context.ensureBridged()]);
    await context.ensureBridged();
    expect(switches).toHaveLength(1);
    expect(await context.get("x")).toBe(1);
    await context.close();
  });

  it("registering a Python program switches to the bridge; a TypeScript one does not", async () => {
    const context = await createContext({ bridge: { url: server.url } });
    await context.register("temperature", "float", 0.7);
    const local = await context.registerProgram({ name: "summarize", runtime: "typescript" });
    expect(local.backend).toBe("local");
    expect(context.backend).toBe("local");
    const remote = await context.registerProgram({ name: "optimizer", modules: [{ runtime: "python" }] });
    expect(remote).toEqual({
      name: "optimizer",
      bridgeReason: "program.modules[0] needs the python runtime",
      backend: "bridged",
    });
    expect(context.backend).toBe("bridged");
    expect([...context.programs().keys()]).toEqual(["summarize", "optimizer"]);
    await context.close();
  });

  it("a context pinned to local refuses a program that needs the bridge", async () => {
    const context = await createContext({ backend: "local", bridge: { url: server.url } });
    await expect(context.registerProgram({ runtime: "python" })).rejects.toMatchObject({
      code: "invalid_value",
    });
    expect(context.backend).toBe("local");
    await context.close();
  });

  it("a context forced to bridged starts on the bridge", async () => {
    const context = await createContext({ backend: "bridged", bridge: { url: server.url } });
    expect(context.backend).toBe("bridged");
    await context.register("x", "string", "hello");
    expect(await context.get("x")).toBe("hello");
    await context.close();
  });
});

describe("a failed switch leaves the context on LocalState with nothing lost", () => {
  async function prepare(url: string, extra: Parameters<typeof createContext>[0] = {}) {
    const context = await createContext({
      ...extra,
      bridge: { url, options: { deadlineMs: 2000, retry: { attempts: 1 } } },
    });
    for (let index = 0; index < 200; index++) await context.register(`v_${index}`, "integer", index);
    const seen: WatchEvent[] = [];
    await context.watch(["v_0"], (event) => {
      seen.push(event);
    });
    const failures: BackendSwitchFailedEvent[] = [];
    context.on("backend-switch-failed", (event) => failures.push(event));
    return { context, seen, failures };
  }

  async function expectIntactAndWorking(
    context: Awaited<ReturnType<typeof createContext>>,
    seen: WatchEvent[],
    expectedV0: number,
  ) {
    expect(context.backend).toBe("local");
    expect((await context.list()).length).toBe(200);
    expect(await context.get("v_0")).toBe(expectedV0);
    await context.set("v_0", expectedV0 + 1);
    await waitFor(
      () => seen.some((event) => event.newValue === expectedV0 + 1),
      "a local event after the failure",
    );
  }

  it("bridge down: fails at connect with unavailable; operations issued meanwhile apply in order; a later switch succeeds", async () => {
    const proxy = await startCuttingProxy(server.port);
    proxy.cutAfterClientBytes(0);
    const { context, seen, failures } = await prepare(proxy.url);
    const switching = context.ensureBridged();
    const during = [context.set("v_0", 10), context.set("v_0", 11)];
    const error = await switching.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ code: "unavailable" });
    expect(isStateError(error)).toBe(true);
    expect(await Promise.all(during)).toEqual([1, 2]);
    expect(failures.map((failure) => failure.step)).toEqual(["connect"]);
    await expectIntactAndWorking(context, seen, 11);

    proxy.cutAfterClientBytes(undefined);
    await context.ensureBridged();
    expect(context.backend).toBe("bridged");
    expect(await context.get("v_0")).toBe(12);
    await context.set("v_0", 13);
    await waitFor(() => seen.some((event) => event.newValue === 13), "a bridged event after the retry");
    expect(seen.map((event) => event.newValue)).toEqual([10, 11, 12, 13]);
    await context.close();
    await proxy.close();
  }, 60_000);

  it("a bridge session with conflicting variables: fails at import with already_exists; a later switch succeeds", async () => {
    const { context, seen, failures } = await prepare(server.url);
    const other: StateProvider = await createBridgedState({ url: server.url, sessionId: context.sessionId });
    await other.register("v_5", "integer", 500);
    await expect(context.ensureBridged()).rejects.toMatchObject({ code: "already_exists" });
    expect(failures.map((failure) => failure.step)).toEqual(["import"]);
    await expectIntactAndWorking(context, seen, 0);

    await other.delete("v_5");
    await context.ensureBridged();
    expect(context.backend).toBe("bridged");
    expect(await context.get("v_5")).toBe(5);
    expect(await other.get("v_0")).toBe(1);
    await other.close();
    await context.close();
  }, 60_000);

  it("the connection dropping mid-import: fails at import; nothing lost; a later switch succeeds", async () => {
    const proxy = await startCuttingProxy(server.port);
    const { context, seen, failures } = await prepare(proxy.url);
    // Enough for the connection preface and InitializeSession, not for the import.
    proxy.cutAfterClientBytes(4_000);
    await expect(context.ensureBridged()).rejects.toMatchObject({ code: "unavailable" });
    expect(failures.map((failure) => failure.step)).toEqual(["import"]);
    await expectIntactAndWorking(context, seen, 0);

    proxy.cutAfterClientBytes(undefined);
    await context.ensureBridged();
    expect(context.backend).toBe("bridged");
    expect(await context.get("v_0")).toBe(1);
    await context.close();
    await proxy.close();
  }, 60_000);

  it("moving a watcher fails: the import is taken back; nothing lost; a later switch succeeds", async () => {
    let failWatch = true;
    const { context, seen, failures } = await prepare(server.url, {
      createBridged: async (connection, sessionId) => {
        const provider = await createBridgedState({ url: connection.url, sessionId });
        if (!failWatch) return provider;
        return new Proxy(provider, {
          get(target, property, receiver) {
            if (property === "watch") return () => Promise.reject(new Error("watch refused"));
            const value = Reflect.get(target, property, receiver);
            return typeof value === "function" ? value.bind(target) : value;
          },
        });
      },
    });
    await expect(context.ensureBridged()).rejects.toMatchObject({ code: "unavailable" });
    expect(failures.map((failure) => failure.step)).toEqual(["watchers"]);
    await expectIntactAndWorking(context, seen, 0);

    failWatch = false;
    await context.ensureBridged();
    expect(context.backend).toBe("bridged");
    expect(await context.get("v_0")).toBe(1);
    await context.set("v_0", 2);
    await waitFor(() => seen.some((event) => event.newValue === 2), "a bridged event");
    await context.close();
  }, 60_000);
});
