import type { Observer, ObserverRegistry, WatchListener } from "@statebridge/session-store";
import type { SessionKeys } from "./keys.js";
import type { LogEntry } from "./log-entry.js";

/** Published entries a session holds before it drops them and reads the log instead. */
export const MAX_ARRIVED = 1024;
/** Bytes of published entries a session holds before it drops them and reads the log instead. */
export const MAX_ARRIVED_BYTES = 8 * 1024 * 1024;

/** One watch of a session in a feed. */
export interface Watcher {
  readonly observer: Observer;
  readonly listener: WatchListener;
  /** The last log revision this watcher was served or skipped past. */
  seen: number;
}

/** A session watched on this server: its watches and what its feed knows of its log. */
export interface WatchedSession {
  readonly sessionId: string;
  readonly keys: SessionKeys;
  readonly epoch: string;
  readonly registry: ObserverRegistry;
  readonly watchers: Map<Observer, Watcher>;
  /** The revision up to which the log has been handed on (the next entry comes after it). */
  position: number;
  /** How often this session's TTL is slid while it is watched here. */
  readonly keepAliveMs: number;
  lastKeepAlive: number;
  /** Set when a watch was added: an entry being handed on is read again with it. */
  rewound: boolean;
  /** The session's revision when its log was last read: a keep-alive that sees it grow reads again. */
  checked: number;
  /** Receives what the write scripts publish for this session. */
  readonly onMessage: (message: Buffer) => void;
  /** True once subscribed: what is published from then on arrives. */
  subscribed: boolean;
  /**
   * Entries published and not yet handed on, in order, and the bytes published since it was
   * last empty.
   */
  readonly arrived: LogEntry[];
  arrivedBytes: number;
  /** Set when the log must be read from `position` before `arrived` is handed on. */
  catchUp: boolean;
  /** True while the feed hands this session's entries on. */
  pumping: boolean;
}
