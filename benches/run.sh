#!/usr/bin/env bash
# The end-to-end benchmark kit: `duplex echo` against echo servers built from
# tokio-tungstenite, fastwebsockets and uWebSockets (benches/peers/uws: the
# uWebSockets v20 library inside socketify's PyPI package), in one run, servers alternated, each
# cell repeated; then idle memory per connection, and fan-out through
# `duplex serve`. The server runs pinned to one core, the load generator
# (`duplex bench`) to the other. See docs/benchmarks.md.
#
#   benches/run.sh                 the full kit (about 10 minutes on 2 cores, after the build)
#   QUICK=1 benches/run.sh         a smoke run (1 repeat, short windows, 1000 idle connections)
#
# Settings (environment): REPEATS (3), DURATION (5 s measured), WARMUP (1 s),
# IDLE_CONNECTIONS (10000), IDLE_SIZES ("16 65536": the round trip each idle
# connection makes first), SERVERS ("duplex fastwebsockets tungstenite uws"),
# CELLS ("CONNECTIONS:SIZE:DEPTH ..."), FANOUT (1: run the fan-out cells),
# SERVER_CPU (0), CLIENT_CPU (1), NO_BUILD (1: use the binaries already built),
# WAIT_QUIET (minutes to wait, before measuring, for a 1-minute load average < 1.0),
# DUPLEX_SERVER (the `duplex` binary run as the duplex server, default the one
# built here; e.g. a copy of an older build, to compare two versions with the
# same load generator).
# Raw results and the summary go to target/bench-results/<time>/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

if [ -n "${QUICK:-}" ]; then
  : "${REPEATS:=1}" "${DURATION:=1}" "${WARMUP:=0.5}" "${IDLE_CONNECTIONS:=1000}"
fi
REPEATS=${REPEATS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000}
IDLE_SIZES=${IDLE_SIZES:-"16 65536"}
SERVERS=${SERVERS:-"duplex fastwebsockets tungstenite uws"}
CELLS=${CELLS:-"100:16:1 100:1024:1 1000:16:1 100:65536:1 100:16:16"}
FANOUT=${FANOUT:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

command -v taskset >/dev/null || { echo "run.sh needs taskset (util-linux)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "run.sh needs python3 for the summary" >&2; exit 1; }

out=$root/target/bench-results/$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$out/logs"
echo "results: $out"

# --- build -------------------------------------------------------------------
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release -p duplex-cli
  cargo build --release --manifest-path benches/peers/Cargo.toml --target-dir target/bench-peers
  case " $SERVERS " in *" uws "*) benches/peers/uws/build.sh ;; esac
fi
duplex=$root/target/release/duplex
duplex_server=${DUPLEX_SERVER:-$duplex}
peers=$root/target/bench-peers/release

# Thousands of connections need file descriptors, on both sides.
ulimit -n "$(ulimit -Hn)"

# --- the machine ---------------------------------------------------------------
if [ -n "${WAIT_QUIET:-}" ]; then
  deadline=$((SECONDS + WAIT_QUIET * 60))
  until awk '{ exit !($1 < 1.0) }' /proc/loadavg; do
    if [ $SECONDS -ge $deadline ]; then echo "still busy after $WAIT_QUIET min: measuring anyway"; break; fi
    sleep 15
  done
fi

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "kernel: $(uname -srm)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc)"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "rustc: $(rustc --version)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "open files: $(ulimit -n)"
  for crate in tokio-tungstenite tungstenite fastwebsockets hyper tokio; do
    version=$(awk -v name="$crate" '$0 == "name = \"" name "\"" {getline; gsub(/version = |"/, ""); print; exit}' benches/peers/Cargo.lock)
    echo "peer crate $crate: $version"
  done
  echo "peer uws: uWebSockets v20 in socketify $(ls target/bench-peers/uws/socketify-*.tar.gz 2>/dev/null | sed 's/.*socketify-//; s/\.tar\.gz//') (prebuilt, uSockets on libuv $(dpkg-query -W -f='${Version}' libuv1 2>/dev/null || echo '?'))"
  echo "settings: REPEATS=$REPEATS DURATION=$DURATION WARMUP=$WARMUP IDLE_CONNECTIONS=$IDLE_CONNECTIONS CELLS=\"$CELLS\" SERVERS=\"$SERVERS\""
  echo "duplex server: $duplex_server"
  echo "command: ${QUICK:+QUICK=1 }benches/run.sh"
} | tee "$out/machine.txt"
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l >= 1.0) }'; then
  echo "warning: load average $load >= 1.0: other work is running, numbers will be noisy" | tee -a "$out/machine.txt"
fi

# --- servers -------------------------------------------------------------------
next_port=19200
free_port() {
  while (exec 3<>"/dev/tcp/127.0.0.1/$next_port") 2>/dev/null; do next_port=$((next_port + 1)); done
  port=$next_port
  next_port=$((next_port + 1))
}

