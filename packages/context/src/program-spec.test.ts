import { isStateError } from "@statebridge/state-provider";
import { describe, expect, it } from "vitest";
import { bridgeReason } from "./program-spec.js";

describe("bridgeReason", () => {
  it("a Python runtime needs the bridge", () => {
    expect(bridgeReason({ runtime: "python" })).toBe("program needs the python runtime");
  });

  it("requiresBridge: true needs the bridge whatever the runtime", () => {
    expect(bridgeReason({ runtime: "typescript", requiresBridge: true })).toBe("program sets requiresBridge");
  });

  it("in-process runtimes, in any case, stay local", () => {
    for (const runtime of ["typescript", "JavaScript", "node", "local", ""]) {
      expect(bridgeReason({ runtime })).toBeUndefined();
    }
  });

  it("a module that needs Python makes the program need the bridge", () => {
    const spec = { name: "optimizer", modules: [{ class: "Predict" }, { runtime: "python", name: "mipro" }] };
    expect(bridgeReason(spec)).toBe("program.modules[1] needs the python runtime");
  });

  it("modules without a class, or of unexpected kinds, never fail (regression: upstream crashed)", () => {
    const spec = { modules: [{}, null, 3, "text", [], { name: "no-class" }, { modules: "not-a-list" }] };
    expect(bridgeReason(spec)).toBeUndefined();
  });

  it("fields of unexpected kinds do not trigger a switch", () => {
    expect(
      bridgeReason({ runtime: 42, requiresBridge: "yes", modules: { runtime: "python" } }),
    ).toBeUndefined();
  });

  it("a spec that is not an object is refused with invalid_value", () => {
    for (const spec of [null, undefined, "python", 3, []]) {
      let caught: unknown;
      try {
        bridgeReason(spec);
      } catch (error) {
        caught = error;
      }
      expect(isStateError(caught, "invalid_value")).toBe(true);
    }
  });
});
