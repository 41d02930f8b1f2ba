import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// Guards what a user gets from npm: the packed tarballs (not the workspace links) install into a
// plain npm project and work from plain Node, with the workspace:* dependency rewritten.

const packageDirectory = dirname(dirname(fileURLToPath(import.meta.url)));
const providerDirectory = join(packageDirectory, "..", "state-provider");
const workDirectory = mkdtempSync(join(tmpdir(), "state-local-pack-"));

afterAll(() => {
  rmSync(workDirectory, { recursive: true, force: true });
});

function run(command: string, args: readonly string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

const script = `
import { createLocalState } from "@statebridge/state-local";
import { isStateError } from "@statebridge/state-provider";

const state = createLocalState({ sessionId: "session_pack" });
const registered = await state.register("temperature", "float", 0.7, { constraints: { min: 0, max: 2 } });
const events = [];
const watch = await state.watch(["temperature"], (event) => {
  events.push([event.type, event.oldValue, event.newValue, event.revision]);
}, { includeInitial: true });
const version = await state.set("temperature", 0.9);
let conflict = "none";
try {
  await state.set("temperature", 1.5, { expectedVersion: 0 });
} catch (error) {
  conflict = isStateError(error) ? error.code : String(error);
}
await new Promise((resolve) => setImmediate(resolve));
const value = await state.get("temperature");
const document = JSON.parse(JSON.stringify(await state.export()));
const copy = createLocalState();
await copy.import(document);
const copied = await copy.getVariable("temperature");
await watch.close();
await state.close();
console.log(JSON.stringify({
  idMatches: copied.id === registered.id,
  version,
  value,
  conflict,
  events,
  exported: document.variables.map((variable) => [variable.name, variable.value, variable.version]),
  sessionId: document.sessionId,
  revision: document.revision,
}));
`;

describe("packed tarballs", () => {
  it("install into an empty npm project and run from plain Node", { timeout: 120_000 }, () => {
    const tarballs = join(workDirectory, "tarballs");
    run("pnpm", ["pack", "--pack-destination", tarballs], providerDirectory);
    run("pnpm", ["pack", "--pack-destination", tarballs], packageDirectory);
    const files = readdirSync(tarballs).filter((file) => file.endsWith(".tgz"));
    expect(files.sort()).toEqual([
      expect.stringMatching(/^statebridge-state-local-.*\.tgz$/),
      expect.stringMatching(/^statebridge-state-provider-.*\.tgz$/),
    ]);

    const project = join(workDirectory, "project");
    mkdirSync(project, { recursive: true });
    run("npm", ["init", "-y"], project);
    const manifestPath = join(project, "package.json");
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, type: "module" }, null, 2));
    run(
      "npm",
      [
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        ...files.map((file) => join(tarballs, file)),
      ],
      project,
    );

    const installed = JSON.parse(
      readFileSync(join(project, "node_modules", "@statebridge", "state-local", "package.json"), "utf8"),
    );
    const providerVersion = JSON.parse(readFileSync(join(providerDirectory, "package.json"), "utf8")).version;
    expect(installed.dependencies["@statebridge/state-provider"]).toBe(providerVersion);

    writeFileSync(join(project, "check.mjs"), script);
    const output = JSON.parse(run(process.execPath, ["check.mjs"], project));
    expect(output).toEqual({
      idMatches: true,
      version: 1,
      value: 0.9,
      conflict: "version_conflict",
      events: [
        ["initial", null, 0.7, 1],
        ["value_change", 0.7, 0.9, 2],
      ],
      exported: [["temperature", 0.9, 1]],
      sessionId: "session_pack",
      revision: 2,
    });
  });
});
