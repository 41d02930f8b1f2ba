import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { WatchEvent } from "@statebridge/state-provider";

const REPOSITORY = fileURLToPath(new URL("../../../../", import.meta.url));
const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("./python-watcher.py", import.meta.url));
const PYTHON_SOURCE = `${REPOSITORY}clients/python/src`;

/** What a history run needs to run Python watchers; named in the skip message when missing. */
export const PYTHON_GRPC_CAPABILITY = "Python grpcio (/usr/bin/python3 -c 'import grpc')";

/** Whether /usr/bin/python3 can import grpc. */
export function pythonGrpcAvailable(): boolean {
  return spawnSync(PYTHON, ["-c", "import grpc"], { stdio: "ignore" }).status === 0;
}

/** A Python `SessionContext.watch_variables` in a child process (test/support/python-watcher.py). */
export interface PythonWatcher {
  /** Its events so far, as the checker reads them. */
  readonly events: WatchEvent[];
  /** The watch's revision, moved by events and heartbeats. */
  revision(): number;
  /** How often its stream was reopened. */
  reconnects(): number;
  /** The error code the watch ended with, if it ended. */
  endedWith(): string | undefined;
  /** Resolves with the code when the watch ends with an error (or the process exits). */
  readonly done: Promise<string>;
  /** Stops the watch and the process. */
  stop(): Promise<void>;
}

interface Message {
  ready?: true;
  event?: {
    type: WatchEvent["type"];
    id: string;
    name: string;
    revision: number;
    version: number;
    newValue?: number | null;
    oldValue?: number | null;
  };
  revision?: number | null;
  status?: string;
  error?: string;
  message?: string;
}

/**
 * Starts a Python watcher of `names` on the session at `target` (an `http://host:port`), and
 * resolves once the server registered its watch.
 */
export async function startPythonWatcher(options: {
  target: string;
  sessionId: string;
  names: readonly string[];
  includeInitial: boolean;
  heartbeatIntervalMs: number;
}): Promise<PythonWatcher> {
  const child: ChildProcess = spawn(PYTHON, [SCRIPT, JSON.stringify(options)], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, PYTHONPATH: PYTHON_SOURCE, PYTHONDONTWRITEBYTECODE: "1" },
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const events: WatchEvent[] = [];
  let revision = 0;
  let reconnects = 0;
  let ended: string | undefined;
  let ready: () => void = () => {};
  let end: (code: string) => void = () => {};
  const started = new Promise<void>((resolve) => {
    ready = resolve;
  });
  const done = new Promise<string>((resolve) => {
    end = resolve;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    const message = JSON.parse(line) as Message;
    if (message.ready === true) ready();
    if (message.revision !== undefined && message.revision !== null) revision = message.revision;
    if (message.status === "resumed") reconnects++;
    if (message.error !== undefined) {
      ended = message.error;
      end(message.error);
    }
    const event = message.event;
    if (event !== undefined) {
      events.push({
        type: event.type,
        identifier: event.name,
        id: event.id,
        name: event.name,
        variableType: "integer",
        newValue: event.newValue ?? undefined,
        oldValue: event.oldValue ?? undefined,
        version: event.version,
        revision: event.revision,
        source: "",
        metadata: {},
        timestamp: 0,
      });
      revision = Math.max(revision, event.revision);
    }
  });
  void exited.then((code) => {
    if (ended === undefined) ended = `exited (${code}): ${stderr}`;
    end(ended);
  });
  const failed = done.then((code) => {
    throw new Error(`the Python watcher ended before it started: ${code} ${stderr}`);
  });
  await Promise.race([started, failed]);
  return {
    events,
    revision: () => revision,
    reconnects: () => reconnects,
    endedWith: () => ended,
    done,
    async stop() {
      child.stdin?.end();
      const stopped = await Promise.race([
        exited.then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 5_000).unref()),
      ]);
      if (!stopped) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}
