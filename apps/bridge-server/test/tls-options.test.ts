// TLS settings that cannot work stop the start with an error naming the option, or the flag and
// its file, before anything listens.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isStateError } from "@statebridge/state-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCommandLine, UsageError } from "../src/cli-options.js";
import { type BridgeServerTlsOptions, createBridgeServer } from "../src/index.js";
import { createTestCertificates, type TestCertificates, TLS_SKIP_REASON } from "./support-tls.mjs";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

let certificates: TestCertificates;
beforeAll(() => {
  if (TLS_SKIP_REASON === undefined) certificates = createTestCertificates();
});
afterAll(() => certificates?.remove());

async function startFailure(tls: BridgeServerTlsOptions): Promise<string> {
  const started = await createBridgeServer({ host: "127.0.0.1", port: 0, tls }).then(
    async (server) => {
      await server.close();
      return undefined;
    },
    (error: unknown) => error,
  );
  if (!isStateError(started, "invalid_value"))
    throw new Error(`expected invalid_value, got ${String(started)}`);
  return started.message;
}

/** The UsageError's message for a command line, or a failure if it parses. */
function usageErrorOf(argv: string[]): string {
  try {
    parseCommandLine(argv, {});
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error(`${argv.join(" ")} was accepted`);
}

describe.skipIf(TLS_SKIP_REASON !== undefined)("TLS options of createBridgeServer", () => {
  it("refuses a key that is not the certificate's, naming tls.key", async () => {
    expect(await startFailure({ cert: certificates.server.cert, key: certificates.client.key })).toBe(
      "invalid_value: tls.key is not the private key of the certificate in tls.cert",
    );
  });

  it("refuses a certificate or key that is not PEM, naming which", async () => {
    expect(await startFailure({ cert: "not a certificate", key: certificates.server.key })).toMatch(
      /^invalid_value: tls\.cert is not a PEM certificate: /,
    );
    expect(await startFailure({ cert: certificates.server.cert, key: "not a key" })).toMatch(
      /^invalid_value: tls\.key is not an unencrypted PEM private key: /,
    );
    expect(
      await startFailure({
        cert: certificates.server.cert,
        key: certificates.server.key,
        clientCa: "garbage",
      }),
    ).toMatch(/^invalid_value: tls\.clientCa is not a PEM certificate: /);
  });

  it("refuses a certificate without its key", async () => {
    expect(await startFailure({ cert: certificates.server.cert } as unknown as BridgeServerTlsOptions)).toBe(
      "invalid_value: tls.key is missing: TLS needs a certificate and its private key",
    );
  });

  it("takes PEM as bytes as well as text", async () => {
    const server = await createBridgeServer({
      host: "127.0.0.1",
      port: 0,
      tls: {
        cert: Buffer.from(certificates.server.cert),
        key: new TextEncoder().encode(certificates.server.key),
      },
    });
    expect(server.url).toMatch(/^https:/);
    await server.close();
  });
});

describe.skipIf(TLS_SKIP_REASON !== undefined)("the TLS flags", () => {
  it("read the PEM files into the server's TLS options", () => {
    const commandLine = parseCommandLine(
      [
        "--tls-cert",
        certificates.server.certFile,
        "--tls-key",
        certificates.server.keyFile,
        "--tls-client-ca",
        certificates.ca.certFile,
      ],
      {},
    );
    if (commandLine.kind !== "serve") throw new Error("expected serve");
    expect(String(commandLine.options.tls?.cert)).toBe(certificates.server.cert);
    expect(String(commandLine.options.tls?.clientCa)).toBe(certificates.ca.cert);
  });

  it("name the flag and the file that cannot be read or used", () => {
    const missing = join(certificates.directory, "missing.pem");
    expect(usageErrorOf(["--tls-cert", missing, "--tls-key", certificates.server.keyFile])).toMatch(
      new RegExp(`^--tls-cert ${missing}: cannot read the file: ENOENT`),
    );
    const garbage = join(certificates.directory, "garbage.pem");
    writeFileSync(garbage, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
    expect(usageErrorOf(["--tls-cert", garbage, "--tls-key", certificates.server.keyFile])).toMatch(
      new RegExp(`^--tls-cert ${garbage} is not a PEM certificate: `),
    );
    expect(
      usageErrorOf(["--tls-cert", certificates.server.certFile, "--tls-key", certificates.client.keyFile]),
    ).toBe(
      `--tls-key ${certificates.client.keyFile} is not the private key of the certificate in --tls-cert ${certificates.server.certFile}`,
    );
  });

  it("go together: a certificate needs its key, and mutual TLS needs both", () => {
    expect(usageErrorOf(["--tls-cert", certificates.server.certFile])).toBe(
      "--tls-cert and --tls-key go together: --tls-key is missing",
    );
    expect(usageErrorOf(["--tls-key", certificates.server.keyFile])).toBe(
      "--tls-cert and --tls-key go together: --tls-cert is missing",
    );
    expect(usageErrorOf(["--tls-client-ca", certificates.ca.certFile])).toBe(
      "--tls-client-ca needs --tls-cert and --tls-key: mutual TLS runs over TLS",
    );
  });

  it("are read from STATEBRIDGE_TLS_* when not given", () => {
    const commandLine = parseCommandLine([], {
      STATEBRIDGE_TLS_CERT: certificates.server.certFile,
      STATEBRIDGE_TLS_KEY: certificates.server.keyFile,
    });
    if (commandLine.kind !== "serve") throw new Error("expected serve");
    expect(commandLine.options.tls?.clientCa).toBeUndefined();
    expect(String(commandLine.options.tls?.key)).toBe(certificates.server.key);
  });

  it("stop the CLI with exit code 2 and the file named when a file is missing", () => {
    const missing = join(certificates.directory, "nowhere.key");
    const result = spawnSync(
      process.execPath,
      [CLI, "--port", "0", "--tls-cert", certificates.server.certFile, "--tls-key", missing],
      { encoding: "utf8", timeout: 20_000 },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`bridge-server: --tls-key ${missing}: cannot read the file: ENOENT`);
  });
});
