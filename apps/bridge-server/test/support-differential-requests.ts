import type { OutgoingHttpHeaders } from "node:http2";
import { gzipSync } from "node:zlib";
import { create, type DescMessage, toBinary, toJsonString } from "@bufbuild/protobuf";
import { BridgeService, WatchStreamRequestSchema } from "@statebridge/proto";
import { packFloat64 } from "@statebridge/state-provider";
import fc from "fast-check";
import { envelope, gzipBomb } from "./support-attacks.mjs";
import {
  type Barrier,
  DIFFERENTIAL_TOKEN,
  FIXED_DOCUMENT,
  MAX_REQUEST_BYTES,
  OTHER_SESSION_IDS,
  PROBE_WATCH_ID,
  type RawRequest,
  SESSION_ID,
} from "./support-differential.js";

type Init = Record<string, unknown>;

/** What a generated request is made of, before it is turned into bytes by {@link toRawRequest}. */
export interface RequestShape {
  readonly method: string;
  /** The request messages, as message init objects (a `WatchStream` may send several). */
  readonly messages: readonly Init[];
  readonly contentType: string | undefined;
  readonly authorization: string | undefined;
  /** `:authority`, when not the server's address (a server without a token refuses foreign names). */
  readonly authority: string | undefined;
  readonly timeout: string | undefined;
  readonly acceptEncoding: string | undefined;
  readonly compression: "none" | "gzip" | "flag-only" | "header-only" | "unsupported" | "bomb";
  readonly framing:
    | "one"
    | "none"
    | "repeated"
    | "header-cut"
    | "body-short"
    | "partial-tail"
    | "oversize"
    | "declared-huge"
    | "byte-split"
    | "garbage";
  readonly end: boolean;
}

const SESSIONS = [SESSION_ID, SESSION_ID, SESSION_ID, "", ...OTHER_SESSION_IDS];
const NAMES = FIXED_DOCUMENT.variables.map((variable) => variable.name);
const IDS = FIXED_DOCUMENT.variables.map((variable) => variable.id);
const session = fc.constantFrom(...SESSIONS);
const identifier = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 2, arbitrary: fc.constantFrom(...IDS) },
  { weight: 2, arbitrary: fc.constantFrom("missing", "", "n".repeat(1024), "x\u0000y") },
);
const identifiers = fc.array(identifier, { minLength: 0, maxLength: 3 });
const metadataJson = fc.constantFrom("", "", '{"team":"x"}', "[1]", "{bad");

const value = fc.oneof(
  fc.constantFrom(0.5, 1.5, 9, Number.NaN).map((v) => ({ kind: { case: "floatValue", value: v } })),
  fc.constantFrom(0n, 7n, 2n ** 60n).map((v) => ({ kind: { case: "integerValue", value: v } })),
  fc
    .constantFrom("b", "", "UPPER", "x".repeat(300))
    .map((v) => ({ kind: { case: "stringValue", value: v } })),
  fc.boolean().map((v) => ({ kind: { case: "booleanValue", value: v } })),
  fc.constantFrom("fast", "never").map((v) => ({ kind: { case: "choiceValue", value: v } })),
  fc.constantFrom("models.large", "").map((v) => ({ kind: { case: "moduleValue", value: v } })),
  fc
    .constantFrom(packFloat64([4, 5, 6]), packFloat64([1]), new Uint8Array(5))
    .map((v) => ({ kind: { case: "embeddingValue", value: v } })),
  fc
    .constantFrom(
      { shape: [2, 2], data: packFloat64([5, 6, 7, 8]) },
      { shape: [3], data: packFloat64([1]) },
      { shape: [], data: new Uint8Array(0) },
    )
    .map((v) => ({ kind: { case: "tensorValue", value: v } })),
  fc.constant({}),
);
const revision = fc.option(fc.constantFrom(0, 1, FIXED_DOCUMENT.revision, 1_000_000), { nil: undefined });

