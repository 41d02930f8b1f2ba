// TLS and mutual TLS: every transport kind reaches a server that serves TLS, a client that does
// not trust the server's CA or (under mutual TLS) has no certificate the server trusts is
// refused, and hostile handshakes (cleartext, garbage, a handshake that never finishes) are
// closed without taking the server down.
import * as tls from "node:tls";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { BridgeService } from "@statebridge/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BridgeServer, BridgeServerOptions } from "../src/index.js";
import { bearer } from "./support.js";
import { expectIdleConnectionClosed, initializeWithX, useTestConnections } from "./support-connections.js";
import { createTestCertificates, type TestCertificates, TLS_SKIP_REASON } from "./support-tls.mjs";

/** What a client brings to the handshake: the CA it trusts and, for mutual TLS, its certificate. */
interface ClientTls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

let certificates: TestCertificates;
const connections = useTestConnections();

beforeAll(() => {
  if (TLS_SKIP_REASON === undefined) certificates = createTestCertificates();
});
afterAll(() => certificates?.remove());

function start(options: BridgeServerOptions & { mutual?: boolean } = {}): Promise<BridgeServer> {
  const { mutual, ...rest } = options;
  return connections.start({
    tls: {
      cert: certificates.server.cert,
      key: certificates.server.key,
      ...(mutual === true ? { clientCa: certificates.ca.cert } : {}),
    },
    ...rest,
  });
}

/** Each transport kind, over TLS with `clientTls`. */
function transports(url: string, clientTls: ClientTls, token?: string): [string, Transport][] {
  const interceptors = token === undefined ? [] : [bearer(token)];
  const manager = () => connections.sessionManager(url, clientTls);
  const baseUrl = url;
  return [
    ["grpc direct", createGrpcTransport({ baseUrl, sessionManager: manager(), interceptors })],
    [
      "grpc gzip (connect)",
      createGrpcTransport({
        baseUrl,
        sessionManager: manager(),
        interceptors,
        sendCompression: compressionGzip,
        compressMinBytes: 0,
      }),
    ],
    [
      "connect http/2",
      createConnectTransport({ baseUrl, httpVersion: "2", sessionManager: manager(), interceptors }),
    ],
    [
      "connect http/1.1",
      createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: clientTls, interceptors }),
    ],
    [
      "grpc-web http/2",
      createGrpcWebTransport({ baseUrl, httpVersion: "2", sessionManager: manager(), interceptors }),
    ],
    [
      "grpc-web http/1.1",
      createGrpcWebTransport({ baseUrl, httpVersion: "1.1", nodeOptions: clientTls, interceptors }),
    ],
  ];
}

/** A session written and read back, and a watch that sees the write, on `transport`. */
async function roundTrip(transport: Transport, sessionId: string): Promise<void> {
  const client = createClient(BridgeService, transport);
  expect((await client.ping({ message: "over tls" })).message).toBe("over tls");
  await initializeWithX(client, sessionId);
  const got = await client.getVariable({ sessionId, identifier: "x" });
  expect(got.variable?.value?.kind).toEqual({ case: "integerValue", value: 1n });
}

/** The error a call on `transport` fails with. */
async function failureOf(transport: Transport): Promise<ConnectError> {
  const error = await createClient(BridgeService, transport)
    .ping({ message: "refused?" }, { timeoutMs: 5_000 })
    .then(
      () => undefined,
      (reason: unknown) => ConnectError.from(reason),
    );
  if (error === undefined) throw new Error("the call succeeded");
  return error;
}

const connectTcp = connections.connectTcp;

