#!/usr/bin/env bash
# Side-by-side benchmark of the walking skeleton (issue 2): the seed pipeline and sum/mean
# over the h2o 1e7 Parquet data, Spillway and its peers in one run, each command measured
# by shared/bench/measure.py (wall time, peak RSS of the whole process tree).
#
#   bash benches/issue2.sh            # writes benches/results/issue2-<date>.jsonl
#
# Needs the peers' venv and data (see shared/bench/README.md): BENCH_DATA defaults to
# ../bench-data beside the repository's parent folder.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH_DATA=${BENCH_DATA:-$(cd "$ROOT/.." && pwd)/bench-data}
SHARED=${SHARED_BENCH:-$(cd "$ROOT/.." && pwd)/shared/bench}
PY="$BENCH_DATA/venv/bin/python"
H2O="$BENCH_DATA/groupby/G1_1e7_1e2_0_0"
RUNS=${RUNS:-3}
OUT="$ROOT/benches/results/issue2-$(date +%Y%m%d-%H%M).jsonl"
mkdir -p "$ROOT/benches/results"

cargo build --release --example monte_carlo_pi --example sum_mean
BIN="$ROOT/target/release/examples"

m() { local label=$1; shift; "$PY" "$SHARED/measure.py" --label "$label" --out "$OUT" -- "$@" | grep -E '^RESULT|wall' || true; }

for run in $(seq "$RUNS"); do
  # (a) the seed pipeline: the tutorial's sizes, and 64 partitions of 10^6 draws.
  m "seed-small/spillway-P2" "$BIN/monte_carlo_pi" --npartitions 2
  m "seed-small/rayon-loop" "$BIN/monte_carlo_pi" --rayon
  m "seed-big/spillway-P64" "$BIN/monte_carlo_pi" --big --npartitions 64
  m "seed-big/spillway-P2" "$BIN/monte_carlo_pi" --big --npartitions 2
  m "seed-big/rayon-loop" "$BIN/monte_carlo_pi" --big --rayon
  for impl in dask-threads dask-processes joblib mp-pool; do
    m "seed-small/$impl" "$PY" "$SHARED/q_seed.py" --impl "$impl" --sizes small --npartitions 2
    m "seed-big/$impl" "$PY" "$SHARED/q_seed.py" --impl "$impl" --sizes big --npartitions 64
  done
  # (b) sum and mean of v3 over the h2o 1e7 Parquet files, 1 and 2 threads.
  for t in 1 2; do
    m "sum_mean/spillway-t$t" "$BIN/sum_mean" --data "$H2O" --threads "$t" --runs 3
    m "sum_mean/duckdb-t$t" "$PY" "$ROOT/benches/peer_sum_mean.py" --engine duckdb --threads "$t" --data "$H2O" --runs 3
    m "sum_mean/polars-t$t" "$PY" "$ROOT/benches/peer_sum_mean.py" --engine polars --threads "$t" --data "$H2O" --runs 3
  done
done
echo "results: $OUT"
