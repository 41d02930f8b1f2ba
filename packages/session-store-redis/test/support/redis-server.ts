import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Append-only file on (`yes`) or off. Default off: nothing survives a restart. */
  readonly appendonly?: boolean;
  /** `always`, `everysec` or `no`, when `appendonly` is on. Default `everysec`. */
  readonly appendfsync?: "always" | "everysec" | "no";
}

/** A `redis-server` child process on a free loopback port, with its data in a temp dir. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Stops it (SIGTERM, then SIGKILL) and removes its directory. */
  stop(): Promise<void>;
  /** Kills it with SIGKILL, as a crash; its directory is kept for {@link RedisServer.restart}. */
  kill9(): Promise<void>;
  /** Starts it again on the same port and directory (after `kill9`), and waits until it answers. */
  restart(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open and nothing answers, as a hung server. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
}

const CANDIDATES = ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server"];

/**
 * The `redis-server` binary, or `undefined` when the machine has none (`scripts/redis-setup.sh`
 * installs Debian's). Tests skip with {@link REDIS_MISSING} then.
 */
export const redisServerBinary: string | undefined =
  CANDIDATES.find((path) => existsSync(path)) ??
  (() => {
    const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" });
    const path = found.stdout.trim();
    return found.status === 0 && path !== "" ? path : undefined;
  })();

/** The capability a skipped test names. */
export const REDIS_MISSING = "needs redis-server (Debian's redis-server 7; run scripts/redis-setup.sh)";

/**
 * Starts Redis on a free loopback port, with its directory in a new temp dir, and waits until
 * it answers PING. Persistence is off unless `appendonly` is set (no RDB snapshots either).
 * @throws if no `redis-server` is installed (check {@link redisServerBinary} first).
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = redisServerBinary;
  if (binary === undefined) throw new Error(REDIS_MISSING);
  const directory = mkdtempSync(join(tmpdir(), "statebridge-redis-"));
  const port = await freePort();
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    directory,
    "--save",
    "",
    "--appendonly",
    options.appendonly === true ? "yes" : "no",
    "--appendfsync",
    options.appendfsync ?? "everysec",
    "--daemonize",
    "no",
    "--logfile",
    join(directory, "redis.log"),
  ];
  let child: ChildProcess | undefined;

  async function launch(): Promise<void> {
    const started = spawn(binary as string, args, { stdio: "ignore" });
    child = started;
    const deadline = Date.now() + 10_000;
    while (!(await answersPing(port))) {
      if (started.exitCode !== null) throw new Error(`redis-server exited with ${started.exitCode}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async function end(signal: NodeJS.Signals): Promise<void> {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
    running.kill(signal);
    const timer = setTimeout(() => running.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await end("SIGTERM");
      rmSync(directory, { recursive: true, force: true });
    },
    kill9: () => end("SIGKILL"),
    async restart() {
      await end("SIGKILL");
      await launch();
    },
    pause() {
      child?.kill("SIGSTOP");
    },
    resume() {
      child?.kill("SIGCONT");
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something on the port answers a RESP PING with PONG. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let answer = "";
    const finish = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once("error", () => finish(false));
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1");
      if (answer.includes("\r\n")) finish(answer.startsWith("+PONG"));
    });
    socket.connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
  });
}
