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
});
