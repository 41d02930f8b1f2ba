import type { IncomingHttpHeaders } from "node:http";
import {
  type Attributes,
  ProxyTracerProvider,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";

/** The instrumentation scope of the server's spans. */
export const TRACER_NAME = "statebridge-bridge-server";

/** The RPC system of a call, from its content type: gRPC (and gRPC-Web), or the Connect protocol. */
export type RpcSystem = "grpc" | "connect_rpc";

/** Where the server listens, for the spans' `server.address` and `server.port`. */
export interface ServerEndpoint {
  readonly address: string;
  readonly port: number;
}

/**
 * gRPC codes that make a server span an error, as OpenTelemetry's RPC conventions say: the
 * others (NOT_FOUND, INVALID_ARGUMENT, …) are the client's to judge.
 */
const SERVER_ERROR_CODES: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);

/** The Connect protocol's names of gRPC codes, for `rpc.connect_rpc.error_code`. */
const CONNECT_CODE_NAMES = [
  "ok",
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
] as const;

/**
 * Starts server spans through `@opentelemetry/api` alone: with no SDK registered nothing is
 * created (not even a no-op span), so a server nobody traces pays one property read per call.
 */
export interface ServerTracing {
  /**
   * Starts the server span of a call, child of the `traceparent` the request carries (through
   * the registered propagator).
   * @returns undefined when no tracer provider is registered.
   */
  start(
    system: RpcSystem,
    service: string,
    method: string,
    headers: IncomingHttpHeaders,
    endpoint: ServerEndpoint,
  ): Span | undefined;
  /** Ends `span` with the call's gRPC status code. */
  end(span: Span, system: RpcSystem, code: number): void;
}

/** Creates the server's {@link ServerTracing}. */
export function createServerTracing(version: string): ServerTracing {
  return {
    start(system, service, method, headers, endpoint) {
      const provider = trace.getTracerProvider();
      // The API's global provider is a proxy, with no tracer behind it until an SDK registers one.
      const tracer: Tracer | undefined =
        provider instanceof ProxyTracerProvider
          ? provider.getDelegateTracer(TRACER_NAME, version)
          : provider.getTracer(TRACER_NAME, version);
      if (tracer === undefined) return undefined;
      const parent = propagation.extract(ROOT_CONTEXT, headers);
      const attributes: Attributes = {
        "rpc.system": system,
        "rpc.service": service,
        "rpc.method": method,
        "server.address": endpoint.address,
        "server.port": endpoint.port,
      };
      return tracer.startSpan(`${service}/${method}`, { kind: SpanKind.SERVER, attributes }, parent);
    },
    end(span, system, code) {
      if (span.isRecording()) {
        if (system === "grpc") span.setAttribute("rpc.grpc.status_code", code);
        else if (code !== 0)
          span.setAttribute("rpc.connect_rpc.error_code", CONNECT_CODE_NAMES[code] ?? "unknown");
        if (SERVER_ERROR_CODES.has(code)) span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    },
  };
}
