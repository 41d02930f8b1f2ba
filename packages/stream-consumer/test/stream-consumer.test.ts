import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema } from "@statebridge/proto";
import { isStateError, type StateError, type WatchEvent } from "@statebridge/state-provider";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createStreamConsumer, type StreamConsumer } from "../src/index.js";
import {
  aborted,
  changes,
  heartbeat,
  type ScriptedServer,
  startScriptedServer,
  type WatchScript,
} from "./support/scripted-server.js";

const fast = { baseDelayMs: 5, maxDelayMs: 20, maxFailures: 4 };
let server: ScriptedServer | undefined;
let consumer: StreamConsumer | undefined;

afterEach(async () => {
  await consumer?.close();
  await server?.close();
  consumer = undefined;
  server = undefined;
});

async function setUp(
  script: WatchScript,
  options: { heartbeatIntervalMs?: number; missedHeartbeats?: number } = {},
) {
  server = await startScriptedServer(script);
  consumer = createStreamConsumer({
    client: server.client(),
    sessionId: "session-1",
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 60_000,
    missedHeartbeats: options.missedHeartbeats ?? 3,
    reconnect: fast,
  });
  return { server, consumer };
}

function statusError(code: Code, stateCode: string, message = stateCode): ConnectError {
  return new ConnectError(message, code, undefined, [
    { desc: ErrorDetailSchema, value: { code: stateCode, message } },
  ]);
}

function failWith(error: Error): WatchScript {
  return async function* () {
    yield* [];
    throw error;
  };
}

function revisionsOf(events: readonly WatchEvent[]): number[] {
  return events.map((event) => event.revision);
}

