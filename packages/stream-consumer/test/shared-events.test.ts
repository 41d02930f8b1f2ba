import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BridgeService, type WatchStreamResponse } from "@statebridge/proto";
import type { WatchEvent } from "@statebridge/state-provider";
import { afterEach, describe, expect, it } from "vitest";
import {
  createGrpcWatchStreamOpener,
  createStreamConsumer,
  createWatchStreamSource,
  type WatchMessage,
  type WatchStreamOpener,
} from "../src/index.js";
import { createSession, startBridge } from "./support/bridge.js";

// A multiplexed consumer creates its watches with share_events: a change reaching several of
// them is one WatchStreamResponse naming them all, dispatched to each watch, decoded once, and
// each watcher still gets events of its own.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp() {
  const bridge = await startBridge({ heartbeatIntervalMs: 60_000 });
  cleanups.push(() => bridge.close());
  await createSession(bridge.server, "s", ["x", "y"]);
  const sessionManager = new Http2SessionManager(bridge.server.url);
  cleanups.push(() => sessionManager.abort());
  const client = createClient(
    BridgeService,
    createGrpcTransport({ baseUrl: bridge.server.url, sessionManager }),
  );
  return { bridge, client, sessionManager };
}

/** An opener on the direct path that records every response it hands on. */
function countingOpener(inner: WatchStreamOpener, responses: WatchStreamResponse[]): WatchStreamOpener {
  return (onResponse, onEnd, onBytes) =>
    inner(
      (response) => {
        responses.push(response);
        onResponse(response);
      },
      onEnd,
      onBytes,
    );
}

/** Reads the first `count` messages of a watch that are not heartbeats. */
async function read(messages: AsyncIterator<WatchMessage>, count: number): Promise<WatchMessage[]> {
  const read: WatchMessage[] = [];
  while (read.length < count) {
    const next = await messages.next();
    if (next.done === true) throw new Error("the watch ended");
    if (next.value.kind !== "heartbeat") read.push(next.value);
  }
  return read;
}

describe("shared events on a multiplexed stream", () => {
  it.each([true, false])(
    "shareEvents %s: a change reaching three watches comes as one message (true) or three (false), and each watch gets it",
    async (shareEvents) => {
      const { bridge, client, sessionManager } = await setUp();
      const responses: WatchStreamResponse[] = [];
      const source = createWatchStreamSource(
        countingOpener(createGrpcWatchStreamOpener({ sessionManager }), responses),
        {
          silenceLimitMs: 60_000,
          maxQueuedMessages: 100,
          shareEvents,
        },
      );
      cleanups.push(() => source.close());
      const stop = new AbortController();
      cleanups.push(() => stop.abort());
      const watches = [0, 1, 2].map(() =>
        source
          .open({ sessionId: "s", identifiers: ["x"], includeInitial: false }, stop.signal)
          [Symbol.asyncIterator](),
      );
      for (const watch of watches) expect((await read(watch, 1))[0]?.kind).toBe("opened");
      await client.setVariable({
        sessionId: "s",
        identifier: "x",
        value: { kind: { case: "integerValue", value: 4n } },
      });
      const received = await Promise.all(watches.map((watch) => read(watch, 1)));
      for (const [message] of received) {
        expect(message?.kind === "events" ? message.events.events[0]?.newValue?.kind.value : undefined).toBe(
          4n,
        );
      }
      const events = responses.filter((response) => response.kind.case === "events");
      expect(events).toHaveLength(shareEvents ? 1 : 3);
      expect(events.flatMap((response) => [response.watchId, ...response.alsoWatchIds])).toHaveLength(3);
      expect(bridge.server.store.stats().watchers).toBe(3);
    },
  );

  it.each(["connect", "direct"] as const)(
    "through %s: every watcher gets each change once, as events of its own that another watcher cannot change",
    async (path) => {
      const { client, sessionManager } = await setUp();
      const consumer = createStreamConsumer({
        sessionId: "s",
        client,
        ...(path === "direct" ? { connection: { sessionManager } } : {}),
        streams: "multiplexed",
      });
      cleanups.push(() => consumer.close());
      const seen: WatchEvent[][] = [[], [], [], []];
      const identifiers = [["x"], ["x"], ["x", "y"], ["y"]];
      for (const [index, watched] of identifiers.entries()) {
        await consumer.watch(watched, (event) => {
          seen[index]?.push(event);
          // A watcher that scribbles on its event must not change what another watcher sees.
          (event as { newValue: unknown }).newValue = "scribbled";
        });
      }
      const set = (identifier: string, value: number) =>
        client.setVariable({
          sessionId: "s",
          identifier,
          value: { kind: { case: "integerValue", value: BigInt(value) } },
        });
      await set("x", 1);
      await set("y", 2);
      await set("x", 3);
      const counts = [2, 2, 3, 1];
      while (seen.some((events, index) => events.length < (counts[index] as number))) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const summary = seen.map((events) => events.map((event) => `${event.revision}:${event.name}`));
      expect(summary).toEqual([["3:x", "5:x"], ["3:x", "5:x"], ["3:x", "4:y", "5:x"], ["4:y"]]);
      // Four watchers, each its own event objects.
      expect(new Set(seen.flat()).size).toBe(8);
    },
  );
});
