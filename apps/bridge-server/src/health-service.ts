import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  BridgeService,
  type Health,
  type HealthCheckRequest,
  type HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "@statebridge/proto";
import type { StreamRegistry } from "./watch-registry.js";

/** The services `grpc.health.v1.Health` answers for: the server as a whole ("") and ours. */
const KNOWN_SERVICES: ReadonlySet<string> = new Set(["", BridgeService.typeName]);

/** How often a health watch looks whether the store became reachable or unreachable. */
const STORE_POLL_INTERVAL_MS = 1000;

/** What the health service reads from the server. */
export interface HealthState {
  /** False once shutdown has begun. */
  isServing(): boolean;
  /** False while the session store cannot be reached ({@link SessionStore.available}). */
  storeAvailable(): boolean;
  /** Open streams; a health watch is one, ended at shutdown. */
  readonly streams: StreamRegistry;
}

/**
 * Implements `grpc.health.v1.Health`: SERVING for the whole server ("") and for
 * `statebridge.v1.BridgeService` while the server is up and its store reachable, NOT_SERVING
 * otherwise; any other service name is NOT_FOUND, as the gRPC health protocol says. Watch
 * sends the status at once and again whenever the store's reachability changes (looked at
 * every second), and NOT_SERVING when shutdown begins, then ends cleanly.
 */
export function createHealthService(state: HealthState): ServiceImpl<typeof Health> {
  const statusOf = (): ServingStatus =>
    state.isServing() && state.storeAvailable() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  return {
    check(request) {
      if (!KNOWN_SERVICES.has(request.service)) {
        throw new ConnectError(`unknown service ${JSON.stringify(request.service)}`, Code.NotFound);
      }
      return { status: statusOf() };
    },
    async *watch(
      request: HealthCheckRequest,
      context: HandlerContext,
    ): AsyncGenerator<MessageInitShape<typeof HealthCheckResponseSchema>> {
      const known = KNOWN_SERVICES.has(request.service);
      let last = known ? statusOf() : ServingStatus.SERVICE_UNKNOWN;
      yield { status: last };
      if (!state.isServing()) return;
      let wake: (() => void) | undefined;
      let shuttingDown = false;
      const onAbort = () => wake?.();
      const unregister = state.streams.add(() => {
        shuttingDown = true;
        wake?.();
      });
      context.signal.addEventListener("abort", onAbort, { once: true });
      const poll = known
        ? setInterval(() => {
            if (statusOf() !== last) wake?.();
          }, STORE_POLL_INTERVAL_MS)
        : undefined;
      poll?.unref();
      try {
        for (;;) {
          if (context.signal.aborted) return;
          if (shuttingDown) {
            if (known) yield { status: ServingStatus.NOT_SERVING };
            return;
          }
          const status = known ? statusOf() : last;
          if (status !== last) {
            last = status;
            yield { status };
            continue;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      } finally {
        clearInterval(poll);
        unregister();
        context.signal.removeEventListener("abort", onAbort);
      }
    },
  };
}
