import { checkValueSize, decodeBatch, decodeValue, partialFailure } from "@statebridge/session-store";
import {
  type Metadata,
  mergeMetadata,
  normalizeMetadata,
  normalizeValue,
  StateError,
  type StateErrorFailure,
  type VariableValue,
} from "@statebridge/state-provider";
import {
  decodeHeader,
  decodeMetadata,
  encodeMetadata,
  encodeStoredValue,
  type VariableHeader,
} from "./codec.js";
import { checkIdentifier, notFoundError, type StoreContext } from "./context.js";
import { goneError, text } from "./replies.js";
import { WRITE } from "./scripts.js";

/** A variable as a writer knows it: its id and immutable header, under a session epoch. */
interface Target {
  readonly id: string;
  readonly header: VariableHeader;
  /** Present when read for this write (a metadata merge needs them). */
  readonly metadata?: Metadata;
  readonly version?: number;
}

/** A validated write of one variable. */
interface Planned {
  readonly identifier: string;
  readonly target: Target;
  readonly value: Buffer;
  readonly valueBytes: number;
  /** '' when the metadata stays, else '=' and the merged JSON. */
  readonly metadata: string;
  readonly expectation: "" | "u" | "i";
  readonly expected: number;
}

const MAX_ATTEMPTS = 5;

/**
 * Writes of values (`set`, `updateMany`): validated in TypeScript with the shared type system,
 * then one WRITE script call per write. Headers (id, type, constraints) are cached per session
 * epoch; the script refuses a stale one (`stale`, `epoch`) and the write is planned again.
 */
