import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createDeadlineWatchdog } from "./deadline-watchdog.js";
import { MAX_TIMER_MS } from "./timeout.js";

describe("createDeadlineWatchdog", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("expires a deadline once it passes, and not before", () => {
    const watchdog = createDeadlineWatchdog();
    const expired: string[] = [];
    watchdog.watch(100, () => expired.push("a"));
    vi.advanceTimersByTime(99);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(["a"]);
    vi.advanceTimersByTime(1_000);
    expect(expired).toEqual(["a"]);
    expect(watchdog.size).toBe(0);
  });

  it("a cancelled deadline never expires", () => {
    const watchdog = createDeadlineWatchdog();
    const expired: string[] = [];
    const deadline = watchdog.watch(100, () => expired.push("a"));
    watchdog.cancel(deadline);
    vi.advanceTimersByTime(1_000);
    expect(expired).toEqual([]);
    expect(watchdog.size).toBe(0);
  });

  it("a deadline earlier than the armed one expires at its own time", () => {
    const watchdog = createDeadlineWatchdog();
    const expired: string[] = [];
    watchdog.watch(1_000, () => expired.push("late"));
    watchdog.watch(10, () => expired.push("early"));
    vi.advanceTimersByTime(10);
    expect(expired).toEqual(["early"]);
    vi.advanceTimersByTime(990);
    expect(expired).toEqual(["early", "late"]);
  });

  it("after the armed deadline was cancelled, the next one still expires on time", () => {
    const watchdog = createDeadlineWatchdog();
    const expired: string[] = [];
    const first = watchdog.watch(10, () => expired.push("first"));
    watchdog.watch(50, () => expired.push("second"));
    watchdog.cancel(first);
    vi.advanceTimersByTime(49);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(["second"]);
  });

  it("cancelling a deadline again, after it expired, or on another watchdog changes nothing", () => {
    const watchdog = createDeadlineWatchdog();
    const other = createDeadlineWatchdog();
    const expired: string[] = [];
    const early = watchdog.watch(10, () => expired.push("early"));
    const middle = watchdog.watch(20, () => expired.push("middle"));
    watchdog.watch(30, () => expired.push("late"));
    other.cancel(middle);
    watchdog.cancel(middle);
    watchdog.cancel(middle);
    expect(watchdog.size).toBe(2);
    vi.advanceTimersByTime(10);
    expect(expired).toEqual(["early"]);
    watchdog.cancel(early);
    expect(watchdog.size).toBe(1);
    vi.advanceTimersByTime(20);
    expect(expired).toEqual(["early", "late"]);
    expect(watchdog.size).toBe(0);
  });

  it("expires every deadline that passed together, and keeps watching the others", () => {
    const watchdog = createDeadlineWatchdog();
    const expired: number[] = [];
    for (const milliseconds of [30, 10, 20, 500])
      watchdog.watch(milliseconds, () => expired.push(milliseconds));
    vi.advanceTimersByTime(30);
    expect(expired.sort((a, b) => a - b)).toEqual([10, 20, 30]);
    expect(watchdog.size).toBe(1);
    vi.advanceTimersByTime(470);
    expect(expired).toContain(500);
  });

  // Regression: a deadline past 2^31 - 1 ms made Node fire the timer after 1 ms, and the
  // watchdog re-armed it every millisecond (13 % CPU for a grpc-timeout of 99999999H).
  it("a deadline past the longest Node timer arms no timer that fires before it is due", () => {
    const watchdog = createDeadlineWatchdog();
    const expired: string[] = [];
    const armed = vi.spyOn(globalThis, "setTimeout");
    watchdog.watch(MAX_TIMER_MS * 4, () => expired.push("far"));
    vi.advanceTimersByTime(1_000);
    expect(armed.mock.calls.length).toBe(1);
    expect(armed.mock.calls.every(([, delay]) => (delay ?? 0) <= MAX_TIMER_MS)).toBe(true);
    vi.advanceTimersByTime(MAX_TIMER_MS * 4);
    expect(expired).toEqual(["far"]);
    expect(armed.mock.calls.length).toBeLessThanOrEqual(5);
    armed.mockRestore();
  });

  it("an infinite deadline never expires and arms no timer", () => {
    const watchdog = createDeadlineWatchdog();
    const expired: string[] = [];
    const armed = vi.spyOn(globalThis, "setTimeout");
    watchdog.watch(Number.POSITIVE_INFINITY, () => expired.push("never"));
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(expired).toEqual([]);
    expect(armed).not.toHaveBeenCalled();
    armed.mockRestore();
  });
});
