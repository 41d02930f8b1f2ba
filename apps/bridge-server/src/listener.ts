import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { CallGate, Refusal } from "./call-gate.js";
import { type ConnectionCloseReason, type ConnectionWatch, watchConnection } from "./connection-watch.js";
import type { InspectorFiles } from "./inspector-static.js";
import type { NodeRequestHandler } from "./request-handler.js";
import type { TlsAcceptor } from "./tls.js";

/** Options of {@link createListener}. */
export interface ListenerOptions {
  readonly handler: NodeRequestHandler;
  /**
   * Offered every HTTP/2 stream first: returns true when it took the stream and answers it,
   * false to leave it to `handler` (through Node's compatibility request and response).
   */
  readonly serveStream?: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;
  /**
   * Sees every request's headers before `serveStream` or `handler` does; a refusal it returns
   * is written, and the request's body is never read: the HTTP/2 stream is reset, the
   * HTTP/1.1 connection closed, after the answer.
   */
  readonly gate?: CallGate;
  /** The inspector's static files (`--inspector`), served before the gate: they hold no data. */
  readonly inspector?: InspectorFiles;
  /**
   * The most a refused single-message request may still send, dropped unread, before its
   * answer: past it the stream is answered and reset. In bytes.
   */
  readonly maxRefusedBodyBytes: number;
  /** A connection that has not sent the headers of its first request within this is closed, in ms. */
  readonly headersTimeoutMs: number;
  /** A connection with no open request or stream for this long is closed, in ms. */
  readonly idleTimeoutMs: number;
  /** Connections open at once; beyond it, a new one is closed at once. */
  readonly maxConnections: number;
  /** Told of a connection the listener closed or refused, for the log. */
  readonly onConnectionClosed?: (reason: ConnectionCloseReason) => void;
  /** Passed to the HTTP/2 server: the most a session may buffer, in MB. */
  readonly maxSessionMemory: number;
  /** Told of an error of the listening socket after it started (it keeps listening). */
  readonly onError: (error: Error) => void;
  /**
   * Serve TLS only (HTTP/2 by ALPN `h2`, HTTP/1.1 otherwise) instead of cleartext. The
   * headers timeout runs from the TCP connection, so it covers the handshake too.
   */
  readonly tls?: TlsAcceptor;
}

/** HTTP/2 and HTTP/1.1 on one port. */
export interface Listener {
  /** Starts listening. @returns the port bound. */
  listen(port: number, host: string): Promise<number>;
  /** Connections open now. */
  readonly connections: number;
  /**
   * Refuses new connections, asks HTTP/2 clients to go away (GOAWAY: open streams may finish),
   * closes idle HTTP/1.1 connections and the others after their response, and after `graceMs`
   * cuts whatever is left.
   * @returns whether everything closed within the grace period.
   */
  close(graceMs: number): Promise<boolean>;
}

/** The receive window of each HTTP/2 stream. */
const STREAM_WINDOW_BYTES = 1024 * 1024;
/** The receive window of each HTTP/2 connection, shared by its streams. */
const CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024;

/**
 * How long a stream whose response is complete may keep its request side open during a
 * shutdown. A reset that arrives right behind the trailers can make a client report the reset
 * instead of the status it was about to read; this lets it read the status first.
 */
const HALF_OPEN_RESET_DELAY_MS = 100;

