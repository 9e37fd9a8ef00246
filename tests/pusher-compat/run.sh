#!/usr/bin/env bash
# Runs the real pusher-js / pusher (pusher-http-node) packages against
# `duplex serve`. Builds nothing: expects target/debug/duplex to exist.
# Each *.test.js starts its own server on a free 127.0.0.1 port.
#   DUPLEX_BIN=path      use another binary
#   PUSHER_COMPAT_DEBUG=1 log pusher-js internals to stderr
# Server logs of the last run: tests/pusher-compat/logs/*.log
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${DUPLEX_BIN:-$root/target/debug/duplex}"

if [ ! -x "$bin" ]; then
  echo "pusher-compat: $bin not found; build it first: cargo build -p duplex-cli" >&2
  exit 2
fi
if ! command -v node >/dev/null; then
  echo "pusher-compat: node (>= 20) is required" >&2
  exit 2
fi
if [ ! -d "$here/node_modules/pusher-js" ] || [ ! -d "$here/node_modules/pusher" ]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi

cd "$root"
export DUPLEX_BIN="$bin"
# TAP reporter: prints "# pass N" / "# fail N"; node exits non-zero on any failure.
exec node --test --test-reporter=tap --test-concurrency=1 tests/pusher-compat/*.test.js
