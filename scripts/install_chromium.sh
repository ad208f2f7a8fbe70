#!/usr/bin/env bash
# Installs Debian's chromium for the inspector's browser test
# (tests/run/inspect_browser_test.ts) when /usr/bin/chromium is missing.
# Fails loudly: the browser test must never be skipped for want of a browser.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install_chromium: /usr/bin/chromium is missing and installing it needs root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
test -x /usr/bin/chromium || { echo "install_chromium: chromium did not install /usr/bin/chromium" >&2; exit 1; }
/usr/bin/chromium --version
