// Fixtures of the tests that fault a real server process: each is released after the test
// that made it, in reverse order, by the afterEach this module registers.
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";
import { afterEach } from "vitest";
import { createStreamConsumer, type StreamConsumer, type StreamConsumerOptions } from "../../src/index.js";
import { type ServerProcess, startServerProcess } from "./server-process.js";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Releases `cleanup` after the current test, before the fixtures made earlier. */
export function releaseAfterTest(cleanup: () => Promise<void> | void): void {
  cleanups.push(cleanup);
}

/** A bridge-server process with `flags`, killed after the test. */
export async function serverProcess(flags: readonly string[], port = 0): Promise<ServerProcess> {
  const server = await startServerProcess(flags, port);
  releaseAfterTest(() => server.stop("SIGKILL"));
  return server;
}

/** A TCP proxy to `port` that tests can cut and partition, closed after the test. */
export async function proxyTo(port: number): Promise<TcpProxy> {
  const proxy = await startTcpProxy(port);
  releaseAfterTest(() => proxy.close());
  return proxy;
}

/** A connect client on a connection of its own with fast keepalive PINGs, closed after the test. */
export function clientOf(baseUrl: string): Client<typeof BridgeService> {
  const sessionManager = new Http2SessionManager(baseUrl, { pingIntervalMs: 500, pingTimeoutMs: 500 });
  releaseAfterTest(() => sessionManager.abort());
  return createClient(BridgeService, createGrpcTransport({ baseUrl, sessionManager }));
}

/** A stream consumer, closed after the test. */
export function consumerOf(options: StreamConsumerOptions): StreamConsumer {
  const consumer = createStreamConsumer(options);
  releaseAfterTest(() => consumer.close());
  return consumer;
}

/** A wire integer value. */
export const integer = (value: number) => ({ kind: { case: "integerValue" as const, value: BigInt(value) } });
