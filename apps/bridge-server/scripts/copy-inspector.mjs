// Copies the built inspector (apps/inspector/dist) into dist/inspector, which `--inspector`
// serves. turbo builds the inspector first (turbo.json); without it the server still builds,
// and `--inspector` says at start that the inspector is not built.
import { cpSync, existsSync, rmSync } from "node:fs";

const source = new URL("../../inspector/dist/", import.meta.url);
const target = new URL("../dist/inspector/", import.meta.url);
rmSync(target, { recursive: true, force: true });
if (existsSync(new URL("index.html", source))) cpSync(source, target, { recursive: true });
else
  process.stderr.write(
    "bridge-server build: apps/inspector is not built; --inspector will refuse to start\n",
  );
