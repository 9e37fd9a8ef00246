#!/usr/bin/env bash
# Runs the demo pages' end-to-end tests in headless Chromium (playwright-core
# driving Debian's chromium package) against target/debug/duplex.
#
# Installs what is missing (scripts/setup web: chromium with apt-get,
# web/node_modules with `npm ci`). Builds nothing: run
# `cargo build -p duplex-cli` first. Each test file starts its own
# `duplex serve` on a free 127.0.0.1 port.
#
#   DUPLEX_BIN=path             use another duplex binary
#   CHROMIUM=path               use another Chromium
#   DUPLEX_DOCS_SCREENSHOTS=1   also copy the screenshots to docs/img/
#
# Screenshots and server logs land in web/test-results/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
bin="${DUPLEX_BIN:-$root/target/debug/duplex}"
chromium="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$bin" ]; then
  echo "web tests: $bin not found; build it first: cargo build -p duplex-cli" >&2
  exit 2
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "web tests: node (>= 20) and npm are required" >&2
  exit 2
fi
if [ ! -x "$chromium" ] || [ ! -d "$here/node_modules/playwright-core" ] || [ ! -d "$here/node_modules/pusher-js" ]; then
  if [ "$chromium" != /usr/bin/chromium ] && [ ! -x "$chromium" ]; then
    echo "web tests: $chromium not found" >&2
    exit 2
  fi
  "$root/scripts/setup" web
fi

cd "$here"
rm -rf test-results
export DUPLEX_BIN="$bin" CHROMIUM="$chromium"
# TAP reporter: prints "# pass N" / "# fail N"; node exits non-zero on any failure.
# One file at a time: each starts its own server and browser, on 2 cores.
exec node --test --test-reporter=tap --test-concurrency=1 tests/*.test.js
