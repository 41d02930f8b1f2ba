// Attacks on a bridge-server, shared by test/attacks.test.ts (which asserts that the server's
// memory stays bounded and a bystander keeps being answered) and bench/attacks.bench.mjs at the
// root (which measures the bystander's latency). Plain JavaScript so that the benchmark runs it
// with node alone; support-attacks.d.mts types it for the tests. support-attack-runner.mjs runs
// one: it starts the server, runs `setup` in the calling thread and `run` in a worker thread.
import * as http2 from "node:http2";
import * as net from "node:net";
import { createGzip, gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  InitializeSessionRequestSchema,
  ListVariablesRequestSchema,
  PingRequestSchema,
  RegisterVariableRequestSchema,
  SetVariableRequestSchema,
  WatchStreamRequestSchema,
  WatchVariablesRequestSchema,
} from "@statebridge/proto";

/** The token of the servers started with one. */
export const ATTACK_TOKEN = "attack-token";
/** The session the attacks' variables live in. */
export const ATTACK_SESSION = "attack";
const SERVICE = "/statebridge.v1.BridgeService";

/** A gRPC envelope: a flag byte, a 4-byte big-endian length (the message's unless given), the message. */
export function envelope(message, flags = 0, declaredLength = message.byteLength) {
  const framed = new Uint8Array(5 + message.byteLength);
  framed[0] = flags;
  new DataView(framed.buffer).setUint32(1, declaredLength);
  framed.set(message, 5);
  return framed;
}

/** A gzip member that inflates to `bytes` zero bytes, from a few hundred bytes (or KiB) on the wire. */
export function gzipBomb(bytes) {
  return gzipSync(Buffer.alloc(bytes), { level: 9 });
}

/** The same, for sizes too large to hold inflated: compressed from one reused zero block. */
async function streamedGzipBomb(bytes) {
  const gzip = createGzip({ level: 9 });
  const parts = [];
  gzip.on("data", (chunk) => parts.push(chunk));
  const done = new Promise((resolve, reject) => {
    gzip.on("end", resolve);
    gzip.on("error", reject);
  });
  const block = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < bytes; written += block.byteLength) {
    if (!gzip.write(block)) await new Promise((resolve) => gzip.once("drain", resolve));
  }
  gzip.end();
  await done;
  return Buffer.concat(parts);
}

/** An HTTP/2 connection that swallows its errors (an attacker does not care). */
export function connect(url) {
  const session = http2.connect(url);
  session.on("error", () => {});
  return session;
}

/** Keeps one live connection: a new one whenever the server closed the last. */
function connectionKeeper(url) {
  let session;
  return () => {
    if (session === undefined || session.closed || session.destroyed) session = connect(url);
    return session;
  };
}

/**
 * Sends one request and gathers the answer. Resolves, never rejects: `grpcStatus` is
 * "timeout" when nothing ended the call within `timeoutMs`, "reset" when the stream was reset
 * without a status.
 */
export function call(session, path, chunks, headers = {}, { timeoutMs = 30_000, end = true } = {}) {
  return new Promise((resolve) => {
    let stream;
    try {
      stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
        ...headers,
      });
    } catch (error) {
      resolve({ grpcStatus: "reset", message: String(error), body: Buffer.alloc(0) });
      return;
    }
    let responseHeaders = {};
    let trailers = {};
    const body = [];
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      settle("timeout");
    }, timeoutMs);
    let settled = false;
    function settle(fallback) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const httpStatus = responseHeaders[":status"];
      // Connect's unary protocol answers with an HTTP status and no grpc-status.
      const ended = fallback === "reset" && httpStatus !== undefined && stream.rstCode === 0;
      const grpcStatus =
        trailers["grpc-status"] ??
        responseHeaders["grpc-status"] ??
        (ended ? `http ${httpStatus}` : fallback);
      const message = trailers["grpc-message"] ?? responseHeaders["grpc-message"];
      const errorCode = trailers["statebridge-error-code"] ?? responseHeaders["statebridge-error-code"];
      resolve({ grpcStatus, message, errorCode, body: Buffer.concat(body) });
    }
    stream.on("response", (received) => {
      responseHeaders = received;
    });
    stream.on("trailers", (received) => {
      trailers = received;
    });
    stream.on("data", (chunk) => body.push(chunk));
    stream.on("error", () => {});
    stream.on("close", () => settle("reset"));
    for (const chunk of chunks) stream.write(chunk);
    if (end) stream.end();
  });
}

