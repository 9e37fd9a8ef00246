#!/usr/bin/env bash
# User-space instructions per echo of one echo server, with valgrind's
# callgrind (repeatable, unlike timings on a shared machine), as in
# docs/benchmarks.md ("Second pass"). The server runs under callgrind on
# core 0 and `duplex bench echo` on core 1; the counters are zeroed after the
# warmup and dumped 2 s later. Echoes are counted as the server's calls of
# libc's `send` and `writev` (one per echo at depth 1 for the servers in the
# kit). Prints the total per echo and the functions that cost the most.
#
#   benches/callgrind.sh SERVER [CONNECTIONS SIZE DEPTH [TOP]]
#
# SERVER: duplex, fastwebsockets, tungstenite, uws, or the path of a `duplex`
# binary. Needs valgrind (callgrind_control), taskset and python3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
server=${1:?usage: benches/callgrind.sh SERVER [CONNECTIONS SIZE DEPTH [TOP]]}
connections=${2:-100} size=${3:-16} depth=${4:-1} top=${5:-25}
. benches/lib.sh
port=$(free_port)
echo_server_command "$server"
work=$(mktemp -d)
taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
  "${cmd[@]}" --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$work"' EXIT
wait_listening "$port" 300 0.1 || { echo "the server did not listen; see $work/server.log" >&2; cat "$work/server.log" >&2; exit 1; }
taskset -c 1 target/release/duplex bench echo --url "ws://127.0.0.1:$port/" -c "$connections" -s "$size" -d "$depth" \
  --duration 4 --warmup 2 --json >"$work/bench.json" 2>"$work/bench.err" &
bench_pid=$!
sleep 3
callgrind_control -z "$server_pid" >/dev/null
zeroed=$(date +%s.%N)
sleep 2
callgrind_control -d "$server_pid" >/dev/null
dumped=$(date +%s.%N)
wait "$bench_pid" || true
python3 - "$work/callgrind.out.1" "$top" "$server" "$depth" "$work/bench.json" "$zeroed" "$dumped" <<'PY'
import collections, json, re, sys
path, top, server, depth = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
names, self_cost, calls = {}, collections.Counter(), collections.Counter()
current = callee = None
after_calls = False
for line in open(path, errors="replace"):
    line = line.rstrip("\n")
    m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
    if m:
        kind, ident, name = m.groups()
        if name:
            names[ident] = name
        if kind == "fn":
            current = ident
        else:
            callee = ident
        continue
    if line.startswith("calls="):
        calls[callee] += int(line.split("=")[1].split()[0])
        after_calls = True
        continue
    if line and (line[0].isdigit() or line[0] in "+-*"):
        parts = line.split()
        if len(parts) >= 2:
            if after_calls:
                after_calls = False  # the inclusive cost of a call, not our own
            else:
                self_cost[current] += int(parts[1])
writes = sum(n for ident, n in calls.items() if names.get(ident) in ("send", "writev", "__send", "__writev"))
total = sum(self_cost.values())
if depth == 1:
    echoes, how = writes, "one write per echo"
else:
    # Several echoes per write: estimate the echoes in the window from the
    # generator's rate (steady, the server under valgrind being the limit).
    rate = json.load(open(sys.argv[5]))["msg_per_s"]
    echoes = round(rate * (float(sys.argv[7]) - float(sys.argv[6])))
    how = f"{rate:,.0f} msg/s over the window, {writes / max(echoes, 1):.3f} writes per echo"
if not echoes:
    sys.exit("no echoes in the window")
print(f"{server.split('/')[-1]}: {echoes} echoes ({how}), {total / echoes:,.0f} user-space instructions per echo")
for ident, cost in self_cost.most_common(top):
    print(f"{cost / echoes:9.1f}  {names.get(ident, ident)[:140]}")
PY
