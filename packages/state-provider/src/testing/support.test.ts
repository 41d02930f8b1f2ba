import { describe, expect, it } from "vitest";
import { StateError } from "../errors.js";
import type { StateProvider } from "../provider.js";
import type { WatchEvent } from "../watch.js";
import { createComplianceContext } from "./context.js";
import { expectStateError, preview, recordEvents, settlesWithin, summarize, waitFor } from "./support.js";
import { expectOrderedAndUnique } from "./watch-support.js";

/** Runs `action` and returns the message of the error it throws. */
async function failureOf(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected a failure");
}

function event(overrides: Partial<WatchEvent>): WatchEvent {
  return {
    type: "value_change",
    identifier: "a",
    id: "var_000000000000000000000001",
    name: "a",
    variableType: "integer",
    oldValue: 0,
    newValue: 1,
    version: 1,
    revision: 1,
    source: "typescript",
    metadata: {},
    timestamp: 0,
    ...overrides,
  };
}

describe("expectStateError", () => {
  it("returns the StateError of the expected code, thrown or rejected", async () => {
    const error = await expectStateError(() => Promise.reject(new StateError("closed", "x")), "closed");
    expect(error.code).toBe("closed");
    const thrown = await expectStateError(() => {
      throw new StateError("not_found", "y");
    }, "not_found");
    expect(thrown.rawMessage).toBe("y");
  });

  it("fails on success, on another code and on an error that is not a StateError", async () => {
    expect(await failureOf(() => expectStateError(async () => 5, "closed", "get()"))).toBe(
      "get() was expected to fail with closed, but it succeeded with 5",
    );
    expect(
      await failureOf(() =>
        expectStateError(() => Promise.reject(new StateError("not_found", "z")), "closed"),
      ),
    ).toContain("failed with not_found: z");
    expect(
      await failureOf(() => expectStateError(() => Promise.reject(new TypeError("boom")), "closed")),
    ).toContain("a StateError of code closed, but threw TypeError: boom");
  });
});

describe("waitFor and recordEvents", () => {
  it("waitFor returns once the condition holds and fails after the deadline naming what it waited for", async () => {
    let ready = false;
    setTimeout(() => {
      ready = true;
    }, 5);
    await waitFor(() => ready, "ready", 5_000);
    expect(ready).toBe(true);
    expect(
      await failureOf(() =>
        waitFor(
          () => false,
          "the impossible",
          20,
          () => "nothing",
        ),
      ),
    ).toBe("gave up after 20 ms waiting for the impossible; seen: nothing");
  });

  it("a recorder keeps events in delivery order and waits for a count or a match", async () => {
    const recorder = recordEvents();
    setTimeout(() => {
      void recorder.watcher(event({ version: 1 }));
      void recorder.watcher(event({ version: 2, revision: 2 }));
    }, 1);
    await recorder.waitForCount(2, 5_000);
    const found = await recorder.waitForEvent((item) => item.version === 2, "version 2", 5_000);
    expect(found.revision).toBe(2);
    expect(recorder.events.map((item) => item.version)).toEqual([1, 2]);
    const message = await failureOf(() => recorder.waitForCount(3, 10));
    expect(message).toContain("3 events");
    expect(message).toContain("value_change a v2 r2 1");
  });

  it("settlesWithin gives the value, or fails naming what did not settle", async () => {
    expect(await settlesWithin(Promise.resolve(4), 1_000, "four")).toBe(4);
    expect(await failureOf(() => settlesWithin(new Promise(() => {}), 10, "never"))).toBe(
      "gave up after 10 ms waiting for never",
    );
  });

  it("preview and summarize describe values and events briefly", () => {
    expect(preview(-0)).toBe("-0");
    expect(preview(2n)).toBe("2n");
    expect(preview(Float32Array.from([1, 2]))).toBe("[1, 2]");
    expect(preview(Array.from({ length: 20 }, (_, index) => index))).toBe(
      "[0, 1, 2, 3, 4, 5, 6, 7, ... (20)]",
    );
    expect(preview({ shape: [1], data: [Number.NaN] })).toBe("{ shape: [1], data: [NaN] }");
    expect(preview(Object.create(null))).toBe("{}");
    expect(summarize([event({})])).toBe("1 event(s): [value_change a v1 r1 1]");
  });
});

describe("expectOrderedAndUnique", () => {
  it("accepts ordered, unique events and batch members sharing a revision", () => {
    expectOrderedAndUnique([
      event({ version: 1, revision: 1 }),
      event({ id: "var_000000000000000000000002", name: "b", version: 1, revision: 2 }),
      event({ version: 2, revision: 2 }),
      event({ version: 3, revision: 5 }),
    ]);
  });

  it("refuses a revision going back, a repeated event and a skipped version", () => {
    expect(() =>
      expectOrderedAndUnique([event({ revision: 2 }), event({ version: 2, revision: 1 })]),
    ).toThrow(/revisions never go back/);
    expect(() => expectOrderedAndUnique([event({}), event({})])).toThrow(/delivered once/);
    expect(() =>
      expectOrderedAndUnique([event({ version: 1, revision: 1 }), event({ version: 3, revision: 2 })]),
    ).toThrow(/the next version of a/);
  });
});

describe("createComplianceContext", () => {
  const closed: string[] = [];
  const cleaned: string[] = [];
  let counter = 0;
  const provider = (
    sessionId: string,
    capabilities: Partial<StateProvider["capabilities"]> = {},
  ): StateProvider =>
    ({
      sessionId,
      capabilities: {
        atomicUpdates: true,
        compareAndSet: true,
        watch: true,
        persistence: false,
        distribution: false,
        linearizableReads: true,
        ...capabilities,
      },
      close: async () => {
        closed.push(sessionId);
      },
    }) as unknown as StateProvider;
  const context = createComplianceContext(
    "Fake",
    () => provider(`session_${++counter}`, { watch: counter !== 2 }),
    {
      cleanup: (made) => {
        cleaned.push(made.sessionId);
      },
      makeSecond: (first) => provider(first.sessionId),
    },
  );

  it("resolves the defaults", () => {
    expect(context.name).toBe("Fake");
    expect(context.timeoutMs).toBe(20_000);
    expect(context.eventTimeoutMs).toBe(10_000);
    expect(context.propertyRuns).toBe(50);
    expect(context.source).toBe("typescript");
  });

  it("opens providers for a test", async (test) => {
    const first = await context.open(test);
    await context.openSecond(test, first);
    expect(first.sessionId).toBe("session_1");
    expect(closed).toEqual([]);
  });

  it("closed them when that test finished, and cleaned up only the first one's session", () => {
    expect([...closed].sort()).toEqual(["session_1", "session_1"]);
    expect(cleaned).toEqual(["session_1"]);
  });

  it("skips a test whose provider lacks a capability", async (test) => {
    const provider = await context.open(test);
    context.requires(test, provider, "atomicUpdates");
    context.requires(test, provider, "watch");
    expect.fail("a provider without capabilities.watch did not skip the test");
  });

  it("fails openSecond() without makeSecond, naming the option", async (test) => {
    const bare = createComplianceContext("Bare", () => provider("session_bare"));
    const first = await bare.open(test);
    expect(await failureOf(() => bare.openSecond(test, first))).toContain("options.makeSecond");
  });
});
