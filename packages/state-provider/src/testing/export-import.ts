import { describe, expect, it } from "vitest";
import { EXPORT_FORMAT, EXPORT_VERSION, type ExportDocument } from "../export-format.js";
import { createVariableId } from "../ids.js";
import type { StateProvider } from "../provider.js";
import type { Metadata, Variable } from "../variable.js";
import type { ComplianceContext } from "./context.js";
import { expectSameValue, expectStateError, recordEvents, revisionOf, stateOf } from "./support.js";

/** Elements of the large tensor that must survive export and import exactly. */
const LARGE_TENSOR_ELEMENTS = 1_000_000;

/** A deterministic 1,000,000-element tensor with special values spread through it. */
function largeTensorData(): Float64Array {
  const data = new Float64Array(LARGE_TENSOR_ELEMENTS);
  let state = 0x2545f491;
  for (let index = 0; index < data.length; index++) {
    state = (state * 1_103_515_245 + 12_345) >>> 0;
    data[index] = (state / 0xffffffff - 0.5) * 1e6;
  }
  data[0] = Number.NaN;
  data[1] = Number.POSITIVE_INFINITY;
  data[2] = Number.NEGATIVE_INFINITY;
  data[3] = -0;
  data[4] = Number.MIN_VALUE;
  data[5] = Number.MAX_VALUE;
  data[LARGE_TENSOR_ELEMENTS - 1] = -0;
  return data;
}

/** Registers one variable of every type, with special values, constraints, metadata and versions above 0. */
async function populate(provider: StateProvider): Promise<void> {
  const metadata = JSON.parse(
    '{"__proto__": "plain", "nested": {"list": [1, "two", null, true]}}',
  ) as Metadata;
  await provider.register("nan", "float", Number.NaN, { metadata, description: "not a number" });
  await provider.register("positive_infinity", "float", Number.POSITIVE_INFINITY);
  await provider.register("negative_infinity", "float", Number.NEGATIVE_INFINITY, {
    constraints: { min: 0 },
  });
  await provider.register("negative_zero", "float", -0);
  await provider.register("fraction", "float", 0.1, { constraints: { min: 0, max: 1 } });
  await provider.register("count", "integer", 0, { constraints: { min: -5, max: Number.MAX_SAFE_INTEGER } });
  for (let step = 1; step <= 3; step++) await provider.set("count", step * 1000, { metadata: { step } });
  await provider.register("largest", "integer", Number.MAX_SAFE_INTEGER);
  await provider.register("text", "string", "température 🚀\u0000", {
    constraints: { minLength: 1, maxLength: 50, pattern: "^t", enum: ["température 🚀\u0000", "t"] },
  });
  await provider.register("flag", "boolean", true);
  await provider.set("flag", false);
  await provider.register("model", "choice", "claude", { constraints: { choices: ["claude", "gpt"] } });
  await provider.register("predictor", "module", "dspy.Predict", {
    constraints: { namespace: "dspy", pattern: "^dspy", choices: ["dspy.Predict", "dspy.ReAct"] },
  });
  await provider.register("vector", "embedding", Float32Array.from([0.1, -0.2, 1e-7]), {
    constraints: { dimensions: 3 },
  });
  await provider.register("doubles", "embedding", [-0, Number.MIN_VALUE, Number.MAX_VALUE, 1 / 3]);
  await provider.register(
    "matrix",
    "tensor",
    { shape: [2, 2], data: [Number.NaN, -0, 1, 2] },
    {
      constraints: { shape: [2, 2] },
    },
  );
  await provider.register("large", "tensor", { shape: [1000, 1000], data: largeTensorData() });
}

/** Checks that `actual` holds exactly the variables of `expected`, field by field. */
function expectSameVariables(actual: readonly Variable[], expected: readonly Variable[]): void {
  expect(actual.map((variable) => variable.name)).toEqual(expected.map((variable) => variable.name));
  for (let index = 0; index < expected.length; index++) {
    const want = expected[index] as Variable;
    const got = actual[index] as Variable;
    const label = want.name;
    expect(got.id, `${label}.id`).toBe(want.id);
    expect(got.type, `${label}.type`).toBe(want.type);
    expectSameValue(got.value, want.value, `${label}.value`);
    expect({ ...got.constraints }, `${label}.constraints`).toEqual({ ...want.constraints });
    expect(JSON.stringify(got.metadata), `${label}.metadata`).toBe(JSON.stringify(want.metadata));
    expect(got.version, `${label}.version`).toBe(want.version);
    expect(got.createdAt, `${label}.createdAt`).toBe(want.createdAt);
    expect(got.updatedAt, `${label}.updatedAt`).toBe(want.updatedAt);
    expect(got.source, `${label}.source`).toBe(want.source);
  }
}

