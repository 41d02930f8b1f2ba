import { create, toBinary } from "@bufbuild/protobuf";
import {
  BridgeService,
  WatchStreamRequestSchema,
  WatchStreamResponseSchema,
  WatchVariablesRequestSchema,
  WatchVariablesResponseSchema,
} from "@statebridge/proto";
import { StateError } from "@statebridge/state-provider";
import { type GrpcConnection, openGrpcStream } from "./grpc-stream.js";
import { createMessageChannel } from "./message-channel.js";
import { createSilenceMonitor } from "./silence-monitor.js";
import type { WatchMessage, WatchRequest, WatchSource } from "./watch-source.js";
import type { WatchStreamOpener } from "./watch-stream-source.js";
import type { WatchVariablesSourceOptions } from "./watch-variables-source.js";

const WATCH_STREAM_PATH = `/${BridgeService.typeName}/${BridgeService.method.watchStream.name}`;
const WATCH_VARIABLES_PATH = `/${BridgeService.typeName}/${BridgeService.method.watchVariables.name}`;
/** Messages a per-watch stream may have waiting before the stream is paused (flow control). */
const PAUSE_AT_MESSAGES = 64;

/**
 * A `WatchStreamOpener` (for `createWatchStreamSource`) that opens the multiplexed
 * `WatchStream` directly on `connection`'s HTTP/2 connection: each response is decoded once as
 * its bytes arrive and routed at once, without connect's per-message async pipeline.
 */
export function createGrpcWatchStreamOpener(connection: GrpcConnection): WatchStreamOpener {
  return (onResponse, onEnd) => {
    const call = openGrpcStream(connection, WATCH_STREAM_PATH, WatchStreamResponseSchema, {
      onMessage: onResponse,
      onEnd,
    });
    return {
      send: (request) =>
        call.send(toBinary(WatchStreamRequestSchema, create(WatchStreamRequestSchema, request))),
      cancel: () => call.cancel(),
    };
  };
}

/**
 * The per-watch {@link WatchSource} of `createWatchVariablesSource`, speaking gRPC directly on
 * `connection`'s HTTP/2 connection: one `WatchVariables` stream per attempt of each watch,
 * taken for dead (`unavailable`) after `missedHeartbeats` silent heartbeat intervals while the
 * watch waits for a message. A watcher that falls behind pauses its stream, so that HTTP/2
 * flow control holds the server back as it would with a connect client.
 */
export function createGrpcWatchVariablesSource(
  connection: GrpcConnection,
  options: WatchVariablesSourceOptions,
): WatchSource {
  const silenceLimitMs = options.heartbeatIntervalMs * options.missedHeartbeats;
  const monitor = createSilenceMonitor(silenceLimitMs);

  function open(request: WatchRequest, signal: AbortSignal): AsyncIterable<WatchMessage> {
    return {
      [Symbol.asyncIterator]() {
        const channel = createMessageChannel<WatchMessage>();
        const messages = channel[Symbol.asyncIterator]();
        if (signal.aborted) {
          channel.end();
          return messages;
        }
        let paused = false;
        const silence = monitor.watch(() => {
          call.cancel();
          channel.fail(
            new StateError(
              "unavailable",
              `watch stream heard nothing for ${silenceLimitMs} ms (${options.missedHeartbeats} heartbeat intervals)`,
            ),
          );
        });
        const call = openGrpcStream(connection, WATCH_VARIABLES_PATH, WatchVariablesResponseSchema, {
          onMessage({ kind }) {
            if (kind.case === "events") channel.push({ kind: "events", events: kind.value });
            else if (kind.case === "heartbeat")
              channel.push({ kind: "heartbeat", revision: Number(kind.value.revision) });
            // A message of a kind this client does not know is skipped: it still proved the
            // stream alive.
            else return;
            if (!paused && channel.size >= PAUSE_AT_MESSAGES) {
              paused = true;
              call.pause();
            }
          },
          onEnd(error) {
            silence.stop();
            if (error === undefined) channel.end();
            else channel.fail(error);
          },
        });
        call.send(
          toBinary(
            WatchVariablesRequestSchema,
            create(WatchVariablesRequestSchema, {
              sessionId: request.sessionId,
              identifiers: [...request.identifiers],
              includeInitial: request.includeInitial,
              heartbeatIntervalMs: options.heartbeatIntervalMs,
              ...(request.fromRevision === undefined ? {} : { fromRevision: BigInt(request.fromRevision) }),
            }),
          ),
        );
        call.end();
        const stop = (): void => {
          signal.removeEventListener("abort", onAbort);
          silence.stop();
          call.cancel();
        };
        const onAbort = (): void => {
          stop();
          channel.fail(new StateError("closed", "the watch was closed"));
        };
        signal.addEventListener("abort", onAbort, { once: true });
        return {
          async next() {
            silence.waiting();
            const result = await messages.next();
            silence.heard();
            if (paused && channel.size === 0) {
              paused = false;
              call.resume();
            }
            return result;
          },
          async return() {
            stop();
            return await (messages.return?.() ?? { done: true, value: undefined });
          },
        };
      },
    };
  }

  return {
    open,
    close() {},
  };
}
