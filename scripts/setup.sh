#!/usr/bin/env bash
# Sets up a fresh machine that has only Node 20 and npm: pnpm (pinned), the workspace's
# dependencies, and a build of every package. Idempotent; quiet when there is nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION="$(node -p 'require("./package.json").packageManager.split("@")[1]')"
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm@$PNPM_VERSION" >&2
  npm install --global --no-fund --no-audit "pnpm@$PNPM_VERSION" >&2
fi

if [ "${CI:-}" = "true" ]; then
  pnpm install --frozen-lockfile >&2
else
  pnpm install --frozen-lockfile --prefer-offline >&2
fi
pnpm run build >&2
# Redis for the Redis session store's tests (they start their own servers on free ports).
bash scripts/redis-setup.sh
