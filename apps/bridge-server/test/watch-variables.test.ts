import { Code, ConnectError } from "@connectrpc/connect";
import { WatchEventType, type WatchVariablesResponse } from "@statebridge/proto";
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support.js";
import { failureOf, wire } from "./support-values.js";

describe("WatchVariables", () => {
  let test: TestServer | undefined;
  afterEach(async () => {
    await test?.close();
    test = undefined;
  });

  async function setUp(options: Parameters<typeof startTestServer>[0] = {}) {
    test = await startTestServer(options);
    const client = test.client();
    const sessionId = "watched";
    await client.initializeSession({ sessionId });
    await client.registerVariable({ sessionId, name: "a", type: "float", initialValue: wire.float(1) });
    await client.registerVariable({ sessionId, name: "b", type: "string", initialValue: wire.string("x") });
    return { test, client, sessionId };
  }

  function reader(stream: AsyncIterable<WatchVariablesResponse>) {
    const iterator = stream[Symbol.asyncIterator]();
    return {
      async next(): Promise<WatchVariablesResponse> {
        const result = await iterator.next();
        if (result.done === true) throw new Error("the stream ended");
        return result.value;
      },
      /** The next events message, skipping heartbeats. */
      async events() {
        for (;;) {
          const message = await this.next();
          if (message.kind.case === "events") return message.kind.value;
        }
      },
      /** Reads to the end; resolves with the error the stream ended with, if any. */
      async end(): Promise<ConnectError | undefined> {
        try {
          for (;;) {
            const result = await iterator.next();
            if (result.done === true) return undefined;
          }
        } catch (error) {
          return ConnectError.from(error);
        }
      },
    };
  }

  it("with includeInitial sends the current values first, then every change in order", async () => {
    const { client, sessionId } = await setUp();
    const watch = reader(client.watchVariables({ sessionId, identifiers: ["a", "b"], includeInitial: true }));
    const initial = await watch.events();
    expect(initial.revision).toBe(2n);
    expect(initial.events.map((event) => [event.type, event.identifier])).toEqual([
      [WatchEventType.INITIAL, "a"],
      [WatchEventType.INITIAL, "b"],
    ]);
    await client.setVariable({ sessionId, identifier: "a", value: wire.float(2), source: "python" });
    const change = await watch.events();
    expect(change.revision).toBe(3n);
    const [event] = change.events;
    expect(event?.type).toBe(WatchEventType.VALUE_CHANGE);
    expect(event?.oldValue?.kind).toEqual({ case: "floatValue", value: 1 });
    expect(event?.newValue?.kind).toEqual({ case: "floatValue", value: 2 });
    expect(event?.version).toBe(1n);
    expect(event?.source).toBe("python");
    expect(event?.variableType).toBe("float");
  });

  it("without initial values starts with created (the revision and the ids it follows) and a heartbeat at the current revision, then changes", async () => {
    const { client, sessionId } = await setUp();
    const b = await client.getVariable({ sessionId, identifier: "b" });
    const watch = reader(client.watchVariables({ sessionId, identifiers: ["b", b.variable?.id ?? ""] }));
    const created = await watch.next();
    expect(created.kind.case).toBe("created");
    expect(
      created.kind.case === "created" ? [created.kind.value.revision, created.kind.value.ids] : [],
    ).toEqual([2n, [b.variable?.id, b.variable?.id]]);
    const first = await watch.next();
    expect(first.kind.case).toBe("heartbeat");
    expect(first.kind.case === "heartbeat" ? first.kind.value.revision : undefined).toBe(2n);
    await client.setVariable({ sessionId, identifier: "a", value: wire.float(5) });
    await client.setVariable({ sessionId, identifier: "b", value: wire.string("y") });
    const change = await watch.events();
    expect(change.revision).toBe(4n);
    expect(change.events.map((event) => event.identifier)).toEqual(["b"]);
  });

  it("delivers an atomic batch as one message of one revision", async () => {
    const { client, sessionId } = await setUp();
    const watch = reader(client.watchVariables({ sessionId, identifiers: ["a", "b"] }));
    await watch.next();
    await client.setVariables({
      sessionId,
      atomic: true,
      updates: [
        { identifier: "a", value: wire.float(3) },
        { identifier: "b", value: wire.string("z") },
      ],
    });
    const batch = await watch.events();
    expect(batch.revision).toBe(3n);
    expect(batch.events.map((event) => [event.identifier, event.revision])).toEqual([
      ["a", 3n],
      ["b", 3n],
    ]);
  });

  it("resumes from a revision: replays every change after it", async () => {
    const { client, sessionId } = await setUp();
    await client.setVariable({ sessionId, identifier: "a", value: wire.float(10) });
    await client.setVariable({ sessionId, identifier: "a", value: wire.float(11) });
    await client.deleteVariable({ sessionId, identifier: "b" });
    const watch = reader(client.watchVariables({ sessionId, identifiers: ["a", "b"], fromRevision: 2n }));
    const replayed = [await watch.events(), await watch.events(), await watch.events()];
    expect(replayed.map((batch) => batch.revision)).toEqual([3n, 4n, 5n]);
    expect(replayed[2]?.events[0]?.type).toBe(WatchEventType.DELETED);
  });

  it("sends heartbeats with the session's revision at the interval the client asks for", async () => {
    const { client, sessionId } = await setUp();
    const watch = reader(client.watchVariables({ sessionId, identifiers: ["a"], heartbeatIntervalMs: 20 }));
    expect((await watch.next()).kind.case).toBe("created");
    const kinds: string[] = [];
    while (kinds.filter((kind) => kind === "heartbeat").length < 3) {
      const message = await watch.next();
      kinds.push(message.kind.case ?? "none");
      if (message.kind.case === "heartbeat") expect(message.kind.value.revision).toBe(2n);
    }
    expect(kinds.every((kind) => kind === "heartbeat")).toBe(true);
  });

  it("fails with not_found for an identifier that does not exist", async () => {
    const { client, sessionId } = await setUp();
    const failure = await failureOf(
      reader(client.watchVariables({ sessionId, identifiers: ["nope"] })).next(),
    );
    expect(failure.trailerCode).toBe("not_found");
  });

  it("ends with session_expired when its session is deleted", async () => {
    const { client, sessionId } = await setUp();
    const watch = reader(client.watchVariables({ sessionId, identifiers: ["a"] }));
    await watch.next();
    await client.cleanupSession({ sessionId });
    const error = await watch.end();
    expect(error?.code).toBe(Code.NotFound);
    expect(error?.metadata.get("statebridge-error-code")).toBe("session_expired");
  });

  it("ends with unavailable and 'server shutting down' when the server shuts down", async () => {
    const { test, client, sessionId } = await setUp();
    const watch = reader(client.watchVariables({ sessionId, identifiers: ["a"] }));
    await watch.next();
    const closing = test.server.close();
    const error = await watch.end();
    await closing;
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.metadata.get("statebridge-error-code")).toBe("unavailable");
    expect(error?.rawMessage).toContain("server shutting down");
  });

  it("cuts off a consumer that does not read with resource_exhausted, and releases its watcher", async () => {
    const { test, client, sessionId } = await setUp({ watchQueueLimit: 2 });
    const watch = reader(client.watchVariables({ sessionId, identifiers: ["b"] }));
    await watch.next();
    // Each value is larger than an HTTP/2 stream's flow-control window: unread, they pile up.
    const big = "v".repeat(200_000);
    for (let index = 0; index < 12; index += 1) {
      await client.setVariable({ sessionId, identifier: "b", value: wire.string(`${index}${big}`) });
    }
    let received = 0;
    let error: ConnectError | undefined;
    try {
      for (;;) {
        const message = await watch.next();
        if (message.kind.case === "events") received += 1;
      }
    } catch (thrown) {
      error = ConnectError.from(thrown);
    }
    expect(error?.code).toBe(Code.ResourceExhausted);
    expect(error?.metadata.get("statebridge-error-code")).toBe("resource_exhausted");
    expect(error?.rawMessage).toContain("too slow");
    expect(received).toBeLessThan(12);
    expect(test.server.store.stats().watchers).toBe(0);
  });

  it("holds no watcher after many watches were opened and cancelled by their clients", async () => {
    const { test, client, sessionId } = await setUp();
    for (let round = 0; round < 20; round += 1) {
      const controller = new AbortController();
      const watch = reader(
        client.watchVariables({ sessionId, identifiers: ["a"] }, { signal: controller.signal }),
      );
      await watch.next();
      controller.abort();
      await watch.end();
    }
    // The server learns of each cancellation asynchronously: wait until it has.
    for (let attempt = 0; attempt < 200 && test.server.store.stats().watchers > 0; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(test.server.store.stats().watchers).toBe(0);
    expect(test.server.openStreams()).toBe(0);
  });
});
