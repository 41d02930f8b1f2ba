import type { Client } from "@connectrpc/connect";
import type { BridgeService, WatchVariablesResponse } from "@statebridge/proto";
import { StateError } from "@statebridge/state-provider";
import { announcedIntervalMs, createSilenceMonitor } from "./silence-monitor.js";
import type { WatchMessage, WatchRequest, WatchSource } from "./watch-source.js";

/** Options of {@link createWatchVariablesSource}. */
export interface WatchVariablesSourceOptions {
  /** Heartbeats asked of the server, in milliseconds. */
  readonly heartbeatIntervalMs: number;
  /** Heartbeat intervals without any message after which the stream is taken for dead. */
  readonly missedHeartbeats: number;
}

/**
 * A {@link WatchSource} that opens one `WatchVariables` server stream per attempt of each
 * watch. A stream that stays silent for `missedHeartbeats` heartbeat intervals is aborted (on
 * both ends) and reported as `unavailable`; the silence is measured only while the consumer
 * waits for the next message, so a slow watcher never makes its own stream look dead.
 */
export function createWatchVariablesSource(
  client: Client<typeof BridgeService>,
  options: WatchVariablesSourceOptions,
): WatchSource {
  const silenceLimitMs = options.heartbeatIntervalMs * options.missedHeartbeats;
  const monitor = createSilenceMonitor(silenceLimitMs);

  async function* open(request: WatchRequest, signal: AbortSignal): AsyncGenerator<WatchMessage> {
    const call = new AbortController();
    const abortCall = () => call.abort(signal.reason);
    if (signal.aborted) return;
    signal.addEventListener("abort", abortCall, { once: true });
    let silent = false;
    const silence = monitor.watch(() => {
      silent = true;
      call.abort();
    });
    try {
      const stream = client.watchVariables(
        {
          sessionId: request.sessionId,
          identifiers: [...request.identifiers],
          includeInitial: request.includeInitial,
          heartbeatIntervalMs: options.heartbeatIntervalMs,
          ...(request.fromRevision === undefined ? {} : { fromRevision: BigInt(request.fromRevision) }),
          incarnation: request.incarnation ?? "",
        },
        { signal: call.signal },
      );
      const iterator = stream[Symbol.asyncIterator]();
      for (;;) {
        silence.waiting();
        const result: IteratorResult<WatchVariablesResponse> = await iterator.next();
        silence.heard();
        if (result.done) return;
        const { kind } = result.value;
        const announced = announcedIntervalMs(kind);
        if (announced > 0) silence.allow(announced * options.missedHeartbeats);
        if (kind.case === "events") yield { kind: "events", events: kind.value };
        else if (kind.case === "heartbeat")
          yield {
            kind: "heartbeat",
            revision: Number(kind.value.revision),
            incarnation: kind.value.incarnation,
          };
        else if (kind.case === "created")
          yield {
            kind: "opened",
            revision: Number(kind.value.revision),
            ids: kind.value.ids,
            incarnation: kind.value.incarnation,
          };
        // A message of a kind this client does not know is skipped: it still proved the stream alive.
      }
    } catch (error) {
      if (silent && !signal.aborted) {
        throw new StateError(
          "unavailable",
          `watch stream heard nothing for ${silenceLimitMs} ms (${options.missedHeartbeats} heartbeat intervals)`,
          { cause: error },
        );
      }
      throw error;
    } finally {
      silence.stop();
      signal.removeEventListener("abort", abortCall);
      // Ends the call on the server too when the consumer stops early.
      call.abort();
    }
  }

  return {
    open,
    close() {},
  };
}
