// A tour of LocalState with the parameters of a small LLM program: register, read, write with
// compare-and-set, an atomic batch, a watcher, and export → JSON → import into a second state.
import { createLocalState } from "@statebridge/state-local";
import {
  isStateError,
  type StateProvider,
  type VariableValue,
  type WatchEvent,
} from "@statebridge/state-provider";

/** Prints a numbered heading. */
function heading(title: string): void {
  console.log(`\n== ${title}`);
}

/** Formats a value the way a reader expects it: strings quoted, numbers as they are. */
function show(value: VariableValue | undefined): string {
  if (value === undefined) return "-";
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** Lets the watcher run: LocalState calls watchers from a microtask after each change. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs an action expected to be refused and prints the error code and message. */
async function refused(what: string, action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
    console.log(`  ${what}: accepted (unexpected)`);
  } catch (error) {
    if (!isStateError(error)) throw error;
    console.log(`  ${what}: refused with ${error.code} (${error.rawMessage})`);
  }
}

async function printVariables(state: StateProvider): Promise<void> {
  for (const variable of await state.list()) {
    console.log(
      `  ${variable.name.padEnd(14)} ${variable.type.padEnd(8)} = ${show(variable.value).padEnd(32)} version ${variable.version}  ${variable.id}`,
    );
  }
}

/** The demo program. */
async function runLocalDemo(): Promise<void> {
  const state = createLocalState({ sessionId: "session_demo" });

  heading("1. Register the parameters of an LLM program");
  const registrations = [
    await state.register("temperature", "float", 0.7, {
      constraints: { min: 0, max: 2 },
      description: "sampling temperature",
    }),
    await state.register("max_tokens", "integer", 256, { constraints: { min: 1, max: 4096 } }),
    await state.register("model", "choice", "gpt-4o-mini", {
      constraints: { choices: ["gpt-4o-mini", "gpt-4o", "claude-sonnet"] },
    }),
    await state.register("system_prompt", "string", "You are a concise assistant.", {
      constraints: { maxLength: 2000 },
    }),
  ];
  for (const registered of registrations) {
    console.log(`  registered ${registered.name} (${registered.type}) at revision ${registered.revision}`);
  }
  await printVariables(state);

  heading("2. Watch temperature, max_tokens and model");
  const watch = await state.watch(["temperature", "max_tokens", "model"], (event: WatchEvent) => {
    console.log(
      `  [watch] revision ${event.revision}: ${event.identifier} ${show(event.oldValue)} → ${show(event.newValue)} (version ${event.version}, by ${event.source})`,
    );
  });
  console.log(`  watching as ${watch.watchId}`);

  heading("3. Read");
  console.log(`  get("temperature") = ${show(await state.get("temperature"))}`);
  const values = await state.getMany(["model", "max_tokens", "no_such_variable"]);
  console.log(
    `  getMany(["model", "max_tokens", "no_such_variable"]) = { ${[...values].map(([name, value]) => `${name}: ${show(value)}`).join(", ")} }`,
  );

  heading("4. Write with an expected version (compare-and-set)");
  const current = await state.getVariable("temperature");
  console.log(`  set temperature = 0.9 expecting version ${current.version}`);
  const version = await state.set("temperature", 0.9, { expectedVersion: current.version });
  await settle();
  console.log(`    accepted: temperature is now at version ${version}`);
  await refused(`set temperature = 1.2 expecting the stale version ${current.version}`, () =>
    state.set("temperature", 1.2, { expectedVersion: current.version }),
  );
  await refused("set temperature = 3.5", () => state.set("temperature", 3.5));
  await refused('set model = "gpt-5"', () => state.set("model", "gpt-5"));
  console.log(`  temperature is still ${show(await state.get("temperature"))}`);

  heading("5. An atomic batch: all or nothing, one revision");
  console.log('  atomic batch temperature = 0.2, max_tokens = 1024, model = "gpt-4o"');
  const batch = await state.updateMany(
    new Map<string, unknown>([
      ["temperature", 0.2],
      ["max_tokens", 1024],
      ["model", "gpt-4o"],
    ]),
    { atomic: true, metadata: { tuned_by: "demo" } },
  );
  await settle();
  console.log(
    `    applied at revision ${batch.revision}: ${[...batch.versions].map(([name, next]) => `${name} → version ${next}`).join(", ")}`,
  );
  await refused("atomic batch temperature = 0.3, max_tokens = 99999", () =>
    state.updateMany(
      new Map<string, unknown>([
        ["temperature", 0.3],
        ["max_tokens", 99_999],
      ]),
      { atomic: true },
    ),
  );
  console.log(`  temperature is still ${show(await state.get("temperature"))}`);

  heading("6. Export → JSON → import into a second LocalState");
  const json = JSON.stringify(await state.export());
  console.log(`  export: ${json.length} characters of JSON`);
  const copy = createLocalState({ sessionId: "session_demo_copy" });
  await copy.import(JSON.parse(json));
  console.log("  the copy holds the same ids, values and versions:");
  await printVariables(copy);
  const next = await copy.register("top_p", "float", 0.95, { constraints: { min: 0, max: 1 } });
  console.log(`  registering top_p in the copy takes revision ${next.revision}, after the imported one`);

  const info = watch.info();
  console.log(
    `\n  the watch received ${info.received} events and delivered ${info.delivered}; last revision ${info.revision}`,
  );
  await watch.close();
  await copy.close();
  await state.close();
  await refused("get after close", () => state.get("temperature"));
}

await runLocalDemo();
