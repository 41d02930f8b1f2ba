import { Code, ConnectError } from "@connectrpc/connect";
import type { Variable, WatchEvent, WatchEvents } from "@statebridge/proto";
import { WatchEventType } from "@statebridge/proto";
import { type BridgeClient, type CallError, callErrorOf } from "./client.js";
import { type DecodedValue, decodeValue, parseValue, valueText } from "./values.js";

/** One variable as the page shows it. */
export interface VariableRow {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  value: DecodedValue;
  constraints: string;
  metadata: string;
  version: number;
  source: string;
  updatedAt: number;
  deleted: boolean;
  /** Numeric values seen since the page opened: [time ms, value]. */
  readonly history: [number, number][];
}

/** One line of the event feed: a revision (a whole atomic batch) or a connection change. */
export interface FeedEntry {
  readonly key: number;
  readonly kind: "change" | "resync" | "status";
  readonly revision?: number;
  readonly source?: string;
  readonly time: number;
  readonly text: string;
  readonly items: readonly { readonly name: string; readonly change: string }[];
}

/** The live watch's state, shown above the variables. */
export type LiveStatus =
  | { readonly state: "connecting" }
  | { readonly state: "live"; readonly revision: number }
  | {
      readonly state: "reconnecting";
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: CallError;
    }
  | { readonly state: "expired"; readonly error: CallError }
  | { readonly state: "failed"; readonly error: CallError };

/** Heartbeats the page asks for; a stream silent for {@link SILENCE_LIMIT_MS} is taken for dead. */
const HEARTBEAT_MS = 1_000;
const SILENCE_LIMIT_MS = 5 * HEARTBEAT_MS;
const FEED_LIMIT = 300;
const HISTORY_LIMIT = 2_000;
/** Codes after which resuming cannot help: the page says so and stops. */
const FINAL_CODES: ReadonlySet<string> = new Set(["session_expired", "unauthenticated", "not_found"]);

/**
 * One session as the page follows it: its variables, loaded once and then kept current by a
 * WatchVariables stream that resumes from the last revision seen, with the session's
 * incarnation, after any failure (backoff 0.5 s doubling to 5 s, never giving up).
 */
export class SessionModel {
  rows = new Map<string, VariableRow>();
  feed: FeedEntry[] = [];
  status: LiveStatus = { state: "connecting" };
  revision = 0;
  incarnation = "";
  private feedKey = 0;
  private readonly listeners = new Set<() => void>();
  private stream: AbortController | undefined;
  private stopped = false;
  private attempt = 0;
  private established = false;
  /** The session's revision as heartbeats last told it (the page shows it). */
  sessionRevision = 0;
  private checkedRevision = 0;
  private watchedIds: string[] = [];
  private wake: (() => void) | undefined;

  constructor(
    private readonly client: BridgeClient,
    readonly sessionId: string,
  ) {}

  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  /** Loads the session and follows it until {@link SessionModel.stop}. */
  async start(): Promise<void> {
    for (let first = true; !this.stopped; first = false) {
      try {
        if (first || this.incarnation === "") await this.load();
        if (this.watchedIds.length === 0) {
          this.setStatus({ state: "live", revision: this.sessionRevision });
          await this.pollUntilVariables();
          continue;
        }
        await this.follow();
      } catch (error) {
        if (this.stopped) return;
        const failure = callErrorOf(error);
        if (FINAL_CODES.has(failure.code)) {
          this.setStatus(
            failure.code === "unauthenticated"
              ? { state: "failed", error: failure }
              : { state: "expired", error: failure },
          );
          this.note(
            failure.code === "unauthenticated" ? "token refused" : "session expired: the feed has ended",
          );
          return;
        }
        this.attempt++;
        const delayMs = Math.min(5_000, 500 * 2 ** (this.attempt - 1));
        this.setStatus({ state: "reconnecting", attempt: this.attempt, delayMs, error: failure });
        this.note(`connection lost (${failure.code}): reconnecting in ${(delayMs / 1000).toFixed(1)} s`);
        await this.sleep(delayMs);
      }
    }
  }

