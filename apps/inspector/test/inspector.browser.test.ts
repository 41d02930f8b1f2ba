// The inspector in a real browser (Debian's headless chromium through playwright-core), against
// bridge-server processes started with --inspector: live values from a Python writer, edits
// that reach TypeScript watchers, conflicts, atomic batches, reconnects, restarts and sign-in.
import { readFileSync } from "node:fs";
import AxeBuilder from "@axe-core/playwright";
import type { WatchEvent } from "@statebridge/state-provider";
import type { Browser } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  REDIS_MISSING,
  redisServerBinary,
  startRedisServer,
} from "../../../packages/session-store-redis/test/support/redis-server.js";
import { startTcpProxy, type TcpProxy } from "../../../packages/stream-consumer/test/support/tcp-proxy.js";
import { freePort, launchBrowser, screenshot } from "./support/browser.js";
import {
  type InspectorServer,
  openPage,
  startInspectorServer,
  valueCell,
  waitLive,
} from "./support/fixtures.js";
import { runPython } from "./support/python-worker.js";

let browser: Browser;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function inspectorServer(flags: readonly string[] = []): Promise<InspectorServer> {
  const started = await startInspectorServer(flags);
  cleanups.push(() => started.close());
  return started;
}

function sessionUrl(base: string, sessionId: string): string {
  return `${base}/inspect/#/session/${encodeURIComponent(sessionId)}`;
}

async function page(url: string) {
  const opened = await openPage(browser, url);
  cleanups.push(() => opened.close());
  return opened;
}

