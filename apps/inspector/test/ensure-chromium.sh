#!/usr/bin/env bash
# The browser tests drive Debian's chromium (playwright-core downloads no browser here).
# Installs it with apt when missing, as root; says what to do otherwise.
set -euo pipefail
browser="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$browser" ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: $browser is missing; install it (apt-get install chromium) or set CHROMIUM_PATH" >&2
  exit 1
fi
echo "ensure-chromium: installing Debian's chromium" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends chromium >&2 || {
  apt-get update >&2
  apt-get install -y --no-install-recommends chromium >&2
}
