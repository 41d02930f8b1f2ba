// Watch latency and fan-out through a bridge-server running as its own process:
// - a set in one process → the watcher's callback in another (p50/p99), for each stream mode;
// - one update reaching 1,000 and 10,000 watchers (time until the last one has it);
// - the server's memory per open watcher, at 10,000 watchers.
// Streams are opened directly on the client's HTTP/2 connection, as a BridgedState does.
import { fork, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";
import { createStreamConsumer } from "@statebridge/stream-consumer";
import { report, summarize } from "../../../bench/lib.mjs";

const require = createRequire(import.meta.url);
const cli = require
  .resolve("@statebridge/bridge-server/package.json")
  .replace(/package\.json$/, "dist/cli.js");
const quick = process.env.STATEBRIDGE_BENCH_QUICK === "1";

async function startServer() {
  const child = spawn(process.execPath, [cli, "--port", "0", "--log-level", "warn"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((resolve, reject) => {
    let buffer = "";
    child.stdout.on("data", (chunk) => {
      buffer += chunk;
      const match = /(https?:\/\/\S+)/.exec(buffer);
      if (match) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`bridge-server exited with ${code}`)));
  });
  return {
    url,
    residentBytes: () =>
      Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))[1]) * 1024,
    stop: () => child.kill("SIGTERM"),
  };
}

function clientOf(url) {
  const sessionManager = new Http2SessionManager(url, { pingIntervalMs: 10_000 });
  return {
    client: createClient(BridgeService, createGrpcTransport({ baseUrl: url, sessionManager })),
    sessionManager,
  };
}

const server = await startServer();
const { client, sessionManager } = clientOf(server.url);
const rows = [];

// 1. Set in a writer process → callback in this process.
for (const streams of ["multiplexed", "per-watch"]) {
  const sessionId = `latency-${streams}`;
  await client.initializeSession({ sessionId });
  await client.registerVariable({
    sessionId,
    name: "clock",
    type: "string",
    initialValue: { kind: { case: "stringValue", value: "0" } },
  });
  const consumer = createStreamConsumer({ client, connection: { sessionManager }, sessionId, streams });
  let arrived;
  await consumer.watch(["clock"], (event) => {
    arrived?.(process.hrtime.bigint() - BigInt(event.newValue));
  });
  const writer = fork(new URL("./watch-writer.mjs", import.meta.url), [server.url, sessionId]);
  await new Promise((resolve) => writer.once("message", resolve));
  const samples = quick ? 200 : 2_000;
  const warmup = quick ? 20 : 200;
  const durations = [];
  for (let index = 0; index < warmup + samples; index++) {
    const latency = await new Promise((resolve) => {
      arrived = resolve;
      writer.send("go");
    });
    if (index >= warmup) durations.push(Number(latency));
  }
  writer.send("stop");
  await consumer.close();
  durations.sort((left, right) => left - right);
  rows.push(summarize(`set in one process → watcher in another (${streams})`, durations));
}

/** Opens `count` watches of `x` in batches of 500; `onEvent` is every watcher. */
async function openWatchers(consumer, count, onEvent) {
  const open = [];
  for (let index = 0; index < count; index++) {
    open.push(consumer.watch(["x"], onEvent));
    if (open.length === 500) await Promise.all(open.splice(0));
  }
  await Promise.all(open);
}

async function sessionWithX(target, sessionId) {
  await target.initializeSession({ sessionId });
  await target.registerVariable({
    sessionId,
    name: "x",
    type: "integer",
    initialValue: { kind: { case: "integerValue", value: 0n } },
  });
}

// 2. Fan-out: one set, until the last of `count` watchers (all in this process) has it.
for (const streams of ["multiplexed", "per-watch"]) {
  for (const count of [1_000, 10_000]) {
    const sessionId = `fan-out-${streams}-${count}`;
    await sessionWithX(client, sessionId);
    const watcherClient = clientOf(server.url);
    const consumer = createStreamConsumer({
      client: watcherClient.client,
      connection: { sessionManager: watcherClient.sessionManager },
      sessionId,
      streams,
    });
    let received = 0;
    let allReceived;
    await openWatchers(consumer, count, () => {
      received++;
      if (received === count) allReceived?.();
    });
    const repeats = quick ? 3 : count >= 10_000 ? 10 : 30;
    const durations = [];
    for (let repeat = 0; repeat <= repeats; repeat++) {
      received = 0;
      const done = new Promise((resolve) => {
        allReceived = resolve;
      });
      const start = process.hrtime.bigint();
      await client.setVariable({
        sessionId,
        identifier: "x",
        value: { kind: { case: "integerValue", value: BigInt(repeat + 1) } },
      });
      await done;
      // The first round warms up both sides.
      if (repeat > 0) durations.push(Number(process.hrtime.bigint() - start));
    }
    durations.sort((left, right) => left - right);
    rows.push(summarize(`one update → ${count.toLocaleString("en-US")} watchers (${streams})`, durations));
    await consumer.close();
    watcherClient.sessionManager.abort();
    await client.cleanupSession({ sessionId });
  }
}

// 3. Server memory per watcher: a fresh server for each mode, its resident memory before and
// after 10,000 watchers open.
for (const streams of ["multiplexed", "per-watch"]) {
  const fresh = await startServer();
  const freshClient = clientOf(fresh.url);
  await sessionWithX(freshClient.client, "memory");
  const consumer = createStreamConsumer({
    client: freshClient.client,
    connection: { sessionManager: freshClient.sessionManager },
    sessionId: "memory",
    streams,
  });
  // Warm the server up with a few watches, so that the figure is of watchers, not of code.
  const warmUp = await Promise.all(Array.from({ length: 100 }, () => consumer.watch(["x"], () => {})));
  await Promise.all(warmUp.map((handle) => handle.close()));
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const before = fresh.residentBytes();
  await openWatchers(consumer, 10_000, () => {});
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const perWatcher = (fresh.residentBytes() - before) / 10_000;
  rows.push({
    name: `server memory per watcher at 10,000 watchers (${streams})`,
    samples: 1,
    p50Ns: Number.NaN,
    p99Ns: Number.NaN,
    meanNs: Number.NaN,
    serverKiBPerWatcher: perWatcher / 1024,
  });
  await consumer.close();
  freshClient.sessionManager.abort();
  fresh.stop();
}

sessionManager.abort();
server.stop();
report("watch", rows, {
  note: "bridge-server in its own process; watchers in this process; one connection per consumer",
});
