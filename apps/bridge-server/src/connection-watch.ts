import { readFileSync } from "node:fs";
import type * as http2 from "node:http2";
import type * as net from "node:net";

/** Why the server closed or refused a connection. */
export type ConnectionCloseReason = "headers timeout" | "idle" | "max connections";

/** The timers of one connection: headers of its first request, then idleness. */
export interface ConnectionWatch {
  /** An HTTP/1.1 request's headers arrived. */
  requestStarted(): void;
  /** The connection speaks HTTP/2: its streams are counted. */
  attachSession(session: http2.ServerHttp2Session): void;
}

/**
 * Closes a connection that has not sent the headers of a first request within
 * `headersTimeoutMs` (a silent socket, a stalled preface), and an HTTP/2 connection with no
 * open stream for `idleTimeoutMs` (an open watch stream keeps it; HTTP/1.1 connections
 * between requests are Node's, closed after its keep-alive timeout).
 */
export function watchConnection(
  socket: net.Socket,
  headersTimeoutMs: number,
  idleTimeoutMs: number,
  onClosed: ((reason: ConnectionCloseReason) => void) | undefined,
): ConnectionWatch {
  let timer: NodeJS.Timeout | undefined = setTimeout(() => {
    onClosed?.("headers timeout");
    socket.destroy();
  }, headersTimeoutMs);
  timer.unref();
  const stop = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  socket.once("close", stop);
  return {
    requestStarted: stop,
    attachSession(session) {
      let openStreams = 0;
      session.on("stream", (stream: http2.ServerHttp2Stream) => {
        stop();
        openStreams++;
        stream.once("close", () => {
          if (--openStreams > 0 || session.closed || session.destroyed) return;
          timer = setTimeout(() => {
            if (openStreams > 0) return;
            onClosed?.("idle");
            session.close();
          }, idleTimeoutMs);
          timer.unref();
        });
      });
      session.once("close", stop);
    },
  };
}

/** Connections a server accepts at most by default, open-file limit permitting. */
const MAX_CONNECTIONS = 10_000;
/** Descriptors kept for everything but client connections (logs, the store, listening sockets). */
const RESERVED_DESCRIPTORS = 64;

/**
 * The default connection limit: 10,000, or the process's soft open-file limit minus a reserve
 * when that is lower (read from /proc on Linux), so that the limit is hit before the process
 * runs out of descriptors and cannot accept anyone.
 */
export function defaultMaxConnections(): number {
  try {
    const limits = readFileSync("/proc/self/limits", "latin1");
    const soft = /^Max open files\s+(\d+)/m.exec(limits)?.[1];
    if (soft !== undefined)
      return Math.max(16, Math.min(MAX_CONNECTIONS, Number(soft) - RESERVED_DESCRIPTORS));
  } catch {
    // Not Linux: the platform's limit is unknown.
  }
  return MAX_CONNECTIONS;
}
