#!/usr/bin/env bash
# Autobahn TestSuite runner: tests one WebSocket implementation in one role.
#
#   run.sh server ws://127.0.0.1:PORT [CASES]
#       The server under test is already listening at that address (127.x.x.x or
#       localhost); the suite connects to it once per case.
#   run.sh client [PORT] [CASES] -- CMD [ARGS...]
#       The suite listens on 127.0.0.1:PORT (default 9001) and CMD, the client
#       under test, runs with AUTOBAHN_URL=ws://127.0.0.1:PORT. It must follow the
#       suite's client protocol: /getCaseCount, then /runCase?case=N&agent=NAME for
#       N = 1..count, echoing every message, then /updateReports. Without "-- CMD"
#       the suite waits for a client started elsewhere.
#   run.sh summary DIR
#       Prints the summary of a finished run again (summary.py).
#
# CASES: comma-separated patterns, default "*" (all 517), e.g. "1.*,5.*,12.1.*".
# Environment:
#   AUTOBAHN_HOME     where setup.sh installed the suite (default ~/.cache/autobahn);
#                     setup.sh runs first when wstest is not there
#   AUTOBAHN_REPORTS  reports go to $AUTOBAHN_REPORTS/server or /client (default
#                     ./autobahn-reports); a run empties its directory first
#   AUTOBAHN_EXCLUDE  comma-separated patterns of cases to skip, e.g. "12.*,13.*"
#   AUTOBAHN_TIMEOUT  seconds the suite, and the client under test, may run
#                     (default 1800)
# Exit status: 0 every case passed; 1 a case failed (UNIMPLEMENTED included) or
# has no result; 2 the run itself went wrong (usage, timeout, nothing listening,
# no report written). Only loopback addresses are used; everything this script
# starts is stopped by its PID.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
wstest="${AUTOBAHN_HOME:-$HOME/.cache/autobahn}/bin/wstest"
limit="${AUTOBAHN_TIMEOUT:-1800}"
reports="${AUTOBAHN_REPORTS:-./autobahn-reports}"

