import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const PEER_SCRIPT = fileURLToPath(new URL("../fixtures/peer.mjs", import.meta.url));

/** What the peer answered with when its operation failed. */
export class PeerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A child node process running its own BridgedState (test/fixtures/peer.mjs). */
export interface PeerProcess {
  /** Runs an operation in the peer; rejects with a {@link PeerError} carrying the StateError code. */
  call<T = unknown>(operation: string, parameters?: Record<string, unknown>): Promise<T>;
  /** Closes the peer's provider and waits for the process to exit. */
  stop(): Promise<void>;
}

/** Starts a peer process. */
export function startPeerProcess(): PeerProcess {
  const child = spawn(process.execPath, [PEER_SCRIPT], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code) => {
      for (const waiter of pending.values()) waiter.reject(new Error(`peer exited (${code}): ${stderr}`));
      pending.clear();
      resolve();
    });
  });
  createInterface({ input: child.stdout }).on("line", (line) => {
    const answer = JSON.parse(line) as {
      id: number;
      value?: unknown;
      error?: { code: string; message: string };
    };
    const waiter = pending.get(answer.id);
    pending.delete(answer.id);
    if (answer.error !== undefined) waiter?.reject(new PeerError(answer.error.code, answer.error.message));
    else waiter?.resolve(answer.value);
  });
  let counter = 0;
  return {
    call<T>(operation: string, parameters: Record<string, unknown> = {}) {
      const id = ++counter;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.stdin.write(`${JSON.stringify({ id, operation, arguments: parameters })}\n`);
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.write(`${JSON.stringify({ id: 0, operation: "close" })}\n`);
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
