import { createSessionStore, type SessionStore } from "@statebridge/session-store";
import { describe, expect, it } from "vitest";
import { type ProtocolName, startTestServer } from "./support.js";

// Ping says what backs the server's sessions, so that clients report persistence and
// distribution only when they hold: the same answer on every protocol and wire path.
const PROTOCOLS: ProtocolName[] = ["grpc", "connect-h2", "grpc-web-h2", "connect-h1", "grpc-web-h1"];

describe("Ping", () => {
  it("names the in-memory store, neither persistent nor distributed, on every protocol", async () => {
    const test = await startTestServer();
    try {
      for (const protocol of PROTOCOLS) {
        const response = await test.client(protocol).ping({ message: "hi" });
        expect(response, protocol).toMatchObject({
          message: "hi",
          storeKind: "memory",
          persistence: false,
          distribution: false,
        });
      }
    } finally {
      await test.close();
    }
  });

  it("answers with the description of the store it serves (a shared, persistent one here)", async () => {
    const inner = createSessionStore();
    const shared: SessionStore = {
      ...inner,
      description: { kind: "redis", persistence: true, distribution: true },
    };
    const test = await startTestServer({ store: shared });
    try {
      for (const protocol of PROTOCOLS) {
        const response = await test.client(protocol).ping({});
        expect(response, protocol).toMatchObject({
          storeKind: "redis",
          persistence: true,
          distribution: true,
        });
      }
    } finally {
      await test.close();
      await inner.close();
    }
  });
});