say() { echo "run.sh: $*"; }
fail() { echo "run.sh: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

# --- processes ---------------------------------------------------------------
# Each one runs under `timeout`, which hands a signal on to its command, so
# killing the recorded PID stops the command too.
started=()
stop_started() {
  local pid
  for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
  started=()
}
trap stop_started EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_bounded LOG CMD...: runs CMD in the background (stdin closed, output to
# LOG) under the time limit; its PID is in $last_pid.
start_bounded() {
  local log=$1
  shift
  timeout -k 10 "$limit" "$@" </dev/null >"$log" 2>&1 &
  last_pid=$!
  started+=("$last_pid")
}

# run_bounded LOG CMD...: the same, in the foreground; returns CMD's status
# (124 on timeout). Waiting on a background job keeps Ctrl-C effective.
run_bounded() {
  local rc=0
  start_bounded "$@"
  wait "$last_pid" || rc=$?
  return "$rc"
}

# Whether something listens on TCP port $1 (read from /proc, without connecting).
port_in_use() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v port=":$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == port { hit = 1 }
    END { exit !hit }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# --- reports -------------------------------------------------------------------
# new_report_dir ROLE: empties $reports/ROLE; sets $out (absolute) and $log.
new_report_dir() {
  mkdir -p "$reports"
  out="$(cd "$reports" && pwd)/$1"
  rm -rf "$out"
  mkdir -p "$out"
  log="$out/wstest.log"
}

# write_spec ROLE URL CASES: the suite's test specification, $out/spec.json.
write_spec() {
  python3 -c '
import json, os, sys
out, role, url, cases = sys.argv[1:]
patterns = lambda text: [p.strip() for p in text.split(",") if p.strip()]
spec = {"outdir": out, "cases": patterns(cases) or ["*"],
        "exclude-cases": patterns(os.environ.get("AUTOBAHN_EXCLUDE", ""))}
if role == "server":
    spec["servers"] = [{"url": url}]  # the suite is the client: fuzzingclient
else:
    spec["url"] = url                 # the suite is the server: fuzzingserver
with open(os.path.join(out, "spec.json"), "w") as f:
    json.dump(spec, f, indent=2)
' "$out" "$@"
}

which_cases() {
  if [ -n "${AUTOBAHN_EXCLUDE:-}" ]; then
    echo "cases '$1' except '$AUTOBAHN_EXCLUDE'"
  else
    echo "cases '$1'"
  fi
}

# The case the suite was at, for timeouts and missing reports.
last_started_case() {
  local id
  id=$(sed -n 's/^Running test case ID \([^ ]*\).*/\1/p' "$log" | tail -n 1)
  [ -z "$id" ] || say "the last case started was $id"
}

# report_written SECONDS: waits up to SECONDS for the suite to finish its reports.
report_written() {
  local until=$((SECONDS + $1))
  while :; do
    grep -q '^Report generation complete' "$log" && return 0
    if [ "$SECONDS" -ge "$until" ] || ! kill -0 "$suite_pid" 2>/dev/null; then return 1; fi
    sleep 0.5
  done
}

# --- the two roles -----------------------------------------------------------------
run_failed=""

test_server() {
  local url=${1:-} cases=${2:-*} rc=0 began=$SECONDS
  [ -n "$url" ] || usage
  [[ $url =~ ^ws://(127\.[0-9]+\.[0-9]+\.[0-9]+|localhost)(:([0-9]+))?(/.*)?$ ]] \
    || fail "the server under test must have a ws:// loopback address (127.x.x.x or localhost), not '$url'"
  local host=${BASH_REMATCH[1]} port=${BASH_REMATCH[3]:-80}
  # shellcheck disable=SC2016 # $0 and $1 are the inner shell's arguments
  timeout 5 bash -c ': <>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null \
    || fail "nothing accepts connections at $url"
  new_report_dir server
  write_spec server "$url" "$cases"
  say "testing the server at $url: $(which_cases "$cases"); log $log"
  run_bounded "$log" "$wstest" -m fuzzingclient -s "$out/spec.json" || rc=$?
  say "the suite ran for $((SECONDS - began)) s, exit status $rc"
  if [ "$rc" -eq 124 ]; then
    say "TIMEOUT: the suite did not finish within ${limit} s (AUTOBAHN_TIMEOUT)"
    last_started_case
    run_failed=1
  elif [ "$rc" -ne 0 ]; then
    tail -n 15 "$log"
    run_failed=1
  fi
}

test_client() {
  local port=9001 cases="*" rc=0 began=$SECONDS
  if [[ ${1:-} =~ ^[0-9]+$ ]]; then port=$1; shift; fi
  if [ $# -gt 0 ] && [ "$1" != "--" ]; then cases=$1; shift; fi
  if [ $# -gt 0 ]; then
    [ "$1" = "--" ] || usage
    shift
  fi
  local url="ws://127.0.0.1:$port"
  ! port_in_use "$port" || fail "port $port is taken; choose another"
  new_report_dir client
  write_spec client "$url" "$cases"
  say "serving $(which_cases "$cases") at $url; log $log"
  # -u 0: no report web server (it would listen on port 8080).
  start_bounded "$log" "$wstest" -m fuzzingserver -u 0 -s "$out/spec.json"
  suite_pid=$last_pid
  local until=$((SECONDS + 60))
  until port_in_use "$port"; do
    if ! kill -0 "$suite_pid" 2>/dev/null || [ "$SECONDS" -ge "$until" ]; then
      tail -n 20 "$log" >&2
      fail "the suite is not listening on $url"
    fi
    sleep 0.2
  done

  if [ $# -gt 0 ]; then
    say "running the client under test: $* (output in $out/client.log)"
    AUTOBAHN_URL="$url" run_bounded "$out/client.log" "$@" || rc=$?
    say "the client exited with status $rc after $((SECONDS - began)) s"
    if [ "$rc" -eq 124 ]; then
      say "TIMEOUT: the client did not finish within ${limit} s (AUTOBAHN_TIMEOUT)"
      run_failed=1
    elif [ "$rc" -ne 0 ]; then
      tail -n 10 "$out/client.log"
    fi
    # Once asked (/updateReports), the suite needs a moment to write the reports.
    report_written 5 || { grep -q '^Updating reports' "$log" && report_written 120; } || true
  else
    say "waiting up to ${limit} s for a client; the run ends when it requests /updateReports"
    report_written "$limit" || true
  fi
  stop_started
  if ! grep -q '^Report generation complete' "$log"; then
    say "NO REPORT: the client under test never completed /updateReports"
    last_started_case
    run_failed=1
  fi
}

# --- main ----------------------------------------------------------------------------
role=${1:-}
[ $# -eq 0 ] || shift
case "$role" in
  server | client)
    if [ ! -x "$wstest" ]; then
      say "the suite is not installed; running setup.sh"
      "$here/setup.sh" >&2 || fail "setup.sh failed (see above)"
    fi
    if [ "$role" = server ]; then test_server "$@"; else test_client "$@"; fi
    status=0
    python3 "$here/summary.py" "$out" --role "$role" || status=$?
    if [ -n "$run_failed" ]; then
      say "the run itself failed (see above); the summary covers what ran"
      exit 2
    fi
    exit "$status"
    ;;
  summary)
    [ $# -eq 1 ] || usage
    exec python3 "$here/summary.py" "$1"
    ;;
  *) usage ;;
esac
