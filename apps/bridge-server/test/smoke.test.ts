import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ProtocolName, startTestServer, type TestServer } from "./support.js";

describe("every protocol reaches the server", () => {
  let test: TestServer;
  beforeAll(async () => {
    test = await startTestServer();
  });
  afterAll(() => test.close());

  it.each<ProtocolName>(["grpc", "connect-h2", "grpc-web-h2", "connect-h1", "grpc-web-h1"])(
    "Ping over %s echoes the message",
    async (protocol) => {
      const response = await test.client(protocol).ping({ message: `hello ${protocol}` });
      expect(response.message).toBe(`hello ${protocol}`);
      expect(response.serverVersion).toMatch(/^\d+\.\d+\.\d+/);
    },
  );
});
