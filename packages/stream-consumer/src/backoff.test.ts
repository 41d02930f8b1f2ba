import { describe, expect, it } from "vitest";
import { DEFAULT_RECONNECT, reconnectDelay, resolveReconnectOptions } from "./backoff.js";

describe("reconnect backoff", () => {
  it("defaults to 1 s base, 30 s cap and 10 failures, as the original design", () => {
    expect(DEFAULT_RECONNECT.baseDelayMs).toBe(1_000);
    expect(DEFAULT_RECONNECT.maxDelayMs).toBe(30_000);
    expect(DEFAULT_RECONNECT.maxFailures).toBe(10);
  });

  it("doubles from the base delay and stops at the cap", () => {
    const options = resolveReconnectOptions({ jitter: 0 });
    const delays = [1, 2, 3, 4, 5, 6, 7, 50, 5_000].map((failures) => reconnectDelay(failures, options));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  });

  it("shortens each delay by at most the jitter share, never exceeding the cap", () => {
    const low = resolveReconnectOptions({ jitter: 0.2, random: () => 0.999_999 });
    const high = resolveReconnectOptions({ jitter: 0.2, random: () => 0 });
    expect(reconnectDelay(1, high)).toBe(1_000);
    expect(reconnectDelay(1, low)).toBeCloseTo(800, 0);
    expect(reconnectDelay(20, high)).toBe(30_000);
    expect(reconnectDelay(20, low)).toBeGreaterThanOrEqual(24_000);
  });

  it("spreads the delays of many clients when random varies", () => {
    let seed = 1;
    const random = () => {
      seed = (seed * 16_807) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    const options = resolveReconnectOptions({ random });
    const delays = new Set(Array.from({ length: 20 }, () => Math.round(reconnectDelay(3, options))));
    expect(delays.size).toBeGreaterThan(10);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(3_200);
      expect(delay).toBeLessThanOrEqual(4_000);
    }
  });

  it("refuses options out of range", () => {
    expect(() => resolveReconnectOptions({ baseDelayMs: -1 })).toThrow(RangeError);
    expect(() => resolveReconnectOptions({ baseDelayMs: 10, maxDelayMs: 5 })).toThrow(RangeError);
    expect(() => resolveReconnectOptions({ maxFailures: 0 })).toThrow(RangeError);
    expect(() => resolveReconnectOptions({ jitter: 2 })).toThrow(RangeError);
  });
});
