// The watching side of the watch rows, in its own process: `watchers` watchers of the watched
// key over `connections` connections of one system's client. The parent sends the setup on
// the IPC channel; this process answers `ready`, then, for each value, the monotonic clock
// (process.hrtime, the same clock in every process of the machine) at which the last of its
// watchers received it. `close` ends it.
import { Etcd3 } from "etcd3";
import { connect as connectNats, KvWatchInclude, StringCodec } from "nats";
import { createClient } from "redis";
import { ETCD_PREFIX, NATS_BUCKET, REDIS_CHANNEL, REDIS_STREAM, WATCHED } from "./systems.mjs";

const codec = StringCodec();
const counts = new Map();
let expected = 0;

/** Counts one watcher's receipt of `value`; the last one reports the time. */
function received(value) {
  const at = process.hrtime.bigint();
  const count = (counts.get(value) ?? 0) + 1;
  if (count < expected) {
    counts.set(value, count);
    return;
  }
  counts.delete(value);
  process.send({ type: "reached", value, at: at.toString() });
}

/** Opens `count` connections, `concurrency` at a time. */
async function openAll(count, open, concurrency = 20) {
  const opened = [];
  for (let start = 0; start < count; start += concurrency) {
    const batch = Array.from({ length: Math.min(concurrency, count - start) }, () => open());
    opened.push(...(await Promise.all(batch)));
  }
  return opened;
}

const watchersOf = {
  async statebridge({ address, sessionId, bridgedStateModule }, connections, perConnection) {
    const { createBridgedState } = await import(bridgedStateModule);
    const providers = await openAll(connections, () => createBridgedState({ url: address, sessionId }));
    for (const provider of providers) {
      await Promise.all(
        Array.from({ length: perConnection }, () =>
          provider.watch([WATCHED], (event) => received(Number(event.newValue))),
        ),
      );
    }
    return () => Promise.all(providers.map((provider) => provider.close()));
  },

  async "pub/sub"({ address }, connections, perConnection) {
    const clients = await openAll(connections, async () => {
      const client = createClient({ url: address });
      await client.connect();
      return client;
    });
    // node-redis keeps one server subscription per channel and connection and calls every
    // listener of it: the fan-out past the server is the client's, as users get it.
    for (const client of clients) {
      for (let index = 0; index < perConnection; index++) {
        await client.subscribe(REDIS_CHANNEL, (message) => received(Number(message)));
      }
    }
    return () => Promise.all(clients.map((client) => client.destroy()));
  },

  async streams({ address }, connections) {
    // Each reader blocks its connection on XREAD: one watcher per connection.
    const clients = await openAll(connections, async () => {
      const client = createClient({ url: address });
      await client.connect();
      return client;
    });
    // Read from the stream's current last entry, not "$": a change made between this
    // process saying ready and its first XREAD reaching the server is not missed.
    const [newest] = await clients[0].xRevRange(REDIS_STREAM, "+", "-", { COUNT: 1 });
    let open = true;
    for (const client of clients) {
      (async () => {
        let last = newest?.id ?? "0-0";
        while (open) {
          const answer = await client
            .xRead({ key: REDIS_STREAM, id: last }, { BLOCK: 0, COUNT: 100 })
            .catch(() => null);
          if (answer === null) continue;
          for (const stream of answer) {
            for (const message of stream.messages) {
              last = message.id;
              received(Number(message.message.value));
            }
          }
        }
      })();
    }
    return () => {
      open = false;
      return Promise.all(clients.map((client) => client.destroy()));
    };
  },

  async nats({ address }, connections, perConnection) {
    const opened = await openAll(connections, async () => {
      const connection = await connectNats({ servers: address });
      return { connection, kv: await connection.jetstream().views.kv(NATS_BUCKET) };
    });
    for (const { kv } of opened) {
      for (let index = 0; index < perConnection; index++) {
        const iterator = await kv.watch({ key: WATCHED, include: KvWatchInclude.UpdatesOnly });
        (async () => {
          for await (const entry of iterator) received(Number(codec.decode(entry.value)));
        })();
      }
    }
    return () => Promise.all(opened.map(({ connection }) => connection.close()));
  },

  async etcd({ address }, connections, perConnection) {
    const clients = Array.from({ length: connections }, () => new Etcd3({ hosts: address }));
    for (const client of clients) {
      await Promise.all(
        Array.from({ length: perConnection }, async () => {
          const watcher = await client.watch().key(`${ETCD_PREFIX}${WATCHED}`).create();
          watcher.on("put", (keyValue) => received(Number(keyValue.value.toString())));
        }),
      );
    }
    return () => {
      for (const client of clients) client.close();
    };
  },
};

process.once("message", async (setup) => {
  const { kind, watchers, connections } = setup;
  const perConnection = Math.max(1, Math.round(watchers / connections));
  expected = kind === "streams" ? connections : connections * perConnection;
  const close = await watchersOf[kind](setup, connections, perConnection);
  process.on("message", async (message) => {
    if (message.type !== "close") return;
    await close();
    process.exit(0);
  });
  process.send({ type: "ready" });
});
