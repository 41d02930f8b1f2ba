import { describe, expect, it } from "vitest";
import { createTypeCache } from "./type-cache.js";

const id = (digit: string) => `var_${digit.repeat(24)}`;

describe("createTypeCache", () => {
  it("answers by name and by id", () => {
    const cache = createTypeCache();
    cache.remember({ id: id("a"), name: "temperature", type: "float" });
    expect(cache.get("temperature")).toBe("float");
    expect(cache.get(id("a"))).toBe("float");
    expect(cache.get("other")).toBeUndefined();
  });

  it("forgets both identifiers of a variable when one is forgotten", () => {
    const cache = createTypeCache();
    cache.remember({ id: id("a"), name: "temperature", type: "float" });
    cache.forget("temperature");
    expect(cache.get(id("a"))).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("keeps a name that now belongs to another variable when the old variable's id is forgotten", () => {
    const cache = createTypeCache();
    cache.remember({ id: id("a"), name: "x", type: "float" });
    cache.remember({ id: id("b"), name: "x", type: "string" });
    cache.forget(id("a"));
    expect(cache.get("x")).toBe("string");
    expect(cache.get(id("b"))).toBe("string");
  });

  it("holds names like __proto__ as plain data", () => {
    const cache = createTypeCache();
    cache.remember({ id: id("c"), name: "__proto__", type: "integer" });
    expect(cache.get("__proto__")).toBe("integer");
    expect(cache.get("constructor")).toBeUndefined();
  });

  it("forgets the oldest entries beyond its capacity", () => {
    const cache = createTypeCache(4);
    cache.remember({ id: id("1"), name: "one", type: "float" });
    cache.remember({ id: id("2"), name: "two", type: "float" });
    cache.remember({ id: id("3"), name: "three", type: "float" });
    expect(cache.size).toBe(4);
    expect(cache.get("one")).toBeUndefined();
    expect(cache.get("three")).toBe("float");
  });

  it("evicts in insertion order across many evictions, re-remembered and cleared entries included", () => {
    // Guards the eviction iterator kept across calls: it must still find the oldest key after
    // keys were moved to the end, forgotten, or the cache cleared.
    const cache = createTypeCache(4);
    const hex = (index: number) => `var_${index.toString(16).padStart(24, "0")}`;
    for (let index = 0; index < 50; index++)
      cache.remember({ id: hex(index), name: `v${index}`, type: "float" });
    expect(cache.size).toBe(4);
    expect(cache.get("v48")).toBe("float");
    expect(cache.get("v47")).toBeUndefined();
    cache.remember({ id: hex(48), name: "v48", type: "string" });
    cache.remember({ id: hex(60), name: "v60", type: "integer" });
    expect(cache.get("v49")).toBeUndefined();
    expect(cache.get("v48")).toBe("string");
    expect(cache.get("v60")).toBe("integer");
    cache.forget("v48");
    cache.remember({ id: hex(61), name: "v61", type: "float" });
    expect(cache.get("v60")).toBe("integer");
    expect(cache.get("v61")).toBe("float");
    cache.clear();
    for (let index = 70; index < 73; index++)
      cache.remember({ id: hex(index), name: `v${index}`, type: "boolean" });
    expect(cache.size).toBe(4);
    expect(cache.get("v70")).toBeUndefined();
    expect(cache.get("v71")).toBe("boolean");
    expect(cache.get(hex(72))).toBe("boolean");
  });
});