describe.skipIf(TLS_SKIP_REASON !== undefined)("a server with TLS", () => {
  it("serves https:// and every transport kind that trusts its CA", async () => {
    const { url } = await start();
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    for (const [name, transport] of transports(url, { ca: certificates.ca.cert })) {
      await roundTrip(transport, `tls-${name.replace(/\W+/g, "-")}`);
    }
  });

  it("offers HTTP/2 by ALPN h2 and HTTP/1.1 on the same port", async () => {
    const { port } = await start();
    for (const [offered, chosen] of [
      [["h2", "http/1.1"], "h2"],
      [["http/1.1"], "http/1.1"],
    ] as const) {
      const socket = connections.track(
        tls.connect({ port, host: "127.0.0.1", ca: certificates.ca.cert, ALPNProtocols: [...offered] }),
      );
      await new Promise<void>((resolve, reject) => {
        socket.once("secureConnect", resolve);
        socket.once("error", reject);
      });
      expect(socket.alpnProtocol).toBe(chosen);
      socket.destroy();
    }
  });

  it("checks the token over TLS on HTTP/2 and HTTP/1.1 alike", async () => {
    const { url } = await start({ token: "secret" });
    for (const [name, transport] of transports(url, { ca: certificates.ca.cert })) {
      expect((await failureOf(transport)).code, name).toBe(Code.Unauthenticated);
    }
    for (const [name, transport] of transports(url, { ca: certificates.ca.cert }, "secret")) {
      await roundTrip(transport, `tls-token-${name.replace(/\W+/g, "-")}`);
    }
  });

  it("refuses a client that does not trust its CA, and goes on serving", async () => {
    const { url } = await start();
    for (const [name, transport] of transports(url, { ca: certificates.otherCa.cert })) {
      expect((await failureOf(transport)).message, name).toMatch(/unable to verify the first certificate/);
    }
    await roundTrip(transports(url, { ca: certificates.ca.cert })[0]?.[1] as Transport, "tls-after-distrust");
  });

  it("fails a cleartext client cleanly, and goes on serving", async () => {
    const { url, port } = await start();
    const cleartext = `http://127.0.0.1:${port}`;
    const grpc = connections.sessionManager(cleartext);
    for (const transport of [
      createGrpcTransport({ baseUrl: cleartext, sessionManager: grpc }),
      createConnectTransport({ baseUrl: cleartext, httpVersion: "1.1" }),
    ]) {
      // The server answers a ClientHello-less connection with a TLS alert and closes it.
      expect([Code.Canceled, Code.Aborted, Code.Unavailable, Code.Internal]).toContain(
        (await failureOf(transport)).code,
      );
    }
    await roundTrip(
      transports(url, { ca: certificates.ca.cert })[0]?.[1] as Transport,
      "tls-after-cleartext",
    );
  });

  it("closes a connection that sends garbage instead of a handshake, and goes on serving", async () => {
    const { url } = await start();
    const { socket, closed } = await connectTcp(url);
    socket.write(Buffer.from("\x16\x03\x01\x00\x05hello, this is not TLS at all\r\n\r\n", "latin1"));
    await closed;
    await roundTrip(transports(url, { ca: certificates.ca.cert })[0]?.[1] as Transport, "tls-after-garbage");
  });

  it("closes a connection whose handshake never finishes by the headers timeout", async () => {
    const { url } = await start({ headersTimeoutMs: 150 });
    // A TLS record header that announces a ClientHello of 512 bytes, and then silence.
    const stalled = await connectTcp(url);
    stalled.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    const silent = await connectTcp(url);
    await Promise.all([stalled.closed, silent.closed]);
    await roundTrip(transports(url, { ca: certificates.ca.cert })[0]?.[1] as Transport, "tls-after-stall");
  });

  it("closes a connection that finishes the handshake but sends no request by the headers timeout", async () => {
    const { port } = await start({ headersTimeoutMs: 150 });
    const socket = connections.track(
      tls.connect({ port, host: "127.0.0.1", ca: certificates.ca.cert, ALPNProtocols: ["h2"] }),
    );
    socket.on("error", () => {});
    socket.resume();
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    await new Promise<void>((resolve) => socket.once("secureConnect", () => resolve()));
    await closed;
  });
});

describe.skipIf(TLS_SKIP_REASON !== undefined)("the connection limits over TLS", () => {
  it("closes a new connection past maxConnections before its handshake", async () => {
    const { url } = await start({ maxConnections: 1 });
    const first = await connectTcp(url);
    const second = await connectTcp(url);
    await second.closed;
    first.socket.destroy();
    await first.closed;
    const client = createClient(
      BridgeService,
      transports(url, { ca: certificates.ca.cert })[0]?.[1] as Transport,
    );
    const answered = () =>
      client.ping({ message: "freed" }).then(
        () => true,
        () => false,
      );
    await expect.poll(answered).toBe(true);
  });

  it("closes an HTTP/2 connection over TLS left idle after its calls", async () => {
    const { url } = await start({ idleTimeoutMs: 150 });
    await expectIdleConnectionClosed(url, { ca: certificates.ca.cert });
  });
});

describe.skipIf(TLS_SKIP_REASON !== undefined)("a server with mutual TLS", () => {
  it("serves every transport kind whose client certificate its CA issued", async () => {
    const { url } = await start({ mutual: true });
    const clientTls = {
      ca: certificates.ca.cert,
      cert: certificates.client.cert,
      key: certificates.client.key,
    };
    for (const [name, transport] of transports(url, clientTls)) {
      await roundTrip(transport, `mtls-${name.replace(/\W+/g, "-")}`);
    }
  });

  it("refuses a client without a certificate, on every transport kind", async () => {
    const { url } = await start({ mutual: true });
    for (const [name, transport] of transports(url, { ca: certificates.ca.cert })) {
      // TLS 1.3's alert 116, which every client reports as it comes.
      expect((await failureOf(transport)).message, name).toMatch(/alert certificate required/);
    }
  });

  it("refuses a client whose certificate another CA issued, and goes on serving", async () => {
    const { url } = await start({ mutual: true });
    const untrusted = {
      ca: certificates.ca.cert,
      cert: certificates.otherClient.cert,
      key: certificates.otherClient.key,
    };
    // Node verifies a client's certificate after the handshake and closes the connection
    // without an alert: HTTP/2 clients see their stream cancelled, HTTP/1.1 clients a hang-up.
    for (const [name, transport] of transports(url, untrusted)) {
      expect([Code.Canceled, Code.Aborted, Code.Unavailable], name).toContain(
        (await failureOf(transport)).code,
      );
    }
    const trusted = {
      ca: certificates.ca.cert,
      cert: certificates.client.cert,
      key: certificates.client.key,
    };
    await roundTrip(transports(url, trusted)[0]?.[1] as Transport, "mtls-after-untrusted");
  });
});
