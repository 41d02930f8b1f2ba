import { expect } from "vitest";
import { isStateError, type StateError, type StateErrorCode } from "../errors.js";
import type { StateProvider } from "../provider.js";
import { valuesEqual } from "../type-system.js";
import type { VariableValue } from "../variable.js";
import type { WatchEvent, Watcher } from "../watch.js";

/**
 * Runs `action` and checks that it fails with a {@link StateError} of `code`, whether it
 * rejects or throws at once.
 * @returns the error, for further checks.
 */
export async function expectStateError(
  action: () => unknown,
  code: StateErrorCode,
  what = "the call",
): Promise<StateError> {
  let outcome:
    | { readonly failed: false; readonly value: unknown }
    | { readonly failed: true; readonly error: unknown };
  try {
    outcome = { failed: false, value: await action() };
  } catch (error) {
    outcome = { failed: true, error };
  }
  if (!outcome.failed) {
    throw new Error(
      `${what} was expected to fail with ${code}, but it succeeded with ${preview(outcome.value)}`,
    );
  }
  const { error } = outcome;
  if (!isStateError(error)) {
    throw new Error(
      `${what} was expected to fail with a StateError of code ${code}, but threw ${String(error)}`,
      {
        cause: error,
      },
    );
  }
  if (error.code !== code) {
    throw new Error(`${what} was expected to fail with ${code}, but failed with ${error.message}`, {
      cause: error,
    });
  }
  return error;
}

/**
 * Polls `condition` until it holds, then returns. Events of a network backend arrive
 * asynchronously, so tests wait for what they expect instead of assuming when it arrives.
 * @throws after `timeoutMs`, naming what was awaited and, if given, what was seen instead.
 */
export async function waitFor(
  condition: () => boolean,
  description: string,
  timeoutMs: number,
  seen?: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(
        `gave up after ${timeoutMs} ms waiting for ${description}${seen === undefined ? "" : `; seen: ${seen()}`}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 20);
  }
}

/** A watcher that keeps every event it is given, in order of delivery. */
export interface EventRecorder {
  readonly events: WatchEvent[];
  readonly watcher: Watcher;
  /** Waits until `count` events have arrived. */
  waitForCount(count: number, timeoutMs: number): Promise<void>;
  /** Waits until an event matching `predicate` has arrived. */
  waitForEvent(
    predicate: (event: WatchEvent) => boolean,
    description: string,
    timeoutMs: number,
  ): Promise<WatchEvent>;
}

/** Creates an {@link EventRecorder}. */
export function recordEvents(): EventRecorder {
  const events: WatchEvent[] = [];
  return {
    events,
    watcher: (event) => {
      events.push(event);
    },
    async waitForCount(count, timeoutMs) {
      await waitFor(
        () => events.length >= count,
        `${count} events`,
        timeoutMs,
        () => summarize(events),
      );
    },
    async waitForEvent(predicate, description, timeoutMs) {
      await waitFor(
        () => events.some(predicate),
        description,
        timeoutMs,
        () => summarize(events),
      );
      return events.find(predicate) as WatchEvent;
    },
  };
}

/** A short, readable list of events for failure messages. */
export function summarize(events: readonly WatchEvent[]): string {
  const shown = events
    .slice(-20)
    .map(
      (event) =>
        `${event.type} ${event.identifier} v${event.version} r${event.revision} ${preview(event.newValue)}`,
    );
  return `${events.length} event(s)${events.length > 20 ? ", last 20" : ""}: [${shown.join("; ")}]`;
}

/**
 * The whole observable state of a session, as exact text: its export without `exportedAt`.
 * Two equal results mean nothing changed: no value, version, metadata, timestamp or revision.
 */
export async function stateOf(provider: StateProvider): Promise<string> {
  const { exportedAt: _exportedAt, ...rest } = await provider.export();
  return JSON.stringify(rest);
}

/** The session's current revision, read through `export()`. */
export async function revisionOf(provider: StateProvider): Promise<number> {
  return (await provider.export()).revision;
}

/**
 * Checks two stored values for exact equality (NaN equals NaN, -0 differs from 0, arrays and
 * tensors element by element), with a readable failure.
 */
export function expectSameValue(
  actual: VariableValue | undefined,
  expected: VariableValue | undefined,
  what = "value",
): void {
  if (!valuesEqual(actual, expected)) {
    expect.fail(`${what}: expected ${preview(expected)}, got ${preview(actual)}`);
  }
}

/** Checks that a timestamp is a plausible wall-clock reading taken between `before` and `after`. */
export function expectWallClock(timestamp: number, before: number, after: number, what = "timestamp"): void {
  // Generous slack: a remote backend's clock may differ a little from this process's.
  const slack = 5 * 60_000;
  expect(Number.isFinite(timestamp), `${what} is a finite number`).toBe(true);
  expect(timestamp, `${what} is wall-clock epoch milliseconds`).toBeGreaterThanOrEqual(before - slack);
  expect(timestamp, `${what} is wall-clock epoch milliseconds`).toBeLessThanOrEqual(after + slack);
}

/** A short description of a value for failure messages; large arrays are cut. */
export function preview(value: unknown): string {
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string")
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (value === undefined) return "undefined";
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    const items = Array.from(value as ArrayLike<unknown>);
    const shown = items.slice(0, 8).map(preview);
    return `[${shown.join(", ")}${items.length > 8 ? `, ... (${items.length})` : ""}]`;
  }
  if (typeof value === "object" && value !== null && "shape" in value && "data" in value) {
    const tensor = value as { shape: unknown; data: unknown };
    return `{ shape: ${preview(tensor.shape)}, data: ${preview(tensor.data)} }`;
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Waits for `promise` to settle, or fails after `timeoutMs` naming `what`. */
export async function settlesWithin<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`gave up after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
