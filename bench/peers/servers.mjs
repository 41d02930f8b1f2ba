// The servers of the peer benchmark: Debian's redis-server, nats-server and etcd (installed
// with apt-get when missing) and a bridge-server child process, each on a free loopback port
// with a temporary data directory, plus what /proc tells about a server process (CPU, RSS).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The bridge-server CLI as `pnpm exec turbo run build` leaves it. */
export const BRIDGE_SERVER_CLI = fileURLToPath(
  new URL("../../apps/bridge-server/dist/cli.js", import.meta.url),
);

/** The Debian package and the binary of each peer. */
const PEER_PACKAGES = [
  { package: "redis-server", binaries: ["/usr/bin/redis-server"] },
  { package: "nats-server", binaries: ["/usr/sbin/nats-server", "/usr/bin/nats-server"] },
  { package: "etcd-server", binaries: ["/usr/bin/etcd"] },
];

/**
 * Installs the Debian packages of the peers that are missing, and python3-redis for the
 * Python row (apt-get as root, non-interactive; `apt-get update` only if a first try fails).
 * Returns the packages still missing afterwards, so that their rows are skipped by name.
 */
export function installPeers() {
  const missing = PEER_PACKAGES.filter((peer) => !peer.binaries.some((path) => existsSync(path))).map(
    (peer) => peer.package,
  );
  const pythonRedis = spawnSync("/usr/bin/python3", ["-c", "import redis"], { stdio: "ignore" });
  if (pythonRedis.status !== 0 && existsSync("/usr/bin/python3")) missing.push("python3-redis");
  if (missing.length === 0) return [];
  if (process.getuid?.() !== 0) {
    console.log(`not root: cannot install ${missing.join(", ")}; their rows are skipped`);
    return missing;
  }
  console.log(`installing ${missing.join(", ")} with apt-get`);
  const environment = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], {
      stdio: "ignore",
      env: environment,
    }).status;
  if (install() !== 0) {
    spawnSync("apt-get", ["update", "-qq"], { stdio: "ignore", env: environment });
    install();
  }
  // The packages start system services on their default ports; the benchmark starts its own.
  for (const service of ["redis-server", "nats-server", "etcd"]) {
    spawnSync("systemctl", ["disable", "--now", service], { stdio: "ignore" });
  }
  return missing.filter((name) =>
    name === "python3-redis"
      ? spawnSync("/usr/bin/python3", ["-c", "import redis"], { stdio: "ignore" }).status !== 0
      : !PEER_PACKAGES.find((peer) => peer.package === name).binaries.some((path) => existsSync(path)),
  );
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.once("error", reject);
  });
}

/** Resolves once something accepts TCP connections on the port (up to `timeoutMs`). */
async function waitForPort(port, child, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited with ${child.exitCode}`);
    const open = await new Promise((resolve) => {
      const socket = createConnection({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${child.spawnfile} did not listen on ${port} within ${timeoutMs} ms`);
}

/** A temporary data directory, on tmpfs when there is one (no server waits on a disk). */
function dataDirectory(name) {
  return mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), `statebridge-peers-${name}-`));
}

function running(name, child, directory, fields) {
  let stopping;
  return {
    name,
    pid: child.pid,
    ...fields,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once("exit", resolve));
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
          await exited;
          clearTimeout(timer);
        }
        if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/** redis-server without persistence, as TOOLCHAIN.md starts it, taking 15,000 clients. */
export async function startRedis() {
  const port = await freePort();
  const directory = dataDirectory("redis");
  const child = spawn(
    "/usr/bin/redis-server",
    [
      ...[
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        directory,
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      // Past the default 10,000: the fan-out row opens a connection per watcher.
      ...["--maxclients", "15000"],
    ],
    { stdio: "ignore" },
  );
  await waitForPort(port, child);
  return running("redis", child, directory, { url: `redis://127.0.0.1:${port}`, port });
}

/** nats-server with JetStream; its key-value buckets are created in memory storage. */
export async function startNats() {
  const port = await freePort();
  const directory = dataDirectory("nats");
  const binary = ["/usr/sbin/nats-server", "/usr/bin/nats-server"].find((path) => existsSync(path));
  const child = spawn(binary, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", directory], {
    stdio: "ignore",
  });
  await waitForPort(port, child);
  return running("nats", child, directory, { url: `127.0.0.1:${port}`, port });
}

/** A one-member etcd cluster (its write-ahead log on tmpfs when there is one). */
export async function startEtcd() {
  const port = await freePort();
  const peerPort = await freePort();
  const directory = dataDirectory("etcd");
  const client = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    "/usr/bin/etcd",
    [
      "--name",
      "bench",
      "--data-dir",
      directory,
      "--listen-client-urls",
      client,
      "--advertise-client-urls",
      client,
      "--listen-peer-urls",
      peer,
      "--initial-advertise-peer-urls",
      peer,
      "--initial-cluster",
      `bench=${peer}`,
      "--log-level",
      "error",
    ],
    { stdio: "ignore" },
  );
  await waitForPort(port, child);
  return running("etcd", child, directory, { url: client, port });
}

/** The bridge-server CLI as a child process, with `args` (`--store redis://…`). */
export async function startBridgeServer(args = []) {
  if (!existsSync(BRIDGE_SERVER_CLI)) {
    throw new Error(`${BRIDGE_SERVER_CLI} does not exist: run pnpm exec turbo run build first`);
  }
  const child = spawn(process.execPath, [BRIDGE_SERVER_CLI, "--port", "0", "--log-level", "warn", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((resolve, reject) => {
    let output = "";
    child.once("exit", (code) => reject(new Error(`bridge-server exited with ${code}: ${output}`)));
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const match = /(https?:\/\/[\w.[\]:-]+:\d+)/.exec(output);
      if (match) resolve(match[1]);
    });
  });
  child.stdout.resume();
  return running("bridge-server", child, undefined, { url });
}

/** CPU time a process has used so far, in microseconds (/proc ticks of 10 ms). */
export function processCpuMicroseconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** A process's resident memory in bytes. */
export function residentBytes(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match[1]) * 1024;
}
