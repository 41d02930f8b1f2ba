import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ERROR_CODE_TRAILER, trailersOf } from "@statebridge/grpc-wire";
import { BridgeService, ErrorDetailSchema, PingResponseSchema } from "@statebridge/proto";
import { StateError } from "@statebridge/state-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateErrorOf } from "./error-translation.js";
import { createConnectUnaryCaller, createGrpcUnaryCaller, type UnaryCaller } from "./unary-caller.js";

/** How the scripted server answers, chosen by the request's `x-scenario` header. */
type Scenario = (stream: http2.ServerHttp2Stream) => void;

const pingResponse = toBinary(PingResponseSchema, create(PingResponseSchema, { message: "pong" }));

function envelope(message: Uint8Array, flags = 0, declaredLength = message.byteLength): Buffer {
  const framed = Buffer.alloc(5 + message.byteLength);
  framed[0] = flags;
  framed.writeUInt32BE(declaredLength, 1);
  framed.set(message, 5);
  return framed;
}

const refusal = new ConnectError('not_found: no variable "x"', 5, { [ERROR_CODE_TRAILER]: "not_found" }, [
  { desc: ErrorDetailSchema, value: { code: "not_found", message: 'not_found: no variable "x"' } },
]);

/** Answers with headers, a body and trailers, the way a gRPC server does. */
function answer(
  body: Buffer | undefined,
  trailers: Record<string, string>,
  headers: http2.OutgoingHttpHeaders = {},
) {
  return (stream: http2.ServerHttp2Stream) => {
    stream.respond(
      { ":status": 200, "content-type": "application/grpc+proto", ...headers },
      { waitForTrailers: true },
    );
    stream.once("wantTrailers", () => stream.sendTrailers(trailers));
    stream.end(body);
  };
}

const scenarios = new Map<string, Scenario>([
  ["success", answer(envelope(pingResponse), { "grpc-status": "0" })],
  ["an error with its detail and statebridge code in the trailers", answer(undefined, trailersOf(refusal))],
  [
    "a trailers-only error",
    (stream) =>
      stream.respond(
        { ":status": 200, "content-type": "application/grpc", ...trailersOf(refusal) },
        { endStream: true },
      ),
  ],
  ["no status at all", answer(envelope(pingResponse), {})],
  ["a success status without a message", answer(undefined, { "grpc-status": "0" })],
  [
    "two messages",
    answer(Buffer.concat([envelope(pingResponse), envelope(pingResponse)]), { "grpc-status": "0" }),
  ],
  [
    "a message cut short",
    answer(envelope(pingResponse.subarray(0, 2), 0, pingResponse.byteLength), { "grpc-status": "0" }),
  ],
  ["a compressed message it did not ask for", answer(envelope(pingResponse, 1), { "grpc-status": "0" })],
  [
    "bytes that are not the response message",
    answer(envelope(new Uint8Array([0x0a, 0xff])), { "grpc-status": "0" }),
  ],
  ["an unknown grpc-status", answer(undefined, { "grpc-status": "99", "grpc-message": "odd" })],
  [
    "HTTP 503",
    (stream) => stream.respond({ ":status": 503, "content-type": "text/plain" }, { endStream: true }),
  ],
  [
    "a content type that is not gRPC",
    (stream) => {
      stream.respond({ ":status": 200, "content-type": "text/html" });
      stream.end("<html></html>");
    },
  ],
  ["a stream refused (REFUSED_STREAM)", (stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM)],
  ["a stream cancelled by the server (CANCEL)", (stream) => stream.close(http2.constants.NGHTTP2_CANCEL)],
  ["a stream reset with INTERNAL_ERROR", (stream) => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR)],
  [
    "only the header of a 1 GiB message, then nothing",
    (stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" });
      stream.write(Buffer.from([0, 0x40, 0, 0, 0]));
    },
  ],
  [
    "a reset after the headers",
    (stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" });
      stream.write(envelope(pingResponse).subarray(0, 3), () =>
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR),
      );
    },
  ],
]);