/** A request message of each method, valid more often than not. */
const MESSAGES: Record<string, fc.Arbitrary<Init>> = {
  Ping: fc.record({ message: fc.constantFrom("hi", "", "é".repeat(100)) }),
  InitializeSession: fc.record({
    sessionId: session,
    metadataJson,
    ttlSeconds: fc.constantFrom(0, 60, -1, 2 ** 31 - 1),
  }),
  GetSession: fc.record({ sessionId: session }),
  Heartbeat: fc.record({ sessionId: session }),
  CleanupSession: fc.record({ sessionId: session }),
  ExportSession: fc.record({ sessionId: session }),
  RegisterVariable: fc.record({
    sessionId: session,
    name: fc.constantFrom("fresh", "temperature", "", "n".repeat(1024)),
    type: fc.constantFrom("float", "string", "tensor", "bogus"),
    initialValue: value,
    constraintsJson: fc.constantFrom("", '{"min":0,"max":2}', '{"pattern":"^(a+)+$"}', "nope"),
    metadataJson,
  }),
  GetVariable: fc.record({ sessionId: session, identifier }),
  GetVariables: fc.record({ sessionId: session, identifiers }),
  SetVariable: fc.record(
    {
      sessionId: session,
      identifier,
      value,
      expectedVersion: fc.constantFrom(0, 1, 99),
      metadataJson,
    },
    { requiredKeys: ["sessionId", "identifier", "value"] },
  ),
  SetVariables: fc.record({
    sessionId: session,
    updates: fc.array(fc.record({ identifier, value }), { maxLength: 3 }),
    atomic: fc.boolean(),
  }),
  ListVariables: fc.record(
    { sessionId: session, pattern: fc.constantFrom("*", "te*", "?ount", "*a*a*a*a*b", "\\", "[") },
    { requiredKeys: ["sessionId"] },
  ),
  DeleteVariable: fc.record({ sessionId: session, identifier }),
  ImportSession: fc.record({
    sessionId: session,
    revision: fc.constantFrom(0, FIXED_DOCUMENT.revision),
    metadataJson,
    variables: fc.subarray(
      FIXED_DOCUMENT.variables.map((variable) => ({
        id: variable.id,
        name: variable.name,
        type: variable.type,
        value: { kind: { case: "floatValue", value: 1 } },
        version: variable.version,
      })),
    ),
  }),
  WatchVariables: fc.record(
    {
      sessionId: session,
      identifiers,
      includeInitial: fc.boolean(),
      fromRevision: revision.filter((candidate) => candidate !== undefined),
      heartbeatIntervalMs: fc.constantFrom(0, 0, 1, 3_600_000),
    },
    { requiredKeys: ["sessionId", "identifiers", "includeInitial", "heartbeatIntervalMs"] },
  ),
};

const watchId = fc.constantFrom("a", "b", "");
const watchStreamRequests = fc.array(
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.record({
          case: fc.constant("create"),
          value: fc.record(
            {
              watchId,
              sessionId: session,
              identifiers,
              includeInitial: fc.boolean(),
              fromRevision: revision.filter((candidate) => candidate !== undefined),
            },
            { requiredKeys: ["watchId", "sessionId", "identifiers", "includeInitial"] },
          ),
        }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.record({ case: fc.constant("cancel"), value: fc.record({ watchId }) }),
      }),
    },
    { weight: 1, arbitrary: fc.constant({}) },
  ),
  { minLength: 0, maxLength: 4 },
);

const PROBE: Init = {
  kind: { case: "create", value: { watchId: PROBE_WATCH_ID, sessionId: "missing", identifiers: ["x"] } },
};

const messagesOf = (method: string): fc.Arbitrary<readonly Init[]> =>
  method === "WatchStream"
    ? watchStreamRequests
    : (MESSAGES[method] ?? fc.constant({})).map((message) => [message]);

