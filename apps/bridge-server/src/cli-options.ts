import { parseArgs } from "node:util";
import { isStateError } from "@statebridge/state-provider";
import { BRIDGE_SERVER_DEFAULTS, type BridgeServerOptions } from "./bridge-server.js";
import { parseCorsOrigin } from "./cors.js";
import { checkStoreLocation } from "./store-factory.js";
import { readTlsFiles } from "./tls.js";

/** The log levels of `--log-level`, pino's. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What the command line asks for. */
export type CommandLine =
  | { readonly kind: "serve"; readonly options: BridgeServerOptions; readonly logLevel: LogLevel }
  | { readonly kind: "help" }
  | { readonly kind: "version" };

/** A command line that cannot be run as written; the CLI prints the message and exits with 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Every flag: name, value placeholder (none for switches), environment variable, description. */
const FLAGS = [
  ["host", "ADDRESS", "STATEBRIDGE_HOST", `interface to listen on (default ${BRIDGE_SERVER_DEFAULTS.host})`],
  [
    "port",
    "PORT",
    "STATEBRIDGE_PORT",
    `port to listen on; 0 picks a free one (default ${BRIDGE_SERVER_DEFAULTS.port})`,
  ],
  [
    "store",
    "STORE",
    "STATEBRIDGE_STORE",
    "where sessions live: memory, or redis://host:port/db shared by bridge-servers and kept across restarts (default memory)",
  ],
  ["session-ttl", "SECONDS", undefined, "sliding session TTL (default 3600)"],
  ["max-sessions", "N", undefined, "most sessions at once (default 10000)"],
  ["max-variables", "N", undefined, "most variables per session (default 100000)"],
  ["max-value-bytes", "BYTES", undefined, "largest value in bytes of its wire form (default 67108864)"],
  ["max-request-bytes", "BYTES", undefined, "largest request message (default 67108864)"],
  [
    "max-decompressing-bytes",
    "BYTES",
    undefined,
    "bytes all compressed requests being decompressed at once may inflate to (default twice --max-request-bytes)",
  ],
  ["max-watchers", "N", undefined, "most watchers per session (default 100000)"],
  ["history-size", "N", undefined, "changes kept per session for resuming watches (default 1000)"],
  [
    "history-bytes",
    "BYTES",
    undefined,
    "bytes of changes kept per session for resuming watches (default 67108864)",
  ],
  [
    "max-memory-bytes",
    "BYTES",
    undefined,
    "bytes of values all sessions hold together; writes past it are refused (default: half the heap limit)",
  ],
  [
    "heartbeat-interval-ms",
    "MS",
    undefined,
    `watch heartbeat interval when the client asks for none (default ${BRIDGE_SERVER_DEFAULTS.heartbeatIntervalMs})`,
  ],
  [
    "watch-queue-limit",
    "N",
    undefined,
    `messages a watch stream may hold for a slow consumer (default ${BRIDGE_SERVER_DEFAULTS.watchQueueLimit})`,
  ],
  [
    "watch-queue-bytes",
    "BYTES",
    undefined,
    `bytes a watch stream may hold for a slow consumer (default ${BRIDGE_SERVER_DEFAULTS.watchQueueBytes})`,
  ],
  [
    "shutdown-grace-ms",
    "MS",
    undefined,
    `time open calls get to finish at shutdown (default ${BRIDGE_SERVER_DEFAULTS.shutdownGraceMs})`,
  ],
  ["token", "TOKEN", "STATEBRIDGE_TOKEN", "bearer token every call but health must present (default: none)"],
  [
    "allowed-host",
    "NAME",
    "STATEBRIDGE_ALLOWED_HOSTS",
    "Host name served without a token besides IPs, localhost, --host; repeatable, .domain, * (default: none)",
  ],
  [
    "tls-cert",
    "FILE",
    "STATEBRIDGE_TLS_CERT",
    "serve TLS with this PEM certificate chain (default: cleartext)",
  ],
  ["tls-key", "FILE", "STATEBRIDGE_TLS_KEY", "the PEM private key of --tls-cert"],
  [
    "tls-client-ca",
    "FILE",
    "STATEBRIDGE_TLS_CLIENT_CA",
    "require client certificates issued by these PEM CAs: mutual TLS (default: none asked)",
  ],
  [
    "headers-timeout-ms",
    "MS",
    undefined,
    `a connection that has not sent a request's headers in time is closed (default ${BRIDGE_SERVER_DEFAULTS.headersTimeoutMs})`,
  ],
  [
    "idle-timeout-ms",
    "MS",
    undefined,
    `a connection with no open call or stream for this long is closed (default ${BRIDGE_SERVER_DEFAULTS.idleTimeoutMs})`,
  ],
  [
    "max-connections",
    "N",
    undefined,
    "connections open at once; past it new ones are closed at once (default 10000, or the open-file limit minus 64 if lower)",
  ],
  [
    "reflection",
    undefined,
    undefined,
    "serve gRPC server reflection, for buf curl and grpcurl without a local schema (default: on)",
  ],
  ["no-reflection", undefined, undefined, "do not serve gRPC server reflection"],
  [
    "cors-origin",
    "ORIGIN",
    "STATEBRIDGE_CORS_ORIGINS",
    "let web pages of this origin (https://app.example.com) call; repeatable, * for any (default: none)",
  ],
  [
    "cors-max-age",
    "SECONDS",
    undefined,
    `how long browsers may cache a CORS preflight answer (default ${BRIDGE_SERVER_DEFAULTS.corsMaxAgeSeconds})`,
  ],
  [
    "inspector",
    undefined,
    "STATEBRIDGE_INSPECTOR",
    "serve the inspector web page at /inspect and the ListSessions RPC it uses (default: off)",
  ],
  [
    "metrics-port",
    "PORT",
    "STATEBRIDGE_METRICS_PORT",
    "serve Prometheus metrics at GET /metrics on this port, apart from the API and its token (default: off)",
  ],
  ["metrics-host", "ADDRESS", "STATEBRIDGE_METRICS_HOST", "interface of the metrics port (default: --host)"],
  [
    "log-level",
    "LEVEL",
    "STATEBRIDGE_LOG_LEVEL",
    `${LOG_LEVELS.join(", ")} (default info; debug adds the access log)`,
  ],
  ["help", undefined, undefined, "print this help and exit"],
  ["version", undefined, undefined, "print the version and exit"],
] as const;

