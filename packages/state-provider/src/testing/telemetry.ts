import { AsyncLocalStorage } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import { isStateError } from "../errors.js";
import type { StateProvider } from "../provider.js";
import {
  OPERATION_CHANNEL,
  type OperationEvent,
  type OperationStart,
  operationChannel,
  type ProviderKind,
  TRACED_OPERATIONS,
} from "../telemetry.js";

/** What {@link recordOperations} has seen on each channel of the operation tracing channel. */
export interface OperationRecorder {
  readonly start: OperationStart[];
  readonly end: OperationStart[];
  readonly asyncStart: OperationEvent[];
  readonly asyncEnd: OperationEvent[];
  readonly error: OperationEvent[];
  /** Unsubscribes from every channel. Idempotent. */
  stop(): void;
}

/** Subscribes to the five channels of `tracing:statebridge:operation:*` and records each message. */
export function recordOperations(): OperationRecorder {
  const recorder = { start: [], end: [], asyncStart: [], asyncEnd: [], error: [] } as {
    start: OperationStart[];
    end: OperationStart[];
    asyncStart: OperationEvent[];
    asyncEnd: OperationEvent[];
    error: OperationEvent[];
  };
  const names = ["start", "end", "asyncStart", "asyncEnd", "error"] as const;
  const listeners = names.map((name) => {
    // A copy: the message is one object that the later channels complete.
    const listener = (message: unknown) => recorder[name].push({ ...(message as OperationEvent) });
    operationChannel[name].subscribe(listener);
    return () => operationChannel[name].unsubscribe(listener);
  });
  let stopped = false;
  return {
    ...recorder,
    stop() {
      if (stopped) return;
      stopped = true;
      for (const unsubscribe of listeners) unsubscribe();
    },
  };
}

/**
 * Registers the telemetry contract of a provider that publishes on the {@link OPERATION_CHANNEL}:
 * one `asyncEnd` event per call of each operation with the provider's kind, the operation, the
 * session, a duration and the outcome; a failure's StateError code; nothing once nobody listens.
 * `factory` gives a provider on a new, empty session; the suite closes it.
 */
export function describeOperationTelemetry(
  name: string,
  kind: ProviderKind,
  factory: () => Promise<StateProvider> | StateProvider,
): void {
  describe(`${name} telemetry on ${OPERATION_CHANNEL}`, () => {
    it("every operation publishes exactly one asyncEnd event, with provider, operation, session, duration and outcome ok", async () => {
      const provider = await factory();
      const recorder = recordOperations();
      try {
        await provider.register("telemetry_a", "integer", 1);
        await provider.get("telemetry_a");
        await provider.getVariable("telemetry_a");
        await provider.set("telemetry_a", 2);
        await provider.getMany(["telemetry_a"]);
        await provider.updateMany(new Map([["telemetry_a", 3]]), { atomic: true });
        await provider.list("telemetry_*");
        const document = await provider.export();
        const handle = await provider.watch(["telemetry_a"], () => undefined);
        await handle.close();
        await provider.delete("telemetry_a");
        await provider.import({ ...document, variables: [] });
        await provider.close();
      } finally {
        recorder.stop();
        await provider.close();
      }
      const order = [
        "register",
        "get",
        "getVariable",
        "set",
        "getMany",
        "updateMany",
        "list",
        "export",
        "watch",
        "delete",
        "import",
        "close",
      ];
      expect([...order].sort()).toEqual([...TRACED_OPERATIONS].sort());
      expect(recorder.asyncEnd.map((event) => event.operation)).toEqual(order);
      expect(recorder.start.map((event) => event.operation)).toEqual(order);
      expect(recorder.error).toEqual([]);
      for (const event of recorder.asyncEnd) {
        expect(event).toMatchObject({
          provider: kind,
          sessionId: provider.sessionId,
          outcome: "ok",
          errorCode: undefined,
        });
        expect(Number.isFinite(event.durationMs) && event.durationMs >= 0).toBe(true);
      }
      expect(recorder.asyncEnd[1]?.result).toBe(1);
    });

    it("a failed operation publishes one error and one asyncEnd event with outcome error and its StateError code", async () => {
      const provider = await factory();
      await provider.register("telemetry_b", "integer", 1);
      const recorder = recordOperations();
      const failures: unknown[] = [];
      try {
        await provider.set("telemetry_b", 2, { expectedVersion: 7 }).catch((error) => failures.push(error));
        await provider.get("telemetry_missing").catch((error) => failures.push(error));
        await provider.set("telemetry_b", "not an integer").catch((error) => failures.push(error));
        await provider.close();
        await provider.get("telemetry_b").catch((error) => failures.push(error));
      } finally {
        recorder.stop();
        await provider.close();
      }
      expect(failures.map((error) => (isStateError(error) ? error.code : error))).toEqual([
        "version_conflict",
        "not_found",
        "invalid_value",
        "closed",
      ]);
      const settled = recorder.asyncEnd.map(({ operation, outcome, errorCode }) => ({
        operation,
        outcome,
        errorCode,
      }));
      expect(settled).toEqual([
        { operation: "set", outcome: "error", errorCode: "version_conflict" },
        { operation: "get", outcome: "error", errorCode: "not_found" },
        { operation: "set", outcome: "error", errorCode: "invalid_value" },
        { operation: "close", outcome: "ok", errorCode: undefined },
        { operation: "get", outcome: "error", errorCode: "closed" },
      ]);
      expect(recorder.error.map((event) => event.errorCode)).toEqual([
        "version_conflict",
        "not_found",
        "invalid_value",
        "closed",
      ]);
      expect(recorder.error.map((event) => event.error)).toEqual(failures);
    });

    it("a store bound to the start channel is current when the operation settles (how APM tools follow a call)", async () => {
      const provider = await factory();
      const storage = new AsyncLocalStorage<string>();
      const seen: (string | undefined)[] = [];
      const onSettled = () => seen.push(storage.getStore());
      operationChannel.start.bindStore(
        storage,
        (message) => `trace of ${(message as OperationStart).operation}`,
      );
      operationChannel.asyncEnd.subscribe(onSettled);
      try {
        await provider.register("telemetry_d", "integer", 1);
        expect(storage.getStore()).toBeUndefined();
      } finally {
        operationChannel.asyncEnd.unsubscribe(onSettled);
        operationChannel.start.unbindStore(storage);
        await provider.close();
      }
      expect(seen).toEqual(["trace of register"]);
    });

    it("publishes nothing once its subscribers are gone, and the operations still work", async () => {
      const provider = await factory();
      const recorder = recordOperations();
      recorder.stop();
      try {
        await provider.register("telemetry_c", "integer", 1);
        expect(await provider.set("telemetry_c", 2)).toBe(1);
        await expect(provider.get("telemetry_missing")).rejects.toThrow(/not_found/);
      } finally {
        await provider.close();
      }
      expect(operationChannel.hasSubscribers).toBe(false);
      expect([recorder.start, recorder.asyncEnd, recorder.error]).toEqual([[], [], []]);
    });
  });
}
