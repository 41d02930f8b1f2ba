import { create } from "@bufbuild/protobuf";
import { WatchEventsSchema, WatchEventType } from "@statebridge/proto";
import { packFloat64 } from "@statebridge/state-provider";
import { describe, expect, it } from "vitest";
import { decodeWatchEvents } from "./watch-events.js";

describe("decodeWatchEvents", () => {
  it("decodes every event of a revision with values, versions and metadata", () => {
    const decoded = decodeWatchEvents(
      create(WatchEventsSchema, {
        revision: 7n,
        events: [
          {
            type: WatchEventType.VALUE_CHANGE,
            identifier: "temperature",
            id: "var_0123456789abcdef01234567",
            name: "temperature",
            variableType: "float",
            oldValue: { kind: { case: "floatValue", value: 0.5 } },
            newValue: { kind: { case: "floatValue", value: Number.NaN } },
            version: 3n,
            revision: 7n,
            source: "python",
            metadataJson: '{"__proto__":{"x":1},"unit":"C"}',
            timestampMs: 1_700_000_000_000n,
          },
          {
            type: WatchEventType.VALUE_CHANGE,
            identifier: "count",
            id: "var_0123456789abcdef01234568",
            name: "count",
            variableType: "integer",
            oldValue: { kind: { case: "integerValue", value: 9_007_199_254_740_991n } },
            newValue: { kind: { case: "integerValue", value: -4n } },
            version: 1n,
            revision: 7n,
          },
        ],
      }),
    );
    expect(decoded.revision).toBe(7);
    const [first, second] = decoded.events;
    expect(first?.type).toBe("value_change");
    expect(first?.oldValue).toBe(0.5);
    expect(first?.newValue).toBeNaN();
    expect(first?.version).toBe(3);
    expect(first?.timestamp).toBe(1_700_000_000_000);
    expect(first?.source).toBe("python");
    expect(Object.keys(first?.metadata ?? {})).toEqual(["__proto__", "unit"]);
    expect(Object.getPrototypeOf(first?.metadata)).toBe(Object.prototype);
    expect(second?.oldValue).toBe(Number.MAX_SAFE_INTEGER);
    expect(second?.newValue).toBe(-4);
    expect(second?.metadata).toEqual({});
  });

  it("decodes packed embeddings and tensors, and leaves oldValue out of initial, newValue out of deleted", () => {
    const decoded = decodeWatchEvents(
      create(WatchEventsSchema, {
        revision: 2n,
        events: [
          {
            type: WatchEventType.INITIAL,
            name: "t",
            variableType: "tensor",
            oldValue: { kind: { case: "floatValue", value: 1 } },
            newValue: {
              kind: { case: "tensorValue", value: { shape: [2n, 2n], data: packFloat64([1, 2, 3, -0]) } },
            },
            revision: 2n,
          },
          {
            type: WatchEventType.DELETED,
            name: "e",
            variableType: "embedding",
            oldValue: {
              kind: { case: "embeddingValue", value: packFloat64([0.25, Number.POSITIVE_INFINITY]) },
            },
            newValue: { kind: { case: "embeddingValue", value: packFloat64([1]) } },
          },
        ],
      }),
    );
    const [initial, deleted] = decoded.events;
    expect(initial?.oldValue).toBeUndefined();
    expect(initial?.newValue).toEqual({ shape: [2, 2], data: [1, 2, 3, -0] });
    const tensor = initial?.newValue as { readonly data: readonly number[] } | undefined;
    expect(Object.is(tensor?.data[3], -0)).toBe(true);
    expect(deleted?.type).toBe("deleted");
    expect(deleted?.oldValue).toEqual([0.25, Number.POSITIVE_INFINITY]);
    expect(deleted?.newValue).toBeUndefined();
    // An event without its own revision takes its message's.
    expect(deleted?.revision).toBe(2);
  });

  it("refuses an event of an unknown kind or variable type with invalid_value", () => {
    const unknownType = create(WatchEventsSchema, {
      revision: 1n,
      events: [{ type: WatchEventType.UNSPECIFIED, name: "a", variableType: "float" }],
    });
    const unknownVariableType = create(WatchEventsSchema, {
      revision: 1n,
      events: [{ type: WatchEventType.VALUE_CHANGE, name: "a", variableType: "decimal" }],
    });
    const badMetadata = create(WatchEventsSchema, {
      revision: 1n,
      events: [{ type: WatchEventType.VALUE_CHANGE, name: "a", variableType: "float", metadataJson: "[1]" }],
    });
    for (const message of [unknownType, unknownVariableType, badMetadata]) {
      expect(() => decodeWatchEvents(message)).toThrow(expect.objectContaining({ code: "invalid_value" }));
    }
  });
});
