import { Http2SessionManager } from "@connectrpc/connect-node";
import type { WatchStreamResponse } from "@statebridge/proto";
import { afterEach, describe, expect, it } from "vitest";
import {
  createGrpcWatchStreamOpener,
  createStreamConsumer,
  createWatchStreamSource,
  type StreamWatchHandle,
  type WatchStreamOpener,
} from "../src/index.js";
import { createSession, startBridge } from "./support/bridge.js";

// Issue 14, §4: one change reaching many watches of a multiplexed stream is one message naming
// them all, and it is delivered to every idle watcher in one synchronous loop (no promise,
// microtask or async iteration per watch), while every watch guarantee stays: order, one call
// at a time per watcher, a slow or throwing watcher holds back or stops nobody else, and a
// watch closed during the delivery gets nothing more.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(onEvents?: (response: WatchStreamResponse) => void) {
  const bridge = await startBridge({ heartbeatIntervalMs: 60_000 });
  cleanups.push(() => bridge.close());
  await createSession(bridge.server, "s", ["x"]);
  const sessionManager = new Http2SessionManager(bridge.server.url);
  cleanups.push(() => sessionManager.abort());
  const direct = createGrpcWatchStreamOpener({ sessionManager });
  // The real direct opener, told after each response has been handed on.
  const opener: WatchStreamOpener = (onResponse, onEnd, onBytes) =>
    direct(
      (response) => {
        onResponse(response);
        if (response.kind.case === "events") onEvents?.(response);
      },
      onEnd,
      onBytes,
    );
  const source = createWatchStreamSource(opener, { silenceLimitMs: 60_000, maxQueuedMessages: 1_000 });
  cleanups.push(() => source.close());
  const consumer = createStreamConsumer({ sessionId: "s", source });
  cleanups.push(() => consumer.close());
  const set = (value: number) => bridge.server.store.set("s", "x", value);
  return { consumer, set };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2));
}

describe("delivering one shared message to many watches", () => {
  it("a change reaches every idle watcher before the stream hands on its next response", async () => {
    const calledWhenHandedOn: number[] = [];
    let calls = 0;
    const { consumer, set } = await setUp(() => calledWhenHandedOn.push(calls));
    const watches = 50;
    for (let index = 0; index < watches; index++) {
      await consumer.watch(["x"], () => {
        calls++;
      });
    }
    await set(1);
    await set(2);
    await until(() => calls === 2 * watches);
    // One message per change, and every watcher had been called by the time it was handed on
    // (before, each watch read its message in a promise job of its own, after the response).
    expect(calledWhenHandedOn).toEqual([watches, 2 * watches]);
  });

  it("a slow async watcher holds back only itself, one call at a time and in order; a throwing watcher stops nobody", async () => {
    const { consumer, set } = await setUp();
    const fast: number[] = [];
    const slow: number[] = [];
    const thrown: number[] = [];
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let slowRunning = 0;
    let slowMostAtOnce = 0;
    await consumer.watch(["x"], async (event) => {
      slowRunning++;
      slowMostAtOnce = Math.max(slowMostAtOnce, slowRunning);
      slow.push(event.newValue as number);
      await released;
      slowRunning--;
    });
    const throwing = await consumer.watch(["x"], (event) => {
      thrown.push(event.newValue as number);
      throw new Error("watcher bug");
    });
    await consumer.watch(["x"], (event) => {
      fast.push(event.newValue as number);
    });
    for (const value of [1, 2, 3]) await set(value);
    await until(() => fast.length === 3 && thrown.length === 3);
    expect(fast).toEqual([1, 2, 3]);
    expect(thrown).toEqual([1, 2, 3]);
    expect(throwing.info().failed).toBe(3);
    // The slow watcher is still in its first call, the other changes wait for it.
    expect(slow).toEqual([1]);
    release();
    await until(() => slow.length === 3);
    expect(slow).toEqual([1, 2, 3]);
    expect(slowMostAtOnce).toBe(1);
  });

  it("a watch closed by its own watcher during a shared delivery gets nothing more; the others go on", async () => {
    const { consumer, set } = await setUp();
    const seen: number[][] = [[], [], []];
    const handles: StreamWatchHandle[] = [];
    for (const index of [0, 1, 2]) {
      handles.push(
        await consumer.watch(["x"], (event) => {
          seen[index]?.push(event.newValue as number);
          // The middle watcher closes its watch, and the first one's, while the message is
          // being handed to all three.
          if (index === 1) {
            void handles[1]?.close();
            void handles[0]?.close();
          }
        }),
      );
    }
    await set(1);
    await set(2);
    await until(() => (seen[2]?.length ?? 0) === 2);
    expect(seen).toEqual([[1], [1], [1, 2]]);
    expect(await handles[1]?.done).toBeUndefined();
    expect(consumer.watchers().map((info) => info.watchId)).toEqual([handles[2]?.watchId]);
  });
});
