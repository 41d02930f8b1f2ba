#!/usr/bin/env bash
# Installs Debian's redis-server, which the Redis session store's tests start on a free
# loopback port (they never use a system service). Idempotent and quiet: it does nothing when
# redis-server is present, and runs `apt-get update` only when the package cannot be found
# without it.
set -euo pipefail

command -v redis-server >/dev/null 2>&1 && exit 0
[ -x /usr/bin/redis-server ] && exit 0

run_as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    run_as_root=(sudo)
  else
    echo "redis-setup: need root (or sudo) to install redis-server" >&2
    exit 1
  fi
fi

install() {
  "${run_as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends redis-server >/dev/null
}

echo "redis-setup: installing redis-server" >&2
if ! install 2>/dev/null; then
  "${run_as_root[@]}" apt-get update -qq >/dev/null
  install
fi
# The package starts a system service on port 6379; the tests start their own servers.
if command -v systemctl >/dev/null 2>&1; then "${run_as_root[@]}" systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
