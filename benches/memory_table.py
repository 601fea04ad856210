#!/usr/bin/env python3
"""Markdown table of benches/memory.sh runs: per workload and limit, peak RSS (the largest
process, as GNU time saw it), the engine's reserved peak, spilled bytes, time, and whether
RSS stayed within the limit + 64 MiB.

    python3 benches/memory_table.py benches/results/memory-*.jsonl
"""
import json
import sys


def main():
    print("| workload | engine | limit MiB | status | time s | peak RSS MiB | reserved peak MiB | spilled MiB | RSS ≤ limit + 64 MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in sys.argv[1:]:
        for line in open(path):
            r = json.loads(line)
            label = r["label"].split("/")
            limit = int(label[2].removesuffix("MiB"))
            engine = label[3] if len(label) > 3 else "spillway"
            rss = r.get("maxrss_mib") or r.get("peak_rss_mib") or 0
            ok = r.get("status") == "ok"
            spilled = (r.get("spilled_bytes") or 0) / 2**20
            within = "yes" if ok and rss <= limit + 64 else "no"
            inner = r.get("inner_s", r.get("wall_s", 0))
            print(f"| {label[1]} | {engine} | {limit} | {r.get('status')} | {inner:.2f} | {rss:.0f} "
                  f"| {r.get('peak_reserved_mib', 0):.1f} | {spilled:.0f} | {within} |")


if __name__ == "__main__":
    main()
