#!/usr/bin/env bash
# Quick start, command one: set up, then run the bridge-server on its embedded in-memory store.
# Extra arguments go to the server (for example --port 0 or --token secret); with --inspector
# it also serves the inspector page and prints its URL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node apps/bridge-server/dist/cli.js "$@"
