#!/usr/bin/env node
import { createRequire } from "node:module";
import { pino } from "pino";
import { type BridgeServer, createBridgeServer } from "./bridge-server.js";
import { parseCommandLine, UsageError, usage } from "./cli-options.js";

const SERVER_NAME = "statebridge bridge-server";

async function main(): Promise<void> {
  let commandLine: ReturnType<typeof parseCommandLine>;
  try {
    commandLine = parseCommandLine(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bridge-server: ${error.message}\nRun "bridge-server --help" for the flags.\n`);
    process.exitCode = 2;
    return;
  }
  if (commandLine.kind === "help") {
    process.stdout.write(usage());
    return;
  }
  if (commandLine.kind === "version") {
    const { version } = createRequire(import.meta.url)("../package.json") as { version: string };
    process.stdout.write(`${version}\n`);
    return;
  }

  const logger = pino(
    { level: commandLine.logLevel, base: { pid: process.pid, name: "bridge-server" } },
    pino.destination({ fd: 2, sync: true }),
  );
  let server: BridgeServer;
  try {
    server = await createBridgeServer({ ...commandLine.options, logger });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    logger.fatal({ err: error }, "cannot start");
    process.stderr.write(`bridge-server: cannot start: ${reason}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${SERVER_NAME} listening on ${server.url}\n`);
  if (server.metricsUrl !== undefined) process.stdout.write(`metrics: ${server.metricsUrl}\n`);
  if (server.inspectorUrl !== undefined) process.stdout.write(`inspector: ${server.inspectorUrl}\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting at once");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "signal received: shutting down");
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bridge-server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
