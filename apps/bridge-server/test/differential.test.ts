// The direct gRPC path (createBridgeServer's default) held to connect's behaviour (issue 9, item
// 7): generated requests of every BridgeService method — valid, invalid, compressed, oversize,
// truncated, with extra messages, odd content types, grpc-timeouts and :authority values, with
// and without the token — are sent byte for byte to a server with the direct path and to one
// without it (both with the same options, once requiring a token and once not), in the same
// fixed session state; the two answers must agree. A failure prints fast-check's seed and path;
// STATEBRIDGE_DIFFERENTIAL_SEED and STATEBRIDGE_DIFFERENTIAL_RUNS explore further.
// grpc-fast-path.test.ts keeps the hand-picked unary cases.
import * as http2 from "node:http2";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BridgeServer, createBridgeServer } from "../src/index.js";
import {
  type Comparable,
  comparable,
  DIFFERENTIAL_SERVER_OPTIONS,
  DIFFERENTIAL_TOKEN,
  exchange,
  type RawRequest,
  resetState,
  SESSION_ID,
} from "./support-differential.js";
import { type RequestShape, requestShape, toRawRequest } from "./support-differential-requests.js";

/** Fixed, so that a failure replays; override with STATEBRIDGE_DIFFERENTIAL_SEED to explore. */
const SEED = Number(process.env.STATEBRIDGE_DIFFERENTIAL_SEED ?? 20_261_202);
/** Generated requests per pair of servers. */
const RUNS = Number(process.env.STATEBRIDGE_DIFFERENTIAL_RUNS ?? 100);

interface Side {
  server: BridgeServer;
  session: http2.ClientHttp2Session | undefined;
}

const { token: _token, ...WITHOUT_TOKEN } = DIFFERENTIAL_SERVER_OPTIONS;

describe.each([
  ["servers that require a token", DIFFERENTIAL_SERVER_OPTIONS],
  ["servers that require none (and check the Host instead)", WITHOUT_TOKEN],
])("the direct gRPC path and connect's answer every request alike, on %s", (_name, serverOptions) => {
  const direct: Side = { server: undefined as never, session: undefined };
  const viaConnect: Side = { server: undefined as never, session: undefined };

  beforeAll(async () => {
    const options = { host: "127.0.0.1", port: 0, ...serverOptions };
    direct.server = await createBridgeServer(options);
    viaConnect.server = await createBridgeServer({ ...options, grpcFastPath: false });
  });
  afterAll(async () => {
    for (const side of [direct, viaConnect]) {
      side.session?.destroy();
      await side.server?.close();
    }
  });

  /** Sends one request to one server, in the fixed state, and decodes its answer. */
  async function answer(side: Side, request: RawRequest): Promise<Comparable> {
    await resetState(side.server.store);
    if (side.session === undefined || side.session.closed || side.session.destroyed) {
      side.session = http2.connect(side.server.url);
      side.session.on("error", () => {});
    }
    const response = await exchange(side.session, request, () => {
      void side.server.store.deleteSession(SESSION_ID);
    });
    return comparable(request, response);
  }

  async function both(request: RawRequest): Promise<{ fast: Comparable; slow: Comparable }> {
    const fast = await answer(direct, request);
    const slow = await answer(viaConnect, request);
    return { fast, slow };
  }

  it("generated requests: the same status, statebridge code, message, error detail and response messages", async () => {
    await fc.assert(
      fc.asyncProperty(requestShape, async (shape: RequestShape) => {
        const { fast, slow } = await both(toRawRequest(shape));
        expect(fast).toEqual(slow);
      }),
      { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: 240_000 },
    );
  }, 300_000);

  // The cases issue 9 found by hand, kept by name.
  const shape = (overrides: Partial<RequestShape>): RequestShape => ({
    method: "Ping",
    messages: [{ message: "hi" }],
    contentType: "application/grpc",
    authorization: `Bearer ${DIFFERENTIAL_TOKEN}`,
    authority: undefined,
    timeout: undefined,
    acceptEncoding: undefined,
    compression: "none",
    framing: "one",
    end: true,
    ...overrides,
  });
  const watch = {
    sessionId: SESSION_ID,
    identifiers: ["temperature"],
    includeInitial: true,
    heartbeatIntervalMs: 0,
  };
  const create = (watchId: string) => ({ kind: { case: "create", value: { watchId, ...watch } } });

  it("two request messages to WatchVariables get the same answer on both paths", async () => {
    const { fast, slow } = await both(
      toRawRequest(shape({ method: "WatchVariables", messages: [watch], framing: "repeated" })),
    );
    expect(fast).toEqual(slow);
  });

  it.each(["Ping", "WatchVariables", "WatchStream"])(
    "a gzip bomb to %s is refused with resource_exhausted and its statebridge code on both paths",
    async (method) => {
      const messages =
        method === "Ping" ? [{ message: "hi" }] : method === "WatchVariables" ? [watch] : [create("a")];
      const { fast, slow } = await both(toRawRequest(shape({ method, messages, compression: "bomb" })));
      expect(fast.errorCode).toBe("resource_exhausted");
      expect(fast).toEqual(slow);
    },
  );

  it("a duplicate watch_id on WatchStream ends that watch only: the stream goes on, on both paths", async () => {
    const { fast, slow } = await both(
      toRawRequest(shape({ method: "WatchStream", messages: [create("a"), create("a")] })),
    );
    expect(fast.outcome).toBe("open");
    const duplicateEnded = fast.messages.filter(
      (message) =>
        JSON.stringify(message).includes('"watchId":"a"') && JSON.stringify(message).includes('"ended"'),
    );
    expect(duplicateEnded).toHaveLength(1);
    expect(JSON.stringify(duplicateEnded[0])).toContain("invalid_value");
    expect(fast).toEqual(slow);
  });

  it.each(["99999999H", "99999999S"])(
    "grpc-timeout %s (valid, past Node's longest timer) is answered on both paths without a timer overflow",
    async (timeout) => {
      const warnings: string[] = [];
      const onWarning = (warning: Error) => warnings.push(warning.name);
      process.on("warning", onWarning);
      try {
        // GetSession succeeds; the watch runs until the test deletes its session.
        const calls = [
          ["GetSession", [{ sessionId: SESSION_ID }], "0"],
          ["WatchVariables", [watch], "5"],
        ] as const;
        for (const [method, messages, status] of calls) {
          const { fast, slow } = await both(toRawRequest(shape({ method, messages, timeout })));
          expect(fast.grpcStatus).toBe(status);
          expect(fast).toEqual(slow);
        }
        // Warnings are emitted on the next tick.
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        process.off("warning", onWarning);
      }
      expect(warnings).not.toContain("TimeoutOverflowWarning");
    },
  );
});
