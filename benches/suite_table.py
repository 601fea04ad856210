#!/usr/bin/env python3
"""The side-by-side table of a `benches/suite.sh` run: per query, each engine's time (the
query's own, `inner_s`, else the process's wall time) and peak RSS, or why it did not
finish (OOM-killed, error, timeout); then per engine the geomean of its time over DuckDB's
on the queries both finished, and how many it finished.

    python3 benches/suite_table.py benches/results/suite-h2o-1e7-<date>.jsonl
"""
import json
import math
import sys
from collections import OrderedDict


def main(path):
    cells = OrderedDict()  # query -> engine -> record
    engines = []
    for line in open(path):
        r = json.loads(line)
        _, engine, query = r["label"].split("/")[-3:]
        cells.setdefault(query, {})[engine] = r
        if engine not in engines:
            engines.append(engine)
    engines.sort(key=lambda e: (e != "spillway", e != "duckdb", e))

    def seconds(r):
        if r.get("status") != "ok":
            return None
        return r.get("inner_s") or r.get("wall_s")

    def cell(r):
        if r is None:
            return "–"
        s = seconds(r)
        if s is None:
            return f"**{r.get('status', 'failed')}** ({r.get('maxrss_mib', 0):.0f} MiB)"
        return f"{s:.2f} s / {r.get('maxrss_mib', 0):.0f} MiB"

    print("| query | " + " | ".join(engines) + " |")
    print("|---|" + "---|" * len(engines))
    for q, by in cells.items():
        print(f"| {q} | " + " | ".join(cell(by.get(e)) for e in engines) + " |")
    row = []
    for e in engines:
        ratios = [
            seconds(by[e]) / seconds(by["duckdb"])
            for by in cells.values()
            if e in by and "duckdb" in by and seconds(by[e]) and seconds(by["duckdb"])
        ]
        done = sum(1 for by in cells.values() if e in by and seconds(by[e]))
        g = f"{math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}×" if ratios else "–"
        row.append(f"{g} ({done}/{len(cells)} finished)")
    print("| **geomean ratio to DuckDB** | " + " | ".join(row) + " |")
    other = [r.get("other_cpu_s", 0) for by in cells.values() for r in by.values()]
    print(f"\nOther processes' CPU during the runs: {sum(other):.0f} s in all, at most "
          f"{max(other, default=0):.0f} s in one run.")


if __name__ == "__main__":
    main(sys.argv[1])
