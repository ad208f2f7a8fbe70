#!/usr/bin/env bash
# Installs AWS's Node.js runtime interface client (aws-lambda-ric, pinned in
# .tools/ric/package-lock.json) into .tools/ric/node_modules, for
# tests/runtime/ric_test.ts. Its native addon (aws-lambda-cpp and a bundled
# curl) is compiled with node-gyp, which takes minutes, so a built install is
# kept and reused: a second run returns at once.
#
# Needs node and npm (Node.js 20 or later), g++, make, cmake, python3 and
# autoconf/automake/libtool (Debian: apt-get install g++ make cmake python3 autoconf automake libtool).
set -euo pipefail
cd "$(dirname "$0")/../.tools/ric"

if [ -x node_modules/.bin/aws-lambda-ric ] && [ -f node_modules/aws-lambda-ric/dist/rapid-client.node ] &&
  cmp -s package-lock.json node_modules/.package-lock.json.installed; then
  exit 0
fi

# The autotools are not on a fresh machine; install them the Debian way when we can.
if ! command -v autoreconf >/dev/null || ! command -v libtoolize >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "Installing autoconf, automake and libtool for the aws-lambda-ric build..." >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq autoconf automake libtool >/dev/null
  fi
fi

missing=()
for tool in node npm g++ make cmake python3 autoreconf libtoolize; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Cannot install aws-lambda-ric: not on PATH: ${missing[*]}" >&2
  exit 1
fi

echo "Building aws-lambda-ric (native addon; a few minutes, once)..." >&2
npm ci --no-audit --no-fund --loglevel=error
# Remember which lock this build came from, so a changed pin rebuilds.
cp package-lock.json node_modules/.package-lock.json.installed
