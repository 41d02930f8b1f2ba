import type { MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import type { WatchStreamRequestSchema, WatchStreamResponse } from "@statebridge/proto";
import { afterEach, describe, expect, it } from "vitest";
import { type ProtocolName, startTestServer, type TestServer } from "./support.js";

type Request = MessageInitShape<typeof WatchStreamRequestSchema>;

const servers: TestServer[] = [];
afterEach(async () => {
  for (const test of servers.splice(0)) await test.close();
});

async function start(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const test = await startTestServer(options);
  servers.push(test);
  return test;
}

/** A WatchStream whose requests the test sends one by one. */
function openStream(test: TestServer, signal: AbortSignal) {
  const pending: Request[] = [];
  let wake: (() => void) | undefined;
  async function* requests(): AsyncGenerator<Request> {
    for (;;) {
      while (pending.length > 0) yield pending.shift() as Request;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  }
  const responses = test.client().watchStream(requests(), { signal })[Symbol.asyncIterator]();
  return {
    send(request: Request) {
      pending.push(request);
      wake?.();
    },
    async next(): Promise<WatchStreamResponse> {
      const result = await responses.next();
      if (result.done === true) throw new Error("the stream ended");
      return result.value;
    },
  };
}

/** A session "s" with a variable "x" set twice; returns its incarnation. */
async function prepare(test: TestServer): Promise<string> {
  const client = test.client();
  const { session, created } = await client.initializeSession({ sessionId: "s" });
  expect(created).toBe(true);
  await client.registerVariable({
    sessionId: "s",
    name: "x",
    type: "integer",
    initialValue: { kind: { case: "integerValue", value: 0n } },
  });
  for (const value of [1n, 2n]) {
    await client.setVariable({
      sessionId: "s",
      identifier: "x",
      value: { kind: { case: "integerValue", value } },
    });
  }
  return session?.incarnation ?? "";
}

describe("session incarnations", () => {
  it("InitializeSession says whether it created the session, and GetSession and Heartbeat carry its incarnation", async () => {
    const test = await start();
    const client = test.client();
    const first = await client.initializeSession({ sessionId: "s" });
    expect(first.created).toBe(true);
    expect(first.session?.incarnation).toMatch(/^[0-9a-f]{16}$/);
    const again = await client.initializeSession({ sessionId: "s" });
    expect(again.created).toBe(false);
    expect(again.session?.incarnation).toBe(first.session?.incarnation);
    expect((await client.getSession({ sessionId: "s" })).session?.incarnation).toBe(
      first.session?.incarnation,
    );
    expect((await client.heartbeat({ sessionId: "s" })).session?.incarnation).toBe(
      first.session?.incarnation,
    );
    await client.cleanupSession({ sessionId: "s" });
    const recreated = await client.initializeSession({ sessionId: "s" });
    expect(recreated.created).toBe(true);
    expect(recreated.session?.incarnation).not.toBe(first.session?.incarnation);
  });

  // Regression: after a restart and a recreation, watchers resumed into the new session's
  // history as if it were the old one's.
  for (const protocol of ["grpc", "connect-h2", "grpc-web-h1"] as ProtocolName[]) {
    it(`a WatchVariables resume against a session recreated after a server restart fails with session_expired (${protocol})`, async () => {
      const before = await start();
      const old = await prepare(before);
      const port = Number(new URL(before.server.url).port);
      await servers.splice(0)[0]?.close();
      const after = await start({ port });
      await prepare(after);
      const stream = after.client(protocol).watchVariables({
        sessionId: "s",
        identifiers: ["x"],
        fromRevision: 2n,
        incarnation: old,
      });
      const error = await (async () => {
        try {
          for await (const _ of stream) return undefined;
        } catch (caught) {
          return ConnectError.from(caught);
        }
        return undefined;
      })();
      expect(error?.metadata.get("statebridge-error-code")).toBe("session_expired");
      expect(error?.rawMessage).toContain("was recreated");
    });
  }

  it("a WatchStream create naming an old incarnation is ended with session_expired; one naming the current one opens and carries it", async () => {
    const test = await start();
    const current = await prepare(test);
    const abort = new AbortController();
    const stream = openStream(test, abort.signal);
    try {
      stream.send({
        kind: {
          case: "create",
          value: {
            watchId: "stale",
            sessionId: "s",
            identifiers: ["x"],
            fromRevision: 1n,
            incarnation: "0123456789abcdef",
          },
        },
      });
      const ended = await stream.next();
      expect(ended.watchId).toBe("stale");
      expect(ended.kind.case).toBe("ended");
      if (ended.kind.case !== "ended") return;
      expect(ended.kind.value.error?.code).toBe("session_expired");
      expect(ended.kind.value.error?.message).toContain("was recreated");
      stream.send({
        kind: {
          case: "create",
          value: { watchId: "live", sessionId: "s", identifiers: ["x"], incarnation: current },
        },
      });
      const created = await stream.next();
      expect(created.kind.case).toBe("created");
      if (created.kind.case === "created") expect(created.kind.value.incarnation).toBe(current);
    } finally {
      abort.abort();
    }
  });
});

describe("heartbeat negotiation", () => {
  // Regression: a multiplexed stream could not ask for an interval, so a server started with a
  // long --heartbeat-interval-ms made every default client take its stream for dead.
  it("a WatchStream heartbeats at the interval its create asked for, shorter than the server's, and announces it", async () => {
    const test = await start({ heartbeatIntervalMs: 3_600_000 });
    const incarnation = await prepare(test);
    const abort = new AbortController();
    const stream = openStream(test, abort.signal);
    try {
      stream.send({
        kind: {
          case: "create",
          value: { watchId: "w", sessionId: "s", identifiers: ["x"], heartbeatIntervalMs: 50 },
        },
      });
      const created = await stream.next();
      expect(created.kind.case === "created" && created.kind.value.heartbeatIntervalMs).toBe(50);
      const heartbeat = await stream.next();
      expect(heartbeat.watchId).toBe("w");
      expect(heartbeat.kind.case).toBe("heartbeat");
      if (heartbeat.kind.case !== "heartbeat") return;
      expect(heartbeat.kind.value).toMatchObject({ intervalMs: 50, incarnation });
      expect(Number(heartbeat.kind.value.revision)).toBe(3);
    } finally {
      abort.abort();
    }
  });

  it("a WatchStream whose create asks for a longer interval than the server's announces that one", async () => {
    const test = await start({ heartbeatIntervalMs: 20 });
    await prepare(test);
    const abort = new AbortController();
    const stream = openStream(test, abort.signal);
    try {
      stream.send({
        kind: {
          case: "create",
          value: { watchId: "w", sessionId: "s", identifiers: ["x"], heartbeatIntervalMs: 60_000 },
        },
      });
      const first = await stream.next();
      expect(first.kind.case === "created" && first.kind.value.heartbeatIntervalMs).toBe(60_000);
    } finally {
      abort.abort();
    }
  });

  it("WatchVariables announces its interval and incarnation in created and heartbeats", async () => {
    const test = await start({ heartbeatIntervalMs: 3_600_000 });
    const incarnation = await prepare(test);
    const abort = new AbortController();
    const messages = test
      .client()
      .watchVariables(
        { sessionId: "s", identifiers: ["x"], heartbeatIntervalMs: 40 },
        { signal: abort.signal },
      );
    const seen = [];
    try {
      for await (const message of messages) {
        seen.push(message.kind);
        if (seen.length === 3) break;
      }
    } finally {
      abort.abort();
    }
    expect(seen[0]).toMatchObject({ case: "created", value: { incarnation, heartbeatIntervalMs: 40 } });
    expect(seen[2]).toMatchObject({ case: "heartbeat", value: { incarnation, intervalMs: 40 } });
  });
});

describe("an open watch keeps its session alive", () => {
  // Regression: a process that only watched lost its session after the TTL.
  it("a session watched past its TTL is still there; once the watch ends its TTL runs again", async () => {
    const test = await start({ sessionTtlSeconds: 1 });
    const client = test.client();
    await client.initializeSession({ sessionId: "s" });
    await client.registerVariable({
      sessionId: "s",
      name: "x",
      type: "integer",
      initialValue: { kind: { case: "integerValue", value: 0n } },
    });
    const abort = new AbortController();
    const stream = openStream(test, abort.signal);
    stream.send({ kind: { case: "create", value: { watchId: "w", sessionId: "s", identifiers: ["x"] } } });
    expect((await stream.next()).kind.case).toBe("created");
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(Number((await client.getSession({ sessionId: "s" })).session?.variableCount)).toBe(1);
    stream.send({ kind: { case: "cancel", value: { watchId: "w" } } });
    expect((await stream.next()).kind.case).toBe("ended");
    abort.abort();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const error = await client.getSession({ sessionId: "s" }).then(
      () => undefined,
      (caught: unknown) => ConnectError.from(caught),
    );
    expect(error?.metadata.get("statebridge-error-code")).toBe("session_expired");
  });
});
