import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// Runs the built demo as `pnpm demo` does and checks that each step shows what it claims.
const script = join(dirname(dirname(fileURLToPath(import.meta.url))), "dist", "local-demo.js");

describe("local demo", () => {
  const output = execFileSync(process.execPath, [script], { encoding: "utf8" });

  it("refuses the stale compare-and-set and the out-of-range values with their codes", () => {
    expect(output).toContain("expecting the stale version 0: refused with version_conflict");
    expect(output).toContain("set temperature = 3.5: refused with constraint_violation");
    expect(output).toContain('set model = "gpt-5": refused with constraint_violation');
    expect(output).toContain("get after close: refused with closed");
  });

  it("prints the watch events of the set and of the atomic batch, one revision for the batch", () => {
    const events = output.split("\n").filter((line) => line.includes("[watch]"));
    expect(events).toEqual([
      "  [watch] revision 5: temperature 0.7 → 0.9 (version 1, by typescript)",
      "  [watch] revision 6: temperature 0.9 → 0.2 (version 2, by typescript)",
      "  [watch] revision 6: max_tokens 256 → 1024 (version 1, by typescript)",
      '  [watch] revision 6: model "gpt-4o-mini" → "gpt-4o" (version 1, by typescript)',
    ]);
  });

  it("imports the export into a second state with the same ids, values and versions", () => {
    const [original, copy] = output.split("== 6.");
    const rows = (text: string | undefined) =>
      (text ?? "").split("\n").filter((line) => / version \d+ {2}var_[0-9a-f]{24}$/.test(line));
    expect(rows(copy)).toHaveLength(4);
    expect(rows(copy)).toContain(rows(original).find((line) => line.includes("system_prompt")));
    expect(rows(copy).find((line) => line.includes("temperature"))).toMatch(/= 0\.2 +version 2 /);
    expect(output).toContain("registering top_p in the copy takes revision 7");
  });
});
