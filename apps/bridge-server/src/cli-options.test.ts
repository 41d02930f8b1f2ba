import { describe, expect, it } from "vitest";
import { parseCommandLine, UsageError, usage } from "./cli-options.js";

describe("parseCommandLine", () => {
  it("gives no options without flags, so that the server's defaults apply", () => {
    expect(parseCommandLine([], {})).toEqual({ kind: "serve", options: {}, logLevel: "info" });
  });

  it("reads every flag into the server's options", () => {
    const parsed = parseCommandLine(
      [
        "--host=0.0.0.0",
        "--port",
        "0",
        "--session-ttl",
        "60",
        "--max-sessions",
        "5",
        "--max-variables",
        "6",
        "--max-value-bytes",
        "7",
        "--max-request-bytes",
        "8",
        "--max-watchers",
        "9",
        "--history-size",
        "10",
        "--heartbeat-interval-ms",
        "250",
        "--watch-queue-limit",
        "11",
        "--shutdown-grace-ms",
        "0",
        "--token",
        "t",
        "--log-level",
        "debug",
      ],
      {},
    );
    expect(parsed).toEqual({
      kind: "serve",
      logLevel: "debug",
      options: {
        host: "0.0.0.0",
        port: 0,
        sessionTtlSeconds: 60,
        maxSessions: 5,
        maxVariablesPerSession: 6,
        maxValueBytes: 7,
        maxRequestBytes: 8,
        maxWatchersPerSession: 9,
        historySize: 10,
        heartbeatIntervalMs: 250,
        watchQueueLimit: 11,
        shutdownGraceMs: 0,
        token: "t",
      },
    });
  });

  it("reads the environment, and flags win over it", () => {
    const environment = {
      STATEBRIDGE_HOST: "::1",
      STATEBRIDGE_PORT: "6000",
      STATEBRIDGE_TOKEN: "from-env",
      STATEBRIDGE_LOG_LEVEL: "warn",
    };
    expect(parseCommandLine([], environment)).toEqual({
      kind: "serve",
      logLevel: "warn",
      options: { host: "::1", port: 6000, token: "from-env" },
    });
    const overridden = parseCommandLine(["--port", "7000", "--token", "from-flag"], environment);
    expect(overridden.kind === "serve" ? overridden.options : undefined).toMatchObject({
      port: 7000,
      token: "from-flag",
    });
  });

  it("refuses unknown flags, positionals and out-of-range values with a UsageError naming them", () => {
    const cases: [string[], NodeJS.ProcessEnv, string][] = [
      [["--bogus"], {}, "--bogus"],
      [["serve"], {}, "serve"],
      [["--port", "65536"], {}, "--port must be a whole number from 0 to 65535"],
      [["--port", "-1"], {}, "--port"],
      [["--session-ttl", "0"], {}, "--session-ttl must be a whole number at least 1"],
      [["--max-sessions", "1.5"], {}, "--max-sessions"],
      [["--log-level", "loud"], {}, "--log-level must be one of"],
      [[], { STATEBRIDGE_PORT: "http" }, "STATEBRIDGE_PORT must be a whole number"],
      [["--port"], {}, "--port"],
    ];
    for (const [argv, environment, message] of cases) {
      expect(() => parseCommandLine(argv, environment), argv.join(" ")).toThrow(UsageError);
      expect(() => parseCommandLine(argv, environment), argv.join(" ")).toThrow(message);
    }
  });

  it("reads --store and STATEBRIDGE_STORE (memory or a Redis URL), and refuses anything else", () => {
    const store = (argv: string[], environment: NodeJS.ProcessEnv = {}) => {
      const parsed = parseCommandLine(argv, environment);
      return parsed.kind === "serve" ? parsed.options.storeUrl : undefined;
    };
    expect(store([])).toBeUndefined();
    expect(store(["--store", "memory"])).toBe("memory");
    expect(store([], { STATEBRIDGE_STORE: "redis://127.0.0.1:6379/2" })).toBe("redis://127.0.0.1:6379/2");
    expect(store(["--store", "memory"], { STATEBRIDGE_STORE: "redis://127.0.0.1:6379/0" })).toBe("memory");
    const refused: [string[], NodeJS.ProcessEnv, string][] = [
      [
        ["--store", "postgres://db/1"],
        {},
        '--store must be memory or redis://host:port/db, got the scheme "postgres:"',
      ],
      [["--store", "redis"], {}, "--store must be memory or redis://host:port/db"],
      [["--store", "redis://127.0.0.1:6379/zero"], {}, "--store names the Redis database by number"],
      [[], { STATEBRIDGE_STORE: "Memory" }, "STATEBRIDGE_STORE must be memory or redis://host:port/db"],
    ];
    for (const [argv, environment, message] of refused) {
      expect(() => parseCommandLine(argv, environment), argv.join(" ")).toThrow(UsageError);
      expect(() => parseCommandLine(argv, environment), argv.join(" ")).toThrow(message);
    }
    expect(usage()).toContain("--store STORE");
  });

  it("answers --help and --version before reading anything else", () => {
    expect(parseCommandLine(["--help", "--port", "bad"], {})).toEqual({ kind: "help" });
    expect(parseCommandLine(["--version"], {})).toEqual({ kind: "version" });
    expect(usage()).toContain("--heartbeat-interval-ms MS");
  });
});
