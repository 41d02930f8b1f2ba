import { describe, expect, it } from "vitest";
import { createMessageChannel } from "./message-channel.js";

/** A promise and what settles it. */
function gate(): { promise: Promise<void>; open(): void; reject(error: unknown): void } {
  let open = () => {};
  let reject: (error: unknown) => void = () => {};
  const promise = new Promise<void>((resolve, rejectPromise) => {
    open = resolve;
    reject = rejectPromise;
  });
  return { promise, open, reject };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("a message channel read by consume()", () => {
  it("hands a message to an idle handler inside push() itself", () => {
    const channel = createMessageChannel<number>();
    const handled: number[] = [];
    channel.consume(
      {
        message: (message) => {
          handled.push(message);
          return undefined;
        },
      },
      () => {},
    );
    channel.push(1);
    expect(handled).toEqual([1]);
    channel.push(2);
    expect(handled).toEqual([1, 2]);
    expect(channel.size).toBe(0);
  });

  it("a handler's promise holds the next messages back, in order, counted in size until it settles", async () => {
    const channel = createMessageChannel<number>();
    const handled: number[] = [];
    const first = gate();
    let running = 0;
    let mostAtOnce = 0;
    channel.consume(
      {
        message: (message) => {
          handled.push(message);
          running++;
          mostAtOnce = Math.max(mostAtOnce, running);
          if (message !== 1) {
            running--;
            return undefined;
          }
          return first.promise.then(() => {
            running--;
          });
        },
      },
      () => {},
    );
    for (const message of [1, 2, 3]) channel.push(message);
    expect(handled).toEqual([1]);
    expect(channel.size).toBe(2);
    first.open();
    await settle();
    expect(handled).toEqual([1, 2, 3]);
    expect(channel.size).toBe(0);
    expect(mostAtOnce).toBe(1);
  });

  it("fail() while the handler is busy is told only once its promise settled, and drops what waits", async () => {
    const channel = createMessageChannel<number>();
    const handled: number[] = [];
    const ends: unknown[] = [];
    const busy = gate();
    channel.consume(
      {
        message: (message) => {
          handled.push(message);
          return busy.promise;
        },
      },
      (error) => ends.push(error),
    );
    channel.push(1);
    channel.push(2);
    channel.fail("cut off");
    channel.push(3);
    await settle();
    expect(ends).toEqual([]);
    busy.open();
    await settle();
    expect(ends).toEqual(["cut off"]);
    expect(handled).toEqual([1]);
  });

  it("what a handler throws or rejects with ends the channel with it, once", async () => {
    for (const failing of ["throws", "rejects"] as const) {
      const channel = createMessageChannel<number>();
      const handled: number[] = [];
      const ends: unknown[] = [];
      channel.consume(
        {
          message: (message) => {
            handled.push(message);
            if (failing === "throws") throw new Error("bad message");
            return Promise.reject(new Error("bad message"));
          },
        },
        (error) => ends.push(error),
      );
      channel.push(1);
      await settle();
      channel.push(2);
      channel.end();
      await settle();
      expect(handled).toEqual([1]);
      expect(ends).toHaveLength(1);
      expect((ends[0] as Error).message).toBe("bad message");
      expect(channel.ended).toBe(true);
    }
  });

  it("end() is told after every waiting message was handled", async () => {
    const channel = createMessageChannel<number>();
    const seen: unknown[] = [];
    const busy = gate();
    channel.push(1);
    channel.consume(
      {
        message: (message) => {
          seen.push(message);
          return message === 1 ? busy.promise : undefined;
        },
      },
      (error) => seen.push(`end ${String(error)}`),
    );
    channel.push(2);
    channel.end();
    expect(seen).toEqual([1]);
    busy.open();
    await settle();
    expect(seen).toEqual([1, 2, "end undefined"]);
  });
});
