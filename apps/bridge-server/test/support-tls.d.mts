/** The openssl binary, when the machine has one: Debian's package, or the first on PATH. */
export const OPENSSL: string | undefined;

/** Why TLS tests are skipped: undefined when openssl is there. */
export const TLS_SKIP_REASON: string | undefined;

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
export function createTestCertificates(): TestCertificates;
