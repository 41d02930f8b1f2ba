// TypeScript and Python on one session of a bridge-server running as its own process: a
// BridgedState here, and the Python SessionContext in a /usr/bin/python3 child process
// (clients/python/tests/interop/peer.py) driven over JSON lines. Values go both ways, watches
// see the other language's writes with its source, versions and revisions, compare-and-set
// arbitrates between the two, a 1,000,000-element tensor crosses exactly in both directions,
// and the same bad inputs fail with the same codes from either language.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  isStateError,
  packFloat64,
  type StateErrorCode,
  type StateProvider,
  type WatchEvent,
  type WatchHandle,
} from "@statebridge/state-provider";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createBridgedState } from "../src/index.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";

const REPOSITORY = fileURLToPath(new URL("../../../", import.meta.url));
const PYTHON = "/usr/bin/python3";
const PEER_SCRIPT = `${REPOSITORY}clients/python/tests/interop/peer.py`;
const PYTHON_SOURCE = `${REPOSITORY}clients/python/src`;
const MILLION = 1_000_000;

/** A failure the Python peer answered with, carrying the StateError code. */
class PythonError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The Python peer: a SessionContext in a child process. */
interface PythonPeer {
  call<T = unknown>(operation: string, parameters?: Record<string, unknown>): Promise<T>;
  /** The events a watch of the peer received so far, decoded. */
  events(watchId: string): readonly PythonEvent[];
  /** Waits until a watch of the peer has received at least `count` events. */
  waitForEvents(watchId: string, count: number): Promise<readonly PythonEvent[]>;
  stop(): Promise<void>;
}

/** A watch event as the Python peer reports it. */
interface PythonEvent {
  readonly type: string;
  readonly name: string;
  readonly id: string;
  readonly oldValue: unknown;
  readonly newValue: unknown;
  readonly version: number;
  readonly revision: number;
  readonly source: string;
  readonly metadata: Record<string, unknown>;
}

/** A float as the peer must receive it: tagged, so that 1 arrives as 1.0 and NaN survives JSON. */
function pythonFloat(value: number): { $float: string } {
  return { $float: Object.is(value, -0) ? "-0" : String(value) };
}

/** An integer beyond what a JavaScript number holds exactly. */
function pythonInteger(value: bigint): { $int: string } {
  return { $int: value.toString() };
}

/** Decodes the peer's tagged JSON. */
function untag(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(untag);
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>;
    if (typeof record.$float === "string" && Object.keys(record).length === 1) {
      return record.$float === "-0" ? -0 : Number(record.$float);
    }
    return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, untag(item)]));
  }
  return value;
}

