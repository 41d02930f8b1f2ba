import * as http2 from "node:http2";
import { Code, type ConnectError, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { BridgeService, HealthCheckResponse_ServingStatus } from "@statebridge/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenCheck } from "../src/auth.js";
import { silentLogger } from "../src/logger.js";
import { ACCEPT_COMPRESSION } from "../src/request-handler.js";
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

/** One raw HTTP/2 exchange: the response's headers (without `date`), body and trailers. */
async function exchange(
  url: string,
  path: string,
  headers: Record<string, string>,
  body: Uint8Array,
): Promise<{ headers: Record<string, unknown>; body: string; trailers: Record<string, unknown> }> {
  const session = http2.connect(url);
  try {
    const stream = session.request({ ":method": "POST", ":path": path, ...headers });
    stream.end(body);
    const chunks: Buffer[] = [];
    let responseHeaders: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    stream.on("response", (received) => {
      const { date: _date, ...rest } = received;
      responseHeaders = rest;
    });
    stream.on("trailers", (received) => {
      trailers = { ...received };
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    await new Promise<void>((resolve, reject) => {
      stream.once("close", resolve);
      stream.once("error", reject);
    });
    return { headers: responseHeaders, body: Buffer.concat(chunks).toString("latin1"), trailers };
  } finally {
    session.close();
  }
}

describe("a refusal from the headers is what connect answers for the same error", () => {
  let test: TestServer;
  let reference: http2.Http2Server;
  let referenceUrl: string;
  beforeAll(async () => {
    test = await startTestServer({ token: "s3cret-token" });
    // connect's own answer: its router, with an interceptor that refuses with the same error.
    const refusal = createTokenCheck("s3cret-token", silentLogger)(undefined, "Ping") as ConnectError;
    const refuse: Interceptor = () => () => {
      throw refusal;
    };
    reference = http2.createServer(
      connectNodeAdapter({
        routes: (router) => router.service(BridgeService, {}),
        interceptors: [refuse],
        acceptCompression: [...ACCEPT_COMPRESSION],
      }),
    );
    await new Promise<void>((resolve) => reference.listen(0, "127.0.0.1", resolve));
    referenceUrl = `http://127.0.0.1:${(reference.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await test.close();
    await new Promise((resolve) => reference.close(resolve));
  });

  const emptyEnvelope = new Uint8Array(5);
  const jsonEnvelope = new Uint8Array([0, 0, 0, 0, 2, 0x7b, 0x7d]);
  const ping = "/statebridge.v1.BridgeService/Ping";
  const watch = "/statebridge.v1.BridgeService/WatchVariables";
  it.each([
    ["gRPC", ping, { "content-type": "application/grpc" }, emptyEnvelope],
    [
      "gRPC accepting gzip",
      ping,
      { "content-type": "application/grpc+proto", "grpc-accept-encoding": "gzip" },
      emptyEnvelope,
    ],
    ["gRPC stream", watch, { "content-type": "application/grpc" }, emptyEnvelope],
    ["gRPC-Web", ping, { "content-type": "application/grpc-web+proto" }, emptyEnvelope],
    ["Connect unary JSON", ping, { "content-type": "application/json" }, new TextEncoder().encode("{}")],
    ["Connect unary proto", ping, { "content-type": "application/proto" }, new Uint8Array()],
    ["Connect stream", watch, { "content-type": "application/connect+json" }, jsonEnvelope],
  ] as const)("%s", async (_name, path, headers, body) => {
    const ours = await exchange(test.server.url, path, headers, body);
    const connects = await exchange(referenceUrl, path, headers, body);
    expect(ours).toEqual(connects);
    expect(JSON.stringify(ours)).toContain("unauthenticated");
  });

  it("a refused stream is answered at once, and what its client keeps sending is not read", async () => {
    const session = http2.connect(test.server.url);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/statebridge.v1.BridgeService/WatchStream",
        "content-type": "application/grpc",
      });
      stream.on("error", () => {});
      let trailers: http2.IncomingHttpHeaders | undefined;
      stream.on("trailers", (received) => {
        trailers = received;
      });
      stream.resume();
      // The client never ends its side: it keeps writing until the server closes the stream.
      const chunk = new Uint8Array(64 * 1024);
      const write = () => {
        while (!stream.destroyed && stream.write(chunk)) {}
      };
      stream.on("drain", write);
      write();
      await new Promise<void>((resolve) => stream.once("close", resolve));
      expect(trailers?.["grpc-status"]).toBe("16");
      expect(trailers?.["statebridge-error-code"]).toBe("unauthenticated");
      expect(stream.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    } finally {
      session.close();
    }
  });
});