/** Requests of every method of `BridgeService`, well-formed most of the time and hostile the rest. */
export const requestShape: fc.Arbitrary<RequestShape> = fc
  .constantFrom(...BridgeService.methods.map((method) => method.name), "NoSuchMethod")
  .chain((method) =>
    fc.record({
      method: fc.constant(method),
      messages: messagesOf(method),
      contentType: fc.oneof(
        { weight: 12, arbitrary: fc.constantFrom("application/grpc", "application/grpc+proto") },
        {
          weight: 3,
          arbitrary: fc.constantFrom(
            "application/grpc+json",
            "application/grpc-web+proto",
            "application/proto",
            "application/json",
            "application/connect+proto",
            "application/grpc; charset=utf-8",
            "application/grpc+xml",
            "text/plain",
            undefined,
          ),
        },
      ),
      authorization: fc.oneof(
        { weight: 8, arbitrary: fc.constant(`Bearer ${DIFFERENTIAL_TOKEN}`) },
        { weight: 2, arbitrary: fc.constantFrom(undefined, "Bearer nope", "Basic eDp5", "Bearer ") },
      ),
      authority: fc.oneof(
        { weight: 8, arbitrary: fc.constant(undefined) },
        { weight: 2, arbitrary: fc.constantFrom("evil.example", "localhost", "127.0.0.1:1", "[::1]") },
      ),
      timeout: fc.oneof(
        { weight: 8, arbitrary: fc.constant(undefined) },
        {
          weight: 2,
          arbitrary: fc.constantFrom(
            "99999999H",
            "99999999S",
            "10S",
            "5000m",
            "soon",
            "123456789S",
            "-1S",
            "",
          ),
        },
      ),
      acceptEncoding: fc.constantFrom(undefined, undefined, "gzip", "identity,deflate,gzip"),
      compression: fc.oneof(
        { weight: 8, arbitrary: fc.constant("none" as const) },
        {
          weight: 3,
          arbitrary: fc.constantFrom(
            "gzip" as const,
            "flag-only" as const,
            "header-only" as const,
            "unsupported" as const,
            "bomb" as const,
          ),
        },
      ),
      framing: fc.oneof(
        { weight: 10, arbitrary: fc.constant("one" as const) },
        {
          weight: 6,
          arbitrary: fc.constantFrom(
            "none" as const,
            "repeated" as const,
            "header-cut" as const,
            "body-short" as const,
            "partial-tail" as const,
            "oversize" as const,
            "declared-huge" as const,
            "byte-split" as const,
            "garbage" as const,
          ),
        },
      ),
      end: fc.oneof(
        { weight: 9, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
    }),
  );

/** Turns a shape into bytes and headers. */
export function toRawRequest(shape: RequestShape): RawRequest {
  const method = BridgeService.methods.find((candidate) => candidate.name === shape.method);
  const input: DescMessage = method?.input ?? WatchStreamRequestSchema;
  const contentType = shape.contentType ?? "";
  const json = contentType.includes("json");
  const connectUnary = contentType === "application/proto" || contentType === "application/json";
  const wellFormedWatchStream =
    shape.method === "WatchStream" && ["one", "repeated", "byte-split"].includes(shape.framing);
  const inits = shape.framing === "repeated" ? [...shape.messages, ...shape.messages] : [...shape.messages];
  if (wellFormedWatchStream) inits.push(PROBE);
  const serialize = (init: Init): Uint8Array => {
    const message = create(input, init as never);
    return json ? new TextEncoder().encode(toJsonString(input, message)) : toBinary(input, message);
  };
  let payloads = inits.map(serialize);
  if (shape.framing === "none") payloads = [];
  if (shape.framing === "oversize") payloads = [new Uint8Array(MAX_REQUEST_BYTES + 1)];
  if (shape.framing === "garbage") payloads = [new Uint8Array([0x0a, 0xff, 0xff, 0x01, 0x12])];

  const compressed = shape.compression === "gzip" || shape.compression === "flag-only";
  let frames: Uint8Array[] = payloads.map((payload) =>
    shape.compression === "bomb"
      ? envelope(gzipBomb(MAX_REQUEST_BYTES * 64), 1)
      : envelope(shape.compression === "gzip" ? gzipSync(payload) : payload, compressed ? 1 : 0),
  );
  if (shape.framing === "header-cut") frames = [...frames, new Uint8Array([0, 0, 0])];
  if (shape.framing === "partial-tail") frames = [...frames, new Uint8Array([0, 0])];
  if (shape.framing === "body-short") {
    const last = frames.at(-1) ?? envelope(new Uint8Array(0));
    const declared = new DataView(last.buffer, last.byteOffset).getUint32(1) + 50;
    frames = [...frames.slice(0, -1), envelope(last.subarray(5), last[0], declared)];
  }
  if (shape.framing === "declared-huge") frames = [envelope(new Uint8Array(100), 0, 0x7fff_ffff)];
  let chunks: Uint8Array[] = frames;
  if (connectUnary) chunks = frames.map((frame) => frame.subarray(5));
  if (shape.framing === "byte-split") {
    const joined = Buffer.concat(chunks);
    chunks = [];
    for (let offset = 0; offset < joined.byteLength; offset += 7)
      chunks.push(joined.subarray(offset, offset + 7));
  }

  const headers: OutgoingHttpHeaders = { te: "trailers" };
  if (shape.contentType !== undefined) headers["content-type"] = shape.contentType;
  if (shape.authorization !== undefined) headers.authorization = shape.authorization;
  if (shape.authority !== undefined) headers[":authority"] = shape.authority;
  if (shape.timeout !== undefined) headers["grpc-timeout"] = shape.timeout;
  if (shape.acceptEncoding !== undefined) headers["grpc-accept-encoding"] = shape.acceptEncoding;
  const encoding = {
    none: undefined,
    gzip: "gzip",
    "flag-only": undefined,
    "header-only": "gzip",
    unsupported: "snappy",
    bomb: "gzip",
  }[shape.compression];
  if (encoding !== undefined) {
    const name = connectUnary
      ? "content-encoding"
      : contentType.startsWith("application/connect")
        ? "connect-content-encoding"
        : "grpc-encoding";
    headers[name] = encoding;
  }
  if (contentType.startsWith("application/connect") || connectUnary)
    headers["connect-protocol-version"] = "1";

  return {
    method: shape.method,
    path: `/${BridgeService.typeName}/${shape.method}`,
    headers,
    chunks,
    end: shape.end,
    barrier: barrierOf(shape, wellFormedWatchStream),
  };
}

function barrierOf(shape: RequestShape, probed: boolean): Barrier {
  if (shape.method === "WatchVariables") return "first-message";
  if (shape.method === "WatchStream") return probed ? "probe" : "quiet";
  return "end";
}
