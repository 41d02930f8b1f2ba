import type * as http2 from "node:http2";
import type { Http2SessionManager } from "@connectrpc/connect-node";

/**
 * Opens the HTTP/2 streams of unary calls on the connection of an `Http2SessionManager`.
 *
 * The manager's `request()` costs a call two promises, two copies of its headers, two `once`
 * listeners and a keepalive timer reset on the response and on every DATA chunk. That buys
 * connecting, re-verifying a connection idle for a while with a PING, and replacing a closed
 * one. While the manager has streams of its own open on a connection (a watch, or another call
 * that went through it), that connection is being verified by its PINGs already: a call's
 * stream is then opened on it directly. Otherwise the call goes through the manager.
 */
export interface UnaryStreamOpener {
  /**
   * Opens a stream on the connection the manager keeps open, if it does.
   * @param headers - the request's headers, `:method` and `:path` included.
   * @returns undefined when the call must go through {@link UnaryStreamOpener.openManaged}.
   */
  openDirect(headers: http2.OutgoingHttpHeaders): http2.ClientHttp2Stream | undefined;
  /** Opens a stream through the manager; the connection it used serves later direct calls. */
  openManaged(path: string, headers: http2.OutgoingHttpHeaders): Promise<http2.ClientHttp2Stream>;
  /** Reports that a stream {@link UnaryStreamOpener.openDirect} opened has closed. */
  directClosed(): void;
}

/**
 * How often an idle opener checks whether to drop the timer that keeps the process alive
 * during direct calls.
 */
const KEEP_ALIVE_CHECK_MS = 30_000;

/** Creates a {@link UnaryStreamOpener} on `sessionManager`'s connection. */
export function createUnaryStreamOpener(sessionManager: Http2SessionManager): UnaryStreamOpener {
  /** The connection the last call through the manager used. */
  let connection: http2.ClientHttp2Session | undefined;
  /** Streams opened directly and not closed yet. */
  let directStreams = 0;
  /**
   * Holds the process open while direct calls are in flight. The manager refs its connection
   * only while streams it opened are open, and unrefs it when the last one closes, direct
   * calls or not: a process awaiting a direct call must not exit meanwhile.
   */
  let keepAlive: NodeJS.Timeout | undefined;

  function dropIdleKeepAlive(): void {
    if (directStreams > 0 || keepAlive === undefined) return;
    clearInterval(keepAlive);
    keepAlive = undefined;
  }

  return {
    openDirect(headers) {
      const open = connection;
      if (open === undefined || open.closed || open.destroyed || sessionManager.state() !== "open") {
        return undefined;
      }
      let stream: http2.ClientHttp2Stream;
      try {
        stream = open.request(headers);
      } catch {
        // Whatever Node refused here, the manager's path reports it as it would for any call.
        return undefined;
      }
      if (directStreams++ === 0) {
        if (keepAlive === undefined) keepAlive = setInterval(dropIdleKeepAlive, KEEP_ALIVE_CHECK_MS);
        else keepAlive.ref();
      }
      return stream;
    },
    openManaged(path, headers) {
      return sessionManager.request("POST", path, headers, {}).then((stream) => {
        connection = stream.session as http2.ClientHttp2Session;
        return stream;
      });
    },
    directClosed() {
      if (--directStreams === 0) keepAlive?.unref();
    },
  };
}
