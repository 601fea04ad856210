#!/usr/bin/env bash
# Group-by under a hard memory cap: the h2o 1e7 questions with the whole process tree
# capped by a cgroup (shared/bench/measure.py --cap-mib), Spillway beside DuckDB, Polars,
# Polars streaming and DataFusion given the same engine memory setting.
#
#   CAP_MIB=1024 ENGINE_MIB=512 bash benches/cap.sh     # → benches/results/cap-<date>.jsonl
#   DATA=$BENCH_DATA/groupby/G1_1e8_1e2_0_0 CAP_MIB=2048 ENGINE_MIB=1536 \
#     QUERIES="q1 q2 q3 q4 q5 q6 q7 q10" ENGINES="" bash benches/cap.sh   # Spillway alone
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH_DATA=${BENCH_DATA:-$(cd "$ROOT/.." && pwd)/bench-data}
SHARED=${SHARED_BENCH:-$(cd "$ROOT/.." && pwd)/shared/bench}
PY="$BENCH_DATA/venv/bin/python"
DATA=${DATA:-$BENCH_DATA/groupby/G1_1e7_1e2_0_0}
CAP_MIB=${CAP_MIB:-1024}
ENGINE_MIB=${ENGINE_MIB:-512}
QUERIES=${QUERIES:-q1 q3 q6 q10}
ENGINES=${ENGINES-duckdb polars polars-stream datafusion}   # peers; empty for Spillway alone
SPILLWAY=${SPILLWAY:-1}
OUT=${OUT:-$ROOT/benches/results/cap-$(date +%Y%m%d-%H%M).jsonl}
SPILL="$BENCH_DATA/spill"   # never /tmp: measure.py empties its --spill-dir
mkdir -p "$ROOT/benches/results" "$SPILL" "$BENCH_DATA/out"
cargo build --release --example h2o_groupby
BIN="$ROOT/target/release/examples"
m() {
  local label=$1 spill=$2; shift 2
  mkdir -p "$spill"
  "$PY" "$SHARED/measure.py" --label "$label" --out "$OUT" --cap-mib "$CAP_MIB" --timeout "${TIMEOUT:-1800}" \
    --spill-dir "$spill" -- "$@" \
    | grep -E '^\{' | cut -c1-200 || true
}
for q in $QUERIES; do
  [ "$SPILLWAY" = 1 ] && m "cap$CAP_MIB/spillway/$q" "$SPILL/spillway" "$BIN/h2o_groupby" --data "$DATA" --queries "$q" --threads 2 \
    --memory-limit "${ENGINE_MIB}MiB" --spill-dir "$SPILL/spillway" --out-dir "$BENCH_DATA/out/spillway"
  for e in $ENGINES; do
    m "cap$CAP_MIB/$e/$q" "$SPILL/$e" "$PY" "$SHARED/q_groupby.py" --engine "$e" --q "$q" --data "$DATA" \
      --threads 2 --mem-mb "$ENGINE_MIB" --spill-dir "$SPILL/$e" --sink "$BENCH_DATA/out/$e-$q.parquet"
  done
done
echo "results: $OUT"