describe("createGrpcUnaryCaller", () => {
  let server: http2.Http2Server;
  let url: string;
  const managers: Http2SessionManager[] = [];
  const seen: http2.IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    server = http2.createServer();
    server.on("stream", (stream, headers) => {
      seen.push(headers);
      stream.on("error", () => {});
      // The request is read whole before the scripted answer, as a server does.
      stream.resume();
      stream.once("end", () => {
        const scenario = scenarios.get(String(headers["x-scenario"] ?? "success"));
        if (scenario === undefined || headers["x-scenario"] === "silent") return;
        scenario(stream);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const manager of managers) manager.abort();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Makes every request of `manager` carry the scenario header the scripted server reads. */
  function withScenario(manager: Http2SessionManager, scenario: string): Http2SessionManager {
    const request = manager.request.bind(manager);
    manager.request = (method, path, headers, requestOptions) =>
      request(method, path, { ...headers, "x-scenario": scenario }, requestOptions);
    return manager;
  }

  /** The lean caller and a connect client, each on a connection of its own, for one scenario. */
  function callers(scenario: string): { lean: UnaryCaller; connect: UnaryCaller } {
    const leanManager = withScenario(new Http2SessionManager(url), scenario);
    const connectManager = withScenario(new Http2SessionManager(url), scenario);
    managers.push(leanManager, connectManager);
    return {
      lean: createGrpcUnaryCaller({ sessionManager: leanManager }),
      connect: createConnectUnaryCaller(
        createGrpcTransport({ baseUrl: url, sessionManager: connectManager }),
      ),
    };
  }

  const options = () => ({ timeoutMs: 2_000, signal: new AbortController().signal });

  it("returns the response message", async () => {
    const { lean } = callers("success");
    const response = await lean(BridgeService.method.ping, { message: "ping" }, options());
    expect(response.message).toBe("pong");
  });

  it.each([...scenarios.keys()].filter((name) => name !== "success" && !name.startsWith("only the header")))(
    "%s: the same ConnectError, and the same StateError, as a connect client reports",
    async (scenario) => {
      const { lean, connect } = callers(scenario);
      const leanError = await lean(BridgeService.method.ping, { message: "ping" }, options()).then(
        () => undefined,
        (error: unknown) => error,
      );
      const connectError = await connect(BridgeService.method.ping, { message: "ping" }, options()).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(leanError).toBeInstanceOf(ConnectError);
      expect(connectError).toBeInstanceOf(ConnectError);
      const fromLean = leanError as ConnectError;
      const fromConnect = connectError as ConnectError;
      const translatedLean = stateErrorOf(fromLean, { target: url });
      const translatedConnect = stateErrorOf(fromConnect, { target: url });
      expect(translatedLean.code).toBe(translatedConnect.code);
      if (fromConnect.code !== 13 && fromConnect.code !== 10) {
        // Failures of the transport itself (INTERNAL, ABORTED from connect-node) are worded by
        // Node; the lean caller reports them as UNAVAILABLE, which reads the same.
        expect(fromLean.code).toBe(fromConnect.code);
        expect(fromLean.rawMessage).toBe(fromConnect.rawMessage);
        expect(translatedLean.message).toBe(translatedConnect.message);
      }
      expect(fromLean.metadata.get(ERROR_CODE_TRAILER)).toBe(fromConnect.metadata.get(ERROR_CODE_TRAILER));
      expect(fromLean.findDetails(ErrorDetailSchema)).toEqual(fromConnect.findDetails(ErrorDetailSchema));
    },
  );

  it("sends the deadline as grpc-timeout, the token as a bearer header, and the gRPC content type", async () => {
    const manager = new Http2SessionManager(url);
    managers.push(manager);
    const lean = createGrpcUnaryCaller({ sessionManager: manager, token: "s3cret" });
    seen.length = 0;
    await lean(
      BridgeService.method.ping,
      { message: "ping" },
      { timeoutMs: 1_500, signal: new AbortController().signal },
    );
    expect(seen[0]?.["grpc-timeout"]).toBe("1500m");
    expect(seen[0]?.authorization).toBe("Bearer s3cret");
    expect(seen[0]?.["content-type"]).toBe("application/grpc+proto");
    expect(seen[0]?.[":path"]).toBe("/statebridge.v1.BridgeService/Ping");
  });

  it("fails with DEADLINE_EXCEEDED when the server does not answer in time, which reads as unavailable", async () => {
    const silent = withScenario(new Http2SessionManager(url), "silent");
    managers.push(silent);
    const lean = createGrpcUnaryCaller({ sessionManager: silent });
    const failure = await lean(
      BridgeService.method.ping,
      {},
      { timeoutMs: 50, signal: new AbortController().signal },
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConnectError);
    expect((failure as ConnectError).code).toBe(4);
    expect(stateErrorOf(failure, { target: url }).code).toBe("unavailable");
    // The connection itself is still usable.
    expect(silent.state()).not.toBe("error");
  });

  it("an aborted signal fails every call in flight, and every later call at once", async () => {
    const silent = withScenario(new Http2SessionManager(url), "silent");
    managers.push(silent);
    const lean = createGrpcUnaryCaller({ sessionManager: silent });
    const controller = new AbortController();
    const inFlight = [1, 2, 3].map(() =>
      lean(BridgeService.method.ping, {}, { timeoutMs: 10_000, signal: controller.signal }).catch(
        (error: unknown) => error,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort(new StateError("closed", "the test provider is closed"));
    for (const failure of await Promise.all(inFlight)) {
      expect(failure).toBeInstanceOf(ConnectError);
      expect(stateErrorOf(failure, { closed: true }).code).toBe("closed");
    }
    const later = await lean(
      BridgeService.method.ping,
      {},
      { timeoutMs: 10_000, signal: controller.signal },
    ).catch((error: unknown) => error);
    expect(later).toBeInstanceOf(ConnectError);
  });

  it("fails with unavailable when nothing listens", async () => {
    const probe = http2.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const manager = new Http2SessionManager(`http://127.0.0.1:${port}`);
    managers.push(manager);
    const lean = createGrpcUnaryCaller({ sessionManager: manager });
    const failure = await lean(BridgeService.method.ping, {}, options()).catch((error: unknown) => error);
    expect(stateErrorOf(failure, { target: `127.0.0.1:${port}` }).code).toBe("unavailable");
  });

  // Regression: the caller buffered whatever the server sent, however large.
  it("a response message over maxReceiveBytes fails with RESOURCE_EXHAUSTED from its header, before its body", async () => {
    const manager = withScenario(
      new Http2SessionManager(url),
      "only the header of a 1 GiB message, then nothing",
    );
    managers.push(manager);
    const lean = createGrpcUnaryCaller({ sessionManager: manager, maxReceiveBytes: 1024 * 1024 });
    const failure = await lean(
      BridgeService.method.ping,
      {},
      { timeoutMs: 60_000, signal: new AbortController().signal },
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConnectError);
    expect((failure as ConnectError).code).toBe(8);
    expect((failure as ConnectError).rawMessage).toBe(
      "a response message of 1073741824 bytes is larger than the maximum receive size of 1048576 bytes (maxReceiveBytes)",
    );
    expect(stateErrorOf(failure).code).toBe("resource_exhausted");
    // Only the call's stream was reset: the connection is still usable.
    expect(manager.state()).not.toBe("error");
  });

  // Regression: the caller dropped the path of the server's URL, which connect's transport keeps.
  it("puts the path prefix before every method's path", async () => {
    const manager = new Http2SessionManager(url);
    managers.push(manager);
    const lean = createGrpcUnaryCaller({ sessionManager: manager, pathPrefix: "/gateway/statebridge" });
    seen.length = 0;
    await lean(BridgeService.method.ping, { message: "ping" }, options());
    expect(seen[0]?.[":path"]).toBe("/gateway/statebridge/statebridge.v1.BridgeService/Ping");
  });
});
