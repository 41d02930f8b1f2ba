import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";
import { isStateError, type WatchEvent } from "@statebridge/state-provider";
import { createStreamConsumer, type StreamConsumer, type StreamWatchHandle } from "../../src/index.js";
import type { VariableRecord, WatcherRecord, WatchStart, WriteRecord } from "../history-checker.js";
import type { Random } from "./random.js";
import { startTcpProxy } from "./tcp-proxy.js";

/** What a randomized watch run does. */
export interface HistoryRunOptions {
  /** The bridge-server's port on 127.0.0.1; the server must heartbeat every `heartbeatIntervalMs`. */
  readonly serverPort: number;
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
  /** Told what happens, for a soak run's progress. */
  readonly log?: (line: string) => void;
}

/** What a run recorded: the input of `checkHistory`. */
export interface HistoryRun {
  readonly variables: VariableRecord[];
  readonly writes: WriteRecord[];
  readonly watchers: WatcherRecord[];
  readonly finalRevision: number;
  readonly faults: number;
  readonly connectionsAccepted: number;
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
  const direct = `http://127.0.0.1:${options.serverPort}`;
  const sessionManagers: Http2SessionManager[] = [];
  const clientOf = (baseUrl: string): BridgeClient => {
    const sessionManager = new Http2SessionManager(baseUrl, {
      pingIntervalMs: options.heartbeatIntervalMs * 2,
      pingTimeoutMs: options.heartbeatIntervalMs * 3,
    });
    sessionManagers.push(sessionManager);
    return createClient(BridgeService, createGrpcTransport({ baseUrl, sessionManager }));
  };
  const sessionId = `history-${random.seed}-${Date.now()}`;
  const admin = clientOf(direct);
  const consumers: StreamConsumer[] = [];
  try {
    await admin.initializeSession({ sessionId });
    const variables: VariableRecord[] = [];
    for (let index = 0; index < options.variables; index++) {
      const initialValue = random.integer(-100, 100);
      const response = await admin.registerVariable({
        sessionId,
        name: `v${index}`,
        type: "integer",
        initialValue: { kind: { case: "integerValue", value: BigInt(initialValue) } },
      });
      variables.push({
        name: `v${index}`,
        id: response.variable?.id ?? "",
        initialValue,
        registeredAt: Number(response.revision),
      });
    }
    const names = variables.map((variable) => variable.name);
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
      start: WatchStart;
      events: WatchEvent[];
      handle: StreamWatchHandle;
    }[] = [];
    const openWatcher = async (label: string, start: WatchStart) => {
      const watched = random.sample(names, random.integer(1, Math.min(4, names.length)));
      const events: WatchEvent[] = [];
      const consumer = random.pick(consumers);
      const handle = await openRetrying(() =>
        consumer.watch(
          watched,
          async (event) => {
            events.push(event);
            // Now and then a slow watcher, so that deliveries overlap with faults.
            if (events.length % 17 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
          },
          start.kind === "initial"
            ? { includeInitial: true }
            : start.kind === "from"
              ? { fromRevision: start.revision }
              : {},
        ),
      );
      watching.push({ label, names: watched, start, events, handle });
    };
    for (let index = 0; index < options.watchers; index++) {
      await openWatcher(`watcher ${index}`, {
        kind: random.chance(0.5) ? "initial" : "live",
        revision: startRevision,
      });
    }

    const writes: WriteRecord[] = [];
    let writersDone = false;
    const writer = async (number: number) => {
      const client = clientOf(direct);
      let counter = 0;
      for (let operation = 0; operation < options.operationsPerWriter; operation++) {
        const value = () => number * 1_000_000 + ++counter;
        const roll = random.next();
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
    const lateFailure = await Promise.all([chaos, late]).then(([, result]) => result);
    if (lateFailure !== undefined) throw lateFailure;
    proxy.blackhole(false);
    const finalRevision = Number((await admin.getSession({ sessionId })).session?.revision);
    log(`writes done at revision ${finalRevision}; ${faults} faults; waiting for the watchers`);

    const deadline = Date.now() + 60_000;
    for (;;) {
      const behind = watching.filter(({ handle }) => handle.info().revision < finalRevision);
      const ended = watching.filter(({ handle }) => handle.info().state === "closed");
      if (ended.length > 0)
        throw new Error(`watchers ended during the run: ${ended.map((watcher) => watcher.label)}`);
      if (behind.length === 0) break;
      if (Date.now() > deadline) {
        throw new Error(
          `watchers still behind revision ${finalRevision} after 60 s: ${behind
            .map(({ label, handle }) => `${label} at ${JSON.stringify(handle.info())}`)
            .join("; ")}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const watchers: WatcherRecord[] = watching.map(({ label, names: watched, start, events, handle }) => ({
      label,
      names: watched,
      start,
      events: [...events],
      reconnects: handle.info().reconnects,
    }));
    return { variables, writes, watchers, finalRevision, faults, connectionsAccepted: proxy.accepted };
  } finally {
    await Promise.all(consumers.map((consumer) => consumer.close()));
    await admin.cleanupSession({ sessionId }).catch(() => {});
    for (const sessionManager of sessionManagers) sessionManager.abort();
    await proxy.close();
  }
}

/**
 * Opens a watch, again while the network fault of the moment makes the first attempt fail
 * with `unavailable` (watch() reports a first attempt's failure rather than waiting).
 */
async function openRetrying(open: () => Promise<StreamWatchHandle>): Promise<StreamWatchHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await open();
    } catch (error) {
      if (attempt >= 100 || !isStateError(error, "unavailable")) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
