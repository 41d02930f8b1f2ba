import type { WriteRecord } from "../history-checker.js";
import type { Random } from "./random.js";

/**
 * A reader of a history run: a client of its own (a BridgedState with its near cache, say)
 * that reads the run's variables and now and then writes one. Its watch streams should go
 * through the run's faulty proxy and its unary calls straight to the server: a write that a
 * fault failed may have applied, and the run's write log must hold every applied write.
 */
export interface HistoryReader {
  /** Reads a variable by name; `fresh` asks the server past any cache. */
  read(name: string, fresh: boolean): Promise<{ id: string; version: number; value: number }>;
  /** Writes one variable by name, as a non-atomic batch of one: its revision and version. */
  write(name: string, value: number): Promise<{ revision: number; version: number }>;
  close(): Promise<void>;
}

/** Where a reader connects: the run's faulty proxy (for streams) and the server itself. */
export interface ReaderAddresses {
  readonly proxyUrl: string;
  readonly directUrl: string;
  readonly sessionId: string;
}

/** Opens a {@link HistoryReader} on the run's session. */
export type OpenHistoryReader = (addresses: ReaderAddresses) => Promise<HistoryReader>;

/** One step of a reader, in the order it made them. */
export type ReaderStep =
  | {
      readonly kind: "read";
      readonly name: string;
      readonly id: string;
      readonly version: number;
      readonly value: number;
      readonly fresh: boolean;
    }
  | { readonly kind: "write"; readonly name: string; readonly id: string; readonly version: number };

/** Everything one reader did. */
export interface ReaderRecord {
  readonly label: string;
  readonly steps: readonly ReaderStep[];
}

/** What {@link runReaders} needs of the run. */
export interface ReadersContext {
  readonly open: OpenHistoryReader;
  readonly count: number;
  readonly addresses: ReaderAddresses;
  readonly names: readonly string[];
  readonly random: Random;
  /** The id a name has now (stable inside `passing`). */
  readonly idOf: (name: string) => string;
  /** Runs an action past the run's gate, which closes while a variable is replaced. */
  readonly passing: <T>(action: () => Promise<T>) => Promise<T>;
  /** The run's write log, which the readers' own writes join. */
  readonly writes: WriteRecord[];
  /** True while the run's writers go on. */
  readonly writing: () => boolean;
}

/**
 * Runs `count` readers until the writers are done: each reads a random variable (one read in
 * ten fresh), and one step in ten writes a value of its own, recorded in the run's write log,
 * and reads it back at once.
 * A read that fails is not recorded; nor is a write, which then changed nothing (unary calls
 * go straight to the server).
 */
export async function runReaders(context: ReadersContext): Promise<ReaderRecord[]> {
  const { random } = context;
  const records: ReaderRecord[] = [];
  await Promise.all(
    Array.from({ length: context.count }, async (_, number) => {
      const label = `cached reader ${number}`;
      const steps: ReaderStep[] = [];
      records.push({ label, steps });
      const reader = await retrying(() => context.open(context.addresses));
      let counter = 0;
      try {
        while (context.writing()) {
          const name = random.pick(context.names);
          if (random.chance(0.1)) {
            const value = -(number + 1) * 1_000_000 - ++counter;
            await context
              .passing(async () => {
                const id = context.idOf(name);
                const { revision, version } = await reader.write(name, value);
                context.writes.push({
                  writer: label,
                  revision,
                  atomic: false,
                  changes: [{ name, version, value }],
                });
                steps.push({ kind: "write", name, id, version });
              })
              .catch(() => {});
            // Read it back at once: read-your-writes is at stake right after the write.
            await reader.read(name, false).then(
              (read) => void steps.push({ kind: "read", name, ...read, fresh: false }),
              () => {},
            );
          } else {
            const fresh = random.chance(0.1);
            await reader.read(name, fresh).then(
              (read) => void steps.push({ kind: "read", name, ...read, fresh }),
              () => {},
            );
          }
          // A cached read never leaves the process, so it never yields to the event loop by
          // itself: without a pause the readers would starve the run's sockets and timers (with
          // setImmediate alone, the run's watchers were seen falling behind for good).
          await new Promise((resolve) => setTimeout(resolve, random.integer(0, 2)));
        }
      } finally {
        await reader.close();
      }
    }),
  );
  return records;
}

/**
 * Checks what each reader saw: per variable id its reads never go back in version (monotonic
 * reads), never come before its own last write of it (read-your-writes), and each read value
 * is one the log says that variable had at that version.
 */
export function checkReads(
  readers: readonly ReaderRecord[],
  writes: readonly WriteRecord[],
  initialValues: ReadonlyMap<string, number>,
): string[] {
  // The values a name had at each version, over every variable that had the name.
  const written = new Map<string, Set<number>>();
  for (const write of writes) {
    for (const change of write.changes) {
      const key = `${change.name}@${change.version}`;
      const values = written.get(key) ?? new Set<number>();
      values.add(change.value);
      written.set(key, values);
    }
  }
  const violations: string[] = [];
  for (const { label, steps } of readers) {
    const floor = new Map<string, number>();
    steps.forEach((step, index) => {
      const before = floor.get(step.id) ?? -1;
      if (step.kind === "write") {
        floor.set(step.id, Math.max(before, step.version));
        return;
      }
      if (step.version < before) {
        violations.push(
          `${label} step ${index}: read ${step.name} (${step.id}) at version ${step.version}${step.fresh ? " (fresh)" : ""} after it had seen or written version ${before}`,
        );
      }
      floor.set(step.id, Math.max(before, step.version));
      const known =
        step.version === 0
          ? initialValues.get(step.id) === step.value
          : (written.get(`${step.name}@${step.version}`)?.has(step.value) ?? false);
      if (!known) {
        violations.push(
          `${label} step ${index}: read ${step.name} (${step.id}) = ${step.value} at version ${step.version}, which no write made`,
        );
      }
    });
  }
  return violations;
}

async function retrying<T>(open: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await open();
    } catch (error) {
      if (attempt >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
