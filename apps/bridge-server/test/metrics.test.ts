import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCommandLine } from "../src/cli-options.js";
import { type BridgeServer, createBridgeServer } from "../src/index.js";
import {
  moved,
  requestsByMethodAndCode,
  rpcLabels,
  runCallMix,
  scrape,
  series,
  WIRE_PATHS,
} from "./metrics-support.js";
import { REDIS_AVAILABLE, startRedisServer } from "./support-redis.js";
import { wire } from "./support-values.js";

const REQUESTS = "statebridge_rpc_requests_total";
const DURATION_COUNT = "statebridge_rpc_duration_seconds_count";
const IN_FLIGHT = "statebridge_rpc_in_flight";

let sessionCounter = 0;
const nextSessionId = () => `metrics-${++sessionCounter}`;

describe("/metrics counts every call once, on the path that served it", () => {
  let server: BridgeServer;
  let metricsUrl: string;

  beforeAll(async () => {
    server = await createBridgeServer({
      host: "127.0.0.1",
      port: 0,
      metricsPort: 0,
      token: "secret",
      shutdownGraceMs: 200,
    });
    metricsUrl = server.metricsUrl as string;
  });
  afterAll(() => server.close());

  for (const path of WIRE_PATHS) {
    const label = path.direct ? "direct" : "connect";
    const other = path.direct ? "connect" : "direct";
    it(`${path.name}: counters and histogram move by exactly the calls sent, under their codes (path ${label})`, async () => {
      const transport = path.createTransport(server.url, "secret");
      const client = createClient(BridgeService, transport);
      const sessionId = nextSessionId();
      await client.initializeSession({ sessionId });
      await client.registerVariable({ sessionId, name: "x", type: "float", initialValue: wire.float(1) });

      const before = await scrape(metricsUrl);
      for (let index = 0; index < 5; index++) await client.getVariable({ sessionId, identifier: "x" });
      for (let index = 0; index < 3; index++) {
        const failure = await client
          .getVariable({ sessionId, identifier: "missing" })
          .catch((error) => error);
        expect(ConnectError.from(failure).code).toBe(Code.NotFound);
      }
      const after = await scrape(metricsUrl);

      const ok = series(REQUESTS, rpcLabels("GetVariable", "OK", label));
      const notFound = series(REQUESTS, rpcLabels("GetVariable", "NOT_FOUND", label));
      expect(moved(before, after, ok)).toBe(5);
      expect(moved(before, after, notFound)).toBe(3);
      expect(moved(before, after, series(DURATION_COUNT, rpcLabels("GetVariable", "OK", label)))).toBe(5);
      expect(moved(before, after, series(DURATION_COUNT, rpcLabels("GetVariable", "NOT_FOUND", label)))).toBe(
        3,
      );
      expect(moved(before, after, series(REQUESTS, rpcLabels("GetVariable", "OK", other)))).toBe(0);
      const { service, method } = rpcLabels("GetVariable", "OK", label);
      expect(after.get(series(IN_FLIGHT, { service, method, path: label }))).toBe(0);
      // The store saw the same calls, and the misses as not_found errors.
      expect(
        moved(
          before,
          after,
          series("statebridge_store_operation_duration_seconds_count", { operation: "getVariable" }),
        ),
      ).toBe(8);
      expect(
        moved(
          before,
          after,
          series("statebridge_store_errors_total", { operation: "getVariable", code: "not_found" }),
        ),
      ).toBe(3);
    });
  }

  it("calls refused for a missing token are counted apart, once each, on every path", async () => {
    const before = await scrape(metricsUrl);
    for (const path of WIRE_PATHS) {
      const client = createClient(BridgeService, path.createTransport(server.url));
      const failure = await client.ping({ message: "no token" }).catch((error) => error);
      expect(ConnectError.from(failure).code).toBe(Code.Unauthenticated);
    }
    const after = await scrape(metricsUrl);
    expect(moved(before, after, series("statebridge_rpc_refused_total", { code: "UNAUTHENTICATED" }))).toBe(
      WIRE_PATHS.length,
    );
    for (const path of ["direct", "connect"] as const) {
      expect(moved(before, after, series(REQUESTS, rpcLabels("Ping", "UNAUTHENTICATED", path)))).toBe(0);
    }
  });

  it("sessions, variables and revisions written follow the store", async () => {
    const client = createClient(
      BridgeService,
      WIRE_PATHS[0]?.createTransport(server.url, "secret") as Transport,
    );
    const before = await scrape(metricsUrl);
    const sessionId = nextSessionId();
    await client.initializeSession({ sessionId });
    await client.registerVariable({ sessionId, name: "a", type: "float", initialValue: wire.float(0) });
    await client.registerVariable({ sessionId, name: "b", type: "float", initialValue: wire.float(0) });
    for (let index = 0; index < 4; index++) {
      await client.setVariable({ sessionId, identifier: "a", value: wire.float(index) });
    }
    const after = await scrape(metricsUrl);
    expect(moved(before, after, "statebridge_sessions")).toBe(1);
    expect(moved(before, after, "statebridge_variables")).toBe(2);
    expect(moved(before, after, "statebridge_sessions_created_total")).toBe(1);
    expect(moved(before, after, "statebridge_store_revisions_written_total")).toBe(6);
    expect(after.get("statebridge_sessions")).toBe(server.store.stats().sessionsCurrent);
    expect(after.get("statebridge_store_history_bytes")).toBe(server.store.stats().historyBytes);
  });

  it("process metrics are there: event loop lag, heap, GC", async () => {
    const response = await fetch(metricsUrl);
    const text = await response.text();
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of [
      "nodejs_eventloop_lag_seconds",
      "nodejs_heap_size_used_bytes",
      "nodejs_gc_duration_seconds",
    ]) {
      expect(text).toContain(`# TYPE ${name}`);
    }
  });

  it("the metrics listener needs no token, serves only GET /metrics, and reads no body", async () => {
    const base = metricsUrl.replace(/\/metrics$/, "");
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect(
      (await fetch(`${base}/statebridge.v1.BridgeService/Ping`, { method: "POST", body: "{}" })).status,
    ).toBe(404);
    const post = await fetch(`${base}/metrics`, { method: "POST", body: "x".repeat(1024) });
    expect(post.status).toBe(405);
    // The main port keeps /metrics behind its own rules: it is no RPC.
    expect((await fetch(`${server.url}/metrics`)).status).not.toBe(200);
  });
});

