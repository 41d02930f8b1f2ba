import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type * as net from "node:net";
import * as tls from "node:tls";
import { StateError } from "@statebridge/state-provider";

/** TLS of a bridge-server: its certificate and key and, for mutual TLS, the CAs of its clients. */
export interface BridgeServerTlsOptions {
  /** The server's certificate, PEM, followed by the intermediate certificates clients need. */
  readonly cert: string | Uint8Array;
  /** The certificate's private key, PEM, unencrypted. */
  readonly key: string | Uint8Array;
  /**
   * CA certificates, PEM. When given, every connection must present a client certificate that
   * one of them issued (mutual TLS), or the handshake fails; by default none is asked for.
   */
  readonly clientCa?: string | Uint8Array;
}

/** What each piece of {@link BridgeServerTlsOptions} is called in errors: an option or a flag and its file. */
export interface TlsNames {
  readonly cert: string;
  readonly key: string;
  readonly clientCa: string;
}

const OPTION_NAMES: TlsNames = { cert: "tls.cert", key: "tls.key", clientCa: "tls.clientCa" };

/** The ALPN protocols offered, in the server's order of preference. */
const ALPN_PROTOCOLS = ["h2", "http/1.1"];

function pemOf(value: string | Uint8Array): string | Buffer {
  return typeof value === "string" ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Checks TLS options the way the server will use them, so that a bad one stops the start with
 * an error naming it: a certificate or key that does not parse, a key that is not the
 * certificate's. `names` says what to call each piece (by default the option's name).
 * @returns Node's secure context options.
 * @throws `invalid_value` naming the piece that is wrong.
 */
export function checkTlsOptions(
  options: BridgeServerTlsOptions,
  names: TlsNames = OPTION_NAMES,
): tls.TlsOptions {
  if (typeof options !== "object" || options === null) {
    throw new StateError("invalid_value", "tls must be an object with cert and key (PEM)");
  }
  const invalid = (message: string) => new StateError("invalid_value", message);
  const { cert, key, clientCa } = options;
  if (cert === undefined || key === undefined) {
    throw invalid(
      `${cert === undefined ? names.cert : names.key} is missing: TLS needs a certificate and its private key`,
    );
  }
  const certificate = (value: unknown, name: string): string | Buffer => {
    if (typeof value !== "string" && !(value instanceof Uint8Array)) {
      throw invalid(`${name} must be PEM text (a string or bytes)`);
    }
    const pem = pemOf(value);
    try {
      new X509Certificate(pem);
    } catch (error) {
      throw invalid(`${name} is not a PEM certificate: ${reasonOf(error)}`);
    }
    return pem;
  };
  const certPem = certificate(cert, names.cert);
  if (typeof key !== "string" && !(key instanceof Uint8Array)) {
    throw invalid(`${names.key} must be PEM text (a string or bytes)`);
  }
  const keyPem = pemOf(key);
  try {
    createPrivateKey(keyPem);
  } catch (error) {
    throw invalid(`${names.key} is not an unencrypted PEM private key: ${reasonOf(error)}`);
  }
  const caPem = clientCa === undefined ? undefined : certificate(clientCa, names.clientCa);
  const contextOptions: tls.TlsOptions = {
    cert: certPem,
    key: keyPem,
    ...(caPem === undefined ? {} : { ca: caPem }),
  };
  try {
    tls.createSecureContext(contextOptions);
  } catch (error) {
    const reason = reasonOf(error);
    if (/key values mismatch/i.test(reason)) {
      throw invalid(`${names.key} is not the private key of the certificate in ${names.cert}`);
    }
    throw invalid(`${names.cert} and ${names.key} cannot be used together: ${reason}`);
  }
  return contextOptions;
}

/** Paths of the PEM files of `--tls-cert`, `--tls-key` and `--tls-client-ca`. */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly clientCa?: string;
}

/**
 * Reads and checks the PEM files the command line names.
 * @throws `invalid_value` naming the flag and the file that cannot be read or used.
 */
export function readTlsFiles(files: TlsFiles): BridgeServerTlsOptions {
  const names: TlsNames = {
    cert: `--tls-cert ${files.cert}`,
    key: `--tls-key ${files.key}`,
    clientCa: `--tls-client-ca ${files.clientCa ?? ""}`,
  };
  const read = (path: string, name: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new StateError("invalid_value", `${name}: cannot read the file: ${reasonOf(error)}`);
    }
  };
  const options: BridgeServerTlsOptions = {
    cert: read(files.cert, names.cert),
    key: read(files.key, names.key),
    ...(files.clientCa === undefined ? {} : { clientCa: read(files.clientCa, names.clientCa) }),
  };
  checkTlsOptions(options, names);
  return options;
}

/** Runs the TLS handshake of the connections a listener accepts. */
export interface TlsAcceptor {
  /**
   * Starts the handshake on an accepted TCP connection; `onSecure` gets the TLS socket once
   * the handshake is done (and the client's certificate verified, under mutual TLS). A failed
   * handshake closes the connection and is told to `onHandshakeFailed`.
   */
  accept(socket: net.Socket, onSecure: (secure: tls.TLSSocket) => void): void;
}

/** A connection's addresses, the same for the TCP socket and the TLS socket over it. */
function addressesOf(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}|${socket.localAddress}|${socket.localPort}`;
}

/**
 * Creates the TLS side of a listener: HTTP/2 (ALPN `h2`) and HTTP/1.1 over TLS, with client
 * certificates required and verified when `clientCa` is given. The handshake is Node's
 * `tls.Server`'s, run on connections the listener accepted itself, so that its connection
 * count and timers cover the handshake too.
 * @throws `invalid_value` for options {@link checkTlsOptions} refuses.
 */
export function createTlsAcceptor(
  options: BridgeServerTlsOptions,
  onHandshakeFailed: (error: Error) => void,
): TlsAcceptor {
  const mutual = options.clientCa !== undefined;
  const server = tls.createServer({
    ...checkTlsOptions(options),
    ALPNProtocols: ALPN_PROTOCOLS,
    requestCert: mutual,
    rejectUnauthorized: mutual,
  });
  const waiting = new Map<string, (secure: tls.TLSSocket) => void>();
  server.on("secureConnection", (secure: tls.TLSSocket) => {
    const key = addressesOf(secure);
    const onSecure = waiting.get(key);
    waiting.delete(key);
    if (onSecure === undefined) secure.destroy();
    else onSecure(secure);
  });
  server.on("tlsClientError", (error: Error, secure: tls.TLSSocket) => {
    onHandshakeFailed(error);
    secure.destroy();
  });
  return {
    accept(socket, onSecure) {
      if (socket.remoteAddress === undefined) {
        socket.destroy();
        return;
      }
      const key = addressesOf(socket);
      waiting.set(key, onSecure);
      socket.once("close", () => {
        if (waiting.get(key) === onSecure) waiting.delete(key);
      });
      // tls.Server's own connection listener wraps the socket and runs the handshake.
      server.emit("connection", socket);
    },
  };
}
