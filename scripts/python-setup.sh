#!/usr/bin/env bash
# Installs what the Python client needs, from Debian packages only: the runtime (grpcio,
# protobuf) for /usr/bin/python3, and protoc with gRPC's Python plugin to generate its stubs.
# Idempotent and quiet: it does nothing when everything is present, and runs `apt-get update`
# only when a package cannot be found without it.
set -euo pipefail

missing=()
[ -x /usr/bin/python3 ] || missing+=(python3)
if [ -x /usr/bin/python3 ]; then
  /usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || missing+=(python3-grpcio)
  /usr/bin/python3 -c 'import google.protobuf' >/dev/null 2>&1 || missing+=(python3-protobuf)
else
  missing+=(python3-grpcio python3-protobuf)
fi
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
command -v grpc_python_plugin >/dev/null 2>&1 || missing+=(protobuf-compiler-grpc)

[ "${#missing[@]}" -eq 0 ] && exit 0

run_as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    run_as_root=(sudo)
  else
    echo "python-setup: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi

install() {
  "${run_as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

echo "python-setup: installing ${missing[*]}" >&2
if ! install 2>/dev/null; then
  "${run_as_root[@]}" apt-get update -qq >/dev/null
  install
fi
