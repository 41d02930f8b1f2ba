import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, createClient, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  BridgeService,
  type WatchVariablesRequest,
  type WatchVariablesResponseSchema,
} from "@statebridge/proto";

/** What a scripted WatchVariables handler yields. */
export type ScriptedResponse = MessageInitShape<typeof WatchVariablesResponseSchema>;

/** One call the scripted server received. */
export interface ScriptedCall {
  readonly number: number;
  readonly request: WatchVariablesRequest;
  /** Aborted when the client cancels the call or the connection closes. */
  readonly signal: AbortSignal;
}

/** Decides what one WatchVariables call answers; throwing ends the call with that error. */
export type WatchScript = (call: ScriptedCall, context: HandlerContext) => AsyncIterable<ScriptedResponse>;

/**
 * A real HTTP/2 server on a real socket whose WatchVariables answers follow a script: the
 * protocol corner cases (a resumed stream that repeats, a heartbeat then silence, an error
 * after N messages) that a production server produces only by bad luck, on demand.
 */
export interface ScriptedServer {
  readonly baseUrl: string;
  readonly calls: ScriptedCall[];
  /** A client over a transport of its own (closed by {@link ScriptedServer.close}). */
  client(): Client<typeof BridgeService>;
  close(): Promise<void>;
}

export async function startScriptedServer(script: WatchScript): Promise<ScriptedServer> {
  const calls: ScriptedCall[] = [];
  const sessionManagers: Http2SessionManager[] = [];
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(BridgeService, {
        watchVariables(request, context) {
          const call: ScriptedCall = { number: calls.length + 1, request, signal: context.signal };
          calls.push(call);
          return script(call, context);
        },
      });
    },
  });
  const server = http2.createServer(handler);
  const sessions = new Set<http2.Http2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    calls,
    client() {
      const sessionManager = new Http2SessionManager(baseUrl, {
        pingIntervalMs: 1_000,
        pingTimeoutMs: 1_000,
      });
      sessionManagers.push(sessionManager);
      return createClient(BridgeService, createGrpcTransport({ baseUrl, sessionManager }));
    },
    async close() {
      for (const sessionManager of sessionManagers) sessionManager.abort();
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** A heartbeat message. */
export function heartbeat(revision: number): ScriptedResponse {
  return { kind: { case: "heartbeat", value: { revision: BigInt(revision) } } };
}

/** A message with one value_change event of a float variable `name` per value, all at `revision`. */
export function changes(
  revision: number,
  ...values: readonly [name: string, value: number][]
): ScriptedResponse {
  return {
    kind: {
      case: "events",
      value: {
        revision: BigInt(revision),
        events: values.map(([name, value]) => ({
          type: 2,
          identifier: name,
          id: `var_${name.padStart(24, "0").slice(-24)}`,
          name,
          variableType: "float",
          newValue: { kind: { case: "floatValue" as const, value } },
          revision: BigInt(revision),
          version: BigInt(revision),
          source: "scripted",
        })),
      },
    },
  };
}