describe("createStreamConsumer", () => {
  it("opens the watch with the session, identifiers, options and heartbeat interval asked for", async () => {
    const { server, consumer } = await setUp(async function* (call) {
      yield heartbeat(0);
      await aborted(call.signal);
    });
    await consumer.watch(["a", "b"], () => {}, { includeInitial: true });
    const request = server.calls[0]?.request;
    expect(request?.sessionId).toBe("session-1");
    expect(request?.identifiers).toEqual(["a", "b"]);
    expect(request?.includeInitial).toBe(true);
    expect(request?.fromRevision).toBeUndefined();
    expect(request?.heartbeatIntervalMs).toBe(60_000);
  });

  it("calls the watcher one event at a time, in order: an async watcher holds the next event back", async () => {
    const seen: string[] = [];
    let running = 0;
    let mostAtOnce = 0;
    const { consumer } = await setUp(async function* (call) {
      yield heartbeat(0);
      yield changes(1, ["a", 1], ["b", 1]);
      yield changes(2, ["a", 2]);
      yield changes(3, ["b", 3]);
      await aborted(call.signal);
    });
    const handle = await consumer.watch(["a", "b"], async (event) => {
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      await new Promise((resolve) => setImmediate(resolve));
      seen.push(`${event.name}@${event.revision}`);
      running--;
    });
    await vi.waitFor(() => expect(seen).toHaveLength(4));
    expect(seen).toEqual(["a@1", "b@1", "a@2", "b@3"]);
    expect(mostAtOnce).toBe(1);
    expect(handle.info()).toMatchObject({ received: 4, delivered: 4, filtered: 0, failed: 0, revision: 3 });
  });

  it("applies the filter, and counts what a throwing filter or watcher spoiled without stopping", async () => {
    const seen: number[] = [];
    const { consumer } = await setUp(async function* (call) {
      yield heartbeat(0);
      for (let revision = 1; revision <= 6; revision++) yield changes(revision, ["a", revision]);
      await aborted(call.signal);
    });
    const handle = await consumer.watch(
      ["a"],
      (event) => {
        if (event.newValue === 4) throw new Error("watcher failed on 4");
        seen.push(event.newValue as number);
      },
      {
        filter(event) {
          if (event.newValue === 2) throw new Error("filter failed on 2");
          return event.newValue !== 3;
        },
      },
    );
    await vi.waitFor(() => expect(handle.info().revision).toBe(6));
    expect(seen).toEqual([1, 5, 6]);
    expect(handle.info()).toMatchObject({ received: 6, filtered: 1, failed: 2, delivered: 4 });
  });

  it("resumes a broken stream from the last revision seen, events and heartbeats alike, and drops repeats", async () => {
    const seen: WatchEvent[] = [];
    const { server, consumer } = await setUp(async function* (call) {
      if (call.number === 1) {
        yield heartbeat(2);
        yield changes(3, ["a", 3]);
        yield heartbeat(5);
        throw statusError(Code.Unavailable, "unavailable", "connection reset");
      }
      // A server that resumes carelessly repeats what was delivered already.
      yield changes(3, ["a", 3]);
      yield changes(5, ["a", 5]);
      yield changes(6, ["a", 6]);
      yield heartbeat(6);
      await aborted(call.signal);
    });
    const handle = await consumer.watch(["a"], (event) => {
      seen.push(event);
    });
    await vi.waitFor(() => expect(revisionsOf(seen)).toEqual([3, 6]));
    expect(server.calls[1]?.request.fromRevision).toBe(5n);
    expect(server.calls[1]?.request.includeInitial).toBe(false);
    expect(handle.info()).toMatchObject({ reconnects: 1, duplicates: 2, received: 2, state: "active" });
  });

  it("passes resync events on to the watcher", async () => {
    const seen: WatchEvent[] = [];
    const { consumer } = await setUp(async function* (call) {
      yield {
        kind: {
          case: "events",
          value: {
            revision: 40n,
            events: [
              {
                type: 4,
                identifier: "a",
                name: "a",
                variableType: "string",
                newValue: { kind: { case: "stringValue", value: "now" } },
              },
            ],
          },
        },
      };
      await aborted(call.signal);
    });
    await consumer.watch(["a"], (event) => void seen.push(event), { fromRevision: 3 });
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    expect(seen[0]).toMatchObject({ type: "resync", newValue: "now", oldValue: undefined, revision: 40 });
  });

  it("rejects watch() with the server's error when the first attempt fails", async () => {
    const { server, consumer } = await setUp(
      failWith(statusError(Code.NotFound, "not_found", 'no variable "ghost"')),
    );
    await expect(consumer.watch(["ghost"], () => {})).rejects.toSatisfy((error) =>
      isStateError(error, "not_found"),
    );
    expect(server.calls).toHaveLength(1);
    expect(consumer.watchers()).toEqual([]);
  });

  it("ends the watch with session_expired, without retrying, and tells onError once", async () => {
    const errors: StateError[] = [];
    const { server, consumer } = await setUp(async function* (call) {
      if (call.number === 1) {
        yield heartbeat(1);
        throw statusError(Code.Unavailable, "unavailable");
      }
      throw statusError(Code.NotFound, "session_expired", 'session "session-1" expired');
    });
    const handle = await consumer.watch(["a"], () => {}, { onError: (error) => errors.push(error) });
    const ended = await handle.done;
    expect(isStateError(ended, "session_expired")).toBe(true);
    expect(errors).toEqual([ended]);
    expect(server.calls).toHaveLength(2);
    expect(handle.info().state).toBe("closed");
    expect(consumer.watchers()).toEqual([]);
  });

  it("gives up with unavailable after maxFailures failed reconnects in a row", async () => {
    const { server, consumer } = await setUp(async function* (call) {
      if (call.number === 1) yield heartbeat(1);
      throw statusError(Code.Unavailable, "unavailable", "server going away");
    });
    const handle = await consumer.watch(["a"], () => {});
    const ended = await handle.done;
    expect(isStateError(ended, "unavailable")).toBe(true);
    expect(ended?.message).toMatch(/gave up after 4 failed reconnects/);
    expect(server.calls).toHaveLength(1 + fast.maxFailures);
  });

  it("reconnects when the server ends the stream, cleanly or with a shutdown status", async () => {
    const seen: number[] = [];
    const { server, consumer } = await setUp(async function* (call) {
      if (call.number === 1) {
        yield changes(1, ["a", 1]);
        return;
      }
      if (call.number === 2) {
        yield changes(2, ["a", 2]);
        throw statusError(Code.Unavailable, "unavailable", "server shutting down");
      }
      yield changes(3, ["a", 3]);
      await aborted(call.signal);
    });
    const handle = await consumer.watch(["a"], (event) => void seen.push(event.revision));
    await vi.waitFor(() => expect(seen).toEqual([1, 2, 3]));
    expect(server.calls.map((call) => call.request.fromRevision)).toEqual([undefined, 1n, 2n]);
    expect(handle.info().reconnects).toBe(2);
  });

  it("takes a stream silent for missedHeartbeats intervals for dead: aborts it on both ends and resumes", async () => {
    const seen: number[] = [];
    const { server, consumer } = await setUp(
      async function* (call) {
        if (call.number === 1) {
          yield heartbeat(1);
          yield changes(2, ["a", 2]);
          await aborted(call.signal);
          return;
        }
        yield changes(3, ["a", 3]);
        while (!call.signal.aborted) {
          yield heartbeat(3);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      },
      { heartbeatIntervalMs: 20, missedHeartbeats: 3 },
    );
    await consumer.watch(["a"], (event) => void seen.push(event.revision));
    await vi.waitFor(() => expect(seen).toEqual([2, 3]));
    await vi.waitFor(() => expect(server.calls[0]?.signal.aborted).toBe(true));
    expect(server.calls[1]?.request.fromRevision).toBe(2n);
    expect(server.calls).toHaveLength(2);
  });

  it("close() stops delivery at once, cancels the call on the server and settles done with undefined", async () => {
    const seen: number[] = [];
    const { server, consumer } = await setUp(async function* (call) {
      for (let revision = 1; !call.signal.aborted; revision++) {
        yield changes(revision, ["a", revision]);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    });
    const handle = await consumer.watch(["a"], (event) => {
      seen.push(event.revision);
      if (event.revision === 3) void handle.close();
    });
    expect(await handle.done).toBeUndefined();
    await vi.waitFor(() => expect(server.calls[0]?.signal.aborted).toBe(true));
    expect(seen).toEqual([1, 2, 3]);
    expect(handle.info().state).toBe("closed");
    await handle.close();
  });

  it("an aborted signal closes the watch", async () => {
    const { server, consumer } = await setUp(async function* (call) {
      yield heartbeat(0);
      await aborted(call.signal);
    });
    const controller = new AbortController();
    const handle = await consumer.watch(["a"], () => {}, { signal: controller.signal });
    controller.abort();
    expect(await handle.done).toBeUndefined();
    await vi.waitFor(() => expect(server.calls[0]?.signal.aborted).toBe(true));
  });

  it("lists live watches and closes them all with the consumer; later watches fail with closed", async () => {
    const { server, consumer } = await setUp(async function* (call) {
      yield heartbeat(7);
      await aborted(call.signal);
    });
    const first = await consumer.watch(["a"], () => {});
    const second = await consumer.watch(["a", "b"], () => {});
    expect(
      consumer.watchers().map((info) => [info.watchId, info.identifiers, info.revision, info.state]),
    ).toEqual([
      [first.watchId, ["a"], 7, "active"],
      [second.watchId, ["a", "b"], 7, "active"],
    ]);
    await first.close();
    expect(consumer.watchers().map((info) => info.watchId)).toEqual([second.watchId]);
    await consumer.close();
    expect(await second.done).toBeUndefined();
    expect(consumer.watchers()).toEqual([]);
    await vi.waitFor(() => expect(server.calls.every((call) => call.signal.aborted)).toBe(true));
    await expect(consumer.watch(["a"], () => {})).rejects.toSatisfy((error) => isStateError(error, "closed"));
  });

  it("refuses an empty identifier list, a single string and a malformed fromRevision with invalid_value", async () => {
    const { server, consumer } = await setUp(async function* () {});
    const invalid = (error: unknown) => isStateError(error, "invalid_value");
    await expect(consumer.watch([], () => {})).rejects.toSatisfy(invalid);
    await expect(consumer.watch("abc", () => {})).rejects.toSatisfy(invalid);
    await expect(consumer.watch([""], () => {})).rejects.toSatisfy(invalid);
    await expect(consumer.watch(["a"], () => {}, { fromRevision: -1 })).rejects.toSatisfy(invalid);
    await expect(consumer.watch(["a"], () => {}, { fromRevision: 1.5 })).rejects.toSatisfy(invalid);
    expect(server.calls).toHaveLength(0);
  });
});
