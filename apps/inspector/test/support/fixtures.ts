import { createBridgedState } from "@statebridge/state-bridged";
import type { StateProvider } from "@statebridge/state-provider";
import type { Browser, Page } from "playwright-core";
import {
  type ServerProcess,
  startServerProcess,
} from "../../../../packages/state-bridged/test/support/server-process.js";

/** A bridge-server process serving the inspector, with the writers a test opened on it. */
export interface InspectorServer {
  readonly server: ServerProcess;
  /** A TypeScript writer (BridgedState, source `typescript`) on `sessionId`. */
  state(sessionId: string): Promise<StateProvider>;
  close(): Promise<void>;
}

/** Starts `bridge-server --inspector …flags` as a child process. */
export async function startInspectorServer(flags: readonly string[] = []): Promise<InspectorServer> {
  const server = await startServerProcess(["--inspector", ...flags]);
  const providers: StateProvider[] = [];
  const token = flags.includes("--token") ? flags[flags.indexOf("--token") + 1] : undefined;
  return {
    server,
    async state(sessionId) {
      const provider = await createBridgedState({
        url: server.url,
        sessionId,
        source: "typescript",
        ...(token === undefined ? {} : { token }),
      });
      providers.push(provider);
      return provider;
    },
    async close() {
      for (const provider of providers) await provider.close().catch(() => {});
      await server.stop();
    },
  };
}

/** Opens a page of the inspector at `url` (`…/inspect/#/session/x`), failing the test on page errors. */
export async function openPage(browser: Browser, url: string): Promise<Page> {
  // A context of its own (axe-core needs one), closed with the page.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.once("close", () => void context.close().catch(() => {}));
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("close", () => {
    if (errors.length > 0) throw new Error(`errors on the page: ${errors.join("; ")}`);
  });
  await page.goto(url);
  return page;
}

/** Waits until the session page's watch is live. */
export async function waitLive(page: Page): Promise<void> {
  await page.locator('.status[data-state="live"]').waitFor({ timeout: 15_000 });
}

/** The text of a variable's value cell. */
export function valueCell(page: Page, name: string) {
  return page.getByTestId(`value-${name}`);
}
