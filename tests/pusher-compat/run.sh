#!/usr/bin/env bash
# Runs the real pusher-js / pusher (pusher-http-node) packages against
# `duplex serve`, three times:
#   1. single node: each *.test.js starts its own server on a free 127.0.0.1 port;
#   2. 2-node cluster (PUSHER_COMPAT_CLUSTER=1): each *.test.js starts its own
#      redis-server and two `duplex serve --adapter redis` nodes; pusher-js
#      clients connect to node B, the `pusher` SDK publishes and queries via
#      node A, webhooks of both nodes go to one receiver;
#   3. the same cluster with pusher-js clients alternating between node B and
#      node A (PUSHER_COMPAT_CLIENT_NODES=alternate), so members, quotas and
#      webhooks span both nodes.
# Fails (exit status of the first failing pass) if any pass fails, and says
# which. Builds nothing: expects target/debug/duplex to exist.
#   DUPLEX_BIN=path       use another binary
#   REDIS_SERVER=path     use another redis-server (default: redis-server on PATH)
#   PUSHER_COMPAT_ONLY=single|cluster|mixed   run one pass only (while iterating)
#   PUSHER_COMPAT_DEBUG=1 log pusher-js internals to stderr
#   run.sh [FILE.test.js ...]   only these test files (default: all)
# Server logs of the last run: tests/pusher-compat/logs/*.log (NAME.log for the
# single node; NAME.cluster-node-{a,b}.log and NAME.cluster-redis.log for the
# cluster); TAP output of each pass: logs/{single,cluster,mixed}.tap
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${DUPLEX_BIN:-$root/target/debug/duplex}"
redis="${REDIS_SERVER:-redis-server}"
only="${PUSHER_COMPAT_ONLY:-}"

case "$only" in
  '') passes=(single cluster mixed) ;;
  single | cluster | mixed) passes=("$only") ;;
  *)
    echo "pusher-compat: PUSHER_COMPAT_ONLY must be single, cluster or mixed, not '$only'" >&2
    exit 2
    ;;
esac

if [ ! -x "$bin" ]; then
  echo "pusher-compat: $bin not found; build it first: cargo build -p duplex-cli" >&2
  exit 2
fi
if ! command -v node >/dev/null; then
  echo "pusher-compat: node (>= 20) is required" >&2
  exit 2
fi
if [[ " ${passes[*]} " == *" cluster "* || " ${passes[*]} " == *" mixed "* ]] && ! command -v "$redis" >/dev/null; then
  echo "pusher-compat: $redis not found: the 2-node cluster pass needs a real Redis" >&2
  echo "pusher-compat: install it (apt-get install redis-server) or set REDIS_SERVER=path" >&2
  exit 2
fi
if [ ! -d "$here/node_modules/pusher-js" ] || [ ! -d "$here/node_modules/pusher" ]; then
  "$root/scripts/setup" pusher-compat
fi

files=()
for f in "$@"; do files+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"); done
cd "$root"
export DUPLEX_BIN="$bin"
export REDIS_SERVER="$redis"
[ ${#files[@]} -gt 0 ] || files=(tests/pusher-compat/*.test.js)
logs="$here/logs"
mkdir -p "$logs"
rm -f "$logs"/*.log "$logs"/*.tap

label() {
  case "$1" in
    single) echo "single node" ;;
    cluster) echo "2-node cluster (redis)" ;;
    mixed) echo "2-node cluster, clients on both nodes" ;;
  esac
}

# Runs one pass; its TAP output goes to stdout and to logs/MODE.tap.
run_pass() {
  local mode=$1 cluster=0 client_nodes="" rc start=$SECONDS
  if [ "$mode" != single ]; then cluster=1; fi
  if [ "$mode" = mixed ]; then client_nodes=alternate; fi
  echo "pusher-compat: ===== pass: $(label "$mode") ====="
  set +e
  # TAP reporter: prints "# pass N" / "# fail N"; node exits non-zero on any failure.
  PUSHER_COMPAT_CLUSTER=$cluster PUSHER_COMPAT_CLIENT_NODES=$client_nodes node --test --test-reporter=tap --test-concurrency=1 "${files[@]}" |
    tee "$logs/$mode.tap"
  rc=${PIPESTATUS[0]}
  set -e
  local tests pass fail
  tests=$(sed -n 's/^# tests //p' "$logs/$mode.tap" | tail -1)
  pass=$(sed -n 's/^# pass //p' "$logs/$mode.tap" | tail -1)
  fail=$(sed -n 's/^# fail //p' "$logs/$mode.tap" | tail -1)
  local counts="${pass:-?} of ${tests:-?} passed, ${fail:-?} failed, $((SECONDS - start)) s"
  if [ "$rc" -eq 0 ]; then
    summary+=("pusher-compat: $(label "$mode"): ok ($counts)")
  else
    summary+=("pusher-compat: $(label "$mode"): FAILED (exit $rc; $counts; see logs/$mode.tap)")
    failed+=("$(label "$mode")")
    [ "$status" -ne 0 ] || status=$rc
  fi
}

summary=() failed=() status=0
for mode in "${passes[@]}"; do run_pass "$mode"; done

echo
printf '%s\n' "${summary[@]}"
if [ -n "$only" ]; then
  echo "pusher-compat: only the $(label "$only") pass ran (PUSHER_COMPAT_ONLY=$only)"
fi
if [ "$status" -ne 0 ]; then
  for what in "${failed[@]}"; do echo "pusher-compat: FAILED in the $what pass" >&2; done
fi
exit "$status"