  /** Ends the watch. */
  stop(): void {
    this.stopped = true;
    this.stream?.abort();
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Reads the session and its variables (the rows' constraints and metadata come from here). */
  private async load(): Promise<void> {
    const { session } = await this.client.getSession({ sessionId: this.sessionId });
    if (this.incarnation !== "" && session?.incarnation !== this.incarnation) {
      throw new ConnectError("the session was recreated under its id", Code.NotFound, {
        "statebridge-error-code": "session_expired",
      });
    }
    this.incarnation = session?.incarnation ?? "";
    const { variables } = await this.client.listVariables({ sessionId: this.sessionId });
    for (const variable of variables) this.upsert(variable);
    this.watchedIds = [...this.rows.values()].filter((row) => !row.deleted).map((row) => row.id);
    this.sessionRevision = Math.max(this.sessionRevision, Number(session?.revision ?? 0));
    this.changed();
  }

  private upsert(variable: Variable): void {
    const existing = this.rows.get(variable.id);
    const value = decodeValue(variable.value);
    const row: VariableRow = existing ?? {
      id: variable.id,
      name: variable.name,
      type: variable.type,
      value,
      constraints: variable.constraintsJson,
      metadata: variable.metadataJson,
      version: Number(variable.version),
      source: variable.source,
      updatedAt: Number(variable.updatedAtMs),
      deleted: false,
      history: [],
    };
    if (existing === undefined || Number(variable.version) >= existing.version) {
      Object.assign(row, {
        value,
        constraints: variable.constraintsJson,
        metadata: variable.metadataJson,
        version: Number(variable.version),
        source: variable.source,
        updatedAt: Number(variable.updatedAtMs),
      });
      this.record(row, Number(variable.updatedAtMs));
    }
    this.rows.set(row.id, row);
  }

  private record(row: VariableRow, time: number): void {
    if (row.value.kind !== "number") return;
    const last = row.history.at(-1);
    if (last !== undefined && last[0] === time && Object.is(last[1], row.value.value)) return;
    row.history.push([Math.max(time, last?.[0] ?? 0), row.value.value]);
    if (row.history.length > HISTORY_LIMIT) row.history.shift();
  }

  /** No variable to watch yet: the session is polled until one is registered. */
  private async pollUntilVariables(): Promise<void> {
    while (!this.stopped && this.watchedIds.length === 0) {
      await this.sleep(1_000);
      await this.load();
    }
  }

  /** One WatchVariables stream, resumed from the last revision seen; returns to restart it. */
  private async follow(): Promise<void> {
    const controller = new AbortController();
    this.stream = controller;
    let ended: "silent" | "rewatch" | undefined;
    const onSilence = () => {
      ended = "silent";
      controller.abort();
    };
    let silence = setTimeout(onSilence, SILENCE_LIMIT_MS);
    const resuming = this.established;
    try {
      const responses = this.client.watchVariables(
        {
          sessionId: this.sessionId,
          identifiers: this.watchedIds,
          includeInitial: !resuming,
          ...(resuming ? { fromRevision: BigInt(this.revision) } : {}),
          incarnation: this.incarnation,
          heartbeatIntervalMs: HEARTBEAT_MS,
        },
        { signal: controller.signal },
      );
      for await (const response of responses) {
        clearTimeout(silence);
        silence = setTimeout(onSilence, SILENCE_LIMIT_MS);
        const { kind } = response;
        if (kind.case === "created") {
          this.incarnation = kind.value.incarnation || this.incarnation;
          if (this.attempt > 0) this.note(`reconnected: resumed after revision ${this.revision}`);
          else if (!resuming) this.note(`watching from revision ${Number(kind.value.revision)}`);
          if (!resuming) this.revision = Math.max(this.revision, Number(kind.value.revision));
          this.established = true;
          this.attempt = 0;
          this.sessionRevision = Math.max(this.sessionRevision, Number(kind.value.revision));
          this.setStatus({ state: "live", revision: this.sessionRevision });
        } else if (kind.case === "events") {
          this.apply(kind.value);
        } else if (kind.case === "heartbeat" && Number(kind.value.revision) > this.checkedRevision) {
          // Revisions this watch did not deliver: perhaps a variable registered since. Reload,
          // and watch again from the last revision seen if there is one to add.
          this.checkedRevision = Number(kind.value.revision);
          this.sessionRevision = Math.max(this.sessionRevision, this.checkedRevision);
          const before = this.watchedIds.join("\n");
          await this.load();
          if (this.watchedIds.join("\n") !== before) {
            ended = "rewatch";
            controller.abort();
            return;
          }
          if (this.status.state === "live") this.setStatus({ state: "live", revision: this.sessionRevision });
        }
      }
      throw new ConnectError("the watch stream ended", Code.Unavailable);
    } catch (error) {
      if (this.stopped || ended === "rewatch") return;
      if (ended === "silent") {
        throw new ConnectError(`the watch stream heard nothing for ${SILENCE_LIMIT_MS} ms`, Code.Unavailable);
      }
      throw error;
    } finally {
      clearTimeout(silence);
    }
  }

  private apply(batch: WatchEvents): void {
    const resync = batch.events.some((event) => event.type === WatchEventType.RESYNC);
    const initial = batch.events.every((event) => event.type === WatchEventType.INITIAL);
    const items: { name: string; change: string }[] = [];
    let source = "";
    for (const event of batch.events) {
      items.push(this.applyEvent(event));
      source ||= event.source;
    }
    const revision = Number(batch.revision);
    this.revision = Math.max(this.revision, revision);
    this.sessionRevision = Math.max(this.sessionRevision, revision);
    if (this.status.state === "live") this.status = { state: "live", revision: this.sessionRevision };
    if (!initial) {
      this.push({
        kind: resync ? "resync" : "change",
        revision,
        source,
        time: Number(batch.events[0]?.timestampMs ?? 0) || Date.now(),
        text: resync
          ? `resync at revision ${revision}: the history no longer reached back, current values follow`
          : batch.events.length > 1
            ? `${batch.events.length} variables in one revision`
            : "",
        items,
      });
    }
    this.changed();
  }

  private applyEvent(event: WatchEvent): { name: string; change: string } {
    const row = this.rows.get(event.id);
    const newValue = decodeValue(event.newValue);
    if (row === undefined) return { name: event.name, change: "(not loaded)" };
    const before = row.value;
    if (event.type === WatchEventType.DELETED) {
      row.deleted = true;
      row.version = Number(event.version);
      row.source = event.source;
      row.updatedAt = Number(event.timestampMs);
      return { name: row.name, change: "deleted" };
    }
    row.value = newValue;
    row.version = Number(event.version);
    row.source = event.source;
    row.updatedAt = Number(event.timestampMs) || Date.now();
    if (event.metadataJson !== "") row.metadata = event.metadataJson;
    this.record(row, row.updatedAt);
    return { name: row.name, change: `${describe(before)} → ${describe(newValue)} (v${event.version})` };
  }

  private push(entry: Omit<FeedEntry, "key">): void {
    this.feed.unshift({ ...entry, key: ++this.feedKey });
    if (this.feed.length > FEED_LIMIT) this.feed.length = FEED_LIMIT;
  }

  private note(text: string): void {
    this.push({ kind: "status", time: Date.now(), text, items: [] });
    this.changed();
  }

  private setStatus(status: LiveStatus): void {
    this.status = status;
    this.changed();
  }

  /**
   * Writes `text` as the variable's new value at the version the page shows, so that a change
   * made meanwhile fails with version_conflict instead of being overwritten.
   * @returns undefined on success, else the error to show.
   */
  async set(row: VariableRow, text: string): Promise<CallError | undefined> {
    let value: ReturnType<typeof parseValue>;
    try {
      value = parseValue(row.type, text);
    } catch (error) {
      return { code: "invalid_value", message: error instanceof Error ? error.message : String(error) };
    }
    try {
      await this.client.setVariable({
        sessionId: this.sessionId,
        identifier: row.id,
        value,
        expectedVersion: BigInt(row.version),
        source: "inspector",
      });
      return undefined;
    } catch (error) {
      return callErrorOf(error);
    }
  }
}

function describe(value: DecodedValue): string {
  if (value.kind === "text" && value.value.length > 40) return JSON.stringify(`${value.value.slice(0, 40)}…`);
  return value.kind === "vector" || value.kind === "tensor" ? value.kind : valueText(value);
}