/** The envelope of a request message. */
export function framed(schema, init) {
  return envelope(toBinary(schema, create(schema, init)));
}

const authorization = (token) => (token === undefined ? {} : { authorization: `Bearer ${token}` });

/** Calls a unary method with the attack's token; throws unless it succeeds. */
async function mustCall(session, method, schema, init, token) {
  const answer = await call(session, `${SERVICE}/${method}`, [framed(schema, init)], authorization(token));
  if (answer.grpcStatus !== "0") {
    throw new Error(`${method} failed during setup: ${answer.grpcStatus} ${answer.message ?? ""}`);
  }
  return answer;
}

const stringValue = (text) => ({ kind: { case: "stringValue", value: text } });

async function registerString(session, token, name, initial, constraintsJson = "") {
  return call(
    session,
    `${SERVICE}/RegisterVariable`,
    [
      framed(RegisterVariableRequestSchema, {
        sessionId: ATTACK_SESSION,
        name,
        type: "string",
        initialValue: stringValue(initial),
        constraintsJson,
      }),
    ],
    authorization(token),
  );
}

/** A SetVariable of a `bytes`-character string whose first 12 characters count the writes. */
function countingSet(name, bytes) {
  const value = "0".repeat(12) + "x".repeat(Math.max(0, bytes - 12));
  const encoded = Buffer.from(
    framed(SetVariableRequestSchema, {
      sessionId: ATTACK_SESSION,
      identifier: name,
      value: stringValue(value),
    }),
  );
  const offset = encoded.indexOf("000000000000", 0, "latin1");
  let count = 0;
  return () => {
    encoded.write(String(++count).padStart(12, "0"), offset, "latin1");
    return encoded;
  };
}

/** Runs `loop` in `count` parallel lanes until the signal aborts, counting the rounds started. */
async function lanes(count, signal, stats, loop) {
  await Promise.all(
    Array.from({ length: count }, async (_, lane) => {
      while (!signal.aborted) {
        stats.rounds = (stats.rounds ?? 0) + 1;
        await loop(lane);
      }
    }),
  );
}

/** Resolves when the signal aborts (or at once if it has). */
function aborted(signal) {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", resolve, { once: true });
  });
}

/**
 * Opens a stream and keeps writing `message` to it while the server lets it (HTTP/2 flow
 * control), until the stream closes, `maxMs` passes or the signal aborts.
 */
function flood(session, headers, message, signal, stats, maxMs = 10_000) {
  return new Promise((resolve) => {
    let stream;
    try {
      stream = session.request({ ":method": "POST", te: "trailers", ...headers });
    } catch {
      setTimeout(resolve, 10);
      return;
    }
    stats.streams = (stats.streams ?? 0) + 1;
    let open = true;
    const finish = () => {
      if (!open) return;
      open = false;
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      resolve();
    };
    const timer = setTimeout(finish, maxMs);
    signal.addEventListener("abort", finish, { once: true });
    stream.on("error", () => {});
    stream.on("close", finish);
    stream.resume();
    const pump = () => {
      while (open && !stream.destroyed) {
        stats.messages = (stats.messages ?? 0) + 1;
        stats.bytesSent = (stats.bytesSent ?? 0) + message.byteLength;
        if (!stream.write(message)) {
          stream.once("drain", pump);
          return;
        }
      }
    };
    pump();
  });
}

