#!/usr/bin/env node
// The installed command: runs the built CLI (kept outside dist/ so that package managers can
// link it before the first build).
import "../dist/cli.js";
