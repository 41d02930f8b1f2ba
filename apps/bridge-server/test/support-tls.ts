// Throwaway certificates for TLS tests, made with the openssl command line: a CA, a server
// certificate for 127.0.0.1 and localhost, a client certificate, and a second CA with its own
// client certificate that the server does not trust.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The openssl binary, when the machine has one: Debian's package, or the first on PATH. */
export const OPENSSL: string | undefined = ["/usr/bin/openssl", ...pathCandidates()].find((path) =>
  existsSync(path),
);

/** Why TLS tests are skipped: undefined when openssl is there. */
export const TLS_SKIP_REASON: string | undefined =
  OPENSSL === undefined ? "needs the openssl command line to create test certificates" : undefined;

function pathCandidates(): string[] {
  return (process.env.PATH ?? "").split(":").map((directory) => join(directory, "openssl"));
}

/** A PEM certificate with its key, and where both are on disk. */
export interface CertifiedKey {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** Everything a TLS test needs, in a temporary directory removed by {@link TestCertificates.remove}. */
export interface TestCertificates {
  readonly directory: string;
  /** The CA that issued `server` and `client`. */
  readonly ca: CertifiedKey;
  /** For 127.0.0.1 and localhost. */
  readonly server: CertifiedKey;
  /** A client certificate `ca` issued. */
  readonly client: CertifiedKey;
  /** Another CA, which the server does not trust. */
  readonly otherCa: CertifiedKey;
  /** A client certificate `otherCa` issued. */
  readonly otherClient: CertifiedKey;
  remove(): void;
}

/** Creates the certificates with openssl (EC P-256, valid for two days). */
export function createTestCertificates(): TestCertificates {
  const openssl = OPENSSL;
  if (openssl === undefined) throw new Error(TLS_SKIP_REASON);
  const directory = mkdtempSync(join(tmpdir(), "statebridge-tls-"));
  const run = (args: string[]) => execFileSync(openssl, args, { cwd: directory, stdio: "pipe" });
  const read = (name: string): CertifiedKey => ({
    cert: readFileSync(join(directory, `${name}.pem`), "utf8"),
    key: readFileSync(join(directory, `${name}.key`), "utf8"),
    certFile: join(directory, `${name}.pem`),
    keyFile: join(directory, `${name}.key`),
  });
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const authority = (name: string) =>
    run([
      "req",
      "-x509",
      ...newKey,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=statebridge test ${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
  const issue = (name: string, issuer: string, commonName: string, extensions: string) => {
    writeFileSync(join(directory, `${name}.ext`), extensions);
    run(["req", ...newKey, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${commonName}`]);
    run([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${issuer}.pem`,
      "-CAkey",
      `${issuer}.key`,
      "-set_serial",
      String(Date.now() + Math.floor(Math.random() * 1_000_000)),
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.pem`,
    ]);
  };
  authority("ca");
  authority("other-ca");
  issue(
    "server",
    "ca",
    "localhost",
    "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
  );
  const clientExtensions = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n";
  issue("client", "ca", "statebridge test client", clientExtensions);
  issue("other-client", "other-ca", "statebridge untrusted client", clientExtensions);
  return {
    directory,
    ca: read("ca"),
    server: read("server"),
    client: read("client"),
    otherCa: read("other-ca"),
    otherClient: read("other-client"),
    remove: () => rmSync(directory, { recursive: true, force: true }),
  };
}