/** An export document as it arrives from elsewhere: through JSON text. */
async function exportAsJson(provider: StateProvider): Promise<Record<string, unknown>> {
  return JSON.parse(JSON.stringify(await provider.export())) as Record<string, unknown>;
}

function variablesOf(document: Record<string, unknown>): Record<string, unknown>[] {
  return document.variables as Record<string, unknown>[];
}

/**
 * Registers the export/import tests: lossless round trips through JSON into a fresh provider,
 * all-or-nothing imports, and the revision an import leaves.
 */
export function describeExportImport(context: ComplianceContext): void {
  describe("export() and import()", () => {
    it("export() returns a versioned document: format, version, session id, revision, variables in creation order", async (test) => {
      const provider = await context.open(test);
      await provider.register("b", "integer", 1);
      const last = await provider.register("a", "string", "x");
      const before = Date.now();
      const document = await provider.export();
      expect(document.format).toBe(EXPORT_FORMAT);
      expect(document.version).toBe(EXPORT_VERSION);
      expect(document.sessionId).toBe(provider.sessionId);
      expect(document.revision).toBe(last.revision);
      expect(document.exportedAt).toBeGreaterThanOrEqual(before - 5 * 60_000);
      expect(document.variables.map((variable) => variable.name)).toEqual(["b", "a"]);
      expect(document.variables[1]?.id).toBe(last.id);
      // Exporting is a read: it takes no revision.
      expect(await revisionOf(provider)).toBe(last.revision);
    });

    it("export → JSON.stringify → JSON.parse → import into a fresh provider keeps ids, versions, metadata, constraints, timestamps, sources and values bit-exact (NaN, ±Infinity, -0, typed arrays, a 1,000,000-element tensor)", async (test) => {
      const provider = await context.open(test);
      await populate(provider);
      const expected = await provider.list();
      const text = JSON.stringify(await provider.export());
      const fresh = await context.open(test);
      await fresh.import(JSON.parse(text));
      expectSameVariables(await fresh.list(), expected);
      const large = (await fresh.get("large")) as { shape: readonly number[]; data: readonly number[] };
      expect(large.shape).toEqual([1000, 1000]);
      const data = largeTensorData();
      expect(large.data.length).toBe(LARGE_TENSOR_ELEMENTS);
      for (let index = 0; index < LARGE_TENSOR_ELEMENTS; index++) {
        if (!Object.is(large.data[index], data[index])) {
          expect.fail(`large tensor element ${index}: ${large.data[index]} instead of ${data[index]}`);
        }
      }
      // Ids and names both reach the imported variables, and they go on from their versions.
      const count = expected.find((variable) => variable.name === "count") as Variable;
      expect(await fresh.get(count.id)).toBe(3000);
      expect(await fresh.set("count", 4000)).toBe(count.version + 1);
      // The imported constraints still apply.
      await expectStateError(() => fresh.set("fraction", 2), "constraint_violation");
      await expectStateError(() => fresh.set("model", "other"), "constraint_violation");
    });

    it("an import keeps the sources and timestamps the document gives", async (test) => {
      const provider = await context.open(test);
      await provider.register("a", "integer", 1);
      const document = await exportAsJson(provider);
      const [entry] = variablesOf(document);
      Object.assign(entry as object, {
        source: "python",
        createdAt: 1_000_000,
        updatedAt: 2_000_000,
        version: 41,
      });
      const fresh = await context.open(test);
      await fresh.import(document);
      const variable = await fresh.getVariable("a");
      expect(variable.source).toBe("python");
      expect(variable.createdAt).toBe(1_000_000);
      expect(variable.updatedAt).toBe(2_000_000);
      expect(variable.version).toBe(41);
      expect(await fresh.set("a", 2)).toBe(42);
      expect((await fresh.getVariable("a")).source).toBe(context.source);
    });

    it("an export imports into a fresh provider and exports again to the same variables and revision", async (test) => {
      const provider = await context.open(test);
      await provider.register("a", "float", -0, { metadata: { k: [1, { deep: true }] } });
      await provider.register("b", "embedding", [1, 2]);
      await provider.set("b", [3, 4]);
      const first = await exportAsJson(provider);
      const fresh = await context.open(test);
      await fresh.import(first);
      const second = await exportAsJson(fresh);
      expect(second.revision).toBe(first.revision);
      expect(second.variables).toEqual(first.variables);
      expect(second.metadata).toEqual(first.metadata);
    });

    it("import into an empty provider adopts the document's revision; the next mutation takes revision + 1", async (test) => {
      const provider = await context.open(test);
      await provider.register("a", "integer", 0);
      const document = await exportAsJson(provider);
      document.revision = 500;
      const fresh = await context.open(test);
      await fresh.import(document);
      expect(await revisionOf(fresh)).toBe(500);
      const registered = await fresh.register("b", "integer", 0);
      expect(registered.revision).toBe(501);
    });

    it("after an import into an empty provider, watch events carry revisions after the document's (capabilities.watch)", async (test) => {
      const provider = await context.open(test);
      await provider.register("a", "integer", 0);
      const document = await exportAsJson(provider);
      document.revision = 700;
      const fresh = await context.open(test);
      context.requires(test, fresh, "watch");
      await fresh.import(document);
      const recorder = recordEvents();
      await fresh.watch(["a"], recorder.watcher);
      await fresh.set("a", 1);
      const event = await recorder.waitForEvent(
        (item) => item.version === 1,
        "the set after the import",
        context.eventTimeoutMs,
      );
      expect(event.revision).toBe(701);
    });

    it("import into a non-empty provider takes max(current revision, document revision) + 1", async (test) => {
      const source = await context.open(test);
      await source.register("imported", "integer", 0);
      const document = await exportAsJson(source);

      const lower = await context.open(test);
      for (let index = 0; index < 5; index++) await lower.register(`own_${index}`, "integer", 0);
      const lowerRevision = await revisionOf(lower);
      await lower.import({ ...document, revision: 2 });
      expect(await revisionOf(lower)).toBe(Math.max(lowerRevision, 2) + 1);

      const higher = await context.open(test);
      await higher.register("own", "integer", 0);
      await higher.import({ ...document, revision: 300 });
      expect(await revisionOf(higher)).toBe(301);
      expect((await higher.register("next", "integer", 0)).revision).toBe(302);
      expect((await higher.list()).map((variable) => variable.name)).toEqual(["own", "imported", "next"]);
    });

    it("a malformed document is refused with invalid_export and nothing changes", async (test) => {
      const provider = await context.open(test);
      await provider.register("a", "integer", 1);
      await provider.register("b", "tensor", { shape: [2], data: [1, 2] });
      const valid = await exportAsJson(provider);
      const target = await context.open(test);
      await target.register("existing", "string", "keep");
      const before = await stateOf(target);

      const variant = (
        change: (document: Record<string, unknown>, entries: Record<string, unknown>[]) => void,
      ) => {
        const copy = structuredClone(valid);
        // Fresh ids and names, so that only the malformation can be the problem.
        for (const entry of variablesOf(copy)) {
          entry.id = createVariableId();
          entry.name = `imported_${String(entry.name)}`;
        }
        change(copy, variablesOf(copy));
        return copy;
      };
      const malformed: ReadonlyArray<readonly [string, unknown]> = [
        ["null", null],
        ["a string", JSON.stringify(valid)],
        ["an array", [valid]],
        [
          "a wrong format",
          variant((document) => {
            document.format = "other";
          }),
        ],
        [
          "an unsupported version",
          variant((document) => {
            document.version = EXPORT_VERSION + 1;
          }),
        ],
        [
          "no variables",
          variant((document) => {
            delete document.variables;
          }),
        ],
        [
          "a negative revision",
          variant((document) => {
            document.revision = -1;
          }),
        ],
        [
          "a variable that is not an object",
          variant((document) => {
            (document.variables as unknown[]).push(7);
          }),
        ],
        [
          "a malformed id",
          variant((_, [first]) => {
            (first as Record<string, unknown>).id = "not-an-id";
          }),
        ],
        [
          "an id-shaped name",
          variant((_, [first]) => {
            (first as Record<string, unknown>).name = createVariableId();
          }),
        ],
        [
          "an unknown type",
          variant((_, [first]) => {
            (first as Record<string, unknown>).type = "double";
          }),
        ],
        [
          "a value of the wrong kind",
          variant((_, [first]) => {
            (first as Record<string, unknown>).value = "one";
          }),
        ],
        [
          "a value its constraints refuse",
          variant((_, [first]) => {
            Object.assign(first as object, { value: 10, constraints: { max: 5 } });
          }),
        ],
        [
          "malformed constraints",
          variant((_, [first]) => {
            (first as Record<string, unknown>).constraints = { min: 2, max: 1 };
          }),
        ],
        [
          "a fractional version",
          variant((_, [first]) => {
            (first as Record<string, unknown>).version = 1.5;
          }),
        ],
        [
          "a missing source",
          variant((_, [first]) => {
            delete (first as Record<string, unknown>).source;
          }),
        ],
        [
          "a bad timestamp",
          variant((_, [first]) => {
            (first as Record<string, unknown>).createdAt = "yesterday";
          }),
        ],
        [
          "a bad $float tag",
          variant((_, [first]) => {
            (first as Record<string, unknown>).value = { $float: "nan" };
          }),
        ],
        [
          "packed data that is not base64",
          variant((_, [, second]) => {
            (second as Record<string, unknown>).value = { shape: [2], $f64: "***" };
          }),
        ],
        [
          "packed data of a partial double",
          variant((_, [, second]) => {
            (second as Record<string, unknown>).value = { shape: [2], $f64: "AAAA" };
          }),
        ],
        [
          "a tensor shape that does not fit its data",
          variant((_, [, second]) => {
            ((second as Record<string, unknown>).value as Record<string, unknown>).shape = [3];
          }),
        ],
        [
          "non-JSON metadata",
          variant((_, [first]) => {
            (first as Record<string, unknown>).metadata = [1];
          }),
        ],
        [
          "an id twice",
          variant((_, entries) => {
            (entries[1] as Record<string, unknown>).id = (entries[0] as Record<string, unknown>).id;
          }),
        ],
        [
          "a name twice",
          variant((_, entries) => {
            (entries[1] as Record<string, unknown>).name = (entries[0] as Record<string, unknown>).name;
          }),
        ],
      ];
      for (const [label, document] of malformed) {
        await expectStateError(
          () => target.import(document),
          "invalid_export",
          `import() of a document with ${label}`,
        );
        expect(await stateOf(target), `nothing changed after an import of a document with ${label}`).toBe(
          before,
        );
      }
      // The unmodified document, with fresh ids and names, does import.
      await target.import(variant(() => {}));
      expect((await target.list()).map((variable) => variable.name)).toEqual([
        "existing",
        "imported_a",
        "imported_b",
      ]);
    });

    it("a conflicting import (an id or a name already present) is refused with already_exists and nothing changes", async (test) => {
      const provider = await context.open(test);
      await provider.register("a", "integer", 1);
      await provider.register("b", "integer", 2);
      const document = await exportAsJson(provider);
      const target = await context.open(test);
      await target.register("unrelated", "integer", 0);
      await target.import(document);
      await target.set("a", 5);
      const before = await stateOf(target);

      // Every id and name present.
      await expectStateError(
        () => target.import(document),
        "already_exists",
        "re-importing the same document",
      );
      // Only one name present, under a fresh id; the other variable is new.
      const nameConflict = structuredClone(document);
      for (const entry of variablesOf(nameConflict)) entry.id = createVariableId();
      (variablesOf(nameConflict)[1] as Record<string, unknown>).name = "fresh_name";
      await expectStateError(() => target.import(nameConflict), "already_exists", "a name already present");
      // Only one id present, under a fresh name.
      const idConflict = structuredClone(document);
      (variablesOf(idConflict)[0] as Record<string, unknown>).name = "renamed";
      (variablesOf(idConflict)[1] as Record<string, unknown>).id = createVariableId();
      (variablesOf(idConflict)[1] as Record<string, unknown>).name = "other_fresh_name";
      await expectStateError(() => target.import(idConflict), "already_exists", "an id already present");

      expect(await stateOf(target)).toBe(before);
      expect(await target.get("a")).toBe(5);
    });

    it("import() of a document exported by the same provider, after deleting everything, restores it and its revision does not go back", async (test) => {
      const provider = await context.open(test);
      const { id } = await provider.register("a", "integer", 1);
      await provider.set("a", 2);
      const document = (await exportAsJson(provider)) as unknown as ExportDocument;
      await provider.delete("a");
      const revision = await revisionOf(provider);
      await provider.import(document);
      // Revisions never go back, or events after the import would repeat revisions already seen.
      expect(await revisionOf(provider)).toBeGreaterThanOrEqual(revision);
      const variable = await provider.getVariable(id);
      expect(variable.name).toBe("a");
      expect(variable.value).toBe(2);
      expect(variable.version).toBe(1);
    });
  });
}
