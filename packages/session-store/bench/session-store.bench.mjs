// SessionStore benchmarks, each call awaited as the bridge-server awaits it: single-variable
// operations in a small and in a 100,000-variable session (the cost must not grow with the
// session), batches, one change reaching 10,000 watchers of one variable, and a watch opened
// and closed. Run from the root with
// `node bench/run.mjs session-store`, or `pnpm --filter @statebridge/session-store bench`.
import { createSessionStore } from "@statebridge/session-store";
import { report, sample, summarize } from "../../../bench/lib.mjs";

const rows = [];
const store = createSessionStore({ maxSessions: 10 });

async function sessionWith(sessionId, count) {
  await store.initializeSession(sessionId);
  for (let index = 0; index < count; index++) await store.register(sessionId, `param_${index}`, "float", 0);
}

await sessionWith("small", 100);
await sessionWith("large", 100_000);

for (const sessionId of ["small", "large"]) {
  const size = sessionId === "small" ? "100" : "100,000";
  const options = { samples: 5000, batch: 100, warmup: 10_000 };
  rows.push(
    summarize(
      `getVariable (session of ${size})`,
      await sample(() => store.getVariable(sessionId, "param_50"), options),
    ),
  );
  rows.push(
    summarize(
      `set (session of ${size})`,
      await sample((index) => store.set(sessionId, "param_50", index), options),
    ),
  );
}

{
  const updates = new Map(Array.from({ length: 100 }, (_, index) => [`param_${index}`, 0]));
  rows.push(
    summarize(
      "updateMany (100, atomic)",
      await sample(
        (round) => {
          for (const key of updates.keys()) updates.set(key, round);
          return store.updateMany("small", updates, { atomic: true });
        },
        { samples: 2000, batch: 5, warmup: 500 },
      ),
    ),
  );
}

{
  await store.initializeSession("watched");
  await store.register("watched", "hot", "float", 0);
  await store.register("watched", "cold", "float", 0);
  let received = 0;
  const listener = { onEvents: (batch) => (received += batch.events.length), onEnd: () => {} };
  const subscriptions = [];
  for (let index = 0; index < 10_000; index++)
    subscriptions.push(await store.watch("watched", ["hot"], listener));
  rows.push(
    summarize(
      "set reaching 10,000 watchers",
      await sample((index) => store.set("watched", "hot", index), {
        samples: 200,
        batch: 1,
        warmup: 20,
      }),
      { eventsPerSet: received / 220 },
    ),
  );
  rows.push(
    summarize(
      "set of an unwatched variable beside 10,000 watchers",
      await sample((index) => store.set("watched", "cold", index), {
        samples: 5000,
        batch: 100,
        warmup: 10_000,
      }),
    ),
  );
  for (const subscription of subscriptions) subscription.close();
  rows.push(
    summarize(
      "watch open + close (includeInitial)",
      await sample(
        async () => (await store.watch("watched", ["hot"], listener, { includeInitial: true })).close(),
        {
          samples: 5000,
          batch: 20,
          warmup: 2000,
        },
      ),
      { watchersLeft: store.stats().watchers },
    ),
  );
}

await store.close();
report("session-store", rows);
