#!/usr/bin/env bash
# Runs the Python client's tests with Debian's /usr/bin/python3, against real bridge-servers
# started from apps/bridge-server/dist (built first if missing).
#
#   bash clients/python/run-tests.sh                  every test
#   bash clients/python/run-tests.sh test_watch       one module (names as unittest takes them)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

bash "$root/scripts/python-setup.sh"

if [ ! -f "$root/apps/bridge-server/dist/cli.js" ]; then
  echo "run-tests: building the bridge-server" >&2
  (cd "$root" && pnpm turbo run build --filter=@statebridge/bridge-server... --output-logs=errors-only >&2)
fi

cd "$here/tests"
export PYTHONPATH="$here/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
if [ "$#" -eq 0 ]; then
  exec /usr/bin/python3 -m unittest discover --start-directory . --pattern 'test_*.py'
fi
exec /usr/bin/python3 -m unittest "$@"
