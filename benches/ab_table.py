#!/usr/bin/env python3
"""Markdown table of an A/B run (benches/ab.sh): per query, the median inner time of each
build, their ratio, the median CPU time (user + sys of the process, steadier than wall time
when other work shares the machine), and whether every answer checksum of the new build
equals the old's.

    python3 benches/ab_table.py benches/results/ab-<date>.jsonl
"""
import json
import math
import statistics
import sys
from collections import OrderedDict


def main():
    runs = OrderedDict()
    for path in sys.argv[1:]:
        for line in open(path):
            r = json.loads(line)
            workload = "tpch" if "/tpch " in r.get("cmd", "") else "h2o"
            key = (f"{workload} {r.get('query') or '?'}", r["label"])
            runs.setdefault(key, []).append(r)
    queries = OrderedDict((q, None) for q, _ in runs)
    print("| query | base s (median) | new s (median) | new / base | base CPU s | new CPU s | CPU new / base | runs | checksums |")
    print("|---|---|---|---|---|---|---|---|---|")
    ratios, cpu_ratios, all_same = [], [], True
    for q in queries:
        base = [r for r in runs.get((q, "base"), []) if r.get("status") == "ok"]
        new = [r for r in runs.get((q, "new"), []) if r.get("status") == "ok"]
        if not base or not new:
            print(f"| {q} | {len(base)} ok | {len(new)} ok | | | failed |")
            all_same = False
            continue
        b = statistics.median(r["inner_s"] for r in base)
        n = statistics.median(r["inner_s"] for r in new)
        sums = {json.dumps(r.get("chk"), sort_keys=True) for r in base + new}
        same = len(sums) == 1
        all_same &= same
        ratios.append(n / b)
        cpu = lambda rs: statistics.median(r.get("user_s", 0) + r.get("sys_s", 0) for r in rs)
        cb, cn = cpu(base), cpu(new)
        cpu_ratios.append(cn / cb if cb else 1.0)
        print(f"| {q} | {b:.3f} | {n:.3f} | {n / b:.2f} | {cb:.2f} | {cn:.2f} | {cpu_ratios[-1]:.2f} | {len(base)}+{len(new)} | {'equal' if same else 'DIFFER'} |")
    if ratios:
        geo = math.exp(sum(map(math.log, ratios)) / len(ratios))
        cgeo = math.exp(sum(map(math.log, cpu_ratios)) / len(cpu_ratios))
        print(f"\ngeomean new / base: {geo:.3f} (time), {cgeo:.3f} (CPU); checksums {'all equal' if all_same else 'NOT all equal'}")


if __name__ == "__main__":
    main()
