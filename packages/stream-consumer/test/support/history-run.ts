import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";
import { isStateError, type WatchEvent } from "@statebridge/state-provider";
import {
  createStreamConsumer,
  type StreamConsumer,
  type StreamWatchHandle,
  settleVerifyOnClose,
  type WatchStatus,
} from "../../src/index.js";
import type { VariableRecord, WatcherRecord, WatchStart, WriteRecord } from "../history-checker.js";
import { type OpenHistoryReader, type ReaderRecord, runReaders } from "./history-readers.js";
import { type PythonWatcher, startPythonWatcher } from "./python-watcher.js";
import { createRandom, type Random } from "./random.js";
import { startTcpProxy } from "./tcp-proxy.js";

/** What a randomized watch run does. */
export interface HistoryRunOptions {
  /** The bridge-server's port on 127.0.0.1; the server must heartbeat every `heartbeatIntervalMs`. */
  readonly serverPort: number;
  /**
   * The port of the bridge-server the writers (and the session's setup) use, when it is
   * another one on the same store as `serverPort`'s (a shared Redis). Default `serverPort`.
   */
  readonly writerServerPort?: number;
  readonly random: Random;
  readonly variables: number;
  readonly writers: number;
  readonly operationsPerWriter: number;
  /** Watchers opened before the writes (half of them with initial values). */
  readonly watchers: number;
  /** Watchers opened during the writes, resuming from a revision already written. */
  readonly lateWatchers: number;
  /** Heartbeat interval of the server and the consumers, in ms. */
  readonly heartbeatIntervalMs: number;
  /** Mean pause between two network faults, in ms. */
  readonly faultEveryMs: number;
  /** Whether faults include partitions (blackholes), not only cut connections. */
  readonly partitions: boolean;
  /**
   * Watchers, per stream mode, that take 5–30 ms per event, and as many that stall once for
   * `stallMs`, while the writers go on.
   */
  readonly slowWatchers?: number;
  /** How long a stalled watcher stalls, in ms (default 1,000). */
  readonly stallMs?: number;
  /** Variables deleted and registered again under the same name during the writes. */
  readonly replacements?: number;
  /**
   * Python watchers (`SessionContext.watch_variables` in /usr/bin/python3 child processes)
   * opened with the first watchers, through the same proxy; needs Python grpcio.
   */
  readonly pythonWatchers?: number;
  /**
   * Restarts the server with nothing in it, on the same port, once every watcher caught up:
   * the run then recreates the session under its id and writes to it, and every watcher
   * must end with `session_expired`.
   */
  readonly restartServer?: () => Promise<void>;
  /**
   * Readers (a cached BridgedState each, say) that read the variables and now and then write
   * one while the writers go on; see `runReaders`. None without `openReader`.
   */
  readonly readers?: number;
  readonly openReader?: OpenHistoryReader;
  /** Told what happens, for a soak run's progress. */
  readonly log?: (line: string) => void;
}

/** What a run recorded: the input of `checkHistory`. */
export interface HistoryRun {
  readonly variables: VariableRecord[];
  readonly writes: WriteRecord[];
  readonly watchers: WatcherRecord[];
  readonly finalRevision: number;
  /** Whether the session was recreated after `finalRevision` (see `restartServer`). */
  readonly sessionRecreated: boolean;
  readonly faults: number;
  readonly connectionsAccepted: number;
  /** What each reader read and wrote (see `checkReads`). */
  readonly readers: ReaderRecord[];
}

type BridgeClient = Client<typeof BridgeService>;

/**
 * Runs several writers (single sets, atomic and non-atomic batches) against one session while
 * several watchers, over two consumers (one stream per watch, and one multiplexed stream),
 * watch random subsets of its variables through a TCP proxy that cuts connections and
 * partitions the network at random. The writers talk to the server directly, so their log is
 * the truth the watchers' histories are checked against.
 */
