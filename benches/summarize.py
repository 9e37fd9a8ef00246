#!/usr/bin/env python3
"""Summarizes a benches/run.sh result directory as markdown: medians, ratios
against the targets of issue 9, and the raw numbers of every repeat.

    python3 benches/summarize.py target/bench-results/<time>
    python3 benches/summarize.py --line echo|idle|fanout < one-report.json
"""
import json
import statistics
import sys
from pathlib import Path

DUPLEX = "duplex"
PEERS = ["fastwebsockets", "uws", "tungstenite"]  # in this order, those present
TARGET_RATIO = 1.2
TARGET_IDLE_KIB = 4.0


def load(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=0):
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def size_name(size):
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} B"


def line(mode, r):
    if mode == "echo":
        return (f"{r['msg_per_s']:>9.0f} msg/s  {r['echoes_per_server_cpu_s'] or 0:>9.0f} /server-cpu-s  "
                f"p50 {r['rtt_p50_us']:>8.1f} us  p99 {r['rtt_p99_us']:>8.1f} us  "
                f"cpu server {r['server_cpu_s'] or 0:.2f} s, bench {r['self_cpu_s'] or 0:.2f} s")
    if mode == "idle":
        return (f"{r['server_kib_per_connection']:>8.2f} KiB/connection "
                f"(RSS {r['server_rss_before_kib']} -> {r['server_rss_after_kib']} KiB)")
    return (f"{r['deliveries_per_s']:>9.0f} deliveries/s  {r['publish_per_s']:.0f} publishes/s  "
            f"p50 {r['latency_p50_us']:.0f} us  p99 {r['latency_p99_us']:.0f} us  lost {r['lost']}")


def verdict(ratio):
    if ratio is None:
        return "-"
    return f"{ratio:.2f} {'✅' if ratio >= TARGET_RATIO else '❌'}"


def echo_section(rows):
    cells = {}
    for row in rows:
        r = row["result"]
        key = (r["connections"], r["size"], r["depth"])
        cells.setdefault(key, {}).setdefault(r["label"], []).append(r)
    out = ["### Echo: medians", "",
           "| cell | server | msg/s | echoes per server CPU-s | p50 µs | p99 µs | p99.9 µs | server CPU | bench CPU |",
           "|---|---|--:|--:|--:|--:|--:|--:|--:|"]
    medians = {}
    for key in sorted(cells, key=lambda k: (k[2], k[1], k[0])):
        conns, size, depth = key
        name = f"{conns} × {size_name(size)}" + (f", depth {depth}" if depth > 1 else "")
        for server in sorted(cells[key], key=lambda s: (s != DUPLEX, s)):
            runs = cells[key][server]
            m = {field: median(r[field] for r in runs) for field in
                 ["msg_per_s", "echoes_per_server_cpu_s", "rtt_p50_us", "rtt_p99_us", "rtt_p999_us"]}
            m["server_util"] = median((r["server_cpu_s"] or 0) / r["seconds"] for r in runs)
            m["bench_util"] = median((r["self_cpu_s"] or 0) / r["seconds"] for r in runs)
            medians[(key, server)] = m
            out.append(f"| {name} | {server} | {fmt(m['msg_per_s'])} | {fmt(m['echoes_per_server_cpu_s'])} | "
                       f"{fmt(m['rtt_p50_us'], 1)} | {fmt(m['rtt_p99_us'], 1)} | {fmt(m['rtt_p999_us'], 1)} | "
                       f"{m['server_util']:.0%} | {m['bench_util']:.0%} |")
    busy = sorted({f"{k[0][0]} × {size_name(k[0][1])}, depth {k[0][2]}: {k[1]}"
                   for k, m in medians.items() if m["bench_util"] >= 0.9})
    if busy:
        out += ["", "Load generator near a full core (≥ 90 %), so msg/s may be its limit, "
                "not the server's: " + "; ".join(busy)]
    peers = [p for p in PEERS if any(server == p for _, server in medians)]
    header = "".join(f" msg/s ÷ {p} | per CPU-s ÷ {p} |" for p in peers)
    out += ["", f"### Echo: duplex ÷ peer (target ≥ {TARGET_RATIO} in every cell)", "",
            f"| cell |{header} p99 duplex ÷ fastwebsockets |",
            "|---|" + "--:|--:|" * len(peers) + "--:|"]
    for key in sorted(cells, key=lambda k: (k[2], k[1], k[0])):
        conns, size, depth = key
        name = f"{conns} × {size_name(size)}" + (f", depth {depth}" if depth > 1 else "")
        d = medians.get((key, DUPLEX))
        cols = []
        for peer in peers:
            p = medians.get((key, peer))
            for field in ["msg_per_s", "echoes_per_server_cpu_s"]:
                ratio = d[field] / p[field] if d and p and d[field] and p[field] else None
                cols.append(verdict(ratio))
        f = medians.get((key, "fastwebsockets"))
        p99 = d["rtt_p99_us"] / f["rtt_p99_us"] if d and f and f["rtt_p99_us"] else None
        p99_text = "-" if p99 is None else f"{p99:.2f}" + ((" ✅" if p99 <= 1.0 else " ❌") if conns >= 1000 else "")
        out.append(f"| {name} | " + " | ".join(cols) + f" | {p99_text} |")
    out += ["", "### Echo: every repeat (msg/s; echoes per server CPU-s; p99 µs)", "",
            "| cell | server | repeats |", "|---|---|---|"]
    for key in sorted(cells, key=lambda k: (k[2], k[1], k[0])):
        conns, size, depth = key
        name = f"{conns} × {size_name(size)}" + (f", depth {depth}" if depth > 1 else "")
        for server in sorted(cells[key], key=lambda s: (s != DUPLEX, s)):
            runs = " · ".join(f"{r['msg_per_s']:.0f}; {r['echoes_per_server_cpu_s'] or 0:.0f}; {r['rtt_p99_us']:.0f}"
                              for r in cells[key][server])
            out.append(f"| {name} | {server} | {runs} |")
    return out


