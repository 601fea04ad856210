"""The workloads of examples/memory.rs with DuckDB or Polars (streaming), for
benches/memory.sh: the same tables, the same memory setting, each run measured alike.

    python benches/memory_peers.py --engine duckdb|polars --data DIR --workload sort \
        --mem-mb 64 --threads 2 --spill-dir DIR --out DIR
"""
import argparse
import json
import os
import time

ap = argparse.ArgumentParser()
ap.add_argument("--engine", required=True, choices=["duckdb", "polars"])
ap.add_argument("--data", required=True)
ap.add_argument("--workload", required=True)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--mem-mb", type=int, default=64)
ap.add_argument("--spill-dir", default=None)
ap.add_argument("--out", required=True)
a = ap.parse_args()
facts, dims = f"{a.data}/facts/*.parquet", f"{a.data}/dims/*.parquet"
out = f"{a.out}/{a.engine}-{a.workload}.parquet"
os.makedirs(a.out, exist_ok=True)

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
    sql = {
        "sort": f"SELECT * FROM '{facts}' ORDER BY s",
        "topk": f"SELECT * FROM '{facts}' ORDER BY s LIMIT 100",
        "join": f"SELECT * FROM '{facts}' f JOIN '{dims}' d USING (k)",
        "groupby": f"SELECT k, sum(v) AS v, count(v) AS n FROM '{facts}' GROUP BY k",
        "distinct": f"SELECT DISTINCT k, g FROM '{facts}'",
    }[a.workload]
    if a.workload == "topk":
        rows = len(con.execute(sql).fetchall())
    else:
        con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet)")
        rows = con.execute(f"SELECT count(*) FROM '{out}'").fetchone()[0]
else:
    x = pl.scan_parquet(facts)
    q = {
        "sort": lambda: x.sort("s"),
        "topk": lambda: x.sort("s").head(100),
        "join": lambda: x.join(pl.scan_parquet(dims), on="k"),
        "groupby": lambda: x.group_by("k").agg(pl.col("v").sum(), pl.col("v").count().alias("n")),
        "distinct": lambda: x.select("k", "g").unique(),
    }[a.workload]()
    if a.workload == "topk":
        rows = q.collect(engine="streaming").height
    else:
        q.sink_parquet(out, engine="streaming")
        rows = pl.scan_parquet(out).select(pl.len()).collect().item()
inner = time.time() - t0
print("RESULT " + json.dumps({"engine": a.engine, "query": f"mem-{a.workload}",
                              "threads": a.threads, "limit_mib": a.mem_mb,
                              "inner_s": round(inner, 3), "rows": rows}))
