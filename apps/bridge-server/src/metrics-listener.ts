import * as http from "node:http";
import type { BridgeServerLogger } from "./logger.js";
import { processMetrics, type ServerMetrics } from "./metrics.js";

/** Options of {@link createMetricsListener}. */
export interface MetricsListenerOptions {
  readonly metrics: ServerMetrics;
  readonly logger: BridgeServerLogger;
  /** A connection that has not sent a request's headers within this is closed, in ms. */
  readonly headersTimeoutMs: number;
}

/** The `/metrics` endpoint, on a listener of its own. */
export interface MetricsListener {
  /** Starts listening. @returns the port bound. */
  listen(port: number, host: string): Promise<number>;
  /** Stops listening and closes its connections. */
  close(): Promise<void>;
}

/** Scrapers are few: more connections than this at once are refused. */
const MAX_CONNECTIONS = 64;

/**
 * Serves Prometheus's text exposition at `GET /metrics` (and `HEAD`), on its own port: it
 * stays off the public port, outside the bearer-token check and the Host check that scrapers
 * would otherwise have to pass, and an operator exposes it only where scrapers run. Every other
 * path is 404, every other method 405; request bodies are never read, and a connection closes
 * after each answer.
 */
export function createMetricsListener(options: MetricsListenerOptions): MetricsListener {
  const { metrics, logger } = options;
  // The event loop and GC are observed from now on, not from the first scrape.
  processMetrics();
  const server = http.createServer(
    {
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: Math.max(options.headersTimeoutMs, 30_000),
      keepAliveTimeout: 1_000,
    },
    (request, response) => {
      response.setHeader("connection", "close");
      const path = (request.url ?? "").split("?", 1)[0];
      if (path !== "/metrics") {
        response.writeHead(404).end();
        return;
      }
      if (request.method !== "GET" && request.method !== "HEAD") {
        response.writeHead(405, { allow: "GET, HEAD" }).end();
        return;
      }
      metrics.metricsText().then(
        (text) => {
          response.writeHead(200, { "content-type": metrics.contentType });
          response.end(request.method === "HEAD" ? undefined : text);
        },
        (error: unknown) => {
          logger.error({ err: error }, "metrics collection failed");
          response.writeHead(500).end();
        },
      );
    },
  );
  server.maxConnections = MAX_CONNECTIONS;
  server.on("clientError", (_error, socket) => socket.destroy());
  return {
    listen(port, host) {
      return new Promise<number>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          server.on("error", (error) => logger.error({ err: error }, "metrics socket error"));
          const address = server.address();
          resolve(typeof address === "object" && address !== null ? address.port : port);
        });
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
