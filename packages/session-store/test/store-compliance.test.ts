import { createSessionStore } from "../src/index.js";
import { describeSessionStore } from "../src/testing/index.js";

describeSessionStore("in-memory SessionStore", async (options) => createSessionStore(options));
