#!/usr/bin/env python3
"""Markdown table of a benchmark run: median inner and wall time and peak memory per label.

    python3 benches/table.py benches/results/issue2-*.jsonl
"""
import json
import statistics
import sys
from collections import OrderedDict


def main():
    rows = OrderedDict()
    for path in sys.argv[1:]:
        for line in open(path):
            r = json.loads(line)
            rows.setdefault(r["label"], []).append(r)
    print("| workload / engine | runs | inner s (median) | wall s (median) | peak RSS MiB (tree) | answer |")
    print("|---|---|---|---|---|---|")
    for label, rs in rows.items():
        ok = [r for r in rs if r.get("status") == "ok"]
        if not ok:
            print(f"| {label} | {len(rs)} | failed: {rs[0].get('status')} | | | |")
            continue
        inner = statistics.median(r["inner_s"] for r in ok)
        wall = statistics.median(r["wall_s"] for r in ok)
        rss = max(max(r.get("maxrss_mib") or 0, r.get("tree_rss_mib") or 0) for r in ok)
        ans = ok[-1].get("pi", ok[-1].get("sum", ""))
        ans = f"{ans:.6f}" if isinstance(ans, float) else ans
        print(f"| {label} | {len(ok)} | {inner:.4f} | {wall:.3f} | {rss:.0f} | {ans} |")


if __name__ == "__main__":
    main()
