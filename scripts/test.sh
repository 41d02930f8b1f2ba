#!/usr/bin/env bash
# Quick start, command two: set up, then run the whole test suite (every package, the
# compliance suite against every backend, the Python client and the cross-language tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/python-setup.sh
pnpm run test
