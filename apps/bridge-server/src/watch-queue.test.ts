import { describe, expect, it } from "vitest";
import { createWatchQueue, QUEUE_DONE } from "./watch-queue.js";

describe("createWatchQueue", () => {
  it("hands out messages in the order they were pushed", async () => {
    const queue = createWatchQueue<number>({ messages: 10, bytes: 1_000_000 });
    for (const value of [1, 2, 3]) expect(queue.push(value)).toBe(true);
    expect([await queue.take(), await queue.take(), await queue.take()]).toEqual([1, 2, 3]);
  });

  it("wakes a waiting taker on push", async () => {
    const queue = createWatchQueue<string>({ messages: 1, bytes: 1_000_000 });
    const taken = queue.take();
    queue.push("late");
    expect(await taken).toBe("late");
  });

  it("refuses a push beyond the limit, but not inside unbounded()", () => {
    const queue = createWatchQueue<number>({ messages: 2, bytes: 1_000_000 });
    expect(queue.push(1)).toBe(true);
    expect(queue.push(2)).toBe(true);
    expect(queue.push(3)).toBe(false);
    expect(queue.unbounded(() => queue.push(3))).toBe(true);
    expect(queue.size).toBe(3);
    expect(queue.push(4)).toBe(false);
  });

  it("charge() adds bytes to the last waiting message, and nothing when none waits", async () => {
    const queue = createWatchQueue<number>({ messages: 10, bytes: 100 });
    queue.charge(50);
    expect(queue.bytes).toBe(0);
    queue.push(1, 10);
    queue.push(2, 10);
    queue.charge(85);
    expect(queue.bytes).toBe(105);
    expect(queue.push(3, 1)).toBe(false);
    await queue.take();
    expect(queue.bytes).toBe(95);
    await queue.take();
    expect(queue.bytes).toBe(0);
  });

  it("finish() delivers what is queued, then the error", async () => {
    const queue = createWatchQueue<number>({ messages: 5, bytes: 1_000_000 });
    queue.push(1);
    queue.finish(new Error("session ended"));
    expect(queue.push(2)).toBe(false);
    expect(await queue.take()).toBe(1);
    await expect(queue.take()).rejects.toThrow("session ended");
  });

  it("finish() without an error ends with QUEUE_DONE", async () => {
    const queue = createWatchQueue<number>({ messages: 5, bytes: 1_000_000 });
    const taken = queue.take();
    queue.finish();
    expect(await taken).toBe(QUEUE_DONE);
  });

  it("abort() drops what is queued and rejects a waiting taker", async () => {
    const queue = createWatchQueue<number>({ messages: 5, bytes: 1_000_000 });
    queue.push(1);
    queue.push(2);
    queue.abort(new Error("too slow"));
    expect(queue.size).toBe(0);
    await expect(queue.take()).rejects.toThrow("too slow");
    const waiting = createWatchQueue<number>({ messages: 5, bytes: 1_000_000 });
    const taken = waiting.take();
    waiting.abort(new Error("shutting down"));
    await expect(taken).rejects.toThrow("shutting down");
  });

  it("keeps its order across many pushes and takes (compaction)", async () => {
    const queue = createWatchQueue<number>({ messages: 10_000, bytes: 1_000_000 });
    const seen: number[] = [];
    for (let index = 0; index < 5000; index += 1) {
      queue.push(index);
      if (index % 3 === 0) seen.push((await queue.take()) as number);
    }
    while (queue.size > 0) seen.push((await queue.take()) as number);
    expect(seen).toEqual(Array.from({ length: 5000 }, (_, index) => index));
  });

  it("refuses a push past the byte limit, except into an empty queue", async () => {
    const queue = createWatchQueue<string>({ messages: 100, bytes: 10 });
    expect(queue.push("large", 50)).toBe(true);
    expect(queue.push("small", 1)).toBe(false);
    await queue.take();
    expect(queue.bytes).toBe(0);
    expect(queue.push("a", 6)).toBe(true);
    expect(queue.push("b", 4)).toBe(true);
    expect(queue.bytes).toBe(10);
    expect(queue.push("c", 1)).toBe(false);
  });

  it("counts bytes inside unbounded(); withinBytes() waits until takes bring them under the limit", async () => {
    const queue = createWatchQueue<number>({ messages: 100, bytes: 10 });
    queue.unbounded(() => {
      for (let index = 0; index < 4; index += 1) queue.push(index, 5);
    });
    expect(queue.bytes).toBe(20);
    let within = false;
    const waiting = queue.withinBytes().then(() => {
      within = true;
    });
    await queue.take();
    await Promise.resolve();
    expect(within).toBe(false);
    await queue.take();
    await waiting;
    expect(queue.bytes).toBe(10);
  });
});
