import { describe, StateError } from "@statebridge/state-provider";

/**
 * A program a Context runs or hands to another process. Any shape is accepted: only the keys
 * below are read, everything else is kept as given.
 */
export interface ProgramSpec {
  /** A name for the program; one is made up if absent. */
  readonly name?: string;
  /** The runtime the program needs, such as `"python"`. */
  readonly runtime?: string;
  /** True when the program runs in another process whatever its runtime. */
  readonly requiresBridge?: boolean;
  /** Modules of the program; each may name its own `runtime` or `requiresBridge`. */
  readonly modules?: readonly unknown[];
  readonly [key: string]: unknown;
}

/** The runtimes that run inside this process: a program needing one of them stays local. */
export const LOCAL_RUNTIMES: ReadonlySet<string> = new Set(["typescript", "javascript", "node", "local"]);

/**
 * Tells whether a program needs the bridge, and why. A program needs it when
 * - `requiresBridge` is `true`, or
 * - `runtime` is a non-empty string other than typescript, javascript, node or local, or
 * - any entry of `modules` (at any depth of `modules`) is an object meeting one of the two
 *   rules above.
 * Other fields, missing fields and fields of unexpected kinds never trigger a switch and never
 * fail (a module without a `class` is fine).
 * @returns the reason, or `undefined` if the program runs in process.
 * @throws `invalid_value` if the spec is not an object.
 */
export function bridgeReason(spec: unknown): string | undefined {
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
    throw new StateError("invalid_value", `a program spec must be an object, got ${describe(spec)}`);
  }
  return reasonOf(spec as Record<string, unknown>, "program", 0);
}

function reasonOf(spec: Record<string, unknown>, path: string, depth: number): string | undefined {
  if (spec.requiresBridge === true) return `${path} sets requiresBridge`;
  const runtime = spec.runtime;
  if (typeof runtime === "string" && runtime !== "" && !LOCAL_RUNTIMES.has(runtime.toLowerCase())) {
    return `${path} needs the ${runtime} runtime`;
  }
  if (depth < 8 && Array.isArray(spec.modules)) {
    for (let index = 0; index < spec.modules.length; index++) {
      const module: unknown = spec.modules[index];
      if (typeof module !== "object" || module === null || Array.isArray(module)) continue;
      const reason = reasonOf(module as Record<string, unknown>, `${path}.modules[${index}]`, depth + 1);
      if (reason !== undefined) return reason;
    }
  }
  return undefined;
}
