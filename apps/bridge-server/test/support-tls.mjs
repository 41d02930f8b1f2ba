// Throwaway certificates for TLS tests, made with the openssl command line: a CA, a server
// certificate for 127.0.0.1 and localhost, a client certificate, and a second CA with its own
// client certificate that the server does not trust. Plain JavaScript (typed by
// support-tls.d.mts) so that other packages' tests can import it too.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const OPENSSL = [
  "/usr/bin/openssl",
  ...(process.env.PATH ?? "").split(":").map((directory) => join(directory, "openssl")),
].find((path) => existsSync(path));

export const TLS_SKIP_REASON =
  OPENSSL === undefined ? "needs the openssl command line to create test certificates" : undefined;

export function createTestCertificates() {
  const openssl = OPENSSL;
  if (openssl === undefined) throw new Error(TLS_SKIP_REASON);
  const directory = mkdtempSync(join(tmpdir(), "statebridge-tls-"));
  const run = (args) => execFileSync(openssl, args, { cwd: directory, stdio: "pipe" });
  const read = (name) => ({
    cert: readFileSync(join(directory, `${name}.pem`), "utf8"),
    key: readFileSync(join(directory, `${name}.key`), "utf8"),
    certFile: join(directory, `${name}.pem`),
    keyFile: join(directory, `${name}.key`),
  });
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const authority = (name) =>
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
  const issue = (name, issuer, commonName, extensions) => {
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
