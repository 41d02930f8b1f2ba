// BridgedState propagates the caller's trace context: the bridge-server's span of each call is
// a child of the span active where the call was made, in the same trace, on the direct gRPC
// path of the provider's own connection and through a connect transport the user gives.
import { createConnectTransport } from "@connectrpc/connect-node";
import { context, propagation, SpanKind, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { type BridgeServer, createBridgeServer } from "@statebridge/bridge-server";
import type { StateProvider } from "@statebridge/state-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBridgedState } from "../src/index.js";

const exporter = new InMemorySpanExporter();
let server: BridgeServer;

beforeAll(async () => {
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  server = await createBridgeServer({ host: "127.0.0.1", port: 0, shutdownGraceMs: 200 });
});

afterAll(async () => {
  await server.close();
  trace.disable();
  context.disable();
  propagation.disable();
});

/** Runs `operation` inside a client span; returns the span. */
async function inClientSpan(operation: () => Promise<unknown>) {
  return await trace
    .getTracer("application")
    .startActiveSpan("work", { kind: SpanKind.CLIENT }, async (span) => {
      await operation();
      span.end();
      return span;
    });
}

/** The server spans of `method` in `traceId`, once they ended (when their streams closed). */
async function serverSpans(traceId: string, method: string): Promise<ReadableSpan[]> {
  const match = (span: ReadableSpan) =>
    span.kind === SpanKind.SERVER &&
    span.spanContext().traceId === traceId &&
    span.attributes["rpc.method"] === method;
  for (let attempt = 0; attempt < 300 && !exporter.getFinishedSpans().some(match); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return exporter.getFinishedSpans().filter(match);
}

describe("BridgedState and the caller's trace", () => {
  const cases: [string, () => Promise<StateProvider>][] = [
    ["its own connection (direct gRPC path)", () => createBridgedState({ url: server.url })],
    [
      "a Connect transport the user gives",
      () =>
        createBridgedState({
          url: server.url,
          transport: createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
        }),
    ],
  ];
  for (const [name, open] of cases) {
    it(`on ${name}, a get's server span is a child of the active span, in its trace`, async () => {
      const provider = await open();
      try {
        await provider.register("temperature", "float", 0.5);
        const span = await inClientSpan(() => provider.get("temperature"));
        const { traceId, spanId } = span.spanContext();
        const spans = await serverSpans(traceId, "GetVariable");
        expect(spans).toHaveLength(1);
        expect(spans[0]?.parentSpanContext?.spanId).toBe(spanId);
        expect(spans[0]?.attributes["rpc.service"]).toBe("statebridge.v1.BridgeService");
      } finally {
        await provider.close();
      }
    });
  }

  for (const streams of ["multiplexed", "per-watch"] as const) {
    it(`a ${streams} watch opened inside a span: the server's span of its stream is a child of that span`, async () => {
      const provider = await createBridgedState({ url: server.url, watch: { streams } });
      let traceId = "";
      let spanId = "";
      try {
        await provider.register("watched", "float", 0);
        const span = await inClientSpan(() => provider.watch(["watched"], () => {}));
        ({ traceId, spanId } = span.spanContext());
      } finally {
        // The server's span of a stream ends when the stream does.
        await provider.close();
      }
      const method = streams === "multiplexed" ? "WatchStream" : "WatchVariables";
      const spans = await serverSpans(traceId, method);
      expect(spans).toHaveLength(1);
      expect(spans[0]?.parentSpanContext?.spanId).toBe(spanId);
    });
  }

  it("a call made outside any span starts no trace of the caller's", async () => {
    const provider = await createBridgedState({ url: server.url });
    try {
      await provider.register("outside", "float", 0.5);
      exporter.reset();
      await provider.get("outside");
      for (let attempt = 0; attempt < 300 && exporter.getFinishedSpans().length === 0; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const [span] = exporter
        .getFinishedSpans()
        .filter((candidate) => candidate.attributes["rpc.method"] === "GetVariable");
      expect(span?.parentSpanContext).toBeUndefined();
    } finally {
      await provider.close();
    }
  });
});
