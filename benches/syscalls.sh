#!/usr/bin/env bash
# System calls per echo of one echo server, as in docs/benchmarks.md ("Second
# pass"): the server on core 0, `duplex bench echo` on core 1, and over 2 s
# inside the measured window `perf stat` counts the server's system calls
# (and reads that failed, e.g. EAGAIN) and the load generator's writes. At
# depth 1 the generator writes once per echo, so its writes count the echoes;
# at other depths the bench's msg/s is used.
#
#   benches/syscalls.sh SERVER [CONNECTIONS SIZE DEPTH]
#
# SERVER: duplex, fastwebsockets, tungstenite, uws, or the path of a `duplex`
# binary. Needs perf with access to the syscalls tracepoints (root, or
# perf_event_paranoid <= -1), taskset and python3, and the binaries built
# as benches/run.sh builds them. One line of output per run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
server=${1:?usage: benches/syscalls.sh SERVER [CONNECTIONS SIZE DEPTH]}
connections=${2:-100} size=${3:-16} depth=${4:-1}
. benches/lib.sh
port=$(free_port)
echo_server_command "$server"
work=$(mktemp -d)
taskset -c 0 "${cmd[@]}" --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$work"' EXIT
wait_listening "$port" 100 0.05 || { echo "the server did not listen; see $work/server.log" >&2; cat "$work/server.log" >&2; exit 1; }
taskset -c 1 target/release/duplex bench echo --url "ws://127.0.0.1:$port/" -c "$connections" -s "$size" -d "$depth" \
  --duration 4 --warmup 1 --server-pid "$server_pid" --json >"$work/bench.json" 2>"$work/bench.err" &
bench_pid=$!
sleep 1.5
threads=$(ls "/proc/$server_pid/task" | wc -l)
perf stat -x, -e syscalls:sys_enter_sendto -e syscalls:sys_enter_write -e syscalls:sys_enter_writev \
  -p "$bench_pid" -o "$work/client.csv" -- sleep 2 >/dev/null 2>&1 &
client_perf=$!
perf stat -x, -e 'syscalls:sys_enter_*' \
  -e syscalls:sys_exit_recvfrom --filter 'ret < 0' -e syscalls:sys_exit_read --filter 'ret < 0' \
  -e context-switches -e task-clock -p "$server_pid" -o "$work/server.csv" -- sleep 2 >/dev/null 2>&1
wait "$client_perf"
wait "$bench_pid" || { cat "$work/bench.err" >&2; exit 1; }
python3 - "$server" "$connections" "$size" "$depth" "$threads" "$work" <<'PY'
import json, sys
server, connections, size, depth, threads, work = sys.argv[1:]
bench = json.load(open(f"{work}/bench.json"))

def counts(path):
    out = {}
    for line in open(path):
        fields = line.split(",")
        try:
            value = float(fields[0])
        except (ValueError, IndexError):
            continue
        out[fields[2]] = out.get(fields[2], 0) + value
    return out

client = counts(f"{work}/client.csv")
echoes = sum(client.values()) if depth == "1" else bench["msg_per_s"] * 2.0
stats = counts(f"{work}/server.csv")
cpu_ms = stats.pop("task-clock", 0.0)
switches = stats.pop("context-switches", 0.0)
calls = []
for name, value in sorted(stats.items(), key=lambda kv: -kv[1]):
    if value <= 0:
        continue
    name = name.replace("syscalls:sys_enter_", "").replace("syscalls:sys_exit_", "failed ")
    calls.append(f"{name} {value / echoes:.3f}")
print(f"{server.split('/')[-1]}: {connections} x {size} B, depth {depth}: threads {threads}, "
      f"{bench['msg_per_s']:,.0f} msg/s, server CPU {cpu_ms / 2000:.0%}, {cpu_ms * 1000 / echoes:.2f} us of server CPU "
      f"per echo, context switches {switches / echoes:.4f}; per echo: " + ", ".join(calls))
PY