export function createValueWriter(context: StoreContext) {
  const cache = new Map<string, { epoch: string; targets: Map<string, Target> }>();

  function forget(sessionId: string): void {
    cache.delete(sessionId);
  }

  /** Resolves identifiers to targets, reading what the cache lacks (or everything, `fresh`). */
  async function resolve(
    sessionId: string,
    identifiers: readonly string[],
    fresh: boolean,
  ): Promise<{ epoch: string; targets: (Target | undefined)[]; revision: number }> {
    const cached = cache.get(sessionId);
    if (!fresh && cached !== undefined && identifiers.every((identifier) => cached.targets.has(identifier))) {
      return {
        epoch: cached.epoch,
        targets: identifiers.map((identifier) => cached.targets.get(identifier)),
        revision: -1,
      };
    }
    const reply = await context.read(sessionId, "ids", identifiers);
    let entry = cache.get(sessionId);
    if (entry === undefined || entry.epoch !== reply.epoch || entry.targets.size > 10_000) {
      entry = { epoch: reply.epoch, targets: new Map() };
      cache.set(sessionId, entry);
      if (cache.size > 1024) cache.delete(cache.keys().next().value as string);
    }
    const targets = reply.variables.map((stored, index) => {
      if (stored === undefined) return undefined;
      const target: Target = {
        id: stored.id,
        header: decodeHeader(stored.header),
        metadata: decodeMetadata(stored.metadata),
        version: Number(stored.version),
      };
      entry.targets.set(identifiers[index] as string, { id: target.id, header: target.header });
      return target;
    });
    return { epoch: reply.epoch, targets, revision: reply.info.revision };
  }

  function plan(
    identifier: string,
    target: Target,
    raw: unknown,
    metadataUpdate: Metadata | undefined,
    expectedVersion: number | undefined,
  ): Planned {
    const { header } = target;
    const value = normalizeValue(header.type, raw, header.constraints, header.name) as VariableValue;
    const valueBytes = checkValueSize(header.name, header.type, value, context.limits.maxValueBytes);
    let metadata = "";
    if (metadataUpdate !== undefined && Object.keys(metadataUpdate).length > 0) {
      metadata = `=${encodeMetadata(mergeMetadata(target.metadata as Metadata, metadataUpdate))}`;
    }
    return {
      identifier,
      target,
      value: encodeStoredValue(header.type, value),
      valueBytes,
      metadata,
      expectation: expectedVersion !== undefined ? "u" : metadata !== "" ? "i" : "",
      expected: expectedVersion ?? target.version ?? 0,
    };
  }

  /** Runs WRITE. @returns the reply, or undefined when the plan must be made again. */
  async function write(
    sessionId: string,
    epoch: string,
    planned: readonly Planned[],
    source: string,
  ): Promise<{ revision: number; versions: number[] } | undefined> {
    const keys = context.keys(sessionId);
    const blobs: string[] = [];
    const stored: (Buffer | string)[] = [];
    try {
      for (const write of planned) stored.push(await context.place(keys, write.value, blobs));
    } catch (error) {
      await context.discard(keys, blobs);
      throw error;
    }
    const args: (string | Buffer)[] = [
      source,
      String(context.limits.historySize),
      String(context.limits.historyBytes),
      String(context.limits.maxValueBytes),
      String(planned.length),
    ];
    planned.forEach((write, index) => {
      args.push(
        write.target.id,
        write.expectation,
        String(write.expected),
        write.metadata,
        stored[index] as Buffer | string,
        String(write.valueBytes),
      );
    });
    const reply = await context.run(WRITE, keys, args, epoch).catch(async (error: unknown) => {
      await context.discard(keys, blobs);
      throw error;
    });
    const status = text(reply[0]);
    if (status !== "ok") await context.discard(keys, blobs);
    if (status === "gone") throw goneError(sessionId, text(reply[1]));
    if (status === "ok") {
      return { revision: Number(reply[1]), versions: reply.slice(3).map((version) => Number(version)) };
    }
    if (status === "conflict" && text(reply[2]) === "u") {
      const write = planned.find((candidate) => candidate.target.id === text(reply[1])) as Planned;
      throw new StateError(
        "version_conflict",
        `${JSON.stringify(write.target.header.name)} is at version ${text(reply[3])}, expected ${write.expected}`,
      );
    }
    if (status === "too_large")
      throw new StateError("resource_exhausted", "a value is above the limit per value");
    forget(sessionId);
    return undefined;
  }

  return {
    forget,

    async set(
      sessionId: string,
      identifier: string,
      given: unknown,
      metadataUpdate: Metadata | undefined,
      expectedVersion: number | undefined,
      source: string,
    ): Promise<{ version: number; revision: number }> {
      const checked = checkIdentifier(identifier);
      if (checked === undefined) {
        await context.read(sessionId, "none");
        throw notFoundError(sessionId, identifier);
      }
      const needsRead = metadataUpdate !== undefined && Object.keys(metadataUpdate).length > 0;
      for (let attempt = 0; ; attempt++) {
        const { epoch, targets, revision } = await resolve(sessionId, [checked], needsRead || attempt > 0);
        // A cached header may be stale (the variable re-registered with another type elsewhere):
        // what it refuses is refused again only by a fresh one.
        const cached = revision < 0;
        const target = targets[0];
        if (target === undefined) throw notFoundError(sessionId, identifier);
        let value: unknown;
        try {
          value = decodeValue(given, target.header.type);
        } catch (error) {
          if (cached && error instanceof StateError) continue;
          throw error;
        }
        let planned: Planned;
        try {
          planned = plan(checked, target, value, metadataUpdate, expectedVersion);
        } catch (error) {
          if (cached && error instanceof StateError) continue;
          // A stale expectedVersion is reported before what is wrong with the value, as in memory.
          if (expectedVersion !== undefined && error instanceof StateError) {
            const fresh = (await resolve(sessionId, [checked], true)).targets[0];
            if (fresh?.version !== undefined && fresh.version !== expectedVersion) {
              throw new StateError(
                "version_conflict",
                `${JSON.stringify(fresh.header.name)} is at version ${fresh.version}, expected ${expectedVersion}`,
              );
            }
          }
          throw error;
        }
        const result = await write(sessionId, epoch, [planned], source);
        if (result !== undefined) return { version: result.versions[0] as number, revision: result.revision };
        if (attempt >= MAX_ATTEMPTS) {
          throw new StateError(
            "unavailable",
            `the write to ${JSON.stringify(identifier)} kept racing others; retry`,
          );
        }
      }
    },

    async updateMany(
      sessionId: string,
      updates: Iterable<readonly [string, unknown]>,
      metadataUpdate: Metadata | undefined,
      atomic: boolean,
      source: string,
    ): Promise<{ revision: number; versions: Map<string, number> }> {
      const entries = [...updates];
      for (const [identifier] of entries) checkIdentifier(identifier);
      const needsRead = metadataUpdate !== undefined && Object.keys(metadataUpdate).length > 0;
      for (let attempt = 0; ; attempt++) {
        const strings = entries.map(([identifier]) => (typeof identifier === "string" ? identifier : ""));
        const resolved = await resolve(sessionId, strings, needsRead || attempt > 0);
        // As in set: a failure under cached headers is confirmed under fresh ones.
        const cached = resolved.revision < 0;
        const targetOf = (index: number) =>
          typeof entries[index]?.[0] === "string" ? resolved.targets[index] : undefined;
        const accepted: Planned[] = [];
        const targeted = new Map<string, string>();
        const failures = new Map<string, StateErrorFailure>();
        let firstError: StateError | undefined;
        try {
          const decoded = decodeBatch(
            entries,
            (index) => targetOf(index)?.header.type,
            atomic,
            (identifier) => notFoundError(sessionId, identifier),
          );
          entries.forEach(([identifier], index) => {
            try {
              const decodeFailure = decoded.failures.get(index);
              if (decodeFailure !== undefined) throw decodeFailure;
              const target = targetOf(index);
              if (target === undefined) throw notFoundError(sessionId, identifier);
              const earlier = targeted.get(target.id);
              if (earlier !== undefined) {
                throw new StateError(
                  "invalid_value",
                  `${JSON.stringify(identifier)} and ${JSON.stringify(earlier)} name the same variable in one batch`,
                );
              }
              targeted.set(target.id, identifier);
              accepted.push(plan(identifier, target, decoded.values[index], metadataUpdate, undefined));
            } catch (error) {
              if (!(error instanceof StateError) || atomic) throw error;
              firstError ??= error;
              failures.set(String(identifier), { code: error.code, message: error.rawMessage });
            }
          });
        } catch (error) {
          if (cached && error instanceof StateError) continue;
          throw error;
        }
        if (cached && failures.size > 0) continue;
        let revision: number;
        const versions = new Map<string, number>();
        if (accepted.length > 0) {
          const result = await write(sessionId, resolved.epoch, accepted, source);
          if (result === undefined) {
            if (attempt >= MAX_ATTEMPTS)
              throw new StateError("unavailable", "the batch kept racing others; retry");
            continue;
          }
          revision = result.revision;
          accepted.forEach((write, index) => {
            versions.set(write.identifier, result.versions[index] as number);
          });
        } else {
          revision =
            resolved.revision >= 0
              ? resolved.revision
              : (await context.read(sessionId, "none")).info.revision;
        }
        if (failures.size > 0) {
          throw partialFailure(failures, accepted.length, revision, versions, firstError);
        }
        return { revision, versions };
      }
    },
  };
}

/** Normalizes an optional metadata update. */
export function metadataUpdateOf(metadata: unknown): Metadata | undefined {
  return metadata === undefined ? undefined : normalizeMetadata(metadata);
}

/** The value writer of one store. */
export type ValueWriter = ReturnType<typeof createValueWriter>;
