#!/usr/bin/env python3
"""Compares Spillway's TPC-H answers with DuckDB's, value by value.

    $BENCH_DATA/venv/bin/python benches/tpch_check.py --data DIR --answers OUT [--queries q1,q3,q6]

OUT is the `--out-dir` of `examples/tpch.rs` (one folder `<q>.parquet/` per query). DuckDB
runs the SQL of `shared/bench/q_tpch.py` over the same files. Decimals, counts, keys and
dates must be equal exactly; floats (the `avg` columns) to 1e-12 relative. Rows are
compared in order, as both answers are sorted (Q3's ORDER BY revenue DESC, o_orderdate
has no ties in the TPC-H data). Exits 1 on a difference.
"""
import argparse
import decimal
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("SHARED_BENCH") or os.path.join(HERE, "..", "..", "shared", "bench")
sys.path.insert(0, SHARED)
from q_tpch import SQL, TABLES, tpath  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--answers", required=True)
    ap.add_argument("--queries", default="q1,q3,q6")
    a = ap.parse_args()
    import duckdb
    import pyarrow.parquet as pq

    con = duckdb.connect()
    for t in ("lineitem", "orders", "customer"):
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{tpath(a.data, t)}')")
    bad = 0
    for q in a.queries.split(","):
        want = con.execute(SQL[q]).fetchall()
        files = sorted(glob.glob(os.path.join(a.answers, f"{q}.parquet", "*.parquet")))
        got_tbl = pq.ParquetFile(files[0]).read() if len(files) == 1 else None
        if got_tbl is None:
            import pyarrow as pa
            got_tbl = pa.concat_tables([pq.read_table(f) for f in files])
        got = [tuple(r.values()) for r in got_tbl.to_pylist()]
        diffs = []
        if len(got) != len(want):
            diffs.append(f"{len(got)} rows, DuckDB {len(want)}")
        for i, (g, w) in enumerate(zip(got, want)):
            for name, x, y in zip(got_tbl.column_names, g, w):
                if isinstance(y, float) or isinstance(x, float):
                    ok = x is not None and y is not None and abs(x - y) <= 1e-12 * max(abs(y), 1.0)
                elif isinstance(y, decimal.Decimal):
                    ok = x == y
                else:
                    ok = x == y
                if not ok:
                    diffs.append(f"row {i} {name}: {x!r} vs DuckDB {y!r}")
        types = ", ".join(f"{f.name}: {f.type}" for f in got_tbl.schema)
        print(f"{q}: {len(got)} rows, {'EQUAL' if not diffs else 'DIFFERENT'} ({types})")
        for d in diffs[:10]:
            print("   ", d)
        bad += bool(diffs)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
