import type { StreamWatchOptions } from "@statebridge/state-bridged";
import {
  isStateError,
  type StateError,
  type StateProvider,
  type WatchEvent,
  type Watcher,
  type WatchHandle,
  type WatchInfo,
} from "@statebridge/state-provider";
import { createDeliveryScheduler, type DeliveryQueue } from "@statebridge/state-provider/change-feed";

let nextWatchNumber = 0;

/**
 * A watch as the Context hands it out. It outlives backends: events from the current backend's
 * watch are queued here (a delivery queue of `@statebridge/state-provider/change-feed`) and
 * handed to the watcher one at a time, in order, and on a switch the watch is re-opened on the
 * new backend from the last revision the old one reached, so the watcher sees neither a gap
 * nor a duplicate.
 */
export class ContextWatch implements WatchHandle {
  readonly watchId = `context-watch-${++nextWatchNumber}`;
  readonly done: Promise<StateError | undefined>;

  private readonly identifiers: readonly string[];
  /** The identifiers still alive: a `deleted` event removes those of its variable. */
  private readonly live: Set<string>;
  private readonly options: StreamWatchOptions;
  private readonly queue: DeliveryQueue<WatchEvent>;
  private underlying: WatchHandle | undefined;
  private state: WatchInfo["state"] = "active";
  private finish!: (error: StateError | undefined) => void;
  private readonly onAbort = () => void this.close();
  private readonly onClosed: (watch: ContextWatch) => void;
  private revision = 0;
  private reconnects = 0;
  private readonly startedAt = Date.now();

  constructor(
    identifiers: readonly string[],
    watcher: Watcher,
    options: StreamWatchOptions,
    onClosed: (watch: ContextWatch) => void,
  ) {
    this.identifiers = identifiers;
    this.live = new Set(identifiers);
    this.options = options;
    // Delivered at once when nothing is pending: the backend already calls from its own turn.
    this.queue = createDeliveryScheduler({ deferred: false }).createQueue({
      watcher,
      filter: options.filter,
    });
    this.onClosed = onClosed;
    this.done = new Promise((resolve) => {
      this.finish = resolve;
    });
    options.signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /** Opens the first backend watch with the caller's options. */
  async start(provider: StateProvider): Promise<void> {
    const options: {
      includeInitial?: boolean;
      fromRevision?: number;
      onError: (error: StateError) => void;
      onStatus?: StreamWatchOptions["onStatus"];
    } = {
      onError: (error) => this.end(error),
      ...this.statusOption(),
    };
    if (this.options.includeInitial !== undefined) options.includeInitial = this.options.includeInitial;
    if (this.options.fromRevision !== undefined) options.fromRevision = this.options.fromRevision;
    this.underlying = await provider.watch(this.identifiers, (event) => this.receive(event), options);
  }

  /**
   * Opens a watch on a new backend from `fromRevision`, without closing the old one yet.
   * @returns the new handle, to be committed with {@link ContextWatch.commitMove} or closed.
   */
  async openOn(provider: StateProvider, fromRevision: number): Promise<WatchHandle | undefined> {
    if (this.state === "closed" || this.live.size === 0) return undefined;
    const options: StreamWatchOptions = {
      fromRevision,
      onError: (error) => this.end(error),
      ...this.statusOption(),
    };
    return provider.watch([...this.live], (event) => this.receive(event), options);
  }

  /**
   * The caller's `onStatus`, passed on to every backend watch: a bridged one tells its
   * connection state (`connected` again after a move); LocalState, which never reconnects,
   * tells nothing.
   */
  private statusOption(): Pick<StreamWatchOptions, "onStatus"> {
    return this.options.onStatus === undefined ? {} : { onStatus: this.options.onStatus };
  }

  /** Makes a handle from {@link ContextWatch.openOn} the one this watch follows. */
  commitMove(handle: WatchHandle | undefined): void {
    const previous = this.underlying;
    this.underlying = handle;
    if (handle !== undefined) this.reconnects++;
    void previous?.close();
  }

  /** The revision of the last event received from any backend. */
  get lastRevision(): number {
    return this.revision;
  }

  get active(): boolean {
    return this.state !== "closed";
  }

  private receive(event: WatchEvent): void {
    if (this.state === "closed") return;
    if (event.revision > this.revision) this.revision = event.revision;
    if (event.type === "deleted") {
      // Every identifier of that variable: its name and its id may both be watched, and the
      // event names only the first. The watch is bound to the variable, not to the name.
      this.live.delete(event.identifier);
      this.live.delete(event.id);
      this.live.delete(event.name);
    }
    this.queue.push(event);
  }

  private end(error: StateError | undefined): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.queue.close();
    this.options.signal?.removeEventListener("abort", this.onAbort);
    const handle = this.underlying;
    this.underlying = undefined;
    void handle?.close();
    this.onClosed(this);
    if (error !== undefined && isStateError(error)) {
      try {
        this.options.onError?.(error);
      } catch {
        // The watch has ended either way; a throwing error handler changes nothing.
      }
    }
    this.finish(error);
  }

  async close(): Promise<void> {
    this.end(undefined);
  }

  info(): WatchInfo {
    return {
      watchId: this.watchId,
      identifiers: this.identifiers,
      revision: this.revision,
      received: this.queue.received,
      filtered: this.queue.filtered,
      failed: this.queue.failed,
      delivered: this.queue.delivered,
      reconnects: this.reconnects,
      startedAt: this.startedAt,
      state: this.state,
    };
  }
}
