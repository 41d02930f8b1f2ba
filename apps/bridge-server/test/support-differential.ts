import * as http2 from "node:http2";
import { gunzipSync, inflateSync } from "node:zlib";
import { type DescMessage, fromBinary, fromJsonString, type JsonValue, toJson } from "@bufbuild/protobuf";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { BridgeService, ErrorDetailSchema, WatchStreamResponseSchema } from "@statebridge/proto";
import { createSessionStore, type SessionStore } from "@statebridge/session-store";
import type { ExportDocument } from "@statebridge/state-provider";
import type { BridgeServerOptions } from "../src/index.js";

/** The token both servers of the differential test require. */
export const DIFFERENTIAL_TOKEN = "differential-token";
/** The session every generated request is about; reset before each request. */
export const SESSION_ID = "differential";
/** Sessions generated requests may create; deleted before each request. */
export const OTHER_SESSION_IDS = ["missing", "other", "s".repeat(1024)] as const;
/** The request size limit of both servers: small, so that oversize requests are cheap to build. */
export const MAX_REQUEST_BYTES = 16 * 1024;
/** The watch id of the create appended to well-formed `WatchStream` requests (see {@link Barrier}). */
export const PROBE_WATCH_ID = "probe";

/** Options both servers get; they differ only in `grpcFastPath`. */
export const DIFFERENTIAL_SERVER_OPTIONS: BridgeServerOptions = {
  token: DIFFERENTIAL_TOKEN,
  maxRequestBytes: MAX_REQUEST_BYTES,
  // No heartbeat may arrive while a stream is collected, except those a request asks for.
  heartbeatIntervalMs: 3_600_000,
};

/** The variables of the fixed session: every type, with constraints, fixed ids and times. */
export const FIXED_DOCUMENT: ExportDocument = await buildFixedDocument();

async function buildFixedDocument(): Promise<ExportDocument> {
  const scratch = createSessionStore();
  await scratch.initializeSession(SESSION_ID);
  await scratch.register(SESSION_ID, "temperature", "float", 0.5, { constraints: { min: 0, max: 2 } });
  await scratch.register(SESSION_ID, "count", "integer", 3);
  await scratch.register(SESSION_ID, "label", "string", "a", {
    constraints: { maxLength: 8, pattern: "^[a-z]*$" },
  });
  await scratch.register(SESSION_ID, "enabled", "boolean", true);
  await scratch.register(SESSION_ID, "mode", "choice", "fast", {
    constraints: { choices: ["fast", "slow"] },
  });
  await scratch.register(SESSION_ID, "model", "module", "models.small");
  await scratch.register(SESSION_ID, "vector", "embedding", [1, 2, 3], { constraints: { dimensions: 3 } });
  await scratch.register(SESSION_ID, "grid", "tensor", { shape: [2, 2], data: [1, 2, 3, 4] });
  await scratch.set(SESSION_ID, "label", "b");
  const exported = await scratch.exportSession(SESSION_ID);
  await scratch.close();
  const fixedTime = 1_700_000_000_000;
  return {
    ...exported,
    exportedAt: fixedTime,
    variables: exported.variables.map((variable, index) => ({
      ...variable,
      id: `var_${(index + 1).toString(16).padStart(24, "0")}`,
      createdAt: fixedTime,
      updatedAt: fixedTime,
    })),
  };
}

/** Puts a server's store back in the fixed state: the fixed session imported, no other session. */
export async function resetState(store: SessionStore): Promise<void> {
  for (const sessionId of [SESSION_ID, ...OTHER_SESSION_IDS]) await store.deleteSession(sessionId);
  await store.importSession(SESSION_ID, FIXED_DOCUMENT);
}

/** A request, byte for byte. */
export interface RawRequest {
  /** The RPC's name in `BridgeService` (for decoding), and the `:path` sent. */
  readonly method: string;
  readonly path: string;
  readonly headers: http2.OutgoingHttpHeaders;
  readonly chunks: readonly Uint8Array[];
  /** Whether the client ends its side after the chunks. */
  readonly end: boolean;
  /** When collecting may stop early (see {@link Barrier}). */
  readonly barrier: Barrier;
}

/**
 * When to stop collecting a stream that has not ended:
 * - `end`: only at its end (a unary call).
 * - `first-message`: once a message arrived, `afterBarrier` runs (the test deletes the session,
 *   which must end a `WatchVariables` stream with `session_expired`), then at its end.
 * - `probe`: once the `ended` of the {@link PROBE_WATCH_ID} create arrived: every message
 *   before it answers a request sent before it; the stream is then cancelled.
 * - `quiet`: after a quiet spell; a stream still open then is cancelled and reported open.
 *
 * A request the client has not ended is ended after a quiet spell, and its answer awaited.
 * Every barrier but `end` also gives up after a quiet spell once the request has ended.
 */