export async function runHistory(options: HistoryRunOptions): Promise<HistoryRun> {
  const { random } = options;
  const log = options.log ?? (() => {});
  const proxy = await startTcpProxy(options.serverPort);
  const direct = `http://127.0.0.1:${options.writerServerPort ?? options.serverPort}`;
  const sessionManagers: Http2SessionManager[] = [];
  const clientOf = (baseUrl: string): BridgeClient => {
    // Through the proxy, a connection is checked as often as the watches are; the writers and
    // the admin talk to the server directly, where a PING late by a few hundred ms is a
    // busy test process, not a dead network, and must not fail a write.
    const sessionManager = new Http2SessionManager(
      baseUrl,
      baseUrl === proxy.url
        ? { pingIntervalMs: options.heartbeatIntervalMs * 2, pingTimeoutMs: options.heartbeatIntervalMs * 3 }
        : { pingIntervalMs: 5_000, pingTimeoutMs: 10_000 },
    );
    // As an application that gives connect clients its own manager would: a connection that
    // closes while the manager checks it must not leave the consumers' requests waiting.
    settleVerifyOnClose(sessionManager);
    sessionManagers.push(sessionManager);
    return createClient(BridgeService, createGrpcTransport({ baseUrl, sessionManager }));
  };
  const sessionId = `history-${random.seed}-${Date.now()}`;
  const admin = clientOf(direct);
  const consumers: StreamConsumer[] = [];
  const stoppers: (() => Promise<void>)[] = [];
  try {
    await admin.initializeSession({ sessionId });
    const variables: VariableRecord[] = [];
    /** The id each name has now. */
    const current = new Map<string, string>();
    const register = async (name: string) => {
      const initialValue = random.integer(-100, 100);
      const response = await admin.registerVariable({
        sessionId,
        name,
        type: "integer",
        initialValue: { kind: { case: "integerValue", value: BigInt(initialValue) } },
      });
      const id = response.variable?.id ?? "";
      variables.push({ name, id, initialValue, registeredAt: Number(response.revision) });
      current.set(name, id);
    };
    for (let index = 0; index < options.variables; index++) await register(`v${index}`);
    const names = variables.map((variable) => variable.name);
    // Writes and watch openings pass a gate that a replacement (delete, then register under
    // the same name) closes, so that each write names one variable and each watch knows the
    // ids its names resolved to.
    let gate: Promise<void> = Promise.resolve();
    let inFlight = 0;
    const passing = async <T>(action: () => Promise<T>): Promise<T> => {
      await gate;
      inFlight++;
      try {
        return await action();
      } finally {
        inFlight--;
      }
    };
    const startRevision = Number((await admin.getSession({ sessionId })).session?.revision);

    const consumerOptions = {
      sessionId,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      missedHeartbeats: 3,
      reconnect: { baseDelayMs: 5, maxDelayMs: options.heartbeatIntervalMs, maxFailures: 1_000 },
    };
    for (const streams of ["per-watch", "multiplexed"] as const) {
      consumers.push(createStreamConsumer({ ...consumerOptions, client: clientOf(proxy.url), streams }));
      // The same mode with its streams opened directly on the HTTP/2 connection, as a
      // BridgedState opens them on its own connection.
      const client = clientOf(proxy.url);
      const sessionManager = sessionManagers[sessionManagers.length - 1] as Http2SessionManager;
      consumers.push(
        createStreamConsumer({ ...consumerOptions, client, connection: { sessionManager }, streams }),
      );
    }

    const watching: {
      label: string;
      names: string[];
      ids: string[];
      start: WatchStart;
      events: WatchEvent[];
      handle: StreamWatchHandle;
      statuses: string[];
    }[] = [];
    /** Slow and stalled watchers take their time only while the writers go on. */
    let writing = true;
    const openWatcher = async (
      label: string,
      start: WatchStart,
      pace: "normal" | "slow" | "stalled" = "normal",
      consumer = random.pick(consumers),
    ) => {
      const watched = random.sample(names, random.integer(1, Math.min(4, names.length)));
      const events: WatchEvent[] = [];
      const stallAt = random.integer(1, 20);
      // The last statuses the watch was told, with why each reconnect was needed: a watcher
      // still behind at the end is reported with them.
      const statuses: string[] = [];
      const onStatus = (status: WatchStatus) => {
        statuses.push(describeStatus(status));
        if (statuses.length > 6) statuses.shift();
      };
      let ids: string[] = [];
      const handle = await passing(() => {
        ids = watched.map((name) => current.get(name) ?? "");
        return openRetrying(() =>
          consumer.watch(
            watched,
            async (event) => {
              events.push(event);
              // Now and then a slow watcher, so that deliveries overlap with faults.
              if (events.length % 17 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
              if (!writing) return;
              if (pace === "slow") await new Promise((resolve) => setTimeout(resolve, random.integer(5, 30)));
              if (pace === "stalled" && events.length === stallAt) {
                await new Promise((resolve) => setTimeout(resolve, options.stallMs ?? 1_000));
              }
            },
            start.kind === "initial"
              ? { includeInitial: true, onStatus }
              : start.kind === "from"
                ? { fromRevision: start.revision, onStatus }
                : { onStatus },
          ),
        );
      });
      watching.push({ label, names: watched, ids, start, events, handle, statuses });
    };
    const python: {
      label: string;
      names: string[];
      ids: string[];
      start: WatchStart;
      watcher: PythonWatcher;
    }[] = [];
    for (let index = 0; index < (options.pythonWatchers ?? 0); index++) {
      const watched = random.sample(names, random.integer(1, Math.min(4, names.length)));
      const start = { kind: random.chance(0.5) ? "initial" : "live", revision: startRevision } as const;
      const watcher = await startPythonWatcher({
        target: proxy.url,
        sessionId,
        names: watched,
        includeInitial: start.kind === "initial",
        heartbeatIntervalMs: options.heartbeatIntervalMs,
      });
      stoppers.push(() => watcher.stop());
      const ids = watched.map((name) => current.get(name) ?? "");
      python.push({ label: `python watcher ${index}`, names: watched, ids, start, watcher });
    }
    for (let index = 0; index < options.watchers; index++) {
      await openWatcher(`watcher ${index}`, {
        kind: random.chance(0.5) ? "initial" : "live",
        revision: startRevision,
      });
    }
    // Slow and stalled watchers on every stream mode: the server cuts them off once their
    // stream's queue is full, and they resume.
    for (let index = 0; index < (options.slowWatchers ?? 0); index++) {
      for (const [number, consumer] of consumers.entries()) {
        const start = { kind: random.chance(0.5) ? "initial" : "live", revision: startRevision } as const;
        await openWatcher(`slow watcher ${index}.${number}`, start, "slow", consumer);
        await openWatcher(`stalled watcher ${index}.${number}`, start, "stalled", consumer);
      }
    }

    const writes: WriteRecord[] = [];
    let writersDone = false;
    const reading =
      options.openReader === undefined
        ? Promise.resolve([])
        : runReaders({
            open: options.openReader,
            count: options.readers ?? 0,
            addresses: { proxyUrl: proxy.url, directUrl: direct, sessionId },
            names,
            // Their own sequence, so that adding readers leaves the run's faults and writes as they were.
            random: createRandom(random.seed + 1),
            idOf: (name) => current.get(name) ?? "",
            passing,
            writes,
            writing: () => !writersDone,
          });
    const writer = async (number: number) => {
      const client = clientOf(direct);
      let counter = 0;
      for (let operation = 0; operation < options.operationsPerWriter; operation++) {
        const value = () => number * 1_000_000 + ++counter;
        const roll = random.next();
        await passing(async () => {
          if (roll < 0.6) {
            const name = random.pick(names);
            const written = value();
            const response = await client.setVariable({
              sessionId,
              identifier: name,
              value: { kind: { case: "integerValue", value: BigInt(written) } },
              source: `writer-${number}`,
            });
            writes.push({
              writer: `writer-${number}`,
              revision: Number(response.revision),
              atomic: false,
              changes: [{ name, version: Number(response.version), value: written }],
            });
          } else {
            const members = random.sample(names, random.integer(2, Math.min(4, names.length)));
            const values = new Map(members.map((name) => [name, value()]));
            const atomic = roll < 0.85;
            const response = await client.setVariables({
              sessionId,
              atomic,
              updates: [...values].map(([identifier, written]) => ({
                identifier,
                value: { kind: { case: "integerValue", value: BigInt(written) } },
              })),
              source: `writer-${number}`,
            });
            writes.push({
              writer: `writer-${number}`,
              revision: Number(response.revision),
              atomic,
              changes: [...values].map(([name, written]) => ({
                name,
                version: Number(response.versions[name]),
                value: written,
              })),
            });
          }
        });
        if (random.chance(0.3)) await new Promise((resolve) => setTimeout(resolve, random.integer(0, 3)));
      }
    };

    let faults = 0;
    const chaos = (async () => {
      while (!writersDone) {
        await new Promise((resolve) => setTimeout(resolve, random.integer(1, options.faultEveryMs * 2)));
        if (writersDone) break;
        const roll = random.next();
        faults++;
        if (options.partitions && roll < 0.15) {
          const lasting = random.integer(options.heartbeatIntervalMs, options.heartbeatIntervalMs * 6);
          log(`partition for ${lasting} ms`);
          proxy.blackhole(true);
          await new Promise((resolve) => setTimeout(resolve, lasting));
          proxy.blackhole(false);
        } else if (roll < 0.45) {
          proxy.cut();
        } else {
          proxy.cutOne((count) => random.integer(0, Math.max(0, count - 1)));
        }
      }
    })();

    const replacer = (async () => {
      for (let count = 0; count < (options.replacements ?? 0) && !writersDone; count++) {
        await new Promise((resolve) => setTimeout(resolve, random.integer(10, 80)));
        if (writersDone) break;
        let open = () => {};
        gate = new Promise<void>((resolve) => {
          open = resolve;
        });
        while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 1));
        const name = random.pick(names);
        const deleted = await admin.deleteVariable({ sessionId, identifier: name });
        const index = variables.findIndex((variable) => variable.id === current.get(name));
        variables[index] = { ...(variables[index] as VariableRecord), deletedAt: Number(deleted.revision) };
        await register(name);
        log(`replaced ${name} at r${deleted.revision}`);
        open();
      }
    })();

    const late: Promise<unknown> = (async () => {
      for (let index = 0; index < options.lateWatchers; index++) {
        await new Promise((resolve) => setTimeout(resolve, random.integer(5, 40)));
        if (writes.length === 0) continue;
        const from = random.pick(writes).revision;
        await openWatcher(`late watcher ${index}`, { kind: "from", revision: from });
      }
    })().catch((error: unknown) => error);

    await Promise.all(Array.from({ length: options.writers }, (_, index) => writer(index + 1)));
    writersDone = true;
    writing = false;
    const readers = await reading;
    await replacer;
    const lateFailure = await Promise.all([chaos, late]).then(([, result]) => result);
    if (lateFailure !== undefined) throw lateFailure;
    proxy.blackhole(false);
    const finalRevision = Number((await admin.getSession({ sessionId })).session?.revision);
    log(`writes done at revision ${finalRevision}; ${faults} faults; waiting for the watchers`);

    const deadline = Date.now() + 60_000;
    for (;;) {
      // A watch whose every variable was deleted stays open and may hear no more.
      const behind = watching.filter(
        ({ handle, ids, events }) =>
          handle.info().revision < finalRevision &&
          !ids.every((id) => events.some((event) => event.type === "deleted" && event.id === id)),
      );
      const ended = [
        ...watching.filter(({ handle }) => handle.info().state === "closed"),
        ...python.filter(({ watcher }) => watcher.endedWith() !== undefined),
      ];
      if (ended.length > 0)
        throw new Error(`watchers ended during the run: ${ended.map((watcher) => watcher.label)}`);
      const pythonBehind = python.filter(
        ({ watcher, ids }) =>
          watcher.revision() < finalRevision &&
          !ids.every((id) => watcher.events.some((event) => event.type === "deleted" && event.id === id)),
      );
      if (behind.length === 0 && pythonBehind.length === 0) {
        // A watch's revision moves with the first event of a batch; let it deliver the rest.
        await new Promise((resolve) => setTimeout(resolve, options.heartbeatIntervalMs * 4));
        break;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `watchers still behind revision ${finalRevision} after 60 s: ${behind
            .map(
              ({ label, handle, statuses }) =>
                `${label} at ${JSON.stringify(handle.info())}, last told ${statuses.join(", ")}`,
            )
            .concat(pythonBehind.map(({ label, watcher }) => `${label} at r${watcher.revision()}`))
            .join("; ")}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const runVariables = [...variables];
    const endings = new Map<StreamWatchHandle, string>();
    if (options.restartServer !== undefined) {
      await options.restartServer();
      log("server restarted; recreating the session");
      await admin.initializeSession({ sessionId });
      for (const name of names) await register(name);
      for (let write = 0; write < 20; write++) {
        await admin.setVariable({
          sessionId,
          identifier: random.pick(names),
          value: { kind: { case: "integerValue", value: BigInt(-write) } },
        });
      }
      const open = new Promise<"open">((resolve) => setTimeout(() => resolve("open"), 30_000).unref());
      await Promise.all([
        ...watching.map(async ({ handle }) => {
          const ended = await Promise.race([handle.done, open]);
          endings.set(handle, ended === "open" ? "still open after 30 s" : (ended?.code ?? "closed"));
        }),
        ...python.map(({ watcher }) => Promise.race([watcher.done, open])),
      ]);
    }
    const watchers: WatcherRecord[] = watching.map(
      ({ label, names: watched, ids, start, events, handle }) => {
        const endedWith = endings.get(handle);
        return {
          label,
          names: watched,
          ids,
          start,
          events: [...events],
          reconnects: handle.info().reconnects,
          ...(endedWith === undefined ? {} : { endedWith }),
        };
      },
    );
    for (const { label, names: watched, ids, start, watcher } of python) {
      const endedWith =
        options.restartServer === undefined ? undefined : (watcher.endedWith() ?? "still open after 30 s");
      watchers.push({
        label,
        names: watched,
        ids,
        start,
        events: [...watcher.events],
        reconnects: watcher.reconnects(),
        ...(endedWith === undefined ? {} : { endedWith }),
      });
    }
    return {
      // The records of the run's session only, not of the one recreated under its id.
      variables: runVariables,
      writes,
      watchers,
      finalRevision,
      sessionRecreated: options.restartServer !== undefined,
      faults,
      connectionsAccepted: proxy.accepted,
      readers,
    };
  } finally {
    await Promise.all([...consumers.map((consumer) => consumer.close()), ...stoppers.map((stop) => stop())]);
    await admin.cleanupSession({ sessionId }).catch(() => {});
    for (const sessionManager of sessionManagers) sessionManager.abort();
    await proxy.close();
  }
}

/**
 * Opens a watch, again while the network fault of the moment (or a slow watcher's cut-off of
 * the stream it joins) makes the first attempt fail (watch() reports a first attempt's failure
 * rather than waiting).
 */
async function openRetrying(open: () => Promise<StreamWatchHandle>): Promise<StreamWatchHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await open();
    } catch (error) {
      // resource_exhausted: the multiplexed stream it was to join was cut off as too slow.
      const retryable = isStateError(error, "unavailable") || isStateError(error, "resource_exhausted");
      if (attempt >= 100 || !retryable) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** A status as a short line: the time, the kind, and a reconnect's error. */
function describeStatus(status: WatchStatus): string {
  const at = new Date().toISOString().slice(17, 23);
  if (status.kind === "reconnecting")
    return `${at} reconnecting #${status.attempt} (${status.error.message})`;
  if (status.kind === "gave_up") return `${at} gave_up (${status.error.message})`;
  return `${at} ${status.kind} r${status.revision}`;
}
