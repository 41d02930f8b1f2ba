import { assertIdentifierLength, describe, StateError } from "@statebridge/state-provider";

/** Sessions per {@link SessionStore.listSessions} page when no limit is given. */
export const DEFAULT_PAGE_SIZE = 100;
/** Most sessions one {@link SessionStore.listSessions} page may ask for. */
export const MAX_PAGE_SIZE = 1000;

/** The options of a session listing, checked: what every store refuses the same way. */
export interface PageOptions {
  readonly limit: number;
  readonly after: string | undefined;
  readonly prefix: string;
}

/**
 * Checks `listSessions` options: `limit` an integer from 1 to {@link MAX_PAGE_SIZE}, `after`
 * and `prefix` strings no longer than an identifier. @throws `invalid_value` otherwise.
 */
export function checkPageOptions(options: unknown): PageOptions {
  if (options === undefined) return { limit: DEFAULT_PAGE_SIZE, after: undefined, prefix: "" };
  if (typeof options !== "object" || options === null) {
    throw new StateError("invalid_value", `listSessions options must be an object, got ${describe(options)}`);
  }
  const { limit, after, prefix } = options as { limit?: unknown; after?: unknown; prefix?: unknown };
  if (
    limit !== undefined &&
    (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE)
  ) {
    throw new StateError(
      "invalid_value",
      `limit must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${describe(limit)}`,
    );
  }
  return {
    limit: (limit as number | undefined) ?? DEFAULT_PAGE_SIZE,
    after: optionalString(after, "after"),
    prefix: optionalString(prefix, "prefix") ?? "",
  };
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (typeof value !== "string") {
    throw new StateError("invalid_value", `${name} must be a string, got ${describe(value)}`);
  }
  assertIdentifierLength(value, name);
  return value;
}

/** A write's `source`, `unknown` when absent or empty. @throws `invalid_value` for a non-string. */
export function sourceOf(source: unknown): string {
  if (source === undefined || source === "") return "unknown";
  if (typeof source !== "string") {
    throw new StateError("invalid_value", `source must be a string, got ${describe(source)}`);
  }
  assertIdentifierLength(source, "a source");
  return source;
}

/** An option that must be a positive number, or its default. */
export function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new StateError("invalid_value", `${name} must be a positive number, got ${describe(value)}`);
  }
  return value;
}

/** An option that must be a positive integer, or its default. */
export function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw new StateError("invalid_value", `${name} must be a positive integer, got ${describe(value)}`);
  }
  return value;
}

/** An option that must be a non-negative integer, or its default. */
export function nonNegativeInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new StateError("invalid_value", `${name} must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}