wait_listening() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || { echo "the server exited; see $2" >&2; return 1; }
    sleep 0.05
  done
  echo "the server did not listen on $1 within 5 s; see $2" >&2
  return 1
}

# start_server NAME: starts it pinned to SERVER_CPU on a free port; sets
# server_pid and port.
start_server() {
  free_port
  local log=$out/logs/$1-$port.log
  case $1 in
    duplex) taskset -c "$SERVER_CPU" "$duplex_server" echo --listen "127.0.0.1:$port" >"$log" 2>&1 & ;;
    duplex-serve)
      taskset -c "$SERVER_CPU" "$duplex" serve --listen "127.0.0.1:$port" --no-demo \
        --app-id bench --app-key bench-key --app-secret bench-secret >"$log" 2>&1 & ;;
    fastwebsockets) taskset -c "$SERVER_CPU" "$peers/fastwebsockets-echo" --listen "127.0.0.1:$port" >"$log" 2>&1 & ;;
    tungstenite) taskset -c "$SERVER_CPU" "$peers/tungstenite-echo" --listen "127.0.0.1:$port" >"$log" 2>&1 & ;;
    uws) taskset -c "$SERVER_CPU" "$root/target/bench-peers/uws/uws-echo" --listen "127.0.0.1:$port" >"$log" 2>&1 & ;;
    *) echo "unknown server $1" >&2; exit 1 ;;
  esac
  server_pid=$!
  wait_listening "$port" "$log"
}

server_pid=
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}
trap 'stop_server' EXIT

bench() {
  taskset -c "$CLIENT_CPU" "$duplex" bench "$@" --server-pid "$server_pid" --json
}

# Servers in a different order on each repeat: none always runs first.
rotation() {
  local -a list=($SERVERS)
  local n=${#list[@]} i
  for ((i = 0; i < n; i++)); do echo "${list[(($1 + i) % n)]}"; done
}

# --- echo ------------------------------------------------------------------------
for ((repeat = 1; repeat <= REPEATS; repeat++)); do
  for cell in $CELLS; do
    IFS=: read -r connections size depth <<<"$cell"
    for server in $(rotation "$repeat"); do
      start_server "$server"
      printf 'echo  repeat %d  %-15s %5s conns x %6s B, depth %2s: ' "$repeat" "$server" "$connections" "$size" "$depth"
      if result=$(bench echo --url "ws://127.0.0.1:$port/" -c "$connections" -s "$size" -d "$depth" \
        --duration "$DURATION" --warmup "$WARMUP" --label "$server" 2>>"$out/logs/bench.log"); then
        echo "$result" | python3 benches/summarize.py --line echo
        echo "{\"repeat\": $repeat, \"result\": $result}" >>"$out/echo.jsonl"
      else
        echo "FAILED (see $out/logs/bench.log)"
      fi
      stop_server
    done
  done
done

# --- idle memory -----------------------------------------------------------------
# Each connection makes one round trip of SIZE bytes, then idles: 16 B is the
# connection's own cost, 64 KiB shows whether a server keeps the buffers a
# large message needed.
for ((repeat = 1; repeat <= REPEATS; repeat++)); do
  for size in $IDLE_SIZES; do
    for server in $(rotation "$repeat"); do
      start_server "$server"
      printf 'idle  repeat %d  %-15s %6s conns, after %6s B: ' "$repeat" "$server" "$IDLE_CONNECTIONS" "$size"
      if result=$(bench idle --url "ws://127.0.0.1:$port/" -c "$IDLE_CONNECTIONS" -s "$size" --settle 2 --label "$server" 2>>"$out/logs/bench.log"); then
        echo "$result" | python3 benches/summarize.py --line idle
        echo "{\"repeat\": $repeat, \"result\": $result}" >>"$out/idle.jsonl"
      else
        echo "FAILED (see $out/logs/bench.log)"
      fi
      stop_server
    done
  done
done

# --- fan-out (duplex serve only: the peers have no Pusher server) ------------------
if [ "$FANOUT" = 1 ]; then
  for ((repeat = 1; repeat <= REPEATS; repeat++)); do
    for cell in 100:1000 1000:100; do
      IFS=: read -r subscribers rate <<<"$cell"
      start_server duplex-serve
      printf 'fanout repeat %d  %5s subscribers x %4s events/s: ' "$repeat" "$subscribers" "$rate"
      if result=$(bench fanout --url "ws://127.0.0.1:$port/" -c "$subscribers" --rate "$rate" \
        --app-id bench --app-key bench-key --app-secret bench-secret \
        --duration "$DURATION" --warmup "$WARMUP" --label duplex-serve 2>>"$out/logs/bench.log"); then
        echo "$result" | python3 benches/summarize.py --line fanout
        echo "{\"repeat\": $repeat, \"result\": $result}" >>"$out/fanout.jsonl"
      else
        echo "FAILED (see $out/logs/bench.log)"
      fi
      stop_server
    done
  done
fi

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"
python3 benches/summarize.py "$out" | tee "$out/summary.md"
