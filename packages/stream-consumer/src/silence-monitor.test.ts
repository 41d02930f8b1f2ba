import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createSilenceMonitor } from "./silence-monitor.js";

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "performance"] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe("createSilenceMonitor", () => {
  it("calls a stream silent once, within 1.25 limits of waiting without a message", () => {
    const monitor = createSilenceMonitor(100);
    const onSilent = vi.fn();
    monitor.watch(onSilent);
    vi.advanceTimersByTime(99);
    expect(onSilent).not.toHaveBeenCalled();
    vi.advanceTimersByTime(26);
    expect(onSilent).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1_000);
    expect(onSilent).toHaveBeenCalledTimes(1);
  });

  it("counts silence from the last message, and not while the consumer is busy", () => {
    const monitor = createSilenceMonitor(100);
    const onSilent = vi.fn();
    const watch = monitor.watch(onSilent);
    for (let step = 0; step < 10; step++) {
      vi.advanceTimersByTime(80);
      watch.waiting();
    }
    watch.heard();
    vi.advanceTimersByTime(1_000);
    expect(onSilent).not.toHaveBeenCalled();
    watch.waiting();
    vi.advanceTimersByTime(125);
    expect(onSilent).toHaveBeenCalledTimes(1);
  });

  it("watches each stream on its own, and forgets a stopped one", () => {
    const monitor = createSilenceMonitor(100);
    const quiet = vi.fn();
    const talkative = vi.fn();
    const stopped = vi.fn();
    monitor.watch(quiet);
    const active = monitor.watch(talkative);
    monitor.watch(stopped).stop();
    for (let step = 0; step < 5; step++) {
      vi.advanceTimersByTime(50);
      active.waiting();
    }
    expect(quiet).toHaveBeenCalledTimes(1);
    expect(talkative).not.toHaveBeenCalled();
    expect(stopped).not.toHaveBeenCalled();
  });
});
