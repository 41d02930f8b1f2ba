// An OpenTelemetry SDK for tests: an in-memory exporter, the async-hooks context manager (so
// that a client's active span follows its awaits) and the W3C propagator, registered globally.
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";

/** The registered SDK. */
export interface TestTracing {
  readonly exporter: InMemorySpanExporter;
  /** Waits until a finished span satisfies `match` (a server span ends when its stream closes). */
  span(match: (span: ReadableSpan) => boolean): Promise<ReadableSpan>;
  /** Unregisters everything. */
  uninstall(): void;
}

/** Registers a tracer provider, context manager and propagator for the test file. */
export function installTracing(): TestTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return {
    exporter,
    async span(match) {
      for (let attempt = 0; attempt < 500; attempt++) {
        const found = exporter.getFinishedSpans().find(match);
        if (found !== undefined) return found;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error("no finished span matched");
    },
    uninstall() {
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
