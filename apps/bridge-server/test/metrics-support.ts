// Reading a server's /metrics in tests: the exposition text, as a map of series to values;
// and a mix of calls to compare what two servers record of the same calls.
import { fileURLToPath } from "node:url";
import type { Client, Transport } from "@connectrpc/connect";
import type { BridgeService } from "@statebridge/proto";
import { wire } from "./support-values.js";

/** One way of reaching the server (state-bridged's test support, outside this rootDir). */
export interface WirePath {
  readonly name: string;
  /** Whether the server's direct gRPC path serves it. */
  readonly direct: boolean;
  createTransport(baseUrl: string, token?: string): Transport;
}

/** Every path a client can take: direct gRPC, connect's gRPC, Connect and gRPC-Web on HTTP/1.1 and 2. */
export const { WIRE_PATHS } = (await import(
  fileURLToPath(new URL("../../../packages/state-bridged/test/support/wire-paths.ts", import.meta.url))
)) as { readonly WIRE_PATHS: readonly WirePath[] };

/** A scrape: every sample by its series (`name{label="value",…}`), labels in the server's order. */
export type Scrape = ReadonlyMap<string, number>;

/** Fetches `url` (a server's metricsUrl) and parses Prometheus's text exposition. */
export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`);
  return parseExposition(await response.text());
}

/** Parses Prometheus's text exposition format (no timestamps, as prom-client writes it). */
export function parseExposition(text: string): Scrape {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** The series key of `name` with `labels`, in the order given (the order the server writes them). */
export function series(name: string, labels: Readonly<Record<string, string>> = {}): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return name;
  return `${name}{${entries.map(([key, value]) => `${key}="${value}"`).join(",")}}`;
}

/** How much `key` moved between two scrapes (a series absent counts as 0). */
export function moved(before: Scrape, after: Scrape, key: string): number {
  return (after.get(key) ?? 0) - (before.get(key) ?? 0);
}

/** The labels of an RPC series. */
export function rpcLabels(method: string, code: string, path: "direct" | "connect") {
  return { service: "statebridge.v1.BridgeService", method, code, path };
}

/** Every `statebridge_rpc_requests_total` sample, keyed without its `path` label. */
export function requestsByMethodAndCode(scraped: Scrape): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [key, value] of scraped) {
    if (!key.startsWith("statebridge_rpc_requests_total{")) continue;
    const withoutPath = key.replace(/,path="[a-z]+"/, "");
    counts.set(withoutPath, (counts.get(withoutPath) ?? 0) + value);
  }
  return counts;
}

/**
 * The same eleven calls on any server, successes and failures (not_found, invalid_value,
 * version_conflict, a missing session id, session_expired), in session `sessionId`.
 */
export async function runCallMix(client: Client<typeof BridgeService>, sessionId: string): Promise<void> {
  const ignore = () => undefined;
  await client.ping({ message: "hello" });
  await client.initializeSession({ sessionId });
  await client.registerVariable({ sessionId, name: "x", type: "float", initialValue: wire.float(1) });
  await client.setVariable({ sessionId, identifier: "x", value: wire.float(2) });
  await client.getVariable({ sessionId, identifier: "x" });
  await client.getVariable({ sessionId, identifier: "missing" }).catch(ignore);
  await client.setVariable({ sessionId, identifier: "x", value: wire.string("text") }).catch(ignore);
  await client
    .setVariable({ sessionId, identifier: "x", value: wire.float(3), expectedVersion: 1n })
    .catch(ignore);
  await client.getVariable({ sessionId: "", identifier: "x" }).catch(ignore);
  await client.listVariables({ sessionId });
  await client.getSession({ sessionId: "never-created" }).catch(ignore);
}

/** Scrapes until `done` holds: a stream's end is counted once its HTTP/2 stream has closed. */
export async function waitFor(url: string, done: (scraped: Scrape) => boolean): Promise<Scrape> {
  for (let attempt = 0; ; attempt++) {
    const scraped = await scrape(url);
    if (done(scraped) || attempt === 200) return scraped;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
