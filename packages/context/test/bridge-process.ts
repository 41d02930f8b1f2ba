import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import { createServer, type Server, type Socket } from "node:net";

const require = createRequire(import.meta.url);

/** A bridge-server running as a child process. */
export interface BridgeProcess {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `bridge-server --port 0` in a child process and waits for its address line. */
export async function startBridgeProcess(args: readonly string[] = []): Promise<BridgeProcess> {
  const cli = require
    .resolve("@statebridge/bridge-server/package.json")
    .replace(/package\.json$/, "dist/cli.js");
  const child = spawn(process.execPath, [cli, "--port", "0", "--log-level", "warn", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = "";
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = /(https?:\/\/[^\s]+)/.exec(buffer);
      if (match !== null) {
        child.stdout?.off("data", onData);
        resolve(match[1] as string);
      }
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`bridge-server exited with ${code} before listening`)));
  });
  return {
    url,
    port: Number(new URL(url).port),
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

/**
 * A TCP proxy between a client and a server, so that a test can cut connections the way a
 * network does.
 */
export interface CuttingProxy {
  readonly url: string;
  /** Destroys every open connection. */
  cutAll(): void;
  /** Destroys each connection once it has carried this many bytes from the client. */
  cutAfterClientBytes(bytes: number | undefined): void;
  close(): Promise<void>;
}

/** Starts a proxy on a free port that forwards to `target` (host:port). */
export async function startCuttingProxy(targetPort: number): Promise<CuttingProxy> {
  const sockets = new Set<Socket>();
  let limit: number | undefined;
  const server: Server = createServer((client) => {
    const upstream = new (require("node:net").Socket)() as Socket;
    upstream.connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    let carried = 0;
    client.on("data", (chunk: Buffer) => {
      carried += chunk.length;
      if (limit !== undefined && carried > limit) {
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", close);
    upstream.on("close", close);
    client.on("error", close);
    upstream.on("error", close);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    cutAll() {
      for (const socket of sockets) socket.destroy();
    },
    cutAfterClientBytes(bytes) {
      limit = bytes;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close").catch(() => undefined);
    },
  };
}
