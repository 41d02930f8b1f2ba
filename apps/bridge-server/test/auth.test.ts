import { Code } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus } from "@statebridge/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, type ProtocolName, startTestServer, type TestServer } from "./support.js";
import { failureOf } from "./support-values.js";

describe("a server with a bearer token", () => {
  let test: TestServer;
  beforeAll(async () => {
    test = await startTestServer({ token: "s3cret-token" });
  });
  afterAll(() => test.close());

  it("refuses a call without an authorization header with unauthenticated", async () => {
    const failure = await failureOf(test.client().ping({ message: "hi" }));
    expect(failure.error.code).toBe(Code.Unauthenticated);
    expect(failure.trailerCode).toBe("unauthenticated");
    expect(failure.detail?.code).toBe("unauthenticated");
    expect(failure.detail?.message).toContain("Bearer");
  });

  it("refuses a wrong token, also one that shares the right one's prefix", async () => {
    for (const token of ["wrong", "s3cret-token-and-more", "s3cret"]) {
      const failure = await failureOf(test.client("grpc", [bearer(token)]).ping({ message: "hi" }));
      expect(failure.trailerCode).toBe("unauthenticated");
    }
  });

  it("refuses a token sent without the Bearer scheme", async () => {
    const failure = await failureOf(
      test
        .client("grpc", [
          (next) => (request) => {
            request.header.set("authorization", "s3cret-token");
            return next(request);
          },
        ])
        .ping({ message: "hi" }),
    );
    expect(failure.trailerCode).toBe("unauthenticated");
  });

  it.each<ProtocolName>(["grpc", "connect-h2", "grpc-web-h1"])(
    "accepts the right token over %s",
    async (protocol) => {
      const client = test.client(protocol, [bearer("s3cret-token")]);
      expect((await client.ping({ message: "hi" })).message).toBe("hi");
      const session = await client.initializeSession({ sessionId: `authorized-${protocol}` });
      expect(session.created).toBe(true);
    },
  );

  it("refuses a watch stream without the token", async () => {
    const stream = test.client().watchVariables({ sessionId: "any", identifiers: ["x"] });
    const failure = await failureOf(
      (async () => {
        for await (const _message of stream) {
          // nothing is expected before the refusal
        }
      })(),
    );
    expect(failure.trailerCode).toBe("unauthenticated");
  });

  it("answers health checks without a token", async () => {
    const response = await test.health().check({ service: "" });
    expect(response.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });
});
