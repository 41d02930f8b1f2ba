import { isStateError, type StateProvider, type Tensor } from "@statebridge/state-provider";
import { afterEach, describe, expect, it } from "vitest";
import { createLocalState } from "./local-state.js";

const opened: StateProvider[] = [];

function open(options?: Parameters<typeof createLocalState>[0]): StateProvider {
  const provider = createLocalState(options);
  opened.push(provider);
  return provider;
}

afterEach(async () => {
  for (const provider of opened.splice(0)) await provider.close();
});

async function codeOf(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
  } catch (error) {
    if (isStateError(error)) return error.code;
    throw error;
  }
  throw new Error("expected the call to fail");
}

describe("createLocalState options", () => {
  it("uses the given session id, source and clock", async () => {
    let clock = 1_000;
    const provider = open({ sessionId: "session-a", source: "optimizer", now: () => clock });
    expect(provider.sessionId).toBe("session-a");
    await provider.register("x", "integer", 1);
    clock = 2_000;
    await provider.set("x", 2);
    const variable = await provider.getVariable("x");
    expect(variable.source).toBe("optimizer");
    expect(variable.createdAt).toBe(1_000);
    expect(variable.updatedAt).toBe(2_000);
  });

  it("defaults the source to typescript and makes a session id", async () => {
    const provider = open();
    expect(provider.sessionId).toMatch(/^session_[0-9a-f]{32}$/);
    await provider.register("x", "boolean", true);
    expect((await provider.getVariable("x")).source).toBe("typescript");
  });

  it("refuses malformed options with invalid_value", () => {
    for (const options of [{ historySize: -1 }, { historySize: 1.5 }, { sessionId: "" }, { source: "" }]) {
      expect(() => createLocalState(options)).toThrow(/invalid_value/);
    }
  });

  it("declares what it can do truthfully", () => {
    const provider = open();
    expect(provider.capabilities).toEqual({
      atomicUpdates: true,
      compareAndSet: true,
      watch: true,
      persistence: false,
      distribution: false,
      linearizableReads: true,
    });
    expect(provider.requiresBridge).toBe(false);
  });
});

