import { describe, expect, it } from "vitest";
import type { StateProvider } from "../provider.js";
import type { ComplianceContext } from "./context.js";
import { expectStateError, recordEvents, settlesWithin } from "./support.js";

/** The operations of the contract, each called with valid arguments, for the `closed` checks. */
function everyOperation(
  provider: StateProvider,
  identifier: string,
  document: unknown,
): ReadonlyArray<readonly [string, () => Promise<unknown>]> {
  return [
    ["register", () => provider.register("after_close", "integer", 1)],
    ["get", () => provider.get(identifier)],
    ["getVariable", () => provider.getVariable(identifier)],
    ["set", () => provider.set(identifier, 2)],
    ["getMany", () => provider.getMany([identifier])],
    ["updateMany", () => provider.updateMany(new Map([[identifier, 3]]))],
    ["list", () => provider.list()],
    ["delete", () => provider.delete(identifier)],
    ["export", () => provider.export()],
    ["import", () => provider.import(document)],
    ["watch", () => provider.watch([identifier], () => {})],
  ];
}

/**
 * Registers the lifecycle tests: what a new provider looks like, and `close()` — idempotent,
 * every later call fails with `closed`, every watch ends.
 */
export function describeLifecycle(context: ComplianceContext): void {
  describe("lifecycle and close", () => {
    it("a new provider has a session id, boolean capabilities, requiresBridge and no variables", async (test) => {
      const provider = await context.open(test);
      expect(typeof provider.sessionId).toBe("string");
      expect(provider.sessionId.length).toBeGreaterThan(0);
      for (const flag of [
        "atomicUpdates",
        "compareAndSet",
        "watch",
        "persistence",
        "distribution",
        "linearizableReads",
      ] as const) {
        expect(typeof provider.capabilities[flag], `capabilities.${flag}`).toBe("boolean");
      }
      expect(typeof provider.requiresBridge).toBe("boolean");
      expect(await provider.list()).toEqual([]);
      expect(provider.listWatchers()).toEqual([]);
      const exported = await provider.export();
      expect(exported.sessionId).toBe(provider.sessionId);
      expect(exported.variables).toEqual([]);
    });

    it("close() is idempotent, also when called concurrently", async (test) => {
      const provider = await context.open(test);
      await provider.register("x", "integer", 1);
      await Promise.all([provider.close(), provider.close()]);
      await provider.close();
      await expectStateError(() => provider.get("x"), "closed");
    });

    it("every operation after close() fails with closed", async (test) => {
      const provider = await context.open(test);
      const registered = await provider.register("x", "integer", 1);
      const document = JSON.parse(JSON.stringify(await provider.export()));
      await provider.close();
      for (const [operation, call] of everyOperation(provider, "x", document)) {
        await expectStateError(call, "closed", `${operation}() after close()`);
      }
      await expectStateError(() => provider.get(registered.id), "closed", "get(id) after close()");
    });

    it("reads racing close() either finish with the value or fail with closed", async (test) => {
      const provider = await context.open(test);
      await provider.register("x", "integer", 1);
      const reads = Array.from({ length: 20 }, () =>
        provider.get("x").then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        ),
      );
      await provider.close();
      for (const outcome of await Promise.all(reads)) {
        if ("value" in outcome) expect(outcome.value).toBe(1);
        else await expectStateError(() => Promise.reject(outcome.error), "closed", "a read racing close()");
      }
    });

    it("close() ends every watch: done resolves with undefined and info() says closed (capabilities.watch)", async (test) => {
      const provider = await context.open(test);
      context.requires(test, provider, "watch");
      await provider.register("a", "integer", 0);
      await provider.register("b", "string", "");
      const first = await provider.watch(["a"], () => {});
      const second = await provider.watch(["a", "b"], () => {}, { includeInitial: true });
      expect(provider.listWatchers()).toHaveLength(2);
      await provider.close();
      expect(
        await settlesWithin(first.done, context.eventTimeoutMs, "the first watch to end"),
      ).toBeUndefined();
      expect(
        await settlesWithin(second.done, context.eventTimeoutMs, "the second watch to end"),
      ).toBeUndefined();
      expect(first.info().state).toBe("closed");
      expect(second.info().state).toBe("closed");
      // Closing a handle after its provider closed is harmless.
      await first.close();
    });

    it("close() stops delivery: a watcher whose provider closed gets nothing more (capabilities.watch)", async (test) => {
      const provider = await context.open(test);
      context.requires(test, provider, "watch");
      await provider.register("a", "integer", 0);
      const recorder = recordEvents();
      await provider.watch(["a"], recorder.watcher);
      const version = await provider.set("a", 1);
      await recorder.waitForEvent(
        (event) => event.version === version,
        "the change before close",
        context.eventTimeoutMs,
      );
      await provider.close();
      const countAtClose = recorder.events.length;
      await expectStateError(() => provider.set("a", 2), "closed");
      // Give any stray delivery the same chance a real one would have had.
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(recorder.events).toHaveLength(countAtClose);
    });
  });
}
