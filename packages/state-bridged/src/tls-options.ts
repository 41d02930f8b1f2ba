import { X509Certificate } from "node:crypto";
import type * as http2 from "node:http2";
import * as tls from "node:tls";
import { describe, StateError } from "@statebridge/state-provider";

/** PEM text, as a string or its bytes. */
export type Pem = string | Uint8Array;

/**
 * TLS of the connection to a bridge-server at an `https://` URL. Without it the system's CAs
 * are trusted and no client certificate is sent.
 */
export interface BridgedTlsOptions {
  /** CA certificates, PEM, trusted instead of the system's: for a server whose certificate a private CA issued. */
  readonly ca?: Pem;
  /** A client certificate, PEM, for a server that requires one (mutual TLS). Needs `key`. */
  readonly cert?: Pem;
  /** The private key of `cert`, PEM, unencrypted. */
  readonly key?: Pem;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function pemOf(value: Pem): string | Buffer {
  return typeof value === "string" ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * Checks `tls` against the URL and turns it into the options of Node's HTTP/2 connection.
 * @throws `invalid_value` for TLS options with a cleartext URL, a certificate without its key
 *   (or a key without its certificate), or PEM that does not parse.
 */
export function tlsSessionOptions(
  url: string,
  options: BridgedTlsOptions | undefined,
): http2.SecureClientSessionOptions {
  if (options === undefined) return {};
  const invalid = (message: string) => new StateError("invalid_value", message);
  if (typeof options !== "object" || options === null) {
    throw invalid(`tls must be an object with ca, cert and key (PEM), got ${describe(options)}`);
  }
  if (!url.startsWith("https://")) {
    throw invalid(`tls is for https:// URLs, and the url is ${url}`);
  }
  const pems: Partial<Record<"ca" | "cert" | "key", string | Buffer>> = {};
  for (const name of ["ca", "cert", "key"] as const) {
    const value: unknown = options[name];
    if (value === undefined) continue;
    if (typeof value !== "string" && !(value instanceof Uint8Array)) {
      throw invalid(`tls.${name} must be PEM text (a string or bytes), got ${describe(value)}`);
    }
    pems[name] = pemOf(value);
  }
  if ((pems.cert === undefined) !== (pems.key === undefined)) {
    throw invalid(
      `tls.cert and tls.key go together: ${pems.cert === undefined ? "tls.cert" : "tls.key"} is missing`,
    );
  }
  for (const name of ["ca", "cert"] as const) {
    const pem = pems[name];
    if (pem === undefined) continue;
    try {
      // Node's secure context skips CA text that does not parse, and would trust nothing.
      new X509Certificate(pem);
    } catch (error) {
      throw invalid(`tls.${name} is not a PEM certificate: ${reasonOf(error)}`);
    }
  }
  try {
    tls.createSecureContext(pems);
  } catch (error) {
    const reason = reasonOf(error);
    if (/key values mismatch/i.test(reason)) throw invalid("tls.key is not the private key of tls.cert");
    throw invalid(`tls cannot be used: ${reason}`);
  }
  return pems;
}
