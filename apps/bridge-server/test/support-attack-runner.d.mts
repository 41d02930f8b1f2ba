import type { Attack, AttackStats } from "./support-attacks.mjs";

/** The bridge-server CLI, as `pnpm build` leaves it. */
export const BRIDGE_SERVER_CLI: string;
/** How long each attack runs: 30 s, or STATEBRIDGE_ATTACK_SECONDS for local runs. */
export const ATTACK_SECONDS: number;
/** The server's resident memory must stay under this during every attack. */
export const RSS_BOUND_BYTES: number;
/** A bystander's call not answered within this counts as a failure. */
export const BYSTANDER_DEADLINE_MS: number;

/** The server's resident set, in bytes; undefined once it has exited. */
export function residentBytes(pid: number): number | undefined;
/** The CLI's `--help` text. */
export function serverHelp(): string;

/** What the bystander saw. */
export interface BystanderResult {
  readonly answered: number;
  readonly latenciesNs: number[];
  readonly failures: string[];
  readonly freshAnswered: number;
  readonly freshFailures: string[];
}

/** What {@link runAttack} reports. */
export interface AttackReport {
  readonly name: string;
  readonly seconds: number;
  readonly serverArgs: string[];
  readonly baselineRssBytes: number;
  readonly peakRssBytes: number;
  readonly bystander: BystanderResult;
  readonly attackStats: AttackStats;
  readonly attackError: string | undefined;
  readonly serverExit: { readonly code: number | null; readonly signal: string | null } | undefined;
  readonly overflowWarnings: number;
  readonly stderrTail: string;
}

/** Runs one attack for `seconds` against a new server child process. */
export function runAttack(attack: Attack, options?: { readonly seconds?: number }): Promise<AttackReport>;
