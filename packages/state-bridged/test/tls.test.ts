// BridgedState over TLS: an https:// URL with a private CA, a client certificate for mutual
// TLS, and the errors a caller gets when the server's certificate is not trusted or the
// server wants a certificate the caller lacks.
import { type BridgeServer, createBridgeServer } from "@statebridge/bridge-server";
import { isStateError, StateError } from "@statebridge/state-provider";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createTestCertificates,
  type TestCertificates,
  TLS_SKIP_REASON,
} from "../../../apps/bridge-server/test/support-tls.mjs";
import { type BridgedStateOptions, type BridgedStateProvider, createBridgedState } from "../src/index.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";

let certificates: TestCertificates;
const servers: BridgeServer[] = [];
const processes: ServerProcess[] = [];
const providers: BridgedStateProvider[] = [];

beforeAll(() => {
  if (TLS_SKIP_REASON === undefined) certificates = createTestCertificates();
});
afterAll(() => certificates?.remove());
afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
  await Promise.all(processes.splice(0).map((child) => child.stop()));
});

async function startTls(mutual: boolean): Promise<BridgeServer> {
  const server = await createBridgeServer({
    host: "127.0.0.1",
    port: 0,
    shutdownGraceMs: 100,
    tls: {
      cert: certificates.server.cert,
      key: certificates.server.key,
      ...(mutual ? { clientCa: certificates.ca.cert } : {}),
    },
  });
  servers.push(server);
  return server;
}

async function open(options: BridgedStateOptions): Promise<BridgedStateProvider> {
  const provider = await createBridgedState({ deadlineMs: 2_000, ...options });
  providers.push(provider);
  return provider;
}

async function failureOf(options: BridgedStateOptions): Promise<StateError> {
  const outcome = await open(options).then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!isStateError(outcome)) throw new Error(`expected a StateError, got ${String(outcome)}`);
  return outcome;
}

/** Writes, reads back, and watches a change arrive: unary calls and a watch stream over TLS. */
async function exercise(provider: BridgedStateProvider): Promise<void> {
  await provider.register("temperature", "float", 20.5);
  const seen: unknown[] = [];
  const handle = await provider.watch(["temperature"], (event) => {
    seen.push(event.newValue);
  });
  await provider.set("temperature", 21.5);
  expect(await provider.get("temperature")).toBe(21.5);
  await expect.poll(() => seen).toContain(21.5);
  await handle.close();
}

describe.skipIf(TLS_SKIP_REASON !== undefined)("BridgedState over TLS", () => {
  it("calls and watches a server at an https:// URL whose CA it is given", async () => {
    const server = await startTls(false);
    for (const streams of ["multiplexed", "per-watch"] as const) {
      await exercise(await open({ url: server.url, tls: { ca: certificates.ca.cert }, watch: { streams } }));
    }
  });

  it("presents its client certificate to a server that requires one (mutual TLS)", async () => {
    const server = await startTls(true);
    const { ca, client } = certificates;
    await exercise(await open({ url: server.url, tls: { ca: ca.cert, cert: client.cert, key: client.key } }));
  });

  it("reaches a server started with --tls-cert, --tls-key and --tls-client-ca", async () => {
    const { ca, server, client } = certificates;
    const child = await startServerProcess([
      "--tls-cert",
      server.certFile,
      "--tls-key",
      server.keyFile,
      "--tls-client-ca",
      ca.certFile,
    ]);
    processes.push(child);
    expect(child.url).toMatch(/^https:\/\//);
    await exercise(await open({ url: child.url, tls: { ca: ca.cert, cert: client.cert, key: client.key } }));
  });

  it("fails with unavailable naming the certificate when it does not trust the server's CA", async () => {
    const server = await startTls(false);
    const error = await failureOf({ url: server.url, tls: { ca: certificates.otherCa.cert } });
    expect(error.code).toBe("unavailable");
    expect(error.message).toMatch(/unable to verify the first certificate/);
  });

  it("fails with unavailable naming the missing certificate when mutual TLS wants one", async () => {
    const server = await startTls(true);
    const error = await failureOf({ url: server.url, tls: { ca: certificates.ca.cert } });
    expect(error.code).toBe("unavailable");
    expect(error.message).toMatch(/certificate required/);
  });

  it("refuses TLS options it cannot use with invalid_value, before connecting", async () => {
    const { ca, client } = certificates;
    const cases: [BridgedStateOptions, RegExp][] = [
      [{ url: "http://127.0.0.1:1", tls: { ca: ca.cert } }, /tls is for https:\/\/ URLs/],
      [{ url: "https://127.0.0.1:1", tls: { cert: client.cert } }, /tls.key is missing/],
      [{ url: "https://127.0.0.1:1", tls: { key: client.key } }, /tls.cert is missing/],
      [
        { url: "https://127.0.0.1:1", tls: { ca: "not pem" } },
        /^invalid_value: tls.ca is not a PEM certificate: /,
      ],
      [
        { url: "https://127.0.0.1:1", tls: { cert: client.cert, key: ca.key } },
        /tls.key is not the private key of tls.cert/,
      ],
    ];
    for (const [options, message] of cases) {
      const error = await failureOf(options);
      expect(error.code).toBe("invalid_value");
      expect(error.message).toMatch(message);
    }
  });
});

describe("BridgedState TLS options", () => {
  it("are refused with a cleartext URL, whether openssl is there or not", async () => {
    await expect(createBridgedState({ url: "127.0.0.1:1", tls: {} })).rejects.toThrow(
      new StateError("invalid_value", "tls is for https:// URLs, and the url is http://127.0.0.1:1"),
    );
  });
});
