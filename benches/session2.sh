#!/usr/bin/env bash
# Side-by-side benchmarks added in session 2: the h2o 1e7 group-by questions Spillway can
# answer (q1-q5, q7, q10) against DuckDB, Polars and DataFusion, and plain parallelism
# (parallel_map per-task overhead and pi throughput) against joblib, multiprocessing.Pool,
# Dask delayed and a hand-written rayon loop. Each command is measured by
# shared/bench/measure.py; one process per query, as the peers are run.
#
#   bash benches/session2.sh           # writes benches/results/session2-<date>.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH_DATA=${BENCH_DATA:-$(cd "$ROOT/.." && pwd)/bench-data}
SHARED=${SHARED_BENCH:-$(cd "$ROOT/.." && pwd)/shared/bench}
PY="$BENCH_DATA/venv/bin/python"
H2O="$BENCH_DATA/groupby/G1_1e7_1e2_0_0"
OUT="$ROOT/benches/results/session2-$(date +%Y%m%d-%H%M).jsonl"
QUERIES=${QUERIES:-q1 q2 q3 q4 q5 q6 q7 q8 q9 q10}
mkdir -p "$ROOT/benches/results"
cargo build --release --example h2o_groupby --example parallel_map
BIN="$ROOT/target/release/examples"
m() { local label=$1; shift; "$PY" "$SHARED/measure.py" --label "$label" --out "$OUT" -- "$@" | grep -E '^\{' | cut -c1-160 || true; }

for q in $QUERIES; do
  m "gb1e7/spillway/$q" "$BIN/h2o_groupby" --data "$H2O" --queries "$q" --threads 2
  for e in duckdb polars datafusion; do
    m "gb1e7/$e/$q" "$PY" "$SHARED/q_groupby.py" --engine "$e" --q "$q" --data "$H2O" --threads 2
  done
done

m "trivial-1e6/spillway" "$BIN/parallel_map" --trivial 1000000 --n-jobs 2
m "trivial-1e6/rayon-loop" "$BIN/parallel_map" --trivial 1000000 --rayon
m "trivial-1e6/joblib" "$PY" "$ROOT/benches/q_parallel.py" --impl joblib --mode trivial --n 1000000 --workers 2
m "trivial-1e6/mp-pool" "$PY" "$ROOT/benches/q_parallel.py" --impl mp-pool --mode trivial --n 1000000 --workers 2
m "trivial-1e4/dask-delayed" "$PY" "$ROOT/benches/q_parallel.py" --impl dask-delayed --mode trivial --n 10000 --workers 2
m "pi-64x1e6/spillway" "$BIN/parallel_map" --tasks 64 --draws 1000000 --n-jobs 2
m "pi-64x1e6/rayon-loop" "$BIN/parallel_map" --tasks 64 --draws 1000000 --rayon
m "pi-64x1e6/joblib" "$PY" "$ROOT/benches/q_parallel.py" --impl joblib --mode pi --n 64 --draws 1000000 --workers 2
m "pi-64x1e6/mp-pool" "$PY" "$ROOT/benches/q_parallel.py" --impl mp-pool --mode pi --n 64 --draws 1000000 --workers 2
m "pi-64x1e6/dask-delayed" "$PY" "$ROOT/benches/q_parallel.py" --impl dask-delayed --mode pi --n 64 --draws 1000000 --workers 2
echo "results: $OUT"