function startPythonPeer(): PythonPeer {
  const child: ChildProcess = spawn(PYTHON, [PEER_SCRIPT], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, PYTHONPATH: PYTHON_SOURCE, PYTHONDONTWRITEBYTECODE: "1" },
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  const watchEvents = new Map<string, PythonEvent[]>();
  const watchErrors = new Map<string, PythonError>();
  const listeners = new Set<() => void>();
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code) => {
      for (const waiter of pending.values())
        waiter.reject(new Error(`python peer exited (${code}): ${stderr}`));
      pending.clear();
      resolve();
    });
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    const message = JSON.parse(line) as {
      id?: number;
      value?: unknown;
      error?: { code: string; message: string };
      watch?: string;
      event?: PythonEvent;
    };
    if (message.watch !== undefined) {
      if (message.event !== undefined) {
        const list = watchEvents.get(message.watch) ?? [];
        list.push(untag(message.event) as PythonEvent);
        watchEvents.set(message.watch, list);
      }
      if (message.error !== undefined) {
        watchErrors.set(message.watch, new PythonError(message.error.code, message.error.message));
      }
      for (const listener of listeners) listener();
      return;
    }
    const waiter = pending.get(message.id as number);
    pending.delete(message.id as number);
    if (message.error !== undefined)
      waiter?.reject(new PythonError(message.error.code, message.error.message));
    else waiter?.resolve(untag(message.value));
  });
  let counter = 0;
  return {
    call<T>(operation: string, parameters: Record<string, unknown> = {}) {
      const id = ++counter;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.stdin?.write(`${JSON.stringify({ id, operation, arguments: parameters })}\n`);
      });
    },
    events(watchId) {
      return watchEvents.get(watchId) ?? [];
    },
    waitForEvents(watchId, count) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const list = watchEvents.get(watchId) ?? [];
          const error = watchErrors.get(watchId);
          if (list.length >= count) {
            listeners.delete(check);
            resolve(list);
          } else if (error !== undefined) {
            listeners.delete(check);
            reject(error);
          }
        };
        listeners.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin?.write(`${JSON.stringify({ id: 0, operation: "close" })}\n`);
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** Collects the events a TypeScript watch receives and waits for a number of them. */
function collector() {
  const events: WatchEvent[] = [];
  const listeners = new Set<() => void>();
  return {
    events,
    watcher(event: WatchEvent) {
      events.push(event);
      for (const listener of listeners) listener();
    },
    waitFor(count: number): Promise<WatchEvent[]> {
      return new Promise((resolve) => {
        const check = () => {
          if (events.length >= count) {
            listeners.delete(check);
            resolve(events);
          }
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** The data both languages generate for the large tensor: exact products, specials first. */
function generatedData(size: number): number[] {
  const half = Math.floor(size / 2);
  const data = new Array<number>(size);
  for (let index = 0; index < size; index++) data[index] = (index - half) * 0.001;
  const specials = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 5e-324];
  specials.forEach((special, index) => {
    if (index < size) data[index] = special;
  });
  return data;
}

function sha256OfDoubles(data: ArrayLike<number>): string {
  return createHash("sha256").update(packFloat64(data)).digest("hex");
}

async function codeOf(action: Promise<unknown>): Promise<string> {
  try {
    await action;
  } catch (error) {
    if (isStateError(error)) return error.code;
    if (error instanceof PythonError) return error.code;
    throw error;
  }
  return "no error";
}

let server: ServerProcess;
let local: StateProvider;
let python: PythonPeer;
const handles: WatchHandle[] = [];

beforeAll(async () => {
  // Installs Debian's python3-grpcio and python3-protobuf if missing; quiet when present.
  execFileSync("bash", [`${REPOSITORY}scripts/python-setup.sh`], { stdio: ["ignore", "ignore", "inherit"] });
  server = await startServerProcess(["--log-level", "warn"]);
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

/** A BridgedState and a Python peer on one new session. */
async function openPair(): Promise<void> {
  local = await createBridgedState({ url: server.url });
  python = startPythonPeer();
  await python.call("open", { url: server.url, sessionId: local.sessionId });
}

async function closePair(): Promise<void> {
  for (const handle of handles.splice(0)) await handle.close();
  await python?.stop();
  await local?.close();
}

/** Gives every test of the enclosing describe a pair of its own. */
function freshPairForEachTest(): void {
  beforeEach(openPair, 20_000);
  afterEach(closePair);
}

describe("TypeScript writes, Python reads and watches", () => {
  freshPairForEachTest();

  it("every type registered in TypeScript reads the same in Python, with the same id and source typescript", async () => {
    const cases: [string, Parameters<StateProvider["register"]>[1], unknown, object?][] = [
      ["float", "float", 0.25],
      ["float_infinity", "float", Number.NEGATIVE_INFINITY],
      ["float_nan", "float", Number.NaN],
      ["float_negative_zero", "float", -0],
      ["integer", "integer", Number.MAX_SAFE_INTEGER],
      ["string", "string", "héllo 🌍"],
      ["boolean", "boolean", false],
      ["choice", "choice", "b", { choices: ["a", "b"] }],
      ["module", "module", "dspy.Predict"],
      ["embedding", "embedding", [0.1, -2, 3.5]],
      ["tensor", "tensor", { shape: [2, 2], data: [1, 2, Number.POSITIVE_INFINITY, -0] }],
    ];
    for (const [name, type, initial, constraints] of cases) {
      const registered = await local.register(
        name,
        type,
        initial,
        constraints === undefined ? {} : { constraints },
      );
      const seen = await python.call<{
        id: string;
        type: string;
        value: unknown;
        version: number;
        source: string;
      }>("info", { identifier: name });
      expect(seen.id, name).toBe(registered.id);
      expect(seen.type, name).toBe(type);
      expect(seen.version, name).toBe(0);
      expect(seen.source, name).toBe("typescript");
      expect(seen.value, name).toEqual(await local.get(name));
      expect(Object.is(seen.value, -0), name).toBe(Object.is(initial, -0));
    }
  });

  it("a Python watch sees initial values, then TypeScript's writes and batches in revision order", async () => {
    await local.register("a", "integer", 0);
    await local.register("b", "string", "x");
    const { watchId } = await python.call<{ watchId: string }>("watch", {
      identifiers: ["a", "b"],
      includeInitial: true,
    });
    const initial = await python.waitForEvents(watchId, 2);
    expect(initial.map((event) => [event.type, event.name, event.newValue])).toEqual([
      ["initial", "a", 0],
      ["initial", "b", "x"],
    ]);
    await local.set("a", 1);
    await local.updateMany(
      new Map<string, unknown>([
        ["a", 2],
        ["b", "y"],
      ]),
      { atomic: true },
    );
    const events = (await python.waitForEvents(watchId, 5)).slice(2);
    expect(
      events.map((event) => [event.type, event.name, event.oldValue, event.newValue, event.version]),
    ).toEqual([
      ["value_change", "a", 0, 1, 1],
      ["value_change", "a", 1, 2, 2],
      ["value_change", "b", "x", "y", 1],
    ]);
    expect(events.every((event) => event.source === "typescript")).toBe(true);
    const [single, batchA, batchB] = events as [PythonEvent, PythonEvent, PythonEvent];
    expect(batchA.revision).toBe(batchB.revision);
    expect(batchA.revision).toBe(single.revision + 1);
  });
});

describe("Python writes, TypeScript watches", () => {
  freshPairForEachTest();

  it("a BridgedState watch sees Python's writes with source python, the right versions and one revision per batch", async () => {
    await local.register("a", "integer", 0);
    await local.register("b", "float", 0.5);
    const seen = collector();
    handles.push(await local.watch(["a", "b"], seen.watcher));
    const start = (await local.export()).revision;
    expect(await python.call("set", { identifier: "a", value: 1 })).toBe(1);
    expect(await python.call("set", { identifier: "b", value: 2, metadata: { by: "python" } })).toBe(1);
    expect(
      await python.call("updateMany", {
        updates: [
          ["a", 2],
          ["b", pythonFloat(2.5)],
        ],
        atomic: true,
      }),
    ).toEqual({ a: 2, b: 2 });
    expect(await python.call("updateMany", { updates: [["a", 3]], atomic: false })).toEqual({ a: 3 });
    const events = await seen.waitFor(5);
    expect(events.map((event) => [event.name, event.newValue, event.version, event.revision])).toEqual([
      ["a", 1, 1, start + 1],
      ["b", 2, 1, start + 2],
      ["a", 2, 2, start + 3],
      ["b", 2.5, 2, start + 3],
      ["a", 3, 3, start + 4],
    ]);
    expect(events.every((event) => event.source === "python" && event.type === "value_change")).toBe(true);
    expect(events[1]?.metadata.by).toBe("python");
    expect((await local.getVariable("b")).type).toBe("float");
  });

  it("a variable registered and deleted in Python is seen by TypeScript with source python", async () => {
    const registered = await python.call<{ id: string; source: string }>("register", {
      name: "temperature",
      type: "float",
      initial: pythonFloat(0.7),
      constraints: { min: 0, max: 2 },
      description: "sampling temperature",
    });
    const variable = await local.getVariable("temperature");
    expect(variable.id).toBe(registered.id);
    expect(variable.source).toBe("python");
    expect(variable.metadata.description).toBe("sampling temperature");
    const seen = collector();
    handles.push(await local.watch(["temperature"], seen.watcher));
    await python.call("delete", { identifier: "temperature" });
    const [event] = await seen.waitFor(1);
    expect([event?.type, event?.source]).toEqual(["deleted", "python"]);
  });
});

describe("compare-and-set between a TypeScript and a Python writer", () => {
  freshPairForEachTest();

  it("at the same version the first write wins and the other gets version_conflict, in both orders", async () => {
    await local.register("x", "integer", 0);
    expect(await local.set("x", 1, { expectedVersion: 0 })).toBe(1);
    expect(await codeOf(python.call("set", { identifier: "x", value: 2, expectedVersion: 0 }))).toBe(
      "version_conflict",
    );
    expect(await python.call("set", { identifier: "x", value: 2, expectedVersion: 1 })).toBe(2);
    expect(await codeOf(local.set("x", 3, { expectedVersion: 1 }))).toBe("version_conflict");
    const variable = await local.getVariable("x");
    expect([variable.value, variable.version, variable.source]).toEqual([2, 2, "python"]);
  });

  it("increments from both languages at once, each a retried compare-and-set, lose no update", async () => {
    await local.register("count", "integer", 0);
    const times = 30;
    const typescriptIncrements = (async () => {
      for (let done = 0; done < times; ) {
        const variable = await local.getVariable("count");
        try {
          await local.set("count", (variable.value as number) + 1, { expectedVersion: variable.version });
          done++;
        } catch (error) {
          if (!isStateError(error, "version_conflict")) throw error;
        }
      }
    })();
    await Promise.all([
      typescriptIncrements,
      python.call("incrementWithCas", { identifier: "count", times }),
    ]);
    const variable = await local.getVariable("count");
    expect(variable.value).toBe(2 * times);
    expect(variable.version).toBe(2 * times);
  });
});

describe("a 1,000,000-element tensor", () => {
  freshPairForEachTest();

  it("crosses from TypeScript to Python exactly", async () => {
    const data = generatedData(MILLION);
    await local.register("big", "tensor", { shape: [1000, 1000], data });
    const digest = await python.call<{ shape: number[]; length: number; sha256: string }>("digest", {
      identifier: "big",
    });
    expect(digest).toEqual({ shape: [1000, 1000], length: MILLION, sha256: sha256OfDoubles(data) });
  }, 60_000);

  it("crosses from Python to TypeScript exactly", async () => {
    const digest = await python.call<{ shape: number[]; length: number; sha256: string }>(
      "registerGeneratedTensor",
      { name: "big", rows: 1000, columns: 1000 },
    );
    expect(digest.sha256).toBe(sha256OfDoubles(generatedData(MILLION)));
    const value = (await local.get("big")) as { shape: readonly number[]; data: readonly number[] };
    expect(value.shape).toEqual([1000, 1000]);
    expect(value.data).toHaveLength(MILLION);
    expect(sha256OfDoubles(value.data)).toBe(digest.sha256);
    expect(Object.is(value.data[3], -0)).toBe(true);
    expect(Number.isNaN(value.data[0])).toBe(true);
  }, 60_000);
});

describe("the same bad input fails with the same code from TypeScript and from Python", () => {
  interface ParityCase {
    readonly label: string;
    readonly expected: StateErrorCode;
    readonly typescript: (state: StateProvider) => Promise<unknown>;
    readonly python: readonly [operation: string, parameters: Record<string, unknown>];
  }

  const set = (identifier: string, typescriptValue: unknown, pythonValue: unknown = typescriptValue) => ({
    typescript: (state: StateProvider) => state.set(identifier, typescriptValue),
    python: ["set", { identifier, value: pythonValue }] as const,
  });
  const register = (name: string, type: string, initial: unknown, constraints?: object) => ({
    typescript: (state: StateProvider) =>
      state.register(name, type as "float", initial, constraints === undefined ? {} : { constraints }),
    python: [
      "register",
      { name, type, initial, ...(constraints === undefined ? {} : { constraints }) },
    ] as const,
  });

  const cases: readonly ParityCase[] = [
    { label: "float ← a string", expected: "invalid_value", ...set("f", "abc") },
    { label: "float ← null / None", expected: "invalid_value", ...set("f", null) },
    { label: "float above max", expected: "constraint_violation", ...set("f", 3.5) },
    { label: "integer ← 1.5", expected: "invalid_value", ...set("i", 1.5) },
    {
      label: "integer ← 2^53",
      expected: "invalid_value",
      ...set("i", 2 ** 53, pythonInteger(2n ** 53n)),
    },
    { label: "integer below min", expected: "constraint_violation", ...set("i", -1) },
    { label: "boolean ← 1", expected: "invalid_value", ...set("b", 1) },
    { label: 'boolean ← "true"', expected: "invalid_value", ...set("b", "true") },
    { label: "string longer than maxLength", expected: "constraint_violation", ...set("s", "abcd") },
    { label: "string not matching its pattern", expected: "constraint_violation", ...set("s", "AB") },
    { label: "choice not listed", expected: "constraint_violation", ...set("c", "z") },
    { label: "module that is not a module name", expected: "invalid_value", ...set("m", "not a module") },
    { label: "module outside its namespace", expected: "constraint_violation", ...set("m", "torch.nn") },
    { label: "embedding of the wrong dimensions", expected: "constraint_violation", ...set("e", [1, 2]) },
    {
      label: "embedding holding NaN",
      expected: "invalid_value",
      ...set("e", [1, Number.NaN, 2], [1, pythonFloat(Number.NaN), 2]),
    },
    { label: "embedding ← a string", expected: "invalid_value", ...set("e", "x") },
    {
      label: "tensor whose data does not fill its shape",
      expected: "invalid_value",
      ...set("t", { shape: [2, 2], data: [1] }),
    },
    {
      label: "tensor of another shape than its constraint",
      expected: "constraint_violation",
      ...set("t", { shape: [4], data: [1, 2, 3, 4] }),
    },
    { label: "unknown identifier", expected: "not_found", ...set("missing", 1) },
    {
      label: "stale expected version",
      expected: "version_conflict",
      typescript: (state) => state.set("i", 1, { expectedVersion: 99 }),
      python: ["set", { identifier: "i", value: 1, expectedVersion: 99 }],
    },
    {
      label: "metadata that is not JSON-compatible",
      expected: "invalid_value",
      typescript: (state) => state.set("f", 1, { metadata: { bad: Number.NaN } }),
      python: ["set", { identifier: "f", value: pythonFloat(1), metadata: { bad: pythonFloat(Number.NaN) } }],
    },
    {
      label: "non-atomic batch with one bad value",
      expected: "partial_failure",
      typescript: (state) =>
        state.updateMany(
          new Map<string, unknown>([
            ["f", 1],
            ["i", -5],
          ]),
        ),
      python: [
        "updateMany",
        {
          updates: [
            ["f", pythonFloat(1)],
            ["i", -5],
          ],
        },
      ],
    },
    {
      label: "watch of an unknown identifier",
      expected: "not_found",
      typescript: async (state) => handles.push(await state.watch(["f", "missing"], () => {})),
      python: ["watch", { identifiers: ["f", "missing"] }],
    },
    { label: "register an unknown type", expected: "invalid_type", ...register("x1", "complex", 1) },
    { label: "register a taken name", expected: "already_exists", ...register("f", "float", 1) },
    {
      label: "register a name shaped like an id",
      expected: "invalid_value",
      ...register("var_0123456789abcdef01234567", "float", 1),
    },
    { label: "register an empty name", expected: "invalid_value", ...register("", "float", 1) },
    {
      label: "register a constraint of another type",
      expected: "invalid_value",
      ...register("x2", "float", 1, { maxLength: 3 }),
    },
    {
      label: "register an initial value its constraints refuse",
      expected: "constraint_violation",
      ...register("x3", "integer", 10, { max: 5 }),
    },
    {
      label: "register a choice without choices",
      expected: "invalid_value",
      ...register("x4", "choice", "a"),
    },
  ];

  // One pair for the whole table: no case changes what another one relies on.
  beforeAll(async () => {
    await openPair();
    await local.register("f", "float", 0.5, { constraints: { min: 0, max: 2 } });
    await local.register("i", "integer", 0, { constraints: { min: 0 } });
    await local.register("b", "boolean", true);
    await local.register("s", "string", "ab", { constraints: { maxLength: 3, pattern: "^[a-z]*$" } });
    await local.register("c", "choice", "a", { constraints: { choices: ["a", "b"] } });
    await local.register("m", "module", "dspy.Predict", { constraints: { namespace: "dspy" } });
    await local.register("e", "embedding", [0, 0, 0], { constraints: { dimensions: 3 } });
    await local.register(
      "t",
      "tensor",
      { shape: [2, 2], data: [0, 0, 0, 0] },
      { constraints: { shape: [2, 2] } },
    );
  }, 20_000);

  afterAll(closePair);

  it.each(cases)("$label: $expected from both", async (parityCase) => {
    const typescriptCode = await codeOf(parityCase.typescript(local));
    const [operation, parameters] = parityCase.python;
    const pythonCode = await codeOf(python.call(operation, parameters));
    expect({ typescript: typescriptCode, python: pythonCode }).toEqual({
      typescript: parityCase.expected,
      python: parityCase.expected,
    });
  });
});
