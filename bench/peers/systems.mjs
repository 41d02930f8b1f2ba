// The same work on each system, through the client a Node user would pick: BridgedState for
// statebridge, node-redis, nats.js (JetStream KV) and etcd3. Each factory returns the
// operations the benchmark times; an operation a system has no counterpart for is absent.
import { Etcd3 } from "etcd3";
import { connect as connectNats, StorageType, StringCodec } from "nats";
import { createClient } from "redis";

/** Names of the 100 variables (keys) every system holds. */
export const NAMES = Array.from({ length: 100 }, (_, index) => `param_${index}`);
/** The NATS KV bucket and the etcd key prefix. */
export const NATS_BUCKET = "bench";
export const ETCD_PREFIX = "bench/";
/** The Redis pub/sub channel and stream a watched set publishes to. */
export const REDIS_CHANNEL = "bench:watched";
export const REDIS_STREAM = "bench:changes";
/** The key watchers watch on every system. */
export const WATCHED = "watched";

const codec = StringCodec();

// A compare-and-set in one round trip: the value and its version in a hash.
const REDIS_CAS = `local version = redis.call('HGET', KEYS[1], 'version')
if version ~= ARGV[1] then return redis.error_reply('version_conflict') end
redis.call('HSET', KEYS[1], 'value', ARGV[2], 'version', version + 1)
return version + 1`;

/**
 * statebridge through BridgedState, in one session that the watcher processes join.
 * `createBridgedState` is passed in because it comes from the workspace's built dist/.
 */
export async function statebridgeSystem(createBridgedState, url) {
  const provider = await createBridgedState({ url });
  for (const name of NAMES) await provider.register(name, "float", 0);
  await provider.register("cas", "float", 0);
  await provider.register(WATCHED, "integer", 0);
  let version = (await provider.getVariable("cas")).version;
  const updates = new Map(NAMES.map((name) => [name, 0]));
  return {
    sessionId: provider.sessionId,
    get: () => provider.get("param_50"),
    set: (index) => provider.set("param_51", index),
    async compareAndSet(index) {
      version = await provider.set("cas", index, { expectedVersion: version });
    },
    getMany: () => provider.getMany(NAMES),
    updateMany(index) {
      for (const name of NAMES) updates.set(name, index);
      return provider.updateMany(updates, { atomic: true });
    },
    throughputGet: (caller) => provider.get(NAMES[caller % NAMES.length]),
    writers: { watch: (value) => provider.set(WATCHED, value) },
    close: () => provider.close(),
  };
}

/** Redis through node-redis: GET, SET, a Lua compare-and-set, MGET, MULTI, pub/sub, Streams. */
export async function redisSystem(url) {
  const client = createClient({ url });
  await client.connect();
  await client.mSet(NAMES.flatMap((name) => [name, "0"]));
  await client.hSet("cas", { value: "0", version: "1" });
  const casScript = await client.scriptLoad(REDIS_CAS);
  let version = 1;
  return {
    get: () => client.get("param_50"),
    set: (index) => client.set("param_51", String(index)),
    async compareAndSet(index) {
      version = Number(
        await client.sendCommand(["EVALSHA", casScript, "1", "cas", String(version), String(index)]),
      );
    },
    getMany: () => client.mGet(NAMES),
    updateMany(index) {
      const transaction = client.multi();
      for (const name of NAMES) transaction.set(name, String(index));
      return transaction.exec();
    },
    throughputGet: (caller) => client.get(NAMES[caller % NAMES.length]),
    writers: {
      // A set that watchers hear of: the SET and its PUBLISH in one MULTI.
      "pub/sub": (value) =>
        client.multi().set(WATCHED, String(value)).publish(REDIS_CHANNEL, String(value)).exec(),
      // The change appended to a stream that watchers read with a blocking XREAD.
      streams: (value) =>
        client.xAdd(
          REDIS_STREAM,
          "*",
          { value: String(value) },
          { TRIM: { strategy: "MAXLEN", threshold: 1000 } },
        ),
    },
    close: () => client.close(),
  };
}

/** NATS JetStream KV through nats.js: a memory-storage bucket keeping one revision per key. */
export async function natsSystem(url) {
  const connection = await connectNats({ servers: url });
  const kv = await connection.jetstream().views.kv(NATS_BUCKET, { history: 1, storage: StorageType.Memory });
  for (const name of [...NAMES, "cas", WATCHED]) await kv.put(name, codec.encode("0"));
  let revision = (await kv.get("cas")).revision;
  return {
    get: () => kv.get("param_50"),
    set: (index) => kv.put("param_51", codec.encode(String(index))),
    async compareAndSet(index) {
      revision = await kv.update("cas", codec.encode(String(index)), revision);
    },
    // NATS KV has no multi-get: the row shows 100 concurrent gets, named so.
    getMany: () => Promise.all(NAMES.map((name) => kv.get(name))),
    throughputGet: (caller) => kv.get(NAMES[caller % NAMES.length]),
    writers: { watch: (value) => kv.put(WATCHED, codec.encode(String(value))) },
    // A closed watcher's ordered consumer lingers on the server until its inactivity
    // threshold, and every put is matched against it meanwhile: delete them once a watcher
    // process is gone, so that no row pays for an earlier row's watchers.
    async afterWatchers() {
      const manager = await connection.jetstreamManager();
      const stream = `KV_${NATS_BUCKET}`;
      const names = [];
      for await (const consumer of manager.consumers.list(stream)) names.push(consumer.name);
      for (const name of names) await manager.consumers.delete(stream, name).catch(() => false);
      return names.length;
    },
    close: () => connection.close(),
  };
}

/** etcd through etcd3: a txn comparing mod_revision, a prefix range, a txn of 100 puts. */
export async function etcdSystem(url) {
  const client = new Etcd3({ hosts: url });
  const key = (name) => `${ETCD_PREFIX}${name}`;
  for (const name of NAMES) await client.put(key(name)).value("0");
  await client.put(key("cas")).value("0");
  await client.put(key(WATCHED)).value("0");
  let revision = (await client.get(key("cas")).exec()).kvs[0].mod_revision;
  return {
    get: () => client.get(key("param_50")).string(),
    set: (index) => client.put(key("param_51")).value(String(index)).exec(),
    async compareAndSet(index) {
      const response = await client
        .if(key("cas"), "Mod", "==", revision)
        .then(client.put(key("cas")).value(String(index)))
        .commit();
      if (!response.succeeded) throw new Error("etcd compare-and-set lost");
      revision = response.header.revision;
    },
    getMany: () => client.getAll().prefix(`${ETCD_PREFIX}param_`).strings(),
    updateMany: (index) =>
      client.kv.txn({
        success: NAMES.map((name) => ({
          request_put: { key: Buffer.from(key(name)), value: Buffer.from(String(index)) },
        })),
      }),
    throughputGet: (caller) => client.get(key(NAMES[caller % NAMES.length])).string(),
    writers: { watch: (value) => client.put(key(WATCHED)).value(String(value)).exec() },
    close: () => client.close(),
  };
}