/** Resets a finished stream with NO_ERROR, as HTTP/2 allows, a moment from now. */
function resetSoon(stream: http2.ServerHttp2Stream): void {
  setTimeout(() => {
    if (!stream.closed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
  }, HALF_OPEN_RESET_DELAY_MS).unref();
}

/** How long Node keeps an idle HTTP/1.1 connection open for a next request (its default), in ms. */
const HTTP1_KEEP_ALIVE_MS = 5_000;

/**
 * How long a refused HTTP/1.1 connection stays half-closed after its answer. A client still
 * sending its body when the connection closes gets a write error (EPIPE) or a reset that
 * discards the answer it has not read yet; half-closed, it reads the answer first.
 */
const REFUSED_LINGER_MS = 1_000;

/**
 * Makes Node's close of a connection after a `connection: close` response a lingering one:
 * the answer is followed by FIN, what the client still sends is dropped unread (Node dumps the
 * request), and the socket is destroyed when the client closes or after {@link REFUSED_LINGER_MS}.
 */
function lingerOnClose(socket: net.Socket): void {
  // Node's HTTP server calls destroySoon() (end, then destroy once flushed) after the last response.
  socket.destroySoon = () => {
    socket.end();
    setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
  };
}

/** The first bytes of every HTTP/2 connection with prior knowledge ("PRI * HTTP/2.0…"). */
const HTTP2_PREFACE_START = "PRI ";

/**
 * Listens for HTTP/2 cleartext (prior knowledge: gRPC, `buf curl --http2-prior-knowledge`,
 * connect-node) and HTTP/1.1 (Connect and gRPC-Web from browsers and HTTP/1 clients) on the
 * same port. Node 20's `http2.createServer` cannot do both in cleartext (`allowHTTP1` needs
 * TLS there), so each connection's first bytes are read, put back, and the connection is handed
 * to the HTTP/2 or the HTTP/1.1 server. HTTP/2 keeps its native socket path: the session picks
 * up the bytes already read.
 */
export function createListener(options: ListenerOptions): Listener {
  const { handler, gate, headersTimeoutMs, idleTimeoutMs } = options;
  const sockets = new Set<net.Socket>();
  const http1Sockets = new Set<net.Socket>();
  // Connections handed to the HTTP/1.1 or HTTP/2 server (the TCP socket, under TLS too).
  const handedOver = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const connectionOf = new WeakMap<net.Socket, ConnectionWatch>();
  let handingOver: ConnectionWatch | undefined;
  const activeHttp1Requests = new WeakMap<net.Socket, number>();
  let shuttingDown = false;
  // Streams whose response is complete while the client has not finished its request.
  const halfOpenStreams = new Set<http2.ServerHttp2Stream>();
  // No request listener: each stream is offered to `serveStream` first, and only the others
  // get the compatibility request and response objects (see serveCompatible).
  const http2Server = http2.createServer({
    maxSessionMemory: options.maxSessionMemory,
    // Large values arrive as large messages: with HTTP/2's default 64 KiB windows an 8 MB
    // upload waits for a window update every 64 KiB.
    settings: { initialWindowSize: STREAM_WINDOW_BYTES },
  });
  /** A client that keeps its request side open after the call ended is reset at shutdown. */
  const trackHalfOpen = (stream: http2.ServerHttp2Stream): void => {
    halfOpenStreams.add(stream);
    stream.once("close", () => halfOpenStreams.delete(stream));
    if (shuttingDown) resetSoon(stream);
  };
  const serveCompatible = (
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    rawHeaders: string[],
  ): void => {
    // What Node's own compatibility layer does for a request listener (onServerStream).
    const request = new http2.Http2ServerRequest(stream, headers, {}, rawHeaders);
    const response = new http2.Http2ServerResponse(stream);
    const method = headers[http2.constants.HTTP2_HEADER_METHOD];
    if (method === "CONNECT") {
      response.statusCode = http2.constants.HTTP_STATUS_METHOD_NOT_ALLOWED;
      response.end();
      return;
    }
    if (headers.expect !== undefined) {
      if (headers.expect !== "100-continue") {
        response.statusCode = http2.constants.HTTP_STATUS_EXPECTATION_FAILED;
        response.end();
        return;
      }
      response.writeContinue();
    }
    // The stream's writable side finishes when the response is out (END_STREAM sent); the
    // response object only finishes once both sides have closed.
    stream.once("finish", () => {
      if (request.complete) return;
      // A response sent before the whole request arrived (a refused oversize request) leaves
      // a client blocked on flow control: read and drop the rest so that it can finish.
      const drop = () => {
        while (request.read() !== null) {}
      };
      request.on("readable", drop);
      drop();
      // A client that keeps its request side open after the call ended (a bidirectional
      // stream) would hold the connection through a shutdown: there, it is reset.
      trackHalfOpen(stream);
    });
    handler(request, response);
  };
  http2Server.on(
    "stream",
    (
      stream: http2.ServerHttp2Stream,
      headers: http2.IncomingHttpHeaders,
      _flags: number,
      rawHeaders: string[],
    ) => {
      // The inspector's static files need no token: the page signs in for its own calls.
      if (options.inspector?.serveHttp2(stream, headers) === true) return;
      const refusal = gate?.({
        method: headers[":method"],
        path: headers[":path"],
        authority: headers[":authority"] ?? headers.host,
        headers,
      });
      if (refusal !== undefined) {
        refuseStream(stream, refusal);
        return;
      }
      if (options.serveStream?.(stream, headers) === true) {
        // The stream's owner reads and drops whatever arrives after its answer.
        stream.once("finish", () => {
          if (!stream.readableEnded) trackHalfOpen(stream);
        });
        return;
      }
      serveCompatible(stream, headers, rawHeaders);
    },
  );
  /**
   * Answers a refused HTTP/2 stream; its body is dropped as it arrives, never buffered. A
   * stream is answered at once. A single-message request is answered when it ends: a Node
   * client (connect-node's) that receives an answer while more than its session memory
   * (10 MB) of its request is still queued resets the stream with ENHANCE_YOUR_CALM instead of
   * reading the answer. Past `maxRefusedBodyBytes` or the headers timeout it is answered anyway.
   */
  const refuseStream = (stream: http2.ServerHttp2Stream, refusal: Refusal): void => {
    stream.on("error", () => {});
    let answered = false;
    let timer: NodeJS.Timeout | undefined;
    const answer = () => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      const response = new http2.Http2ServerResponse(stream);
      refusal.response
        .then((universalResponse) => universalResponseToNodeResponse(universalResponse, response))
        .catch(() => {})
        .finally(() => {
          // A client still sending is asked to stop: NO_ERROR after a complete answer.
          if (!stream.closed && !stream.readableEnded) resetSoon(stream);
        });
    };
    if (!refusal.singleMessage) {
      answer();
      return;
    }
    let dropped = 0;
    stream.on("data", (chunk: Buffer) => {
      dropped += chunk.byteLength;
      if (dropped > options.maxRefusedBodyBytes) answer();
    });
    stream.once("end", answer);
    timer = setTimeout(answer, headersTimeoutMs);
    timer.unref();
  };
  const http1Server = http.createServer(
    {
      // Node's own check of later requests on a kept-alive connection (the first one is ours).
      headersTimeout: headersTimeoutMs,
      requestTimeout: Math.max(300_000, headersTimeoutMs),
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(headersTimeoutMs / 2))),
      keepAliveTimeout: Math.min(HTTP1_KEEP_ALIVE_MS, idleTimeoutMs),
    },
    (request, response) => {
      const socket = request.socket;
      connectionOf.get(socket)?.requestStarted();
      const inspectorFile = options.inspector?.matches(request.method, request.url) === true;
      const refusal = inspectorFile
        ? undefined
        : gate?.({
            method: request.method,
            path: request.url,
            authority: request.headers.host,
            headers: request.headers,
          });
      if (shuttingDown || refusal !== undefined) response.setHeader("connection", "close");
      activeHttp1Requests.set(socket, (activeHttp1Requests.get(socket) ?? 0) + 1);
      response.once("close", () => {
        const remaining = (activeHttp1Requests.get(socket) ?? 1) - 1;
        activeHttp1Requests.set(socket, remaining);
        if (remaining === 0 && shuttingDown) socket.end();
      });
      if (refusal !== undefined) {
        // The body is not read before the answer, and the connection closes after it.
        request.pause();
        lingerOnClose(socket);
        refusal.response.then((answer) => universalResponseToNodeResponse(answer, response)).catch(() => {});
        return;
      }
      // A response sent before the whole request arrived (a refused oversize request): Node
      // drops the rest of a body only when nothing read from it, so a kept-alive connection
      // would stall behind it, and the client's next request with it. Read and drop it here.
      response.once("finish", () => {
        if (request.complete) return;
        if (request.destroyed) {
          socket.destroy();
          return;
        }
        const drop = () => {
          while (request.read() !== null) {}
        };
        request.on("readable", drop);
        drop();
      });
      if (inspectorFile && options.inspector?.serveHttp1(request, response) === true) return;
      handler(request, response);
    },
  );

  http2Server.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    // Emitted from inside the "connection" event of the socket being handed over.
    handingOver?.attachSession(session);
    session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
    session.once("close", () => sessions.delete(session));
    // A client that misbehaves on its own connection must not take the server down.
    session.on("error", () => {});
  });

  /** Hands a connection to the HTTP/2 or HTTP/1.1 server; `socket` is `tcp` or the TLS socket over it. */
  const handOver = (tcp: net.Socket, socket: net.Socket, isHttp2: boolean): void => {
    handedOver.add(tcp);
    if (isHttp2) {
      // No resume(): the HTTP/2 session reads the socket natively, buffered bytes first.
      handingOver = connectionOf.get(tcp);
      http2Server.emit("connection", socket);
      handingOver = undefined;
      return;
    }
    http1Sockets.add(socket);
    if (socket !== tcp) socket.once("close", () => http1Sockets.delete(socket));
    http1Server.emit("connection", socket);
    socket.resume();
  };
  const netServer = net.createServer((socket) => {
    sockets.add(socket);
    connectionOf.set(
      socket,
      watchConnection(socket, headersTimeoutMs, idleTimeoutMs, options.onConnectionClosed),
    );
    socket.once("close", () => {
      sockets.delete(socket);
      http1Sockets.delete(socket);
      handedOver.delete(socket);
    });
    if (options.tls !== undefined) {
      // The TLS socket reports errors; the TCP one under it may too, after a reset.
      socket.on("error", () => {});
      options.tls.accept(socket, (secure) => {
        connectionOf.set(secure, connectionOf.get(socket) as ConnectionWatch);
        handOver(socket, secure, secure.alpnProtocol === "h2");
      });
      return;
    }
    const ignoreEarlyError = () => {};
    socket.on("error", ignoreEarlyError);
    let buffered: Buffer | undefined;
    const onData = (chunk: Buffer) => {
      buffered = buffered === undefined ? chunk : Buffer.concat([buffered, chunk]);
      if (buffered.length < HTTP2_PREFACE_START.length) return;
      socket.off("data", onData);
      socket.off("error", ignoreEarlyError);
      socket.pause();
      socket.unshift(buffered);
      handOver(
        socket,
        socket,
        buffered.toString("latin1", 0, HTTP2_PREFACE_START.length) === HTTP2_PREFACE_START,
      );
    };
    socket.on("data", onData);
  });
  netServer.maxConnections = options.maxConnections;
  netServer.on("drop", () => options.onConnectionClosed?.("max connections"));

  return {
    get connections() {
      return sockets.size;
    },
    listen(port, host) {
      return new Promise<number>((resolve, reject) => {
        netServer.once("error", reject);
        netServer.listen(port, host, () => {
          netServer.off("error", reject);
          netServer.on("error", options.onError);
          const address = netServer.address();
          resolve(typeof address === "object" && address !== null ? address.port : port);
        });
      });
    },
    async close(graceMs) {
      shuttingDown = true;
      const closed = new Promise<void>((resolve) => netServer.close(() => resolve()));
      for (const stream of halfOpenStreams) resetSoon(stream);
      for (const session of sessions) session.close();
      for (const socket of http1Sockets) {
        if ((activeHttp1Requests.get(socket) ?? 0) === 0) socket.end();
      }
      // A connection that has not said which protocol it speaks has nothing to finish.
      for (const socket of sockets) {
        if (!handedOver.has(socket)) socket.destroy();
      }
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      });
      const inTime = await Promise.race([closed.then(() => true), graceOver]);
      clearTimeout(timer);
      if (!inTime) {
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
        await closed;
      }
      return inTime;
    },
  };
}