describe("§6: the same calls on either path produce the same metrics", () => {
  it("gRPC calls served directly and by connect count the same methods and codes", async () => {
    const counts: Map<string, number>[] = [];
    for (const grpcFastPath of [true, false]) {
      const server = await createBridgeServer({
        host: "127.0.0.1",
        port: 0,
        metricsPort: 0,
        grpcFastPath,
        shutdownGraceMs: 200,
      });
      const sessionManager = new Http2SessionManager(server.url);
      try {
        const client = createClient(
          BridgeService,
          createGrpcTransport({ baseUrl: server.url, sessionManager }),
        );
        const before = await scrape(server.metricsUrl as string);
        await runCallMix(client, nextSessionId());
        const after = await scrape(server.metricsUrl as string);
        const path = grpcFastPath ? "direct" : "connect";
        expect(
          [...after.keys()].filter(
            (key) => key.startsWith(`${REQUESTS}{`) && !key.includes(`path="${path}"`),
          ),
        ).toEqual([]);
        counts.push(difference(requestsByMethodAndCode(before), requestsByMethodAndCode(after)));
      } finally {
        sessionManager.abort();
        await server.close();
      }
    }
    expect(counts[0]?.size).toBeGreaterThan(5);
    expect(counts[1]).toEqual(counts[0]);
  });
});

describe.skipIf(!REDIS_AVAILABLE)("store metrics on the Redis store", () => {
  it("the same store metrics time a Redis-backed server's operations and count its errors", async () => {
    const redis = await startRedisServer();
    try {
      const server = await createBridgeServer({
        host: "127.0.0.1",
        port: 0,
        metricsPort: 0,
        storeUrl: redis.url,
        shutdownGraceMs: 200,
      });
      const sessionManager = new Http2SessionManager(server.url);
      try {
        const client = createClient(
          BridgeService,
          createGrpcTransport({ baseUrl: server.url, sessionManager }),
        );
        const sessionId = nextSessionId();
        await client.initializeSession({ sessionId });
        await client.registerVariable({ sessionId, name: "x", type: "float", initialValue: wire.float(1) });
        const before = await scrape(server.metricsUrl as string);
        for (let index = 0; index < 4; index++) await client.getVariable({ sessionId, identifier: "x" });
        await client.getVariable({ sessionId, identifier: "missing" }).catch(() => undefined);
        const read = await scrape(server.metricsUrl as string);
        await client.setVariable({ sessionId, identifier: "x", value: wire.float(2) });
        const after = await scrape(server.metricsUrl as string);
        const operations = (operation: string) =>
          series("statebridge_store_operation_duration_seconds_count", { operation });
        expect(moved(before, read, operations("getVariable"))).toBe(5);
        expect(
          moved(
            before,
            read,
            series("statebridge_store_errors_total", { operation: "getVariable", code: "not_found" }),
          ),
        ).toBe(1);
        expect(moved(read, after, operations("set"))).toBe(1);
        expect(moved(read, after, "statebridge_store_revisions_written_total")).toBe(1);
        expect(moved(before, after, series(REQUESTS, rpcLabels("GetVariable", "OK", "direct")))).toBe(4);
      } finally {
        sessionManager.abort();
        await server.close();
      }
    } finally {
      await redis.stop();
    }
  }, 30_000);
});

describe("--metrics-port", () => {
  it("is off by default and takes a port and a host", () => {
    const none = parseCommandLine([], {});
    expect(none.kind === "serve" && none.options.metricsPort).toBeUndefined();
    const given = parseCommandLine(["--metrics-port", "9464", "--metrics-host", "0.0.0.0"], {});
    expect(given.kind === "serve" && given.options).toMatchObject({
      metricsPort: 9464,
      metricsHost: "0.0.0.0",
    });
    expect(() => parseCommandLine(["--metrics-port", "70000"], {})).toThrow(/--metrics-port/);
  });
});

function difference(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const result = new Map<string, number>();
  for (const [key, value] of after) {
    const change = value - (before.get(key) ?? 0);
    if (change !== 0) result.set(key, change);
  }
  return result;
}