export type Barrier = "end" | "first-message" | "probe" | "quiet";

/** What one request got back. */
export interface RawExchange {
  readonly httpStatus: number | undefined;
  readonly headers: Record<string, string>;
  readonly trailers: Record<string, string>;
  readonly body: Buffer;
  /** `status`: the server ended the stream; `reset`: it reset it; `open`: the client gave up waiting. */
  readonly outcome: "status" | "reset" | "open";
}

const QUIET_MS = 400;
const END_CAP_MS = 15_000;

/**
 * Sends a request with node:http2 alone, so that any bytes and headers at all can be sent, and
 * collects the answer up to its end or its {@link Barrier}.
 */
export function exchange(
  session: http2.ClientHttp2Session,
  request: RawRequest,
  afterBarrier: () => void,
): Promise<RawExchange> {
  return new Promise((resolve) => {
    const stream = session.request({ ":method": "POST", ":path": request.path, ...request.headers });
    let httpStatus: number | undefined;
    let headers: Record<string, string> = {};
    let trailers: Record<string, string> = {};
    const body: Buffer[] = [];
    let settled = false;
    let barrierPassed = false;
    let quietTimer: NodeJS.Timeout | undefined;
    const capTimer = setTimeout(() => finish("open"), END_CAP_MS);

    function finish(outcome: RawExchange["outcome"]): void {
      if (settled) return;
      settled = true;
      clearTimeout(capTimer);
      clearTimeout(quietTimer);
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      resolve({ httpStatus, headers, trailers, body: Buffer.concat(body), outcome });
    }
    let clientEnded = request.end;
    function armQuiet(): void {
      if (clientEnded && request.barrier === "end") return;
      clearTimeout(quietTimer);
      quietTimer = setTimeout(onQuiet, QUIET_MS);
    }
    // Paths may differ in when they answer a request still arriving, not in what they answer:
    // a quiet server gets the end of the request, then its answer is awaited.
    function onQuiet(): void {
      if (clientEnded) {
        finish("open");
        return;
      }
      clientEnded = true;
      stream.end();
      armQuiet();
    }
    function checkBarrier(): void {
      if (barrierPassed) return;
      const messages = splitEnvelopes(Buffer.concat(body)).messages;
      if (request.barrier === "first-message" && messages.length > 0) {
        barrierPassed = true;
        afterBarrier();
      } else if (request.barrier === "probe" && messages.some(isProbeEnded)) {
        barrierPassed = true;
        finish("open");
      }
    }

    stream.on("response", (received) => {
      httpStatus = received[":status"];
      headers = plain(received);
      armQuiet();
    });
    stream.on("trailers", (received) => {
      trailers = plain(received);
    });
    stream.on("data", (chunk: Buffer) => {
      body.push(chunk);
      armQuiet();
      checkBarrier();
    });
    // The server ended its side: everything it will send has arrived.
    stream.on("end", () => finish("status"));
    stream.on("error", () => {});
    stream.on("close", () => {
      const answered = trailers["grpc-status"] !== undefined || headers["grpc-status"] !== undefined;
      const ended = stream.rstCode === http2.constants.NGHTTP2_NO_ERROR || answered;
      finish(ended ? "status" : "reset");
    });
    for (const chunk of request.chunks) stream.write(chunk);
    if (request.end) stream.end();
    armQuiet();
  });
}

function isProbeEnded(message: Envelope): boolean {
  if (message.flags !== 0) return false;
  try {
    const response = fromBinary(WatchStreamResponseSchema, message.payload);
    return response.watchId === PROBE_WATCH_ID && response.kind.case === "ended";
  } catch {
    return false;
  }
}

function plain(headers: http2.IncomingHttpHeaders): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    result[name] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return result;
}

interface Envelope {
  readonly flags: number;
  readonly payload: Buffer;
}

/** Splits gRPC / gRPC-Web / Connect-streaming envelopes; `rest` is an incomplete tail. */
function splitEnvelopes(bytes: Buffer): { messages: Envelope[]; rest: number } {
  const messages: Envelope[] = [];
  let offset = 0;
  while (bytes.byteLength - offset >= 5) {
    const length = bytes.readUInt32BE(offset + 1);
    if (bytes.byteLength - offset - 5 < length) break;
    messages.push({
      flags: bytes[offset] ?? 0,
      payload: bytes.subarray(offset + 5, offset + 5 + length),
    });
    offset += 5 + length;
  }
  return { messages, rest: bytes.byteLength - offset };
}

/** The parts of an answer both paths must agree on, decoded, with clocks and generated ids blanked. */
export interface Comparable {
  readonly httpStatus: number | undefined;
  readonly contentType: string | undefined;
  readonly outcome: RawExchange["outcome"];
  readonly grpcStatus: string | undefined;
  readonly grpcMessage: string | undefined;
  readonly errorCode: string | undefined;
  readonly errorDetail: JsonValue | undefined;
  /** The first {@link MESSAGES_COMPARED} messages, heartbeats after the first message left out. */
  readonly messages: readonly JsonValue[];
}

