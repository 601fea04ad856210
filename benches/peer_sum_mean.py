#!/usr/bin/env python3
"""Peer timing of sum(col) and mean(col) over the h2o groupby Parquet data.

    peer_sum_mean.py --engine duckdb|polars --threads N --data PATH [--col v3] [--runs 3]
                     [--polars-engine in-memory|streaming]

PATH: a Parquet file, a glob ('.../*.parquet'), or a directory (read as DIR/*.parquet).
Threads: DuckDB `SET threads=N`; Polars POLARS_MAX_THREADS=N is set in os.environ here,
before polars is imported (it is read once, at import).
Timing: each run goes from building the scan to holding the two scalars in Python, all in one
process.  inner_s is the best of --runs runs (default 3); runs_s lists every run, so the first
(cold page cache, first-use set-up) can be told apart.  setup_s is imports plus connection set-up.
Prints `RESULT {json}`, which measure.py merges into its record.
"""
import argparse
import json
import os
import sys
import time

T_START = time.time()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", required=True, choices=["duckdb", "polars"])
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--col", default="v3")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--polars-engine", default="in-memory", choices=["in-memory", "streaming"])
    a = ap.parse_args()

    data = a.data
    if os.path.isdir(data):
        data = os.path.join(data, "*.parquet")
    col = a.col
    times = []
    threads_effective = None

    if a.engine == "polars":
        os.environ["POLARS_MAX_THREADS"] = str(a.threads)  # must precede `import polars`
        import polars as pl
        threads_effective = pl.thread_pool_size()
        setup = time.time() - T_START
        for _ in range(a.runs):
            t0 = time.time()
            df = (pl.scan_parquet(data)
                  .select(pl.col(col).sum().alias("s"), pl.col(col).mean().alias("m"), pl.len().alias("n"))
                  .collect(engine=a.polars_engine))
            s, m, n = df.row(0)
            times.append(time.time() - t0)
        engine_label = "polars" if a.polars_engine == "in-memory" else "polars-stream"
        version = pl.__version__
    else:
        import duckdb
        con = duckdb.connect()
        con.execute(f"SET threads={int(a.threads)}")
        threads_effective = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
        setup = time.time() - T_START
        path = data.replace("'", "''")
        sql = f'SELECT sum("{col}"), avg("{col}"), count(*) FROM read_parquet(\'{path}\')'
        for _ in range(a.runs):
            t0 = time.time()
            s, m, n = con.execute(sql).fetchone()
            times.append(time.time() - t0)
        engine_label = "duckdb"
        version = duckdb.__version__

    print("RESULT " + json.dumps({
        "engine": engine_label, "engine_version": version, "query": "sum_mean", "col": col,
        "threads": a.threads, "threads_effective": threads_effective,
        "setup_s": round(setup, 3), "inner_s": round(min(times), 4),
        "runs_s": [round(t, 4) for t in times],
        "rows": int(n), "sum": float(s), "mean": float(m),
        "data": data,
    }), flush=True)
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown; not part of the measurement


if __name__ == "__main__":
    main()
