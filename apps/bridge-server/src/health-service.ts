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

/** What the health service reads from the server. */
export interface HealthState {
  /** False once shutdown has begun. */
  isServing(): boolean;
  /** Open streams; a health watch is one, ended at shutdown. */
  readonly streams: StreamRegistry;
}

/**
 * Implements `grpc.health.v1.Health`: SERVING for the whole server ("") and for
 * `statebridge.v1.BridgeService` until shutdown begins, NOT_SERVING after; any other service
 * name is NOT_FOUND, as the gRPC health protocol says. Watch sends the status at once, and
 * NOT_SERVING when shutdown begins, then ends cleanly.
 */
export function createHealthService(state: HealthState): ServiceImpl<typeof Health> {
  const statusOf = (): MessageInitShape<typeof HealthCheckResponseSchema> => ({
    status: state.isServing() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING,
  });
  return {
    check(request) {
      if (!KNOWN_SERVICES.has(request.service)) {
        throw new ConnectError(`unknown service ${JSON.stringify(request.service)}`, Code.NotFound);
      }
      return statusOf();
    },
    async *watch(request: HealthCheckRequest, context: HandlerContext) {
      if (!KNOWN_SERVICES.has(request.service)) {
        yield { status: ServingStatus.SERVICE_UNKNOWN };
      } else {
        yield statusOf();
      }
      if (!state.isServing()) return;
      let unregister: () => void = () => {};
      const shuttingDown = await new Promise<boolean>((resolve) => {
        unregister = state.streams.add(() => resolve(true));
        context.signal.addEventListener("abort", () => resolve(false), { once: true });
      });
      unregister();
      if (shuttingDown && KNOWN_SERVICES.has(request.service)) {
        yield { status: ServingStatus.NOT_SERVING };
      }
    },
  };
}
