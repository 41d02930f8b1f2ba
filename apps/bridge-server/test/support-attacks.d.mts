import type { ClientHttp2Session, OutgoingHttpHeaders } from "node:http2";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";

/** The token of the servers started with one. */
export const ATTACK_TOKEN: string;
/** The session the attacks' variables live in. */
export const ATTACK_SESSION: string;

/** A gRPC envelope: a flag byte, a 4-byte big-endian length (the message's unless given), the message. */
export function envelope(message: Uint8Array, flags?: number, declaredLength?: number): Uint8Array;
/** A gzip member that inflates to `bytes` zero bytes, from a few hundred bytes (or KiB) on the wire. */
export function gzipBomb(bytes: number): Buffer;
/** An HTTP/2 connection that swallows its errors. */
export function connect(url: string): ClientHttp2Session;
/** The envelope of a request message. */
export function framed<Schema extends DescMessage>(
  schema: Schema,
  init: MessageInitShape<Schema>,
): Uint8Array;

/** What {@link call} got back; `grpcStatus` is "timeout" or "reset" when no status came. */
export interface CallAnswer {
  readonly grpcStatus: string;
  readonly message: string | undefined;
  readonly errorCode: string | undefined;
  readonly body: Buffer;
}
/** Sends one request and gathers the answer; never rejects. */
export function call(
  session: ClientHttp2Session,
  path: string,
  chunks: readonly Uint8Array[],
  headers?: OutgoingHttpHeaders,
  options?: { readonly timeoutMs?: number; readonly end?: boolean },
): Promise<CallAnswer>;

/** What an attack counts while it runs (requests, answers by status, sockets…). */
export type AttackStats = Record<string, number | string>;

/** One attack of issue 9 (see support-attacks.mjs). */
export interface Attack {
  readonly name: string;
  readonly description: string;
  /** Whether the server requires a token (the attacker never sends it). */
  readonly token?: boolean;
  /** The server's open-file limit, when the attack is about file descriptors. */
  readonly fileLimit?: number;
  serverArgs?(help: string): string[];
  setup?(url: string): Promise<void>;
  run(url: string, signal: AbortSignal, stats: AttackStats): Promise<void>;
}

/** The attacks, in the order. */
export const ATTACKS: readonly Attack[];
/** No attack: the bystander alone, for comparison. */
export const NO_ATTACK: Attack;
