#!/usr/bin/env bash
# Runs the Autobahn TestSuite against duplex in one role.
#
#   scripts/autobahn.sh server   # the suite drives `duplex echo`
#   scripts/autobahn.sh client   # `duplex autobahn-client` drives the suite's cases
#
# Uses target/debug/duplex (build it first: cargo build -p duplex-cli). Picks a free
# loopback port, starts what it needs and stops it by PID. Reports go to
# target/autobahn-reports/{server,client}. Extra arguments are passed to run.sh as the
# case patterns, e.g. `scripts/autobahn.sh server '1.*,5.*'`. The suite itself is run by
# tests/autobahn/run.sh, which installs it on first use (tests/autobahn/setup.sh).
# Environment: AUTOBAHN_EXCLUDE, AUTOBAHN_TIMEOUT, AUTOBAHN_HOME as in tests/autobahn/README.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runner="$root/tests/autobahn/run.sh"
duplex="$root/target/debug/duplex"
[ -x "$duplex" ] || { echo "autobahn.sh: build first: cargo build -p duplex-cli" >&2; exit 2; }
export AUTOBAHN_TIMEOUT="${AUTOBAHN_TIMEOUT:-3000}"
export AUTOBAHN_REPORTS="${AUTOBAHN_REPORTS:-$root/target/autobahn-reports}"
mode="${1:?usage: autobahn.sh server|client [CASES]}"
shift
cases="${1:-*}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo_pid=""
cleanup() { [ -z "$echo_pid" ] || { kill "$echo_pid" 2>/dev/null || true; wait "$echo_pid" 2>/dev/null || true; }; }
trap cleanup EXIT

case "$mode" in
  server)
    port=$(free_port)
    mkdir -p "$AUTOBAHN_REPORTS"
    RUST_LOG=warn "$duplex" echo --listen "127.0.0.1:$port" >"$AUTOBAHN_REPORTS/echo-server.log" 2>&1 &
    echo_pid=$!
    for _ in $(seq 100); do
      (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      kill -0 "$echo_pid" 2>/dev/null || { echo "duplex echo died:"; cat "$AUTOBAHN_REPORTS/echo-server.log"; exit 2; }
      sleep 0.1
    done
    bash "$runner" server "ws://127.0.0.1:$port" "$cases"
    ;;
  client)
    port=$(free_port)
    RUST_LOG=warn bash "$runner" client "$port" "$cases" -- "$duplex" autobahn-client
    ;;
  *) echo "usage: autobahn.sh server|client [CASES]" >&2; exit 2 ;;
esac
