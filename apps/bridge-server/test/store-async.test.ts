import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  type WatchStreamRequestSchema,
  type WatchStreamResponse,
  type WatchVariablesResponse,
} from "@statebridge/proto";
import { afterEach, describe, expect, it } from "vitest";
import { type ProtocolName, startTestServer, type TestServer } from "./support.js";
import { initializeWithX } from "./support-connections.js";
import { createLateStore, type LateStore, untilNoWatchers } from "./support-late-store.js";
import { requestFeed } from "./support-request-feed.js";
import { wire } from "./support-values.js";

// The bridge-server on a store whose answers come later than the call (as a remote backend's
// do): watches opened while the store is still opening them, and health following the store.

type StreamRequest = MessageInitShape<typeof WatchStreamRequestSchema>;

describe("a bridge-server on a store whose watch() resolves late", () => {
  let test: TestServer | undefined;
  let late: LateStore | undefined;
  afterEach(async () => {
    late?.release();
    await test?.close();
    await late?.inner.close();
    test = undefined;
    late = undefined;
  });

  async function setUp() {
    late = createLateStore();
    test = await startTestServer({ store: late.store });
    const client = test.client();
    await initializeWithX(client, "s");
    return { late, test, client };
  }

  const paths: ProtocolName[] = ["grpc", "connect-h2"];

  for (const protocol of paths) {
    it(`WatchVariables (${protocol}): changes committed while watch() is pending follow created and the initial values, in order, once`, async () => {
      const { late, test, client } = await setUp();
      const watch = test
        .client(protocol)
        .watchVariables({ sessionId: "s", identifiers: ["x"], includeInitial: true })
        [Symbol.asyncIterator]();
      const first = watch.next();
      await late.watchEntered;
      await client.setVariable({ sessionId: "s", identifier: "x", value: wire.integer(2) });
      await client.setVariable({ sessionId: "s", identifier: "x", value: wire.integer(3) });
      late.release();
      const received: string[] = [];
      let result = await first;
      while (received.length < 4) {
        const message = (result as IteratorResult<WatchVariablesResponse>).value as WatchVariablesResponse;
        if (message.kind.case === "created") received.push(`created@${message.kind.value.revision}`);
        if (message.kind.case === "events") {
          for (const event of message.kind.value.events) {
            received.push(`${event.revision}:${event.newValue?.kind.value}`);
          }
        }
        if (received.length < 4) result = await watch.next();
      }
      expect(received).toEqual(["created@1", "1:1", "2:2", "3:3"]);
      await watch.return?.();
    });

    it(`WatchVariables (${protocol}): a session deleted while watch() is pending ends the stream with session_expired after created`, async () => {
      const { late, test, client } = await setUp();
      const watch = test
        .client(protocol)
        .watchVariables({ sessionId: "s", identifiers: ["x"] })
        [Symbol.asyncIterator]();
      const first = watch.next();
      await late.watchEntered;
      await client.cleanupSession({ sessionId: "s" });
      late.release();
      const kinds: string[] = [];
      let error: ConnectError | undefined;
      try {
        let result = await first;
        while (result.done !== true) {
          kinds.push(result.value.kind.case ?? "");
          result = await watch.next();
        }
      } catch (thrown) {
        error = ConnectError.from(thrown);
      }
      expect(kinds[0]).toBe("created");
      expect(error?.code).toBe(Code.NotFound);
      expect(error?.metadata.get("statebridge-error-code")).toBe("session_expired");
    });

    it(`WatchVariables (${protocol}): a client gone while watch() is pending leaves no watcher behind`, async () => {
      const { late, test } = await setUp();
      const controller = new AbortController();
      const watch = test
        .client(protocol)
        .watchVariables({ sessionId: "s", identifiers: ["x"] }, { signal: controller.signal })
        [Symbol.asyncIterator]();
      const first = watch.next().catch(() => undefined);
      await late.watchEntered;
      expect(late.inner.stats().watchers).toBe(1);
      controller.abort();
      await first;
      late.release();
      await untilNoWatchers(late.inner);
      expect(late.inner.stats().watchers).toBe(0);
    });

    it(`WatchStream (${protocol}): a stream ended while a create's watch() is pending leaves no watcher behind`, async () => {
      const { late, test } = await setUp();
      const controller = new AbortController();
      const feed = requestFeed<StreamRequest>();
      const responses = test
        .client(protocol)
        .watchStream(feed.requests, { signal: controller.signal })
        [Symbol.asyncIterator]();
      const first = responses.next().catch(() => undefined);
      feed.send({
        kind: { case: "create", value: { watchId: "w", sessionId: "s", identifiers: ["x"] } },
      });
      await late.watchEntered;
      expect(late.inner.stats().watchers).toBe(1);
      controller.abort();
      await first;
      // The server learns of the end before the store answers.
      await new Promise((resolve) => setTimeout(resolve, 100));
      late.release();
      await untilNoWatchers(late.inner);
      expect(late.inner.stats().watchers).toBe(0);
    });
  }

  it("WatchStream: a cancel sent while its create's watch() is pending ends that watch after created", async () => {
    const { late, test, client } = await setUp();
    const feed = requestFeed<StreamRequest>();
    const responses = test.client().watchStream(feed.requests)[Symbol.asyncIterator]();
    feed.send({ kind: { case: "create", value: { watchId: "w", sessionId: "s", identifiers: ["x"] } } });
    await late.watchEntered;
    feed.send({ kind: { case: "cancel", value: { watchId: "w" } } });
    await client.setVariable({ sessionId: "s", identifier: "x", value: wire.integer(2) });
    late.release();
    const seen: string[] = [];
    while (seen[seen.length - 1] !== "ended") {
      const result = await responses.next();
      const message = result.value as WatchStreamResponse;
      if (message.kind.case !== "heartbeat") seen.push(message.kind.case ?? "");
    }
    expect(seen).toEqual(["created", "events", "ended"]);
    await untilNoWatchers(late.inner);
    expect(late.inner.stats().watchers).toBe(0);
    await responses.return?.();
  });
});

describe("health on a store that becomes unreachable", () => {
  it("Check and Watch answer NOT_SERVING while the store is unavailable, SERVING once it is back", async () => {
    const late = createLateStore();
    late.release();
    const test = await startTestServer({ store: late.store });
    try {
      const health = test.health();
      const statuses: ServingStatus[] = [];
      const controller = new AbortController();
      const watching = (async () => {
        try {
          for await (const message of health.watch({ service: "" }, { signal: controller.signal })) {
            statuses.push(message.status);
            if (statuses.length === 1) late.setAvailable(false);
            if (statuses.length === 2) late.setAvailable(true);
            if (statuses.length === 3) controller.abort();
          }
        } catch (error) {
          if (ConnectError.from(error).code !== Code.Canceled) throw error;
        }
      })();
      await watching;
      expect(statuses).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING, ServingStatus.SERVING]);
      late.setAvailable(false);
      expect((await health.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
      expect((await health.check({ service: "statebridge.v1.BridgeService" })).status).toBe(
        ServingStatus.NOT_SERVING,
      );
      late.setAvailable(true);
      expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    } finally {
      await test.close();
      await late.inner.close();
    }
  });
});