describe("LocalState storage", () => {
  it("never changes a variable returned earlier: writes replace the frozen object", async () => {
    const provider = open();
    await provider.register("x", "integer", 1, { metadata: { owner: "a" } });
    const before = await provider.getVariable("x");
    await provider.set("x", 2, { metadata: { owner: "b" } });
    const after = await provider.getVariable("x");
    expect(Object.isFrozen(before)).toBe(true);
    expect(before.value).toBe(1);
    expect(before.version).toBe(0);
    expect(before.metadata.owner).toBe("a");
    expect(after.value).toBe(2);
    expect(after.version).toBe(1);
    expect(after.metadata.owner).toBe("b");
  });

  it("keeps creation order across writes, and a re-registered name goes last", async () => {
    const provider = open();
    for (const name of ["a", "b", "c"]) await provider.register(name, "integer", 0);
    await provider.set("a", 5);
    expect((await provider.list()).map((variable) => variable.name)).toEqual(["a", "b", "c"]);
    await provider.delete("a");
    await provider.register("a", "integer", 0);
    expect((await provider.list()).map((variable) => variable.name)).toEqual(["b", "c", "a"]);
  });

  it("resolves a name and an id to the same variable, and a name like __proto__ is plain data", async () => {
    const provider = open();
    const registered = await provider.register("__proto__", "string", "safe");
    expect(await provider.get("__proto__")).toBe("safe");
    expect(await provider.get(registered.id)).toBe("safe");
    expect(await codeOf(() => provider.get("constructor"))).toBe("not_found");
  });

  it("getMany keys values by the identifier as given and skips missing ones", async () => {
    const provider = open();
    const a = await provider.register("a", "integer", 1);
    await provider.register("b", "string", "two");
    const values = await provider.getMany(["b", a.id, "missing"]);
    expect([...values]).toEqual([
      ["b", "two"],
      [a.id, 1],
    ]);
    expect(await codeOf(() => provider.getMany("ab" as unknown as string[]))).toBe("invalid_value");
  });

  it("a non-atomic batch applies what validates in one revision and reports the rest", async () => {
    const provider = open();
    await provider.register("low", "integer", 0, { constraints: { max: 10 } });
    await provider.register("text", "string", "");
    const before = (await provider.register("flag", "boolean", false)).revision;
    let failure: unknown;
    try {
      await provider.updateMany(
        new Map<string, unknown>([
          ["low", 50],
          ["text", "ok"],
          ["missing", 1],
          ["flag", true],
        ]),
      );
    } catch (error) {
      failure = error;
    }
    expect(isStateError(failure, "partial_failure")).toBe(true);
    if (!isStateError(failure)) return;
    expect([...failure.failures.keys()]).toEqual(["low", "missing"]);
    expect(failure.failures.get("low")?.code).toBe("constraint_violation");
    expect(failure.failures.get("missing")?.code).toBe("not_found");
    expect([...failure.applied]).toEqual([
      ["text", 1],
      ["flag", 1],
    ]);
    expect(await provider.get("low")).toBe(0);
    expect(await provider.get("text")).toBe("ok");
    // Both applied updates took the same, single next revision.
    const next = await provider.register("after", "integer", 0);
    expect(next.revision).toBe(before + 2);
  });

  it("an atomic batch fails with the first failure's own code and changes nothing", async () => {
    const provider = open();
    await provider.register("a", "integer", 0);
    const registered = await provider.register("b", "integer", 0, { constraints: { min: 0 } });
    expect(
      await codeOf(() =>
        provider.updateMany(
          new Map([
            ["a", 1],
            ["b", -1],
          ]),
          { atomic: true },
        ),
      ),
    ).toBe("constraint_violation");
    expect(await provider.get("a")).toBe(0);
    const result = await provider.updateMany(new Map([["a", 3]]), { atomic: true });
    expect(result.revision).toBe(registered.revision + 1);
  });

  it("a batch naming one variable twice (by name and by id) refuses the second", async () => {
    const provider = open();
    const registered = await provider.register("a", "integer", 0);
    let failure: unknown;
    try {
      await provider.updateMany(
        new Map([
          ["a", 1],
          [registered.id, 2],
        ]),
      );
    } catch (error) {
      failure = error;
    }
    expect(isStateError(failure, "partial_failure")).toBe(true);
    if (!isStateError(failure)) return;
    expect(failure.failures.get(registered.id)?.code).toBe("invalid_value");
    expect(await provider.get("a")).toBe(1);
    expect((await provider.getVariable("a")).version).toBe(1);
  });

  it("set() checks the expected version before the value, and a conflict changes nothing", async () => {
    const provider = open();
    await provider.register("a", "integer", 0, { constraints: { max: 5 } });
    await provider.set("a", 1);
    expect(await codeOf(() => provider.set("a", 2, { expectedVersion: 0 }))).toBe("version_conflict");
    expect(await codeOf(() => provider.set("a", 2, { expectedVersion: -1 }))).toBe("invalid_value");
    expect(await provider.set("a", 2, { expectedVersion: 1 })).toBe(2);
    expect(await codeOf(() => provider.set("a", 9, { expectedVersion: 2 }))).toBe("constraint_violation");
    expect((await provider.getVariable("a")).version).toBe(2);
  });

  it("stores description in metadata alongside the given metadata", async () => {
    const provider = open();
    await provider.register("t", "float", 0.5, {
      metadata: { unit: "none" },
      description: "sampling temperature",
    });
    const variable = await provider.getVariable("t");
    expect({ ...variable.metadata }).toEqual({ unit: "none", description: "sampling temperature" });
    expect(
      await codeOf(() => provider.register("u", "float", 0, { description: 3 as unknown as string })),
    ).toBe("invalid_value");
  });
});

