// Issue 9, item 3's last bullet: under each attack, run for ATTACK_SECONDS (30 s; override with
// STATEBRIDGE_ATTACK_SECONDS for local runs) against the built CLI in a child process, the
// server's resident memory stays under RSS_BOUND_BYTES (400 MiB) and a bystander keeps being
// answered, on a connection it holds and on new ones. The attacks themselves live in
// support-attacks.mjs, shared with `pnpm bench:attacks`, which measures the bystander's latency.
import { describe, expect, it } from "vitest";
import {
  ATTACK_SECONDS,
  BYSTANDER_DEADLINE_MS,
  RSS_BOUND_BYTES,
  runAttack,
} from "./support-attack-runner.mjs";
import { ATTACKS } from "./support-attacks.mjs";

const MiB = 1024 * 1024;

describe.each(ATTACKS)("under attack: $name", (attack) => {
  it(
    `for ${ATTACK_SECONDS} s the server stays under ${RSS_BOUND_BYTES / MiB} MiB and answers a bystander's every Ping within ${BYSTANDER_DEADLINE_MS / 1000} s`,
    async () => {
      const report = await runAttack(attack);
      const context = JSON.stringify(
        {
          attack: attack.description,
          serverArgs: report.serverArgs,
          baselineMiB: Math.round(report.baselineRssBytes / MiB),
          peakMiB: Math.round(report.peakRssBytes / MiB),
          attackStats: report.attackStats,
          bystanderFailures: report.bystander.failures.slice(0, 5),
          newConnectionFailures: report.bystander.freshFailures.slice(0, 5),
          serverExit: report.serverExit,
          stderrTail: report.stderrTail.slice(-1500),
        },
        null,
        2,
      );
      expect(report.serverExit, `the server exited during the attack\n${context}`).toBeUndefined();
      expect(report.peakRssBytes, context).toBeLessThan(RSS_BOUND_BYTES);
      expect(report.bystander.failures, context).toEqual([]);
      expect(report.bystander.freshFailures, context).toEqual([]);
      expect(report.bystander.answered, context).toBeGreaterThan(0);
      expect(report.bystander.freshAnswered, context).toBeGreaterThan(0);
      // A grpc-timeout from the wire is clamped, never handed to a Node timer it overflows.
      expect(report.overflowWarnings, context).toBe(0);
      // The attack itself ran: an attack that did nothing would prove nothing.
      expect(report.attackError, context).toBeUndefined();
      expect(report.attackStats.error, context).toBeUndefined();
      expect(Object.keys(report.attackStats).length, context).toBeGreaterThan(0);
    },
    ATTACK_SECONDS * 1000 + 90_000,
  );
});
