import type * as http2 from "node:http2";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { encodeEnvelope } from "@statebridge/grpc-wire";
import {
  type WatchEvents,
  WatchStreamRequestSchema,
  WatchStreamResponseSchema,
  WatchVariablesResponseSchema,
} from "@statebridge/proto";
import type { WatchEvent } from "@statebridge/state-provider";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createStreamConsumer, type StreamConsumer } from "../src/index.js";
import { type RawServer, startRawServer } from "./support/raw-server.js";
import { changes } from "./support/scripted-server.js";

// A watch stream is taken for dead after HEARTBEAT_MS × MISSED of silence. A large message
// arrives in many DATA frames, which this server spreads over several silence limits: the
// bytes arriving must keep the stream alive.
const HEARTBEAT_MS = 250;
const MISSED = 6;
const PIECES = 80;
const PIECE_GAP_MS = 50;
const VALUES = 5_000;

let raw: RawServer | undefined;
let consumer: StreamConsumer | undefined;

afterEach(async () => {
  await consumer?.close();
  await raw?.close();
  consumer = undefined;
  raw = undefined;
});

const GRPC_HEADERS = { ":status": 200, "content-type": "application/grpc" };
const pause = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/** A change of VALUES variables: a message of a few hundred KB. */
function largeChange(): WatchEvents {
  const values = Array.from({ length: VALUES }, (_, index) => [`v${index}`, index] as [string, number]);
  const response = create(WatchVariablesResponseSchema, changes(2, ...values));
  if (response.kind.case !== "events") throw new Error("changes() makes events");
  return response.kind.value;
}

/** Writes `bytes` in PIECES pieces, PIECE_GAP_MS apart. */
async function trickle(stream: http2.ServerHttp2Stream, bytes: Uint8Array): Promise<void> {
  const size = Math.ceil(bytes.byteLength / PIECES);
  for (let start = 0; start < bytes.byteLength; start += size) {
    if (stream.closed) return;
    stream.write(bytes.subarray(start, start + size));
    await pause(PIECE_GAP_MS);
  }
}

function variablesResponse(init: MessageInitShape<typeof WatchVariablesResponseSchema>): Buffer {
  return encodeEnvelope(toBinary(WatchVariablesResponseSchema, create(WatchVariablesResponseSchema, init)));
}

function streamResponse(init: MessageInitShape<typeof WatchStreamResponseSchema>): Buffer {
  return encodeEnvelope(toBinary(WatchStreamResponseSchema, create(WatchStreamResponseSchema, init)));
}

/** Watches through `server` and expects the large change whole, on the first stream. */
async function expectWholeEventWithoutReconnect(
  server: RawServer,
  streams: "per-watch" | "multiplexed",
): Promise<void> {
  consumer = createStreamConsumer({
    connection: { sessionManager: server.sessionManager },
    sessionId: "s1",
    streams,
    heartbeatIntervalMs: HEARTBEAT_MS,
    missedHeartbeats: MISSED,
    reconnect: { baseDelayMs: 5, maxDelayMs: 5 },
  });
  const seen: WatchEvent[] = [];
  await consumer.watch(["v0"], (event) => void seen.push(event));
  await vi.waitFor(() => expect(seen).toHaveLength(VALUES), { timeout: 20_000, interval: 20 });
  expect(server.calls).toHaveLength(1);
  expect(consumer.watchers().map((watch) => watch.reconnects)).toEqual([0]);
}

// Regression: only a whole message counted as a sign of life, so a message taking longer
// than the silence limit to arrive got its stream cut mid-message and reopened, again and again.
describe("bytes of a message still arriving keep a watch stream alive", () => {
  it("on a per-watch stream", { timeout: 30_000 }, async () => {
    raw = await startRawServer((stream, call) => {
      stream.respond(GRPC_HEADERS);
      call.onMessage(() => {
        stream.write(variablesResponse({ kind: { case: "heartbeat", value: { revision: 1n } } }));
        if (call.number === 1)
          void trickle(stream, variablesResponse({ kind: { case: "events", value: largeChange() } }));
      });
    });
    await expectWholeEventWithoutReconnect(raw, "per-watch");
  });

  it("on a multiplexed stream", { timeout: 30_000 }, async () => {
    raw = await startRawServer((stream, call) => {
      stream.respond(GRPC_HEADERS);
      call.onMessage((bytes) => {
        const request = fromBinary(WatchStreamRequestSchema, bytes);
        if (request.kind.case !== "create") return;
        const { watchId } = request.kind.value;
        stream.write(streamResponse({ watchId, kind: { case: "created", value: { revision: 1n } } }));
        const events = largeChange();
        if (call.number === 1)
          void trickle(stream, streamResponse({ watchId, kind: { case: "events", value: events } }));
      });
    });
    await expectWholeEventWithoutReconnect(raw, "multiplexed");
  });
});
