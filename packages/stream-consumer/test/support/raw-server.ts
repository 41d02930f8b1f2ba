import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Http2SessionManager } from "@connectrpc/connect-node";
import { createEnvelopeReader } from "@statebridge/grpc-wire";

/** What a raw HTTP/2 server does with one request: it gets the request's envelopes as they come. */
export type RawHandler = (stream: http2.ServerHttp2Stream, call: RawCall) => void;

/** One request the raw server received. */
export interface RawCall {
  readonly number: number;
  readonly path: string;
  /** Called with each complete request message the client sent. */
  onMessage(listener: (bytes: Uint8Array) => void): void;
}

/** A raw server, and a connection to it. */
export interface RawServer {
  readonly sessionManager: Http2SessionManager;
  readonly calls: RawCall[];
  close(): Promise<void>;
}

/** A real HTTP/2 server on a real socket that answers gRPC with bytes the test chooses. */
export async function startRawServer(handler: RawHandler): Promise<RawServer> {
  const calls: RawCall[] = [];
  const server = http2.createServer();
  const sessions = new Set<http2.Http2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  server.on("stream", (stream, headers) => {
    const listeners: ((bytes: Uint8Array) => void)[] = [];
    const envelopes = createEnvelopeReader({
      onEnvelope(message) {
        const copy = Uint8Array.from(message);
        for (const listener of listeners) listener(copy);
      },
      onOversize() {},
    });
    stream.on("data", (chunk: Buffer) => envelopes.push(chunk));
    stream.on("error", () => {});
    const call: RawCall = {
      number: calls.length + 1,
      path: String(headers[":path"]),
      onMessage: (listener) => listeners.push(listener),
    };
    calls.push(call);
    handler(stream, call);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const sessionManager = new Http2SessionManager(`http://127.0.0.1:${port}`);
  return {
    sessionManager,
    calls,
    async close() {
      sessionManager.abort();
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
