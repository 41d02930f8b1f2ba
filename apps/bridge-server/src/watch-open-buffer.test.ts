import type { WatchEventBatch } from "@statebridge/session-store";
import { describe, expect, it } from "vitest";
import { createWatchOpenBuffer } from "./watch-open-buffer.js";
import { createWatchQueue } from "./watch-queue.js";

const batch = (revision: number, bytes: number): WatchEventBatch => ({ revision, events: [], bytes });
const limits = { messages: 3, bytes: 1_000 };

describe("createWatchOpenBuffer", () => {
  it("holds one batch larger than the byte limit when nothing else waits", () => {
    const buffer = createWatchOpenBuffer(createWatchQueue(limits), limits);
    expect(buffer.hold(batch(1, 5_000))).toBe(true);
    expect(buffer.hold(batch(2, 1))).toBe(false);
  });

  it("counts what the stream's queue holds against the limits", () => {
    const queue = createWatchQueue<string>(limits);
    queue.push("queued", 600);
    const buffer = createWatchOpenBuffer(queue, limits);
    expect(buffer.hold(batch(1, 300))).toBe(true);
    expect(buffer.hold(batch(2, 200))).toBe(false);
    expect(buffer.hold(batch(2, 100))).toBe(true);
    expect(buffer.hold(batch(3, 0))).toBe(false);
    expect([buffer.size, buffer.bytes]).toEqual([2, 400]);
  });

  it("holds what comes during the store's call whatever the limits, and counts it after", () => {
    const buffer = createWatchOpenBuffer(createWatchQueue(limits), limits);
    const result = buffer.unbounded(() => {
      for (let revision = 1; revision <= 5; revision++) expect(buffer.hold(batch(revision, 500))).toBe(true);
      return "opened";
    });
    expect(result).toBe("opened");
    expect(buffer.hold(batch(6, 1))).toBe(false);
    expect(buffer.take().map((held) => held.revision)).toEqual([1, 2, 3, 4, 5]);
    expect(buffer.holding).toBe(false);
  });

  it("drops what it holds, and what comes later, once released or once the queue has ended", () => {
    const released = createWatchOpenBuffer(createWatchQueue(limits), limits);
    released.hold(batch(1, 10));
    released.release();
    expect(released.hold(batch(2, 10))).toBe(true);
    expect([released.size, released.bytes, released.holding]).toEqual([0, 0, false]);

    const queue = createWatchQueue(limits);
    const buffer = createWatchOpenBuffer(queue, limits);
    buffer.hold(batch(1, 10));
    queue.abort();
    expect(buffer.hold(batch(2, 10))).toBe(true);
    expect(buffer.take()).toEqual([]);
  });
});