/** A watch that never reads what it is sent; resolves when it closes or after `maxMs`. */
function stalledWatch(url, protocol, identifier, signal, stats, maxMs = 10_000) {
  return new Promise((resolve) => {
    const session = connect(url);
    const stream = session.request({
      ":method": "POST",
      ":path": `${SERVICE}/WatchVariables`,
      te: "trailers",
      ...(protocol === "connect"
        ? { "content-type": "application/connect+proto", "connect-protocol-version": "1" }
        : { "content-type": "application/grpc" }),
    });
    stats.watches = (stats.watches ?? 0) + 1;
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      session.destroy();
      resolve();
    };
    const timer = setTimeout(finish, maxMs);
    signal.addEventListener("abort", finish, { once: true });
    stream.on("error", () => {});
    stream.on("close", finish);
    // No 'data' listener: the stream stays paused, and HTTP/2 flow control stops the server.
    stream.end(framed(WatchVariablesRequestSchema, { sessionId: ATTACK_SESSION, identifiers: [identifier] }));
  });
}

/** Counts an answer by its grpc-status (and statebridge code). */
function tally(stats, answer) {
  const key = `status ${answer.grpcStatus}${answer.errorCode === undefined ? "" : ` ${answer.errorCode}`}`;
  stats[key] = (stats[key] ?? 0) + 1;
}

/** A writer that sets `name` to `bytes`-character strings, one write after another. */
async function writer(url, name, bytes, signal, stats) {
  const session = connectionKeeper(url);
  const next = countingSet(name, bytes);
  while (!signal.aborted)
    tally(stats, await call(session(), `${SERVICE}/SetVariable`, [next()], {}, { timeoutMs: 60_000 }));
}

/** A watcher/writer attack: `watchers` stalled watches of `name` while it is set to `bytes`-character values. */
function stalledWatchAttack(protocol, bytes) {
  return {
    async setup(url) {
      const session = connect(url);
      try {
        await mustCall(session, "InitializeSession", InitializeSessionRequestSchema, {
          sessionId: ATTACK_SESSION,
        });
        const answer = await registerString(session, undefined, "blob", "");
        if (answer.grpcStatus !== "0") throw new Error(`cannot register: ${answer.message}`);
      } finally {
        session.close();
      }
    },
    async run(url, signal, stats) {
      await Promise.all([
        lanes(4, signal, stats, () => stalledWatch(url, protocol, "blob", signal, stats)),
        writer(url, "blob", bytes, signal, stats),
      ]);
    },
  };
}

/** No attack: the bystander alone, for comparison. */
export const NO_ATTACK = {
  name: "no attack",
  description: "the bystander alone",
  async run(_url, signal, stats) {
    stats.idle = 1;
    await aborted(signal);
  },
};

/** The flag a server understands, if its `--help` lists it. */
const ifFlag = (help, flag, value) => (help.includes(`--${flag} `) ? [`--${flag}`, value] : []);

const SILENT_SOCKETS = 3_000;
const SILENT_SOCKETS_PER_SECOND = 1_000;

/**
 * The attacks of issue 9, item 3's last bullet, each with:
 * - `name`, and `description` (what it does and what it did to the server before the fix);
 * - `token`: whether the server requires one (the attacker never sends it);
 * - `fileLimit`: the server's open-file limit, when the attack is about file descriptors;
 * - `serverArgs(help)`: more flags, chosen from the server's `--help`;
 * - `setup(url)`: run once before, in the calling thread;
 * - `run(url, signal, stats)`: the attack, in a worker thread, until the signal aborts; it
 *   counts what it did in `stats`.
 */