/** How many response messages of a stream are compared. */
export const MESSAGES_COMPARED = 8;

/** Decodes an answer into what {@link Comparable} compares. */
export function comparable(request: RawRequest, response: RawExchange): Comparable {
  const method = BridgeService.methods.find((candidate) => candidate.name === request.method);
  const contentType = response.headers["content-type"];
  const json = contentType?.includes("json") === true;
  const encoding = response.headers["grpc-encoding"] ?? response.headers["connect-content-encoding"];
  let trailers: Record<string, string> = { ...response.headers, ...response.trailers };
  const messages: JsonValue[] = [];
  const decode = (payload: Uint8Array): JsonValue => {
    if (method === undefined) return { undecoded: Buffer.from(payload).toString("base64") };
    try {
      const message = json
        ? fromJsonString(method.output, Buffer.from(payload).toString("utf8"))
        : fromBinary(method.output, payload);
      return scrub(toJson(method.output as DescMessage, message as never));
    } catch (error) {
      return { undecodable: Buffer.from(payload).toString("base64"), error: String(error) };
    }
  };
  const enveloped = contentType !== undefined && /^application\/(grpc|connect\+)/.test(contentType);
  if (enveloped) {
    for (const { flags, payload } of splitEnvelopes(response.body).messages) {
      const bytes = flags & 0b1 ? decompress(payload, encoding) : payload;
      if (flags & 0x80) trailers = { ...trailers, ...parseWebTrailers(bytes) };
      else if (flags & 0b10) messages.push({ endStream: safeJson(bytes) });
      else messages.push(decode(bytes));
    }
  } else if (response.body.byteLength > 0) {
    const bytes =
      response.headers["content-encoding"] !== undefined
        ? decompress(response.body, response.headers["content-encoding"])
        : response.body;
    messages.push(response.httpStatus === 200 ? decode(bytes) : { body: safeJson(bytes) });
  }
  const kept = messages.filter((message, index) => index === 0 || !isHeartbeat(message));
  const grpcStatus = trailers["grpc-status"];
  let errorDetail: JsonValue | undefined;
  if (grpcStatus !== undefined && grpcStatus !== "0") {
    const error = findTrailerError(new Headers(Object.entries(trailers)));
    const detail = error?.findDetails(ErrorDetailSchema)[0];
    if (detail !== undefined) errorDetail = toJson(ErrorDetailSchema, detail);
  }
  const grpcMessage = trailers["grpc-message"];
  // Whether the headers of a stream that has sent nothing yet went out early is no answer.
  const silent = response.outcome === "open" && messages.length === 0;
  return {
    httpStatus: silent ? undefined : response.httpStatus,
    contentType: silent ? undefined : contentType,
    outcome: response.outcome,
    grpcStatus,
    grpcMessage: grpcMessage === undefined ? undefined : decodeURIComponent(grpcMessage),
    errorCode: trailers["statebridge-error-code"],
    errorDetail,
    messages: kept.slice(0, MESSAGES_COMPARED),
  };
}

function decompress(bytes: Uint8Array, encoding: string | undefined): Buffer {
  try {
    if (encoding === "gzip") return gunzipSync(bytes);
    if (encoding === "deflate") return inflateSync(bytes);
  } catch {
    // Compared as they are.
  }
  return Buffer.from(bytes);
}

function parseWebTrailers(bytes: Uint8Array): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of Buffer.from(bytes).toString("utf8").split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) result[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return result;
}

function safeJson(bytes: Uint8Array): JsonValue {
  const text = Buffer.from(bytes).toString("utf8");
  try {
    return scrub(JSON.parse(text) as JsonValue);
  } catch {
    return text;
  }
}

function isHeartbeat(message: JsonValue): boolean {
  return typeof message === "object" && message !== null && !Array.isArray(message) && "heartbeat" in message;
}

const CLOCK_FIELD = /(At|Time)Ms$|^timestampMs$/;
const FIXED_IDS = new Set(FIXED_DOCUMENT.variables.map((variable) => variable.id));

/**
 * Blanks what must differ between two servers: clock readings, and ids and incarnations generated
 * during the run.
 */
function scrub(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(scrub);
  if (typeof value !== "object" || value === null) return value;
  const result: Record<string, JsonValue> = {};
  for (const [key, field] of Object.entries(value)) {
    if (field === undefined) continue;
    if (CLOCK_FIELD.test(key)) result[key] = "<clock>";
    else if (key === "id" && typeof field === "string" && !FIXED_IDS.has(field)) result[key] = "<generated>";
    // A session's incarnation is random, created with it on each server.
    else if (key === "incarnation" && typeof field === "string") result[key] = "<generated>";
    else result[key] = scrub(field);
  }
  return result;
}