/** Serious and critical axe-core findings (WCAG A/AA rules). */
async function accessibilityViolations(target: Awaited<ReturnType<typeof page>>) {
  const results = await new AxeBuilder({ page: target }).withTags(["wcag2a", "wcag2aa"]).analyze();
  return results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map(
      (violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`,
    );
}

describe("the inspector in a browser", () => {
  it("lists sessions, filters them by prefix, and passes axe-core", async () => {
    const { server, state } = await inspectorServer();
    for (const id of ["run-1", "run-2", "other"]) {
      await (await state(id)).register("x", "integer", 1);
    }
    const view = await page(`${server.url}/inspect/`);
    await view.getByRole("link", { name: "run-1" }).waitFor();
    expect(await view.locator("tbody tr").count()).toBe(3);
    await view.getByLabel("Filter by id prefix").fill("run-");
    await expect.poll(() => view.locator("tbody tr").count()).toBe(2);
    expect(await accessibilityViolations(view)).toEqual([]);
    await screenshot(view, "sessions");
  });

  it("shows a Python worker's writes to temperature live, with their history", async () => {
    const { server, state } = await inspectorServer();
    const writer = await state("tuning");
    await writer.register("temperature", "float", 0.1, { constraints: { min: 0, max: 2 } });
    const view = await page(sessionUrl(server.url, "tuning"));
    await waitLive(view);
    await runPython(
      `import sys, time
from statebridge import SessionContext
with SessionContext(sys.argv[1], sys.argv[2]) as ctx:
    for value in (0.2, 0.4, 0.6, 0.8, 1.0):
        ctx["temperature"] = value
        time.sleep(0.2)
`,
      [server.url, "tuning"],
    );
    await expect.poll(() => valueCell(view, "temperature").textContent()).toBe("1");
    // Every write arrived as it happened: one feed entry each, from python, and the history.
    await expect.poll(() => view.locator(".feed > li.feed-change").count()).toBe(5);
    const changes = await view.locator(".feed > li.feed-change").allTextContents();
    expect(changes.filter((text) => text.includes("· python"))).toHaveLength(5);
    await view.getByText("6 values since the page opened").waitFor();
    await screenshot(view, "session-python-writes");
  });

  it("renders every type: numbers, strings, choices with options, modules, embeddings, tensors", async () => {
    const { server, state } = await inspectorServer();
    const writer = await state("types");
    await writer.register("temperature", "float", 0.7, { constraints: { min: 0, max: 2 } });
    await writer.register("max_tokens", "integer", 256, { constraints: { min: 1, max: 4096 } });
    await writer.register("system_prompt", "string", "You are a careful assistant.");
    await writer.register("strategy", "choice", "chain_of_thought", {
      constraints: { choices: ["predict", "chain_of_thought", "react"] },
    });
    await writer.register("module", "module", "dspy.ChainOfThought");
    await writer.register("use_cache", "boolean", true);
    await writer.register(
      "query_embedding",
      "embedding",
      Array.from({ length: 64 }, (_, index) => Math.sin(index / 4)),
    );
    await writer.register("attention", "tensor", {
      shape: [6, 8],
      data: Array.from({ length: 48 }, (_, index) => Math.cos(index / 5)),
    });
    for (const value of [0.75, 0.9, 0.6, 1.1, 0.95]) await writer.set("temperature", value);
    await writer.updateMany({ temperature: 0.8, max_tokens: 512 }, { atomic: true });
    const view = await page(sessionUrl(server.url, "types"));
    await waitLive(view);
    expect(await valueCell(view, "query_embedding").textContent()).toContain("64 dimensions");
    expect(await valueCell(view, "attention").textContent()).toContain("shape [6, 8]");
    expect(await view.locator(".chosen").textContent()).toBe("chain_of_thought");
    // An optimizer at work: temperature moves, and one step changes two variables atomically.
    for (const value of [0.85, 0.92, 0.88, 1.05, 0.97, 1.12, 1.02, 0.94, 1.08, 1.15]) {
      await writer.set("temperature", value);
    }
    await writer.updateMany({ temperature: 0.99, max_tokens: 768 }, { atomic: true });
    await writer.set("strategy", "react");
    await expect.poll(() => valueCell(view, "temperature").textContent()).toBe("0.99");
    await view.getByText("2 variables in one revision").waitFor();
    await expect.poll(() => view.locator(".chosen").textContent()).toBe("react");
    expect(await accessibilityViolations(view)).toEqual([]);
    await screenshot(view, "session");
  });

  it("sends an edit made with the keyboard to a TypeScript watcher, with source inspector", async () => {
    const { server, state } = await inspectorServer();
    const writer = await state("edits");
    await writer.register("temperature", "float", 0.5);
    const events: WatchEvent[] = [];
    await writer.watch(["temperature"], (event) => void events.push(event));
    const view = await page(sessionUrl(server.url, "edits"));
    await waitLive(view);
    await view.getByRole("button", { name: "Edit temperature" }).focus();
    await view.keyboard.press("Enter");
    const field = view.getByLabel("New value of temperature (float)");
    await field.fill("1.25");
    await view.keyboard.press("Enter");
    await expect.poll(() => events.length).toBe(1);
    expect(events[0]).toMatchObject({ name: "temperature", newValue: 1.25, source: "inspector", version: 1 });
    await expect.poll(() => valueCell(view, "temperature").textContent()).toBe("1.25");
  });

  it("reports a stale edit as version_conflict and overwrites nothing", async () => {
    const { server, state } = await inspectorServer();
    const writer = await state("conflict");
    await writer.register("temperature", "float", 0.5);
    const view = await page(sessionUrl(server.url, "conflict"));
    await waitLive(view);
    await view.getByRole("button", { name: "Edit temperature" }).click();
    await view.getByLabel("New value of temperature (float)").fill("1.5");
    // Someone else writes while the form is open at version 0.
    await writer.set("temperature", 0.9);
    await expect.poll(() => view.getByTestId("version-temperature").textContent()).toBe("1");
    await view.getByRole("button", { name: "Set" }).click();
    const alert = view.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/^version_conflict: .*version/);
    expect(await writer.get("temperature")).toBe(0.9);
    await screenshot(view, "version-conflict");
  });

  it("shows an atomic batch as one revision", async () => {
    const { server, state } = await inspectorServer();
    const writer = await state("batch");
    await writer.register("a", "integer", 0);
    await writer.register("b", "integer", 0);
    const view = await page(sessionUrl(server.url, "batch"));
    await waitLive(view);
    const { revision } = await writer.updateMany({ a: 1, b: 2 }, { atomic: true });
    const entry = view.locator(`.feed > li[data-revision="${revision}"]`);
    await entry.waitFor();
    expect(await entry.count()).toBe(1);
    const text = await entry.textContent();
    expect(text).toContain("2 variables in one revision");
    expect(text).toContain("a: 0 → 1");
    expect(text).toContain("b: 0 → 2");
  });

  it("resumes the feed from its last revision after the network drops, and says so", async () => {
    const { server, state } = await inspectorServer();
    const writer = await state("drop");
    await writer.register("temperature", "float", 0.1);
    const proxy: TcpProxy = await startTcpProxy(Number(new URL(server.url).port));
    cleanups.push(() => proxy.close());
    const view = await page(sessionUrl(proxy.url, "drop"));
    await waitLive(view);
    await writer.set("temperature", 0.2);
    await expect.poll(() => valueCell(view, "temperature").textContent()).toBe("0.2");
    proxy.blackhole(true);
    await view.locator('.status[data-state="reconnecting"]').waitFor({ timeout: 20_000 });
    // Written while the page cannot hear: they must arrive after the reconnect, each once.
    await writer.set("temperature", 0.3);
    await writer.set("temperature", 0.4);
    proxy.blackhole(false);
    await waitLive(view);
    await expect.poll(() => valueCell(view, "temperature").textContent(), { timeout: 20_000 }).toBe("0.4");
    await view.getByText(/reconnected: resumed after revision/).waitFor();
    const revisions = await view
      .locator(".feed > li.feed-change")
      .evaluateAll((items) => items.map((item) => item.getAttribute("data-revision")));
    expect(revisions).toEqual(["4", "3", "2"]);
    await screenshot(view, "reconnected");
  });

  it("says the session expired when a restarted server (memory store) no longer has it", async () => {
    const port = await freePort();
    const first = await startInspectorServer(["--port", String(port)]);
    cleanups.push(() => first.close());
    const writer = await first.state("restart");
    await writer.register("temperature", "float", 0.1);
    const view = await page(sessionUrl(first.server.url, "restart"));
    await waitLive(view);
    first.server.child.kill("SIGKILL");
    await view.locator('.status[data-state="reconnecting"]').waitFor({ timeout: 20_000 });
    await inspectorServer(["--port", String(port)]);
    const status = view.locator('.status[data-state="expired"]');
    await status.waitFor({ timeout: 20_000 });
    expect(await status.textContent()).toContain("Session expired");
    await screenshot(view, "session-expired");
  });

  it.skipIf(redisServerBinary === undefined)(
    `resumes the feed across a killed and restarted server on the Redis store, with what was written meanwhile (${redisServerBinary === undefined ? REDIS_MISSING : "redis-server"})`,
    async () => {
      const redis = await startRedisServer();
      cleanups.push(() => redis.stop());
      const port = await freePort();
      const served = await startInspectorServer(["--port", String(port), "--store", redis.url]);
      cleanups.push(() => served.close());
      // Writes go through a second server on the same Redis, which stays up.
      const other = await inspectorServer(["--store", redis.url]);
      const writer = await other.state("durable");
      await writer.register("temperature", "float", 0.1);
      const view = await page(sessionUrl(served.server.url, "durable"));
      await waitLive(view);
      await writer.set("temperature", 0.2);
      await expect.poll(() => valueCell(view, "temperature").textContent()).toBe("0.2");
      served.server.child.kill("SIGKILL");
      await view.locator('.status[data-state="reconnecting"]').waitFor({ timeout: 20_000 });
      await writer.set("temperature", 0.3);
      await writer.set("temperature", 0.4);
      await inspectorServer(["--port", String(port), "--store", redis.url]);
      await waitLive(view);
      await expect.poll(() => valueCell(view, "temperature").textContent(), { timeout: 20_000 }).toBe("0.4");
      await view.getByText(/reconnected: resumed after revision/).waitFor();
      const revisions = await view
        .locator(".feed > li.feed-change")
        .evaluateAll((items) => items.map((item) => item.getAttribute("data-revision")));
      expect(revisions).toEqual(["4", "3", "2"]);
      await screenshot(view, "resumed-on-redis");
    },
  );

  it("refuses a wrong token, signs in with the right one, and keeps the token out of URLs and logs", async () => {
    const token = "correct-horse-battery-staple";
    const { server, state } = await inspectorServer(["--token", token, "--log-level", "debug"]);
    await (await state("secured")).register("x", "integer", 1);
    const view = await page(`${server.url}/inspect/`);
    await view.getByRole("heading", { name: "Sign in" }).waitFor();
    await view.getByLabel("Token").fill("wrong-token");
    await view.getByRole("button", { name: "Sign in" }).click();
    const alert = view.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/^unauthenticated: /);
    await screenshot(view, "sign-in-refused");
    await view.getByLabel("Token").fill(token);
    await view.getByRole("button", { name: "Sign in" }).click();
    await view.getByRole("link", { name: "secured" }).waitFor();
    expect(view.url()).not.toContain(token);
    expect(server.stderr()).not.toContain(token);
  });

  it("exports a session as JSON and imports it into a new session", async () => {
    const { server, state } = await inspectorServer();
    const writer = await state("source");
    await writer.register("temperature", "float", 0.42);
    await writer.register("tags", "string", "a,b");
    const view = await page(sessionUrl(server.url, "source"));
    await waitLive(view);
    const [download] = await Promise.all([
      view.waitForEvent("download"),
      view.getByRole("button", { name: "Export JSON" }).click(),
    ]);
    const exported = readFileSync((await download.path()) as string, "utf8");
    expect(JSON.parse(exported)).toMatchObject({ sessionId: "source" });
    await view.getByRole("link", { name: "← All sessions" }).click();
    await view.getByLabel("New session id").fill("copy");
    await view.getByLabel("or paste it").fill(exported);
    await view.getByRole("button", { name: "Import" }).click();
    await view.getByText("Imported 2 variables into copy.").waitFor();
    await view.getByRole("link", { name: "Open it" }).click();
    await waitLive(view);
    expect(await valueCell(view, "temperature").textContent()).toBe("0.42");
  });
});
