#!/usr/bin/env bash
# Plain parallelism (issue 5), side by side in one run: per-task overhead of 10^6 trivial
# tasks and throughput of the pure pi sampler (64 tasks x 10^6 draws), Spillway's
# parallel_map against a hand-written rayon loop, joblib, multiprocessing.Pool and Dask
# delayed. Dask delayed is also run at the full 10^6 tasks (DASK_N, default 1000000):
# a graph of a million Python objects, many minutes; set DASK_N=100000 to save time.
#
#   bash benches/issue5.sh           # writes benches/results/issue5-<date>.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH_DATA=${BENCH_DATA:-$(cd "$ROOT/.." && pwd)/bench-data}
SHARED=${SHARED_BENCH:-$(cd "$ROOT/.." && pwd)/shared/bench}
PY="$BENCH_DATA/venv/bin/python"
DASK_N=${DASK_N:-1000000}
OUT="$ROOT/benches/results/issue5-$(date +%Y%m%d-%H%M).jsonl"
mkdir -p "$ROOT/benches/results"
cargo build --release --example parallel_map
BIN="$ROOT/target/release/examples"
m() { local label=$1; shift; "$PY" "$SHARED/measure.py" --label "$label" --out "$OUT" -- "$@" | grep -E '^\{' | cut -c1-200 || true; }
QP=("$PY" "$ROOT/benches/q_parallel.py")

m "trivial-1e6/spillway" "$BIN/parallel_map" --trivial 1000000 --n-jobs 2
m "trivial-1e6/rayon-loop" "$BIN/parallel_map" --trivial 1000000 --rayon
m "trivial-1e6/joblib" "${QP[@]}" --impl joblib --mode trivial --n 1000000 --workers 2
m "trivial-1e6/mp-pool" "${QP[@]}" --impl mp-pool --mode trivial --n 1000000 --workers 2
m "pi-64x1e6/spillway" "$BIN/parallel_map" --tasks 64 --draws 1000000 --n-jobs 2
m "pi-64x1e6/rayon-loop" "$BIN/parallel_map" --tasks 64 --draws 1000000 --rayon
m "pi-64x1e6/joblib" "${QP[@]}" --impl joblib --mode pi --n 64 --draws 1000000 --workers 2
m "pi-64x1e6/mp-pool" "${QP[@]}" --impl mp-pool --mode pi --n 64 --draws 1000000 --workers 2
m "pi-64x1e6/dask-delayed" "${QP[@]}" --impl dask-delayed --mode pi --n 64 --draws 1000000 --workers 2
m "trivial-1e4/dask-delayed" "${QP[@]}" --impl dask-delayed --mode trivial --n 10000 --workers 2
m "trivial-$DASK_N/dask-delayed" "${QP[@]}" --impl dask-delayed --mode trivial --n "$DASK_N" --workers 2
echo "results: $OUT"
