"""CSV -> Parquet (and a CSV row count) with DuckDB or Polars, timed like Spillway's
`csv_to_parquet` example: `inner_s` goes from building the query to the file written.

    python benches/csv_peers.py --engine duckdb|polars --csv FILE --out FILE.parquet \
        --threads 2 [--mem-mb 512] [--spill-dir DIR] [--count-only]
"""
import argparse
import json
import os
import time

ap = argparse.ArgumentParser()
ap.add_argument("--engine", required=True, choices=["duckdb", "polars"])
ap.add_argument("--csv", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--mem-mb", type=int, default=512)
ap.add_argument("--spill-dir", default=None)
ap.add_argument("--count-only", action="store_true")
a = ap.parse_args()

if a.engine == "polars":
    os.environ["POLARS_MAX_THREADS"] = str(a.threads)  # read once, at import
    import polars as pl
else:
    import duckdb

t0 = time.time()
if a.engine == "duckdb":
    con = duckdb.connect()
    con.execute(f"SET threads={a.threads}")
    con.execute(f"SET memory_limit='{a.mem_mb}MB'")
    con.execute("SET preserve_insertion_order=false")
    if a.spill_dir:
        con.execute(f"SET temp_directory='{a.spill_dir}'")
    if a.count_only:
        rows = con.execute(f"SELECT count(*) FROM read_csv('{a.csv}')").fetchone()[0]
    else:
        rows = con.execute(
            f"COPY (SELECT * FROM read_csv('{a.csv}')) TO '{a.out}' (FORMAT parquet)"
        ).fetchone()[0]
else:
    if a.count_only:
        rows = pl.scan_csv(a.csv).select(pl.len()).collect(engine="streaming").item()
    else:
        pl.scan_csv(a.csv).sink_parquet(a.out)
        rows = pl.scan_parquet(a.out).select(pl.len()).collect().item()
inner = time.time() - t0
query = "csv_count" if a.count_only else "csv_to_parquet"
print("RESULT " + json.dumps({"engine": a.engine, "query": query, "threads": a.threads,
                              "inner_s": round(inner, 3), "rows": int(rows)}))
