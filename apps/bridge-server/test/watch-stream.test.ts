import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { WatchStreamRequestSchema } from "@statebridge/proto";
import { WatchEventType, type WatchStreamResponse } from "@statebridge/proto";
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support.js";
import { wire } from "./support-values.js";

type Request = MessageInitShape<typeof WatchStreamRequestSchema>;

/** A bidirectional stream driven by the test: requests are sent as the test pushes them. */
function openStream(test: TestServer, signal?: AbortSignal) {
  const pending: Request[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  async function* requests(): AsyncGenerator<Request> {
    for (;;) {
      while (pending.length > 0) yield pending.shift() as Request;
      if (closed) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  }
  const responses = test
    .client()
    .watchStream(requests(), signal === undefined ? {} : { signal })
    [Symbol.asyncIterator]();
  return {
    send(request: Request) {
      pending.push(request);
      wake?.();
    },
    closeRequests() {
      closed = true;
      wake?.();
    },
    async next(): Promise<WatchStreamResponse> {
      const result = await responses.next();
      if (result.done === true) throw new Error("the stream ended");
      return result.value;
    },
    /** The next message that is not a heartbeat. */
    async nextNonHeartbeat(): Promise<WatchStreamResponse> {
      for (;;) {
        const message = await this.next();
        if (message.kind.case !== "heartbeat") return message;
      }
    },
  };
}

const create = (
  watchId: string,
  sessionId: string,
  identifiers: string[],
  includeInitial = false,
): Request => ({
  kind: { case: "create", value: { watchId, sessionId, identifiers, includeInitial } },
});

describe("WatchStream", () => {
  let test: TestServer | undefined;
  afterEach(async () => {
    await test?.close();
    test = undefined;
  });

  async function setUp(options: Parameters<typeof startTestServer>[0] = {}) {
    test = await startTestServer(options);
    const client = test.client();
    for (const sessionId of ["one", "two"]) {
      await client.initializeSession({ sessionId });
      await client.registerVariable({ sessionId, name: "x", type: "integer", initialValue: wire.integer(0) });
    }
    return { test, client };
  }

  it("multiplexes watches of two sessions, each confirmed, each event named by its watch", async () => {
    const { test, client } = await setUp();
    const stream = openStream(test);
    stream.send(create("w1", "one", ["x"], true));
    const created = await stream.nextNonHeartbeat();
    expect(created.watchId).toBe("w1");
    expect(created.kind.case).toBe("created");
    expect(created.kind.case === "created" ? created.kind.value.revision : undefined).toBe(1n);
    const initial = await stream.nextNonHeartbeat();
    expect(initial.watchId).toBe("w1");
    expect(initial.kind.case === "events" ? initial.kind.value.events[0]?.type : undefined).toBe(
      WatchEventType.INITIAL,
    );

    stream.send(create("w2", "two", ["x"]));
    expect(await stream.nextNonHeartbeat()).toMatchObject({ watchId: "w2", kind: { case: "created" } });
    await client.setVariable({ sessionId: "two", identifier: "x", value: wire.integer(7) });
    await client.setVariable({ sessionId: "one", identifier: "x", value: wire.integer(8) });
    const first = await stream.nextNonHeartbeat();
    const second = await stream.nextNonHeartbeat();
    expect([first.watchId, second.watchId]).toEqual(["w2", "w1"]);
    const newValue = second.kind.case === "events" ? second.kind.value.events[0]?.newValue?.kind : undefined;
    expect(newValue).toEqual({ case: "integerValue", value: 8n });
    stream.closeRequests();
  });

  it("a cancelled watch ends without an error and gets no more events; the others go on", async () => {
    const { test, client } = await setUp();
    const stream = openStream(test);
    stream.send(create("keep", "one", ["x"]));
    stream.send(create("drop", "one", ["x"]));
    await stream.nextNonHeartbeat();
    await stream.nextNonHeartbeat();
    stream.send({ kind: { case: "cancel", value: { watchId: "drop" } } });
    const ended = await stream.nextNonHeartbeat();
    expect(ended.watchId).toBe("drop");
    expect(ended.kind.case).toBe("ended");
    expect(ended.kind.case === "ended" ? ended.kind.value.error : "no ended message").toBeUndefined();
    await client.setVariable({ sessionId: "one", identifier: "x", value: wire.integer(1) });
    const change = await stream.nextNonHeartbeat();
    expect(change.watchId).toBe("keep");
    expect(test.server.store.stats().watchers).toBe(1);
  });

  it("a create that fails ends that watch with its error; the stream goes on", async () => {
    const { test } = await setUp();
    const stream = openStream(test);
    stream.send(create("bad", "one", ["missing"]));
    const ended = await stream.nextNonHeartbeat();
    expect(ended.watchId).toBe("bad");
    expect(ended.kind.case === "ended" ? ended.kind.value.error?.code : undefined).toBe("not_found");
    stream.send(create("good", "one", ["x"]));
    expect(await stream.nextNonHeartbeat()).toMatchObject({ watchId: "good", kind: { case: "created" } });
  });

  it("a watch whose session is deleted ends with session_expired", async () => {
    const { test, client } = await setUp();
    const stream = openStream(test);
    stream.send(create("w", "two", ["x"]));
    await stream.nextNonHeartbeat();
    await client.cleanupSession({ sessionId: "two" });
    const ended = await stream.nextNonHeartbeat();
    expect(ended.watchId).toBe("w");
    expect(ended.kind.case === "ended" ? ended.kind.value.error?.code : undefined).toBe("session_expired");
  });

  it("sends a stream-wide heartbeat while no watch is open", async () => {
    const { test } = await setUp({ heartbeatIntervalMs: 20 });
    const stream = openStream(test);
    const heartbeat = await stream.next();
    expect(heartbeat.watchId).toBe("");
    expect(heartbeat.kind.case).toBe("heartbeat");
  });

  it("ends the whole stream with unavailable at shutdown and releases its watchers", async () => {
    const { test } = await setUp();
    const stream = openStream(test);
    stream.send(create("w", "one", ["x"]));
    await stream.nextNonHeartbeat();
    const closing = test.server.close();
    let error: ConnectError | undefined;
    try {
      for (;;) await stream.next();
    } catch (thrown) {
      error = ConnectError.from(thrown);
    }
    await closing;
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toContain("server shutting down");
    expect(test.server.store.stats().watchers).toBe(0);
  });

  it("a create reusing a live watch_id ends that watch with invalid_value; the stream goes on", async () => {
    const { test } = await setUp();
    const stream = openStream(test);
    stream.send(create("same", "one", ["x"]));
    await stream.nextNonHeartbeat();
    stream.send(create("same", "one", ["x"]));
    const ended = await stream.nextNonHeartbeat();
    expect(ended.watchId).toBe("same");
    expect(ended.kind.case === "ended" ? ended.kind.value.error?.code : undefined).toBe("invalid_value");
    expect(test.server.store.stats().watchers).toBe(0);
    stream.send(create("next", "two", ["x"]));
    expect(await stream.nextNonHeartbeat()).toMatchObject({ watchId: "next", kind: { case: "created" } });
    stream.closeRequests();
  });

  it("a client that cancels the call leaves no watcher behind", async () => {
    const { test } = await setUp();
    const controller = new AbortController();
    const stream = openStream(test, controller.signal);
    stream.send(create("a", "one", ["x"]));
    stream.send(create("b", "two", ["x"]));
    await stream.nextNonHeartbeat();
    await stream.nextNonHeartbeat();
    expect(test.server.store.stats().watchers).toBe(2);
    controller.abort();
    for (let attempt = 0; attempt < 200 && test.server.store.stats().watchers > 0; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(test.server.store.stats().watchers).toBe(0);
  });
});