export const ATTACKS = [
  {
    name: "unauthenticated WatchStream flood",
    description:
      "4 WatchStreams without the token, each writing 16 KiB create messages for as long as the server reads them; before the fix the refused stream decoded them all into a queue and the server died of heap exhaustion",
    token: true,
    async run(url, signal, stats) {
      const session = connectionKeeper(url);
      const message = framed(WatchStreamRequestSchema, {
        kind: {
          case: "create",
          value: { watchId: "w", sessionId: "s", identifiers: ["x".repeat(16 * 1024)] },
        },
      });
      const headers = { ":path": `${SERVICE}/WatchStream`, "content-type": "application/grpc" };
      await lanes(4, signal, stats, () => flood(session(), headers, message, signal, stats));
    },
  },
  {
    name: "8 unauthenticated 60 MB requests",
    description:
      "8 parallel Pings without the token, each a 60 MB message, repeated; before the fix both paths read each whole body before checking the token",
    token: true,
    async run(url, signal, stats) {
      const session = connectionKeeper(url);
      const size = 60 * 1024 * 1024;
      const block = new Uint8Array(1024 * 1024);
      const header = envelope(new Uint8Array(0), 0, size);
      await lanes(8, signal, stats, async () => {
        const chunks = [header, ...Array.from({ length: size / block.byteLength }, () => block)];
        tally(stats, await call(session(), `${SERVICE}/Ping`, chunks, {}, { timeoutMs: 60_000 }));
      });
    },
  },
  {
    name: "thousands of silent sockets",
    description: `up to ${SILENT_SOCKETS} TCP connections that never send a byte, ${SILENT_SOCKETS_PER_SECOND} new ones a second, against a server limited to 2,048 open files; before the fix they were never closed and new clients went unanswered`,
    fileLimit: 2_048,
    serverArgs: (help) => ifFlag(help, "headers-timeout-ms", "1000"),
    async run(url, signal, stats) {
      const { hostname, port } = new URL(url);
      const sockets = new Set();
      stats.opened = 0;
      stats.closedByServer = 0;
      const timer = setInterval(() => {
        for (
          let index = 0;
          index < SILENT_SOCKETS_PER_SECOND / 10 && sockets.size < SILENT_SOCKETS;
          index++
        ) {
          const socket = net.connect(Number(port), hostname);
          stats.opened++;
          sockets.add(socket);
          socket.on("error", () => {});
          socket.on("close", () => {
            sockets.delete(socket);
            if (!signal.aborted) stats.closedByServer++;
          });
        }
        stats.peakOpen = Math.max(stats.peakOpen ?? 0, sockets.size);
      }, 100);
      await aborted(signal);
      clearInterval(timer);
      for (const socket of sockets) socket.destroy();
    },
  },
  {
    name: "watcher that never reads, 64 KiB values, direct path",
    description:
      "4 gRPC WatchVariables that never read while a writer sets 64 KiB values; before the fix the direct path ignored HTTP/2 backpressure for batches under 64 KiB",
    ...stalledWatchAttack("direct", 64 * 1024),
  },
  {
    name: "watcher that never reads, 64 KiB values, connect path",
    description: "the same, with Connect-protocol watches, which connect's handler serves",
    ...stalledWatchAttack("connect", 64 * 1024),
  },
  {
    name: "stalled watcher, 1 MB values",
    description:
      "4 gRPC WatchVariables that never read while a writer sets 1 MB values; before the fix the queue counted messages only and one watcher held gigabytes",
    ...stalledWatchAttack("direct", 1024 * 1024),
  },
  {
    name: "writer of 40 MB strings",
    description:
      "one writer setting a string variable to 40 MB values, one after another; before the fix the change history kept up to 1,000 of them and the server died",
    async setup(url) {
      const session = connect(url);
      try {
        await mustCall(session, "InitializeSession", InitializeSessionRequestSchema, {
          sessionId: ATTACK_SESSION,
        });
        const answer = await registerString(session, undefined, "big", "");
        if (answer.grpcStatus !== "0") throw new Error(`cannot register: ${answer.message}`);
      } finally {
        session.close();
      }
    },
    async run(url, signal, stats) {
      await writer(url, "big", 40 * 1024 * 1024, signal, stats);
    },
  },
  {
    name: "catastrophic glob and regex",
    description:
      "list with the glob *a*a*a*a*b over 40 names of 160 characters, and registrations and writes of a string with the constraint pattern ^(a+)+$ and a value of 28 a's and a '!'; before the fix each took seconds of the event loop",
    async setup(url) {
      const session = connect(url);
      try {
        await mustCall(session, "InitializeSession", InitializeSessionRequestSchema, {
          sessionId: ATTACK_SESSION,
        });
        for (let index = 0; index < 40; index++) {
          const suffix = index
            .toString(26)
            .replace(/./g, (digit) => String.fromCharCode(99 + Number.parseInt(digit, 26)));
          const answer = await registerString(
            session,
            undefined,
            "a".repeat(160 - suffix.length) + suffix,
            "",
          );
          if (answer.grpcStatus !== "0") throw new Error(`cannot register: ${answer.message}`);
        }
        // Refused (invalid_value) by a server that checks patterns at registration: then only
        // the registrations below attack it.
        await registerString(session, undefined, "redos", "a", '{"pattern":"^(a+)+$"}');
      } finally {
        session.close();
      }
    },
    async run(url, signal, stats) {
      const session = connectionKeeper(url);
      const evil = `${"a".repeat(28)}!`;
      const list = framed(ListVariablesRequestSchema, { sessionId: ATTACK_SESSION, pattern: "*a*a*a*a*b" });
      const set = framed(SetVariableRequestSchema, {
        sessionId: ATTACK_SESSION,
        identifier: "redos",
        value: stringValue(evil),
      });
      let registrations = 0;
      await lanes(4, signal, stats, async (lane) => {
        if (lane < 2) {
          tally(stats, await call(session(), `${SERVICE}/ListVariables`, [list], {}, { timeoutMs: 120_000 }));
        } else if (lane === 2) {
          tally(stats, await call(session(), `${SERVICE}/SetVariable`, [set], {}, { timeoutMs: 120_000 }));
        } else {
          tally(
            stats,
            await registerString(
              session(),
              undefined,
              `redos_${++registrations}`,
              evil,
              '{"pattern":"^(a+)+$"}',
            ),
          );
        }
      });
    },
  },
  {
    name: "grpc-timeout 99999999H flood",
    description:
      "64 unauthenticated calls with grpc-timeout 99999999H (valid: about 11,400 years) that never finish their request, and 8 lanes of complete ones; before the fix each overflowed Node's timer and re-armed it every millisecond",
    token: true,
    async run(url, signal, stats) {
      const session = connectionKeeper(url);
      const ping = framed(PingRequestSchema, { message: "late" });
      const headers = { "grpc-timeout": "99999999H" };
      await Promise.all([
        lanes(64, signal, stats, async () => {
          const answer = await call(session(), `${SERVICE}/Ping`, [ping.subarray(0, 3)], headers, {
            timeoutMs: 10_000,
            end: false,
          });
          tally(stats, answer);
        }),
        lanes(8, signal, stats, async () =>
          tally(stats, await call(session(), `${SERVICE}/Ping`, [ping], headers)),
        ),
      ]);
    },
  },
  {
    name: "gzip bomb",
    description:
      "8 parallel Pings whose gzip-compressed message inflates to 512 MiB, over gRPC, Connect and gRPC-Web, repeated",
    async run(url, signal, stats) {
      const bomb = await streamedGzipBomb(512 * 1024 * 1024);
      stats.bombBytes = bomb.byteLength;
      const session = connectionKeeper(url);
      const protocols = [
        [{ "content-type": "application/grpc", "grpc-encoding": "gzip" }, [envelope(bomb, 1)]],
        [
          {
            "content-type": "application/proto",
            "content-encoding": "gzip",
            "connect-protocol-version": "1",
          },
          [bomb],
        ],
        [{ "content-type": "application/grpc-web+proto", "grpc-encoding": "gzip" }, [envelope(bomb, 1)]],
      ];
      await lanes(8, signal, stats, async (lane) => {
        const [headers, chunks] = protocols[lane % protocols.length];
        tally(stats, await call(session(), `${SERVICE}/Ping`, chunks, headers, { timeoutMs: 60_000 }));
      });
    },
  },
];
