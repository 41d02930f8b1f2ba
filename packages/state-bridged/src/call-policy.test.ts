import { Code, ConnectError } from "@connectrpc/connect";
import { StateError } from "@statebridge/state-provider";
import { describe, expect, it } from "vitest";
import { backoffDelay, createCallPolicy } from "./call-policy.js";

const retry = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 };

function policy(deadlineMs = 2_000) {
  return createCallPolicy({ deadlineMs, retry, target: "http://127.0.0.1:1", label: "the test provider" });
}

describe("createCallPolicy", () => {
  it("idempotent() retries unavailable and returns the first success", async () => {
    const calls = policy();
    let tries = 0;
    const result = await calls.idempotent(async () => {
      tries++;
      if (tries < 3) throw new ConnectError("connect ECONNREFUSED", Code.Unavailable);
      return "answer";
    });
    expect(result).toBe("answer");
    expect(tries).toBe(3);
  });

  it("idempotent() gives up after retry.attempts tries with unavailable", async () => {
    const calls = policy();
    let tries = 0;
    const failure = calls.idempotent(async () => {
      tries++;
      throw new ConnectError("connect ECONNREFUSED", Code.Unavailable);
    });
    await expect(failure).rejects.toMatchObject({ code: "unavailable" });
    expect(tries).toBe(retry.attempts);
  });

  it("idempotent() does not retry a refusal such as not_found", async () => {
    const calls = policy();
    let tries = 0;
    const failure = calls.idempotent(async () => {
      tries++;
      throw new ConnectError("no variable x", Code.NotFound);
    });
    await expect(failure).rejects.toMatchObject({ code: "not_found" });
    expect(tries).toBe(1);
  });

  it("idempotent() stops retrying when the next delay would pass the deadline", async () => {
    const calls = createCallPolicy({
      deadlineMs: 30,
      retry: { attempts: 100, baseDelayMs: 20, maxDelayMs: 20 },
      target: "t",
      label: "p",
    });
    let tries = 0;
    const failure = calls.idempotent(async () => {
      tries++;
      throw new ConnectError("down", Code.Unavailable);
    });
    await expect(failure).rejects.toMatchObject({ code: "unavailable" });
    expect(tries).toBeLessThan(100);
  });

  it("idempotent() hands every try the time left of one shared deadline", async () => {
    const calls = policy(1_000);
    const timeouts: number[] = [];
    await calls
      .idempotent(async ({ timeoutMs }) => {
        timeouts.push(timeoutMs);
        throw new ConnectError("down", Code.Unavailable);
      })
      .catch(() => undefined);
    expect(timeouts.length).toBe(retry.attempts);
    expect(timeouts[0]).toBeLessThanOrEqual(1_000);
    for (let index = 1; index < timeouts.length; index++) {
      expect(timeouts[index]).toBeLessThan(timeouts[index - 1] as number);
    }
  });

  it("once() never retries, even unavailable: a write that timed out may have been applied", async () => {
    const calls = policy();
    let tries = 0;
    const failure = calls.once(async () => {
      tries++;
      throw new ConnectError("deadline", Code.DeadlineExceeded);
    });
    await expect(failure).rejects.toMatchObject({ code: "unavailable" });
    expect(tries).toBe(1);
  });

  it("close() aborts calls in flight, which then fail with closed, and refuses later calls", async () => {
    const calls = policy();
    const pending = calls.once(
      ({ signal }) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener("abort", () => reject(new ConnectError("aborted", Code.Canceled)));
        }),
    );
    calls.close();
    await expect(pending).rejects.toMatchObject({ code: "closed" });
    expect(calls.closed).toBe(true);
    let ran = false;
    await expect(
      calls.idempotent(async () => {
        ran = true;
      }),
    ).rejects.toBeInstanceOf(StateError);
    expect(ran).toBe(false);
  });
});

describe("backoffDelay", () => {
  it("doubles from baseDelayMs, caps at maxDelayMs, and keeps at least half of each step", () => {
    const options = { attempts: 10, baseDelayMs: 50, maxDelayMs: 1_000 };
    for (let attempt = 1; attempt <= 8; attempt++) {
      const step = Math.min(1_000, 50 * 2 ** (attempt - 1));
      for (let sample = 0; sample < 50; sample++) {
        const delay = backoffDelay(attempt, options);
        expect(delay).toBeGreaterThanOrEqual(step / 2);
        expect(delay).toBeLessThanOrEqual(step);
      }
    }
  });

  it("spreads the delays of clients that failed together", () => {
    const delays = new Set(
      Array.from({ length: 20 }, () => backoffDelay(3, { attempts: 4, baseDelayMs: 50, maxDelayMs: 1_000 })),
    );
    expect(delays.size).toBeGreaterThan(1);
  });
});
