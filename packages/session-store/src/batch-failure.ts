import { StateError, type StateErrorFailure } from "@statebridge/state-provider";

/**
 * The `partial_failure` of a batch whose updates did not all apply: how many failed, whether
 * the others were applied (at `revision`) and the first five failures, carrying every failure,
 * the versions applied, and the first error as its cause.
 */
export function partialFailure(
  failures: ReadonlyMap<string, StateErrorFailure>,
  appliedCount: number,
  revision: number,
  versions: ReadonlyMap<string, number>,
  firstError: StateError | undefined,
): StateError {
  const shown = [...failures]
    .slice(0, 5)
    .map(([identifier, failure]) => `${JSON.stringify(identifier)}: ${failure.code}: ${failure.message}`);
  return new StateError(
    "partial_failure",
    `${failures.size} of ${failures.size + appliedCount} updates failed` +
      (appliedCount > 0 ? ` (the others were applied at revision ${revision})` : " (nothing was applied)") +
      `: ${shown.join("; ")}${failures.size > 5 ? "; ..." : ""}`,
    { failures, applied: versions, cause: firstError },
  );
}