/** Flags that may be given more than once. */
const REPEATABLE: ReadonlySet<string> = new Set(["allowed-host", "cors-origin"]);

/** The `--help` text. */
export function usage(): string {
  const lines = [
    "Usage: bridge-server [flags]",
    "",
    "Serves statebridge sessions over gRPC, Connect and gRPC-Web.",
    "",
  ];
  for (const [name, placeholder, variable, description] of FLAGS) {
    const flag = placeholder === undefined ? `--${name}` : `--${name} ${placeholder}`;
    lines.push(`  ${flag.padEnd(30)}${description}${variable === undefined ? "" : ` [${variable}]`}`);
  }
  lines.push("", "Flags win over environment variables. Logs are JSON lines on stderr.");
  return `${lines.join("\n")}\n`;
}

/**
 * Reads the command line and the environment.
 * @throws {@link UsageError} for an unknown flag, a positional argument, or a value out of range.
 */
export function parseCommandLine(argv: readonly string[], environment: NodeJS.ProcessEnv): CommandLine {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: Object.fromEntries(
        FLAGS.map(([name, placeholder]) => [
          name,
          { type: placeholder === undefined ? "boolean" : "string", multiple: REPEATABLE.has(name) },
        ]),
      ) as Record<string, { type: "string" | "boolean"; multiple: boolean }>,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) return { kind: "help" };
  if (values.version === true) return { kind: "version" };

  const text = (name: string, variable?: string): string | undefined => {
    const flag = values[name];
    if (typeof flag === "string") return flag;
    const fromEnvironment = variable === undefined ? undefined : environment[variable];
    return fromEnvironment === undefined || fromEnvironment === "" ? undefined : fromEnvironment;
  };
  const integer = (name: string, minimum: number, maximum = Number.MAX_SAFE_INTEGER, variable?: string) => {
    const raw = text(name, variable);
    if (raw === undefined) return undefined;
    const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < minimum || value > maximum) {
      const source = typeof values[name] === "string" ? `--${name}` : variable;
      const range =
        maximum === Number.MAX_SAFE_INTEGER ? `at least ${minimum}` : `from ${minimum} to ${maximum}`;
      throw new UsageError(`${source} must be a whole number ${range}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };

  const logLevel = text("log-level", "STATEBRIDGE_LOG_LEVEL") ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new UsageError(
      `--log-level must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(logLevel)}`,
    );
  }
  const host = text("host", "STATEBRIDGE_HOST");
  const entries: [keyof BridgeServerOptions, string | number | undefined][] = [
    ["host", host],
    ["port", integer("port", 0, 65_535, "STATEBRIDGE_PORT")],
    ["storeUrl", storeLocation(text("store", "STATEBRIDGE_STORE"), typeof values.store === "string")],
    ["sessionTtlSeconds", integer("session-ttl", 1)],
    ["maxSessions", integer("max-sessions", 1)],
    ["maxVariablesPerSession", integer("max-variables", 1)],
    ["maxValueBytes", integer("max-value-bytes", 1)],
    ["maxRequestBytes", integer("max-request-bytes", 1, 2 ** 32 - 1)],
    ["maxDecompressingBytes", integer("max-decompressing-bytes", 1, Number.MAX_SAFE_INTEGER)],
    ["maxWatchersPerSession", integer("max-watchers", 1)],
    ["historySize", integer("history-size", 1)],
    ["historyBytes", integer("history-bytes", 1)],
    ["maxMemoryBytes", integer("max-memory-bytes", 1)],
    ["heartbeatIntervalMs", integer("heartbeat-interval-ms", 10)],
    ["watchQueueLimit", integer("watch-queue-limit", 1)],
    ["watchQueueBytes", integer("watch-queue-bytes", 1)],
    ["shutdownGraceMs", integer("shutdown-grace-ms", 0)],
    ["token", text("token", "STATEBRIDGE_TOKEN")],
    ["headersTimeoutMs", integer("headers-timeout-ms", 1)],
    ["idleTimeoutMs", integer("idle-timeout-ms", 1)],
    ["maxConnections", integer("max-connections", 1)],
    ["metricsPort", integer("metrics-port", 0, 65_535, "STATEBRIDGE_METRICS_PORT")],
    ["metricsHost", text("metrics-host", "STATEBRIDGE_METRICS_HOST")],
    ["corsMaxAgeSeconds", integer("cors-max-age", 0, 86_400)],
  ];
  const options: Record<string, string | number | string[]> = {};
  for (const [key, value] of entries) if (value !== undefined) options[key] = value;
  const inspectorFromEnvironment = environment.STATEBRIDGE_INSPECTOR;
  if (values.inspector === true || inspectorFromEnvironment === "1" || inspectorFromEnvironment === "true") {
    (options as Record<string, unknown>).inspector = true;
  }
  const allowedHosts = values["allowed-host"];
  const allowedFromEnvironment = environment.STATEBRIDGE_ALLOWED_HOSTS;
  if (Array.isArray(allowedHosts)) options.allowedHosts = allowedHosts.map(String);
  else if (allowedFromEnvironment !== undefined && allowedFromEnvironment !== "") {
    options.allowedHosts = allowedFromEnvironment.split(",").map((name) => name.trim());
  }
  if (values.reflection === true && values["no-reflection"] === true) {
    throw new UsageError("--reflection and --no-reflection contradict each other: give one");
  }
  if (values["no-reflection"] === true) (options as Record<string, unknown>).reflection = false;
  const corsOrigins = corsOriginsOf(values["cors-origin"], environment.STATEBRIDGE_CORS_ORIGINS);
  if (corsOrigins !== undefined) options.corsOrigins = corsOrigins;
  const tls = tlsOf(
    text("tls-cert", "STATEBRIDGE_TLS_CERT"),
    text("tls-key", "STATEBRIDGE_TLS_KEY"),
    text("tls-client-ca", "STATEBRIDGE_TLS_CLIENT_CA"),
  );
  return {
    kind: "serve",
    options: { ...(options as BridgeServerOptions), ...(tls === undefined ? {} : { tls }) },
    logLevel: logLevel as LogLevel,
  };
}

/** Reads `--cors-origin` (repeated) or `STATEBRIDGE_CORS_ORIGINS` (comma-separated), each checked. */
function corsOriginsOf(
  flags: string | boolean | (string | boolean)[] | undefined,
  fromEnvironment: string | undefined,
): string[] | undefined {
  let origins: string[];
  let source: string;
  if (Array.isArray(flags)) {
    origins = flags.map(String);
    source = "--cors-origin";
  } else if (fromEnvironment !== undefined && fromEnvironment !== "") {
    origins = fromEnvironment.split(",");
    source = "STATEBRIDGE_CORS_ORIGINS";
  } else return undefined;
  return origins.map((origin) => {
    try {
      return parseCorsOrigin(origin);
    } catch (error) {
      throw new UsageError(`${source}: ${isStateError(error) ? error.rawMessage : String(error)}`);
    }
  });
}

/** Reads the TLS files of the command line: a certificate and its key go together, and mutual TLS needs both. */
function tlsOf(
  cert: string | undefined,
  key: string | undefined,
  clientCa: string | undefined,
): BridgeServerOptions["tls"] {
  if (cert === undefined && key === undefined) {
    if (clientCa !== undefined) {
      throw new UsageError("--tls-client-ca needs --tls-cert and --tls-key: mutual TLS runs over TLS");
    }
    return undefined;
  }
  if (cert === undefined || key === undefined) {
    throw new UsageError(
      `--tls-cert and --tls-key go together: ${cert === undefined ? "--tls-cert" : "--tls-key"} is missing`,
    );
  }
  try {
    return readTlsFiles({ cert, key, ...(clientCa === undefined ? {} : { clientCa }) });
  } catch (error) {
    throw new UsageError(isStateError(error) ? error.rawMessage : String(error));
  }
}

/** `--store` / `STATEBRIDGE_STORE`, checked. @throws {@link UsageError} for one that is malformed. */
function storeLocation(location: string | undefined, fromFlag: boolean): string | undefined {
  if (location === undefined) return undefined;
  const problem = checkStoreLocation(location);
  if (problem !== undefined) throw new UsageError(`${fromFlag ? "--store" : "STATEBRIDGE_STORE"} ${problem}`);
  return location;
}
