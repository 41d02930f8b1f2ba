import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { BridgeService } from "@statebridge/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BridgeServer, createBridgeServer } from "../src/index.js";
import { createServerTracing } from "../src/tracing.js";
import { runCallMix, WIRE_PATHS } from "./metrics-support.js";
import { wire } from "./support-values.js";
import { installTracing, type TestTracing } from "./tracing-support.js";

const HEADERS_SETTER = { set: (carrier: Headers, key: string, value: string) => carrier.set(key, value) };

/** What a TypeScript client does to join the server's span to its own: inject the active context. */
const propagate: Interceptor = (next) => (request) => {
  propagation.inject(context.active(), request.header, HEADERS_SETTER);
  return next(request);
};

/** The same, as call options: the headers of the active context. */
function traced(): { headers: Headers } {
  const headers = new Headers();
  propagation.inject(context.active(), headers, HEADERS_SETTER);
  return { headers };
}

let sessionCounter = 0;
const nextSessionId = () => `tracing-${++sessionCounter}`;

describe("server spans", () => {
  let tracing: TestTracing;
  let server: BridgeServer;

  beforeAll(async () => {
    tracing = installTracing();
    server = await createBridgeServer({ host: "127.0.0.1", port: 0, shutdownGraceMs: 200 });
  });
  afterAll(async () => {
    await server.close();
    tracing.uninstall();
  });

  for (const path of WIRE_PATHS) {
    const system = path.name.startsWith("connect") ? "connect_rpc" : "grpc";
    it(`${path.name}: one trace spans the client's call and the server's span, its child`, async () => {
      const transport = path.createTransport(server.url);
      const client = createClient(BridgeService, transport);
      const sessionId = nextSessionId();
      await client.initializeSession({ sessionId });
      await client.registerVariable({ sessionId, name: "x", type: "float", initialValue: wire.float(1) });

      const tracer = trace.getTracer("test-client");
      const clientSpan = await tracer.startActiveSpan(
        "client get",
        { kind: SpanKind.CLIENT },
        async (span) => {
          await client.getVariable({ sessionId, identifier: "x" }, traced());
          await client.getVariable({ sessionId, identifier: "missing" }, traced()).catch(() => undefined);
          span.end();
          return span;
        },
      );
      const { traceId, spanId } = clientSpan.spanContext();
      const inTrace = (span: ReadableSpan) =>
        span.spanContext().traceId === traceId && span.name === "statebridge.v1.BridgeService/GetVariable";
      await tracing.span((span) => inTrace(span) && span.attributes["rpc.method"] === "GetVariable");
      const serverSpans = await waitForSpans(tracing, inTrace, 2);

      for (const span of serverSpans) {
        expect(span.kind).toBe(SpanKind.SERVER);
        expect(span.parentSpanContext?.spanId).toBe(spanId);
        expect(span.instrumentationScope.name).toBe("statebridge-bridge-server");
        expect(span.attributes).toMatchObject({
          "rpc.system": system,
          "rpc.service": "statebridge.v1.BridgeService",
          "rpc.method": "GetVariable",
          "server.address": "127.0.0.1",
          "server.port": server.port,
        });
        // NOT_FOUND is the client's to judge: the server span is no error.
        expect(span.status.code).toBe(SpanStatusCode.UNSET);
      }
      const codes = serverSpans.map((span) =>
        system === "grpc"
          ? span.attributes["rpc.grpc.status_code"]
          : span.attributes["rpc.connect_rpc.error_code"],
      );
      expect(codes.sort()).toEqual(system === "grpc" ? [0, 5] : ["not_found", undefined].sort());
    });
  }

  it("a call that carries no traceparent starts a trace of its own", async () => {
    const sessionManager = new Http2SessionManager(server.url);
    try {
      const client = createClient(
        BridgeService,
        createGrpcTransport({ baseUrl: server.url, sessionManager }),
      );
      const response = await client.ping({ message: "untraced" });
      expect(response.message).toBe("untraced");
      const span = await tracing.span(
        (candidate) =>
          candidate.name === "statebridge.v1.BridgeService/Ping" && candidate.parentSpanContext === undefined,
      );
      expect(span.attributes["rpc.grpc.status_code"]).toBe(0);
    } finally {
      sessionManager.abort();
    }
  });

  it("§6: the same gRPC calls served directly and by connect make the same spans", async () => {
    const shapes: string[][] = [];
    for (const grpcFastPath of [true, false]) {
      const other = await createBridgeServer({
        host: "127.0.0.1",
        port: 0,
        grpcFastPath,
        shutdownGraceMs: 200,
      });
      const sessionManager = new Http2SessionManager(other.url);
      try {
        const client = createClient(
          BridgeService,
          createGrpcTransport({ baseUrl: other.url, sessionManager, interceptors: [propagate] }),
        );
        const traceId = await trace.getTracer("test-client").startActiveSpan("mix", async (span) => {
          await runCallMix(client, `mix-${grpcFastPath}`);
          span.end();
          return span.spanContext().traceId;
        });
        const spans = await waitForSpans(
          tracing,
          (span) => span.spanContext().traceId === traceId && span.kind === SpanKind.SERVER,
          11,
        );
        shapes.push(spans.map((span) => shapeOf(span, other.port)).sort());
      } finally {
        sessionManager.abort();
        await other.close();
      }
    }
    expect(shapes[0]?.length).toBe(11);
    expect(shapes[1]).toEqual(shapes[0]);
  });
});

describe("with no OpenTelemetry SDK registered", () => {
  it("no span is started, not even a no-op one", () => {
    const tracing = createServerTracing("0.0.0");
    const span = tracing.start(
      "grpc",
      "statebridge.v1.BridgeService",
      "Ping",
      {},
      { address: "127.0.0.1", port: 1 },
    );
    expect(span).toBeUndefined();
  });
});

/** The span without what differs between two servers (ids, times, the port). */
function shapeOf(span: ReadableSpan, port: number): string {
  expect(span.attributes["server.port"]).toBe(port);
  const { "server.port": _port, ...attributes } = span.attributes;
  return JSON.stringify({ name: span.name, kind: span.kind, status: span.status, attributes });
}

async function waitForSpans(
  tracing: TestTracing,
  match: (span: ReadableSpan) => boolean,
  count: number,
): Promise<ReadableSpan[]> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const spans = tracing.exporter.getFinishedSpans().filter(match);
    if (spans.length >= count) return spans;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return tracing.exporter.getFinishedSpans().filter(match);
}
