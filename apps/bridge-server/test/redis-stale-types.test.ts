import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support.js";
import { REDIS_AVAILABLE, REDIS_MISSING, type RedisServer, startRedisServer } from "./support-redis.js";
import { failureOf, wire } from "./support-values.js";

// A set decodes its wire value with the variable's type without reading it first: server A
// takes it from the headers it cached. Regression test for that cache going stale when the
// variable is deleted and registered again with another type through server B: A's next set
// must use the new type (a value of it is accepted, one of the old type refused exactly as
// a server with nothing cached refuses it), never trust what it remembered.

describe.skipIf(!REDIS_AVAILABLE)(
  `a type cached by one bridge-server, changed through another (${REDIS_MISSING})`,
  { timeout: 30_000 },
  () => {
    let redis: RedisServer;
    let a: TestServer;
    let b: TestServer;

    beforeAll(async () => {
      redis = await startRedisServer();
      a = await startTestServer({ storeUrl: `${redis.url}/0` });
      b = await startTestServer({ storeUrl: `${redis.url}/0` });
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await redis?.stop();
    });

    /** A session whose "x" server A has written as an integer, then B re-registered as a string. */
    async function staleOnA(sessionId: string): Promise<void> {
      await a.client().initializeSession({ sessionId, ttlSeconds: 60 });
      await a
        .client()
        .registerVariable({ sessionId, name: "x", type: "integer", initialValue: wire.integer(0) });
      await a.client().setVariable({ sessionId, identifier: "x", value: wire.integer(1) });
      await a.client().setVariables({
        sessionId,
        atomic: true,
        updates: [{ identifier: "x", value: wire.integer(2) }],
      });
      await b.client().deleteVariable({ sessionId, identifier: "x" });
      await b
        .client()
        .registerVariable({ sessionId, name: "x", type: "string", initialValue: wire.string("") });
    }

    /** What a server with nothing cached answers to a set of "x" = 7 in a fresh such session. */
    async function uncachedRefusal(sessionId: string) {
      await b.client().initializeSession({ sessionId, ttlSeconds: 60 });
      await b
        .client()
        .registerVariable({ sessionId, name: "x", type: "string", initialValue: wire.string("") });
      const failure = await failureOf(
        b.client().setVariable({ sessionId, identifier: "x", value: wire.integer(7) }),
      );
      return { code: failure.trailerCode, message: failure.error.rawMessage.replaceAll(sessionId, "S") };
    }

    it("SetVariable through A after B re-registered the variable with another type takes a value of the new type and refuses one of the old type with the usual error", async () => {
      await staleOnA("stale-set");
      const written = await a
        .client()
        .setVariable({ sessionId: "stale-set", identifier: "x", value: wire.string("hello") });
      expect(written.version).toBe(1n);
      const read = await b.client().getVariable({ sessionId: "stale-set", identifier: "x" });
      expect(read.variable?.value?.kind).toEqual({ case: "stringValue", value: "hello" });

      const expected = await uncachedRefusal("stale-set-reference");
      expect(expected.code).toBe("invalid_value");
      const refused = await failureOf(
        a.client().setVariable({ sessionId: "stale-set", identifier: "x", value: wire.integer(7) }),
      );
      expect({
        code: refused.trailerCode,
        message: refused.error.rawMessage.replaceAll("stale-set", "S"),
      }).toEqual(expected);
    });

    it("SetVariables through A after B re-registered the variable with another type decodes each value with the new type, atomic or not", async () => {
      await staleOnA("stale-batch");
      const { versions } = await a.client().setVariables({
        sessionId: "stale-batch",
        atomic: true,
        updates: [{ identifier: "x", value: wire.string("batch") }],
      });
      expect(versions.x).toBe(1n);

      await staleOnA("stale-batch-2");
      const refused = await failureOf(
        a.client().setVariables({
          sessionId: "stale-batch-2",
          atomic: true,
          updates: [{ identifier: "x", value: wire.integer(7) }],
        }),
      );
      expect(refused.trailerCode).toBe("invalid_value");
      const partial = await failureOf(
        a.client().setVariables({
          sessionId: "stale-batch-2",
          atomic: false,
          updates: [{ identifier: "x", value: wire.integer(7) }],
        }),
      );
      expect(partial.trailerCode).toBe("partial_failure");
      expect(partial.error.rawMessage).toContain('"x": invalid_value');
      const read = await b.client().getVariable({ sessionId: "stale-batch-2", identifier: "x" });
      expect(read.variable?.value?.kind).toEqual({ case: "stringValue", value: "" });
    });
  },
);