def idle_section(rows):
    cells = {}
    for row in rows:
        r = row["result"]
        # Runs before the size was recorded made a 16-byte round trip.
        cells.setdefault(r.get("size", 16), {}).setdefault(r["label"], []).append(r)
    out = ["", f"### Idle memory (target for duplex: ≤ {TARGET_IDLE_KIB} KiB per connection)", "",
           "Each connection makes one round trip of the given size, then idles.", "",
           "| after | server | connections | server RSS KiB per connection (median) | every repeat | bench RSS KiB per connection |",
           "|---|---|--:|--:|---|--:|"]
    for size, servers in sorted(cells.items()):
        for server in sorted(servers, key=lambda s: (s != DUPLEX, s)):
            runs = servers[server]
            m = median(r["server_kib_per_connection"] for r in runs)
            mark = ""
            if server == DUPLEX and m is not None:
                mark = " ✅" if m <= TARGET_IDLE_KIB else " ❌"
            every = " · ".join(fmt(r["server_kib_per_connection"], 2) for r in runs)
            out.append(f"| {size_name(size)} | {server} | {runs[0]['connections']} | {fmt(m, 2)}{mark} | {every} | "
                       f"{fmt(median(r['self_kib_per_connection'] for r in runs), 2)} |")
    return out


def fanout_section(rows):
    if not rows:
        return []
    cells = {}
    for row in rows:
        r = row["result"]
        cells.setdefault((r["subscribers"], r["rate"]), []).append(r)
    out = ["", "### Fan-out through `duplex serve` (HTTP API publish → subscribers)", "",
           "| subscribers × events/s asked | publishes/s | deliveries/s | per server CPU-s | p50 µs | p99 µs | lost | server KiB per subscriber | every repeat (deliveries/s) |",
           "|---|--:|--:|--:|--:|--:|--:|--:|---|"]
    for (subs, rate), runs in sorted(cells.items()):
        every = " · ".join(f"{r['deliveries_per_s']:.0f}" for r in runs)
        out.append(f"| {subs} × {rate} | {fmt(median(r['publish_per_s'] for r in runs))} | "
                   f"{fmt(median(r['deliveries_per_s'] for r in runs))} | "
                   f"{fmt(median(r['deliveries_per_server_cpu_s'] for r in runs))} | "
                   f"{fmt(median(r['latency_p50_us'] for r in runs))} | {fmt(median(r['latency_p99_us'] for r in runs))} | "
                   f"{sum(r['lost'] for r in runs)} | "
                   f"{fmt(median(r.get('server_kib_per_subscriber') for r in runs), 2)} | {every} |")
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--line":
        print(line(sys.argv[2], json.load(sys.stdin)))
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    results = Path(sys.argv[1])
    out = []
    echo = load(results / "echo.jsonl")
    if echo:
        out += echo_section(echo)
    idle = load(results / "idle.jsonl")
    if idle:
        out += idle_section(idle)
    out += fanout_section(load(results / "fanout.jsonl"))
    print("\n".join(out))


if __name__ == "__main__":
    main()
