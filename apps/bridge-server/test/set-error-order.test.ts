import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support.js";
import { REDIS_AVAILABLE, type RedisServer, startRedisServer } from "./support-redis.js";
import { failureOf, wire } from "./support-values.js";

// SetVariable and SetVariables leave the decoding of wire values to the store (no read of the
// type first). Guards what a client is told when a request has more than one problem: the
// session, then the variable, then the value, then the rest; a batch's first failure in order.

const stores: [string, boolean][] = [
  ["the memory store", true],
  ["the Redis store", REDIS_AVAILABLE],
];

describe.each(stores)("a write with several problems, on %s", (_name, available) => {
  let redis: RedisServer | undefined;
  let test: TestServer;

  beforeAll(async () => {
    if (!available) return;
    if (_name !== "the memory store") redis = await startRedisServer();
    test = await startTestServer(redis === undefined ? {} : { storeUrl: `${redis.url}/0` });
    const client = test.client();
    await client.initializeSession({ sessionId: "s", ttlSeconds: 60 });
    await client.registerVariable({
      sessionId: "s",
      name: "n",
      type: "integer",
      initialValue: wire.integer(1),
      constraintsJson: '{"max":100}',
    });
    await client.registerVariable({
      sessionId: "s",
      name: "t",
      type: "string",
      initialValue: wire.string(""),
    });
  });
  afterAll(async () => {
    await test?.close();
    await redis?.stop();
  });

  async function codeOf(call: Promise<unknown>): Promise<[string | null, string]> {
    const failure = await failureOf(call);
    return [failure.trailerCode, failure.error.rawMessage];
  }

  it.skipIf(!available)(
    "SetVariable reports the session, then the variable, then the value, before the metadata and the expected version",
    async () => {
      const client = test.client();
      const bad = wire.string("not a number");
      expect((await codeOf(client.setVariable({ sessionId: "gone", identifier: "n", value: bad })))[0]).toBe(
        "session_expired",
      );
      expect(
        (await codeOf(client.setVariable({ sessionId: "s", identifier: "missing", value: bad })))[0],
      ).toBe("not_found");
      for (const extra of [
        { metadataJson: "{oops" },
        { metadataJson: "[1]" },
        { expectedVersion: 99n },
        { expectedVersion: 2n ** 60n },
      ]) {
        const [code, message] = await codeOf(
          client.setVariable({ sessionId: "s", identifier: "n", value: bad, ...extra }),
        );
        expect([code, message]).toEqual(["invalid_value", expect.stringContaining('"n" needs a integer')]);
      }
      expect(
        (
          await codeOf(
            client.setVariable({
              sessionId: "s",
              identifier: "n",
              value: wire.integer(2),
              metadataJson: "{oops",
            }),
          )
        )[1],
      ).toContain("metadata_json is not valid JSON");
      expect(
        (
          await codeOf(
            client.setVariable({
              sessionId: "s",
              identifier: "n",
              value: wire.integer(2),
              expectedVersion: 99n,
            }),
          )
        )[0],
      ).toBe("version_conflict");
      expect((await test.client().getVariable({ sessionId: "s", identifier: "n" })).variable?.version).toBe(
        0n,
      );
    },
  );

  it.skipIf(!available)(
    "an atomic SetVariables fails with its first failure in request order, an undecodable value before the checks of decoded ones",
    async () => {
      const client = test.client();
      const missingFirst = await codeOf(
        client.setVariables({
          sessionId: "s",
          atomic: true,
          updates: [
            { identifier: "missing", value: wire.integer(1) },
            { identifier: "t", value: wire.integer(1) },
          ],
        }),
      );
      expect(missingFirst[0]).toBe("not_found");
      const undecodable = await codeOf(
        client.setVariables({
          sessionId: "s",
          atomic: true,
          updates: [
            { identifier: "n", value: wire.integer(1000) },
            { identifier: "t", value: wire.integer(1) },
          ],
        }),
      );
      expect(undecodable).toEqual(["invalid_value", expect.stringContaining('"t" needs a string')]);
      expect((await client.getSession({ sessionId: "s" })).session?.revision).toBe(2n);
    },
  );
});
