import { createSessionId } from "@statebridge/state-provider";
import { describeStateProvider } from "@statebridge/state-provider/testing";
import { afterAll } from "vitest";
import { createSessionStore } from "../src/index.js";
import { createStoreProvider } from "../src/testing/index.js";

// One store for the whole suite, as one bridge-server hosts many sessions.
const store = createSessionStore();
afterAll(() => store.close());

describeStateProvider(
  "SessionStore (in process)",
  async () => {
    const sessionId = createSessionId();
    await store.initializeSession(sessionId);
    return createStoreProvider(store, sessionId);
  },
  {
    makeSecond: (first) => createStoreProvider(store, first.sessionId),
    cleanup: async (provider) => {
      await store.deleteSession(provider.sessionId);
    },
  },
);
