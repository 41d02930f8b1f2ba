import * as http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { create, type DescMessage, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  GetVariableRequestSchema,
  PingRequestSchema,
  PingResponseSchema,
  SetVariableRequestSchema,
  SetVariablesRequestSchema,
  WatchStreamRequestSchema,
  WatchVariablesRequestSchema,
} from "@statebridge/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, startTestServer, type TestServer } from "./support.js";
import { wire } from "./support-values.js";

const TOKEN = "fast-path-token";
const MAX_REQUEST_BYTES = 1024;
const SERVICE = "/statebridge.v1.BridgeService";

/** What came back on one HTTP/2 stream. */
interface RawResponse {
  readonly status: number | undefined;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly trailers: Record<string, string>;
}

interface RawRequest {
  readonly path: string;
  readonly headers?: http2.OutgoingHttpHeaders;
  /** Written one after the other, each as its own DATA frame when the socket allows. */
  readonly chunks?: readonly Uint8Array[];
  /** Whether the client ends its side after the chunks. Default true. */
  readonly end?: boolean;
}

/** Sends a request with node:http2 alone, so that any bytes at all can be sent. */
function rawCall(session: http2.ClientHttp2Session, request: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": request.path,
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${TOKEN}`,
      ...request.headers,
    });
    let status: number | undefined;
    let headers: Record<string, string> = {};
    let trailers: Record<string, string> = {};
    const body: Buffer[] = [];
    stream.on("response", (received) => {
      status = received[":status"];
      headers = plain(received);
    });
    stream.on("trailers", (received) => {
      trailers = plain(received);
    });
    stream.on("data", (chunk: Buffer) => body.push(chunk));
    stream.on("error", reject);
    stream.on("end", () => {
      resolve({ status, headers, body: Buffer.concat(body), trailers });
      if (!stream.closed) stream.close();
    });
    for (const chunk of request.chunks ?? []) stream.write(chunk);
    if (request.end !== false) stream.end();
  });
}

function plain(headers: http2.IncomingHttpHeaders): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    result[name] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return result;
}

/** A gRPC envelope: flags, a 4-byte big-endian length, the message. */
function envelope(message: Uint8Array, flags = 0, declaredLength = message.byteLength): Uint8Array {
  const framed = new Uint8Array(5 + message.byteLength);
  framed[0] = flags;
  new DataView(framed.buffer).setUint32(1, declaredLength);
  framed.set(message, 5);
  return framed;
}

function encoded<Schema extends DescMessage>(schema: Schema, init: MessageInitShape<Schema>): Uint8Array {
  return toBinary(schema, create(schema, init));
}

/**
 * Whether the direct path answered: connect's path sends Node's default `date` header, the
 * direct path none.
 */
function servedDirectly(response: RawResponse): boolean {
  return response.headers.date === undefined;
}

/** The parts of a response both paths must agree on (the `date` header aside). */
function comparable(response: RawResponse) {
  const { date: _date, ...headers } = response.headers;
  return {
    status: response.status,
    headers,
    body: response.body.toString("base64"),
    trailers: response.trailers,
  };
}

describe("the direct gRPC path answers exactly as connect does", () => {
  let direct: TestServer;
  let viaConnect: TestServer;
  let directSession: http2.ClientHttp2Session;
  let connectSession: http2.ClientHttp2Session;
  const sessionId = "fast-path";

  beforeAll(async () => {
    const options = { token: TOKEN, maxRequestBytes: MAX_REQUEST_BYTES };
    direct = await startTestServer(options);
    viaConnect = await startTestServer({ ...options, grpcFastPath: false });
    for (const test of [direct, viaConnect]) {
      const client = test.client("grpc", [bearer(TOKEN)]);
      await client.initializeSession({ sessionId });
      await client.registerVariable({
        sessionId,
        name: "temperature",
        type: "float",
        initialValue: wire.float(0.5),
        constraintsJson: '{"min":0,"max":2}',
      });
      await client.registerVariable({
        sessionId,
        name: "label",
        type: "string",
        initialValue: wire.string("a"),
      });
    }
    directSession = http2.connect(direct.server.url);
    connectSession = http2.connect(viaConnect.server.url);
  });
  afterAll(async () => {
    directSession.close();
    connectSession.close();
    await direct.close();
    await viaConnect.close();
  });

  /** Sends the same request to both servers, in the same order, and returns both answers. */
  async function both(request: RawRequest): Promise<{ fast: RawResponse; slow: RawResponse }> {
    const fast = await rawCall(directSession, request);
    const slow = await rawCall(connectSession, request);
    expect(servedDirectly(slow)).toBe(false);
    return { fast, slow };
  }

  it("a successful call: the same headers, message bytes and trailers", async () => {
    const { fast, slow } = await both({
      path: `${SERVICE}/SetVariable`,
      chunks: [
        envelope(
          encoded(SetVariableRequestSchema, { sessionId, identifier: "temperature", value: wire.float(1) }),
        ),
      ],
    });
    expect(servedDirectly(fast)).toBe(true);
    expect(fast.trailers).toEqual({ "grpc-status": "0" });
    expect(comparable(fast)).toEqual(comparable(slow));
  });

  it.each([
    [
      "not_found",
      `${SERVICE}/GetVariable`,
      encoded(GetVariableRequestSchema, { sessionId, identifier: "missing" }),
    ],
    [
      "constraint_violation",
      `${SERVICE}/SetVariable`,
      encoded(SetVariableRequestSchema, { sessionId, identifier: "temperature", value: wire.float(9) }),
    ],
    [
      "partial_failure (failures, applied versions and revision in the detail)",
      `${SERVICE}/SetVariables`,
      encoded(SetVariablesRequestSchema, {
        sessionId,
        updates: [
          { identifier: "label", value: wire.string("b") },
          { identifier: "temperature", value: wire.float(9) },
          { identifier: "nowhere", value: wire.float(1) },
        ],
      }),
    ],
  ])("an error (%s): the same trailers, grpc-status-details-bin included", async (_name, path, message) => {
    const { fast, slow } = await both({ path, chunks: [envelope(message)] });
    expect(servedDirectly(fast)).toBe(true);
    expect(fast.trailers["grpc-status-details-bin"]).toBeDefined();
    expect(fast.trailers["statebridge-error-code"]).toBeDefined();
    expect(comparable(fast)).toEqual(comparable(slow));
  });

  const ping = envelope(encoded(PingRequestSchema, { message: "hi" }));
  // Deterministic answers (Ping's carries the server's clock).
  const getMissing = envelope(encoded(GetVariableRequestSchema, { sessionId, identifier: "missing" }));
  const getMissingJson = envelope(
    new TextEncoder().encode(JSON.stringify({ sessionId, identifier: "missing" })),
  );

  it.each<[string, RawRequest]>([
    ["a missing token", { path: `${SERVICE}/Ping`, headers: { authorization: undefined }, chunks: [ping] }],
    ["a wrong token", { path: `${SERVICE}/Ping`, headers: { authorization: "Bearer nope" }, chunks: [ping] }],
  ])("%s, refused in front of both paths: the same status and trailers", async (_name, request) => {
    const { fast, slow } = await both(request);
    expect(fast.trailers["statebridge-error-code"]).toBe("unauthenticated");
    expect(comparable(fast)).toEqual(comparable(slow));
  });

  it.each<[string, RawRequest]>([
    [
      "a message larger than the limit",
      { path: `${SERVICE}/Ping`, chunks: [envelope(new Uint8Array(MAX_REQUEST_BYTES + 1))] },
    ],
    ["no message at all", { path: `${SERVICE}/Ping`, chunks: [] }],
    ["an envelope header cut short", { path: `${SERVICE}/Ping`, chunks: [new Uint8Array([0, 0, 0])] }],
    [
      "an envelope header alone, its message not begun",
      { path: `${SERVICE}/Ping`, chunks: [envelope(new Uint8Array(0), 0, 50)] },
    ],
    [
      "a message shorter than its envelope promises",
      { path: `${SERVICE}/Ping`, chunks: [envelope(new Uint8Array(10), 0, 100)] },
    ],
    ["two messages", { path: `${SERVICE}/Ping`, chunks: [ping, ping] }],
    [
      "a message followed by a partial envelope",
      { path: `${SERVICE}/Ping`, chunks: [ping, new Uint8Array([0, 0])] },
    ],
    [
      "the compressed flag without a grpc-encoding",
      { path: `${SERVICE}/Ping`, chunks: [envelope(encoded(PingRequestSchema, { message: "hi" }), 1)] },
    ],
    [
      "bytes that do not decode as the request",
      { path: `${SERVICE}/Ping`, chunks: [envelope(new Uint8Array([0x0a, 0xff, 0xff]))] },
    ],
    [
      "a message split over many DATA frames",
      { path: `${SERVICE}/GetVariable`, chunks: [...getMissing].map((byte) => new Uint8Array([byte])) },
    ],
  ])("%s: the same status and trailers", async (_name, request) => {
    const { fast, slow } = await both(request);
    expect(servedDirectly(fast)).toBe(true);
    expect(comparable(fast)).toEqual(comparable(slow));
  });

  it.each<[string, RawRequest]>([
    ["an unknown method", { path: `${SERVICE}/NoSuchMethod`, chunks: [getMissing] }],
    [
      "an invalid grpc-timeout",
      { path: `${SERVICE}/GetVariable`, headers: { "grpc-timeout": "soon" }, chunks: [getMissing] },
    ],
    [
      "a grpc-encoding the server lacks",
      { path: `${SERVICE}/GetVariable`, headers: { "grpc-encoding": "snappy" }, chunks: [getMissing] },
    ],
    [
      "gRPC-Web",
      {
        path: `${SERVICE}/GetVariable`,
        headers: { "content-type": "application/grpc-web+proto" },
        chunks: [getMissing],
      },
    ],
    [
      "a JSON gRPC request",
      {
        path: `${SERVICE}/GetVariable`,
        headers: { "content-type": "application/grpc+json" },
        chunks: [getMissingJson],
      },
    ],
    ["a streaming method of another service", { path: "/grpc.health.v1.Health/Watch", chunks: [] }],
    ["the health service", { path: "/grpc.health.v1.Health/Check", chunks: [envelope(new Uint8Array(0))] }],
  ])("%s falls through to connect", async (_name, request) => {
    const { fast, slow } = await both(request);
    expect(servedDirectly(fast)).toBe(false);
    expect(comparable(fast)).toEqual(comparable(slow));
  });

  it("negotiates the response encoding connect would, and sends its grpc-encoding header", async () => {
    const { fast, slow } = await both({
      path: `${SERVICE}/GetVariable`,
      headers: { "grpc-accept-encoding": "identity,deflate,gzip" },
      chunks: [getMissing],
    });
    expect(servedDirectly(fast)).toBe(true);
    expect(fast.headers["grpc-encoding"]).toBe("gzip");
    expect(comparable(fast)).toEqual(comparable(slow));
  });

  const watchVariables = `${SERVICE}/WatchVariables`;
  const watchStream = `${SERVICE}/WatchStream`;
  // A session that does not exist: WatchVariables ends at once with session_expired.
  const watchNowhere = envelope(
    encoded(WatchVariablesRequestSchema, { sessionId: "nowhere", identifiers: ["x"] }),
  );
  const undecodable = envelope(new Uint8Array([0x0a, 0xff, 0xff]));
  const cancel = envelope(
    encoded(WatchStreamRequestSchema, { kind: { case: "cancel", value: { watchId: "w" } } }),
  );

  it.each<[string, RawRequest]>([
    [
      "WatchVariables with two request messages",
      { path: watchVariables, chunks: [watchNowhere, watchNowhere] },
    ],
    ["WatchVariables with no request message", { path: watchVariables, chunks: [] }],
    [
      "WatchVariables with an envelope header alone",
      { path: watchVariables, chunks: [envelope(new Uint8Array(0), 0, 50)] },
    ],
    ["WatchVariables on a session that does not exist", { path: watchVariables, chunks: [watchNowhere] }],
    [
      "WatchVariables split over many DATA frames",
      { path: watchVariables, chunks: [...watchNowhere].map((byte) => new Uint8Array([byte])) },
    ],
    [
      "WatchVariables with a request followed by a partial envelope",
      { path: watchVariables, chunks: [watchNowhere, new Uint8Array([0, 0])] },
    ],
    ["WatchVariables with a request that does not decode", { path: watchVariables, chunks: [undecodable] }],
    [
      "WatchVariables with a request and one that does not decode",
      { path: watchVariables, chunks: [watchNowhere, undecodable] },
    ],
    [
      "WatchVariables with the compressed flag",
      {
        path: watchVariables,
        chunks: [envelope(encoded(WatchVariablesRequestSchema, { sessionId: "s" }), 1)],
      },
    ],
    [
      "WatchVariables with a message larger than the limit",
      { path: watchVariables, chunks: [envelope(new Uint8Array(MAX_REQUEST_BYTES + 1))] },
    ],
    [
      "WatchVariables accepting gzip responses (connect names the encoding in the headers)",
      { path: watchVariables, headers: { "grpc-accept-encoding": "gzip" }, chunks: [watchNowhere] },
    ],
    ["WatchStream with a request that does not decode", { path: watchStream, chunks: [cancel, undecodable] }],
    [
      "WatchStream with a message larger than the limit",
      { path: watchStream, chunks: [cancel, envelope(new Uint8Array(MAX_REQUEST_BYTES + 1))] },
    ],
    [
      "WatchStream ending inside an envelope",
      { path: watchStream, chunks: [cancel, new Uint8Array([0, 0, 0])] },
    ],
    [
      "WatchStream at its grpc-timeout (the method ends the stream with OK)",
      { path: watchStream, headers: { "grpc-timeout": "30m" }, chunks: [cancel], end: false },
    ],
  ])("%s: the same status and trailers", async (_name, request) => {
    const { fast, slow } = await both(request);
    expect(servedDirectly(fast)).toBe(true);
    expect(comparable(fast)).toEqual(comparable(slow));
  });

  it.each<[string, RawRequest]>([
    [
      "WatchStream with an invalid grpc-timeout",
      { path: watchStream, headers: { "grpc-timeout": "soon" }, chunks: [cancel] },
    ],
    [
      "WatchVariables over gRPC-Web",
      {
        path: watchVariables,
        headers: { "content-type": "application/grpc-web+proto" },
        chunks: [watchNowhere],
      },
    ],
  ])("%s falls through to connect, as a unary call would", async (_name, request) => {
    const { fast, slow } = await both(request);
    expect(servedDirectly(fast)).toBe(false);
    expect(comparable(fast)).toEqual(comparable(slow));
  });
});

describe("the direct gRPC path on its own", () => {
  let test: TestServer;
  let session: http2.ClientHttp2Session;
  const ping = envelope(encoded(PingRequestSchema, { message: "still serving" }));

  beforeAll(async () => {
    test = await startTestServer({ token: TOKEN, maxRequestBytes: MAX_REQUEST_BYTES });
    session = http2.connect(test.server.url);
  });
  afterAll(async () => {
    session.close();
    await test.close();
  });

  async function pingStillAnswered(): Promise<void> {
    const response = await rawCall(session, { path: `${SERVICE}/Ping`, chunks: [ping] });
    expect(response.trailers["grpc-status"]).toBe("0");
    expect(fromBinary(PingResponseSchema, response.body.subarray(5)).message).toBe("still serving");
  }

  it("a gzip-compressed request is left to connect, which answers it", async () => {
    const message = gzipSync(encoded(PingRequestSchema, { message: "squeezed" }));
    const response = await rawCall(session, {
      path: `${SERVICE}/Ping`,
      headers: { "grpc-encoding": "gzip" },
      chunks: [envelope(message, 1)],
    });
    expect(servedDirectly(response)).toBe(false);
    expect(response.trailers["grpc-status"]).toBe("0");
    expect(fromBinary(PingResponseSchema, response.body.subarray(5)).message).toBe("squeezed");
  });

  it("refuses an oversize message from its envelope header, drops the rest, and keeps the connection serving", async () => {
    const header = envelope(new Uint8Array(0), 0, 64 * 1024);
    const rest = Array.from({ length: 16 }, () => new Uint8Array(4096));
    const response = await rawCall(session, { path: `${SERVICE}/Ping`, chunks: [header, ...rest] });
    expect(servedDirectly(response)).toBe(true);
    expect(response.trailers["statebridge-error-code"]).toBe("resource_exhausted");
    expect(decodeURIComponent(response.trailers["grpc-message"] ?? "")).toContain(`${64 * 1024} bytes`);
    await pingStillAnswered();
  });

  it("answers DEADLINE_EXCEEDED when the request is still arriving at its grpc-timeout", async () => {
    const response = await rawCall(session, {
      path: `${SERVICE}/Ping`,
      headers: { "grpc-timeout": "20m" },
      chunks: [ping.subarray(0, 3)],
      end: false,
    });
    expect(servedDirectly(response)).toBe(true);
    expect(response.trailers["grpc-status"]).toBe("4");
    expect(decodeURIComponent(response.trailers["grpc-message"] ?? "")).toBe("the operation timed out");
    await pingStillAnswered();
  });

  it("a call whose grpc-timeout is not reached is answered normally", async () => {
    const response = await rawCall(session, {
      path: `${SERVICE}/Ping`,
      headers: { "grpc-timeout": "10S" },
      chunks: [ping],
    });
    expect(servedDirectly(response)).toBe(true);
    expect(response.trailers["grpc-status"]).toBe("0");
  });

  it("a client that resets its stream mid-request leaves the server serving", async () => {
    const stream = session.request({
      ":method": "POST",
      ":path": `${SERVICE}/Ping`,
      "content-type": "application/grpc",
      authorization: `Bearer ${TOKEN}`,
    });
    stream.on("error", () => {});
    stream.write(ping.subarray(0, 4));
    await new Promise((resolve) => setTimeout(resolve, 10));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await new Promise((resolve) => stream.once("close", resolve));
    await pingStillAnswered();
  });
});
