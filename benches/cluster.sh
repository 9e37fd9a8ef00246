#!/usr/bin/env bash
# Fan-out through a `duplex serve` cluster: one node with the memory adapter,
# then 1, 2 and 3 nodes over one real redis-server, alternated, each repeated.
# Subscribers are spread round-robin over the nodes; events are published
# through node 1's HTTP API, so with N nodes (N-1)/N of the deliveries
# cross Redis. The nodes and redis-server run pinned to SERVER_CPU, the load
# generator (`duplex bench fanout`) to CLIENT_CPU. See docs/scaling.md.
#
#   benches/cluster.sh            about 4 minutes after the build
#   QUICK=1 benches/cluster.sh    a smoke run (1 repeat, 1 s windows)
#
# Settings (environment): REPEATS (3), DURATION (5 s), WARMUP (1 s),
# SUBSCRIBERS (1000), RATE (100 events/s asked), SETUPS ("memory:1 redis:1
# redis:2 redis:3"), SERVER_CPU (0), CLIENT_CPU (1), NO_BUILD (1: skip the build),
# DUPLEX_BIN (the duplex binary; default target/release/duplex).
# Raw results go to target/bench-results/cluster-<time>/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

if [ -n "${QUICK:-}" ]; then
  : "${REPEATS:=1}" "${DURATION:=1}" "${WARMUP:=0.5}"
fi
REPEATS=${REPEATS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
RATE=${RATE:-100}
SETUPS=${SETUPS:-"memory:1 redis:1 redis:2 redis:3"}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SECRET=bench-secret

for tool in taskset python3 redis-server; do
  command -v "$tool" >/dev/null || { echo "cluster.sh needs $tool" >&2; exit 1; }
done

out=$root/target/bench-results/cluster-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$out/logs"
echo "results: $out"

if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release -p duplex-cli
fi
duplex=${DUPLEX_BIN:-$root/target/release/duplex}
ulimit -n "$(ulimit -Hn)"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap stop_all EXIT

# Waits until a log shows `listening on`, or fails.
wait_listening() {
  local log=$1 pid=$2
  for _ in $(seq 1 200); do
    grep -q "listening on" "$log" && return 0
    kill -0 "$pid" 2>/dev/null || { echo "a node exited; see $log" >&2; return 1; }
    sleep 0.05
  done
  echo "a node did not start; see $log" >&2
  return 1
}

{
  echo "date: $(date -u +%FT%TZ)"
  echo "duplex: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "redis-server: $(redis-server --version)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) ($(nproc) cores)"
  echo "settings: subscribers=$SUBSCRIBERS rate=$RATE duration=$DURATION warmup=$WARMUP repeats=$REPEATS"
} | tee "$out/machine.txt"

cat >"$out/line.py" <<'EOF'
import json, sys
r = json.load(sys.stdin)
print(f"{r['deliveries_per_s']:.0f} deliveries/s, {r['deliveries_per_server_cpu_s'] or 0:.0f} per server CPU-s, "
      f"p50 {r['latency_p50_us'] / 1000:.1f} ms, p99 {r['latency_p99_us'] / 1000:.1f} ms, lost {r['lost']}")
EOF

for repeat in $(seq 1 "$REPEATS"); do
  for setup in $SETUPS; do
    adapter=${setup%%:*}
    nodes=${setup##*:}
    tag="$adapter-$nodes-r$repeat"
    server_pids=()
    urls=()
    redis_args=()
    if [ "$adapter" = redis ]; then
      rport=$(free_port)
      taskset -c "$SERVER_CPU" redis-server --port "$rport" --bind 127.0.0.1 --save "" \
        --appendonly no --dir "$out/logs" >"$out/logs/$tag-redis.log" 2>&1 &
      pids+=($!)
      server_pids+=($!)
      for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break
        sleep 0.05
      done
      redis_args=(--adapter redis --redis-url "redis://127.0.0.1:$rport")
    fi
    for n in $(seq 1 "$nodes"); do
      port=$(free_port)
      log="$out/logs/$tag-node$n.log"
      RUST_LOG=warn DUPLEX_APP_SECRET=$SECRET taskset -c "$SERVER_CPU" "$duplex" serve \
        --listen "127.0.0.1:$port" --no-demo "${redis_args[@]}" >"$log" 2>&1 &
      pids+=($!)
      server_pids+=($!)
      wait_listening "$log" "$!"
      urls+=("ws://127.0.0.1:$port/")
    done
    args=(fanout --url "${urls[0]}" -c "$SUBSCRIBERS" --rate "$RATE"
      --duration "$DURATION" --warmup "$WARMUP" --app-secret "$SECRET" --label "$adapter x$nodes" --json)
    for url in "${urls[@]:1}"; do args+=(--node-url "$url"); done
    for pid in "${server_pids[@]}"; do args+=(--server-pid "$pid"); done
    printf 'repeat %d  %-6s x%d node(s): ' "$repeat" "$adapter" "$nodes"
    if result=$(taskset -c "$CLIENT_CPU" "$duplex" bench "${args[@]}" 2>"$out/logs/$tag-bench.log"); then
      echo "$result" | python3 "$out/line.py"
      echo "{\"setup\": \"$setup\", \"repeat\": $repeat, \"result\": $result}" >>"$out/fanout.jsonl"
    else
      echo "failed; see $out/logs/$tag-bench.log"
    fi
    stop_all
  done
done

python3 - "$out/fanout.jsonl" <<'EOF' | tee "$out/summary.md"
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
setups = list(dict.fromkeys(r["setup"] for r in rows))
print("| setup | nodes | deliveries/s | per server CPU-s | p50 ms | p99 ms | lost | repeats |")
print("|---|--:|--:|--:|--:|--:|--:|--:|")
for setup in setups:
    rs = [r["result"] for r in rows if r["setup"] == setup]
    med = lambda k: statistics.median((x[k] or 0) for x in rs)
    adapter, nodes = setup.split(":")
    print(f"| {adapter} | {nodes} | {med('deliveries_per_s'):,.0f} | {med('deliveries_per_server_cpu_s'):,.0f} | "
          f"{med('latency_p50_us')/1000:.1f} | {med('latency_p99_us')/1000:.1f} | {sum(x['lost'] for x in rs)} | {len(rs)} |")
EOF