describe("LocalState export and import", () => {
  it("import into an empty session adopts the document's revision", async () => {
    const source = open();
    await source.register("a", "integer", 1);
    await source.set("a", 2);
    await source.set("a", 3);
    const document = JSON.parse(JSON.stringify(await source.export()));
    expect(document.revision).toBe(3);
    const target = open();
    await target.import(document);
    const variable = await target.getVariable("a");
    expect(variable.version).toBe(2);
    expect(variable.id).toBe((await source.getVariable("a")).id);
    expect((await target.register("b", "integer", 0)).revision).toBe(4);
  });

  it("import into a non-empty session takes max(current, document revision) + 1", async () => {
    const source = open();
    for (let index = 0; index < 6; index++) await source.register(`v${index}`, "integer", index);
    const document = await source.export();
    const target = open();
    await target.register("own", "integer", 0);
    await target.import(document);
    expect((await target.register("later", "integer", 0)).revision).toBe(8);
    expect((await target.list()).map((variable) => variable.name)).toEqual([
      "own",
      "v0",
      "v1",
      "v2",
      "v3",
      "v4",
      "v5",
      "later",
    ]);
  });

  it("a conflicting import changes nothing (all or nothing)", async () => {
    const source = open();
    await source.register("fresh", "integer", 1);
    await source.register("taken", "integer", 2);
    const document = await source.export();
    const target = open();
    const registered = await target.register("taken", "string", "mine");
    expect(await codeOf(() => target.import(document))).toBe("already_exists");
    expect((await target.list()).map((variable) => variable.name)).toEqual(["taken"]);
    expect((await target.register("next", "integer", 0)).revision).toBe(registered.revision + 1);
    expect(await codeOf(() => target.import({ format: "something else" }))).toBe("invalid_export");
  });

  it("round-trips a 1,000,000-element tensor and special floats through JSON", async () => {
    const source = open();
    const size = 1_000_000;
    const data = new Array<number>(size);
    for (let index = 0; index < size; index++) data[index] = index * 0.5 - 1e5;
    data[7] = Number.NaN;
    data[8] = Number.NEGATIVE_INFINITY;
    data[9] = -0;
    await source.register("weights", "tensor", { shape: [1000, 1000], data });
    await source.register("nan", "float", Number.NaN);
    const text = JSON.stringify(await source.export());
    const target = open();
    await target.import(JSON.parse(text));
    const tensor = (await target.get("weights")) as Tensor;
    expect(tensor.shape).toEqual([1000, 1000]);
    expect(tensor.data.length).toBe(size);
    expect(Number.isNaN(tensor.data[7])).toBe(true);
    expect(tensor.data[8]).toBe(Number.NEGATIVE_INFINITY);
    expect(Object.is(tensor.data[9], -0)).toBe(true);
    let mismatches = 0;
    for (let index = 10; index < size; index++) if (tensor.data[index] !== data[index]) mismatches++;
    expect(mismatches).toBe(0);
    expect(Number.isNaN(await target.get("nan"))).toBe(true);
  }, 60_000);
});

describe("LocalState close", () => {
  it("every call fails with closed afterwards, close itself is idempotent", async () => {
    const provider = open();
    await provider.register("a", "integer", 0);
    const handle = await provider.watch(["a"], () => {});
    await provider.close();
    await provider.close();
    expect(await handle.done).toBeUndefined();
    expect(handle.info().state).toBe("closed");
    expect(provider.listWatchers()).toEqual([]);
    const calls: (() => Promise<unknown>)[] = [
      () => provider.register("b", "integer", 0),
      () => provider.get("a"),
      () => provider.getVariable("a"),
      () => provider.set("a", 1),
      () => provider.getMany(["a"]),
      () => provider.updateMany(new Map([["a", 1]])),
      () => provider.list(),
      () => provider.delete("a"),
      () => provider.export(),
      () => provider.import({}),
      () => provider.watch(["a"], () => {}),
    ];
    for (const call of calls) expect(await codeOf(call)).toBe("closed");
  });
});
