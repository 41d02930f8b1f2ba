import { describe, expect, it, vi } from "vitest";
import { isStateError, isStateErrorCode, STATE_ERROR_CODES, StateError } from "./errors.js";

describe("StateError", () => {
  it("prefixes the message with its code once", () => {
    const error = new StateError("not_found", 'no variable named "x"');
    expect(error.message).toBe('not_found: no variable named "x"');
    expect(error.rawMessage).toBe('no variable named "x"');
    const already = new StateError("closed", "closed: the provider is closed");
    expect(already.message).toBe("closed: the provider is closed");
    expect(already.rawMessage).toBe("the provider is closed");
  });

  it("is an Error named StateError with its code, and keeps its cause", () => {
    const cause = new TypeError("underlying");
    const error = new StateError("unavailable", "server unreachable", { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("StateError");
    expect(error.code).toBe("unavailable");
    expect(error.cause).toBe(cause);
    expect(error.stack).toContain("server unreachable");
    expect("cause" in new StateError("unavailable", "no cause")).toBe(false);
  });

  it("has empty failures and applied maps unless given, and keeps them when given", () => {
    const plain = new StateError("invalid_value", "x");
    expect(plain.failures.size).toBe(0);
    expect(plain.applied.size).toBe(0);
    const failures = new Map([["a", { code: "constraint_violation" as const, message: "too big" }]]);
    const applied = new Map([["b", 3]]);
    const partial = new StateError("partial_failure", "1 of 2 updates failed", { failures, applied });
    expect(partial.failures.get("a")?.code).toBe("constraint_violation");
    expect(partial.applied.get("b")).toBe(3);
  });
});

describe("isStateError", () => {
  it("recognizes a StateError, and checks the code when asked", () => {
    const error = new StateError("version_conflict", "stale");
    expect(isStateError(error)).toBe(true);
    expect(isStateError(error, "version_conflict")).toBe(true);
    expect(isStateError(error, "not_found")).toBe(false);
  });

  it("refuses look-alikes without the brand: plain errors with a code, plain objects, primitives", () => {
    const lookAlike = Object.assign(new Error("not_found: x"), { code: "not_found", name: "StateError" });
    expect(isStateError(lookAlike)).toBe(false);
    expect(isStateError({ code: "not_found" })).toBe(false);
    expect(isStateError(null)).toBe(false);
    expect(isStateError(undefined)).toBe(false);
    expect(isStateError("not_found")).toBe(false);
  });

  it("recognizes an error branded by another copy of the package (the same Symbol.for key), where instanceof fails", () => {
    // What another copy's constructor does: its own class, the shared registered symbol.
    class OtherCopyStateError extends Error {
      readonly code = "already_exists" as const;
      constructor(message: string) {
        super(message);
        Object.defineProperty(this, Symbol.for("@statebridge/state-provider/StateError"), { value: true });
      }
    }
    const foreign = new OtherCopyStateError("already_exists: taken");
    expect(foreign instanceof StateError).toBe(false);
    expect(isStateError(foreign)).toBe(true);
    expect(isStateError(foreign, "already_exists")).toBe(true);
    expect(isStateError(foreign, "closed")).toBe(false);
  });

  it("recognizes an error from a second, separately loaded instance of the module", async () => {
    vi.resetModules();
    const copy = await import("./errors.js");
    expect(copy.StateError).not.toBe(StateError);
    const foreign = new copy.StateError("closed", "closed elsewhere");
    expect(foreign instanceof StateError).toBe(false);
    expect(isStateError(foreign, "closed")).toBe(true);
    expect(copy.isStateError(new StateError("closed", "closed here"), "closed")).toBe(true);
  });

  it("the brand is not enumerable, so it does not leak into JSON or spreads", () => {
    const error = new StateError("not_found", "x");
    expect(Object.getOwnPropertySymbols({ ...error })).toEqual([]);
    expect(JSON.stringify(error)).not.toContain("statebridge");
  });
});

describe("STATE_ERROR_CODES and isStateErrorCode", () => {
  it("lists the thirteen codes of the design, each once", () => {
    expect([...STATE_ERROR_CODES].sort()).toEqual(
      [
        "not_found",
        "already_exists",
        "invalid_type",
        "invalid_value",
        "constraint_violation",
        "version_conflict",
        "partial_failure",
        "invalid_export",
        "session_expired",
        "unavailable",
        "resource_exhausted",
        "unauthenticated",
        "closed",
      ].sort(),
    );
  });

  it("tells codes from other values", () => {
    for (const code of STATE_ERROR_CODES) expect(isStateErrorCode(code)).toBe(true);
    for (const value of ["NOT_FOUND", "", "ok", 5, null, undefined])
      expect(isStateErrorCode(value)).toBe(false);
  });
});
