import { describe, expect, it } from "vitest";
import { backoffDelay, sleep } from "./backoff.js";

describe("backoffDelay", () => {
  const options = { baseDelayMs: 100, maxDelayMs: 1_000, jitter: 0 };

  it("doubles from the base delay per attempt and stops at the cap", () => {
    expect([1, 2, 3, 4, 5, 60, 2_000].map((attempt) => backoffDelay(attempt, options))).toEqual([
      100, 200, 400, 800, 1_000, 1_000, 1_000,
    ]);
  });

  it("shortens each delay by up to its jitter share, never lengthens it", () => {
    expect(backoffDelay(1, { ...options, jitter: 0.5, random: () => 0 })).toBe(100);
    expect(backoffDelay(1, { ...options, jitter: 0.5, random: () => 0.999 })).toBeCloseTo(50.05);
    for (let index = 0; index < 100; index++) {
      const delay = backoffDelay(3, { ...options, jitter: 0.2 });
      expect(delay).toBeGreaterThan(400 * 0.8 - 1e-9);
      expect(delay).toBeLessThanOrEqual(400);
    }
  });
});

describe("sleep", () => {
  it("resolves at once when the signal aborts", async () => {
    const controller = new AbortController();
    const waiting = sleep(60_000, controller.signal);
    controller.abort();
    await expect(waiting).resolves.toBeUndefined();
  });

  it("resolves at once for a signal that already aborted", async () => {
    await expect(sleep(60_000, AbortSignal.abort())).resolves.toBeUndefined();
  });
});
