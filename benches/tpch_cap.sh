#!/usr/bin/env bash
# TPC-H Q1, Q6, Q3 (tpchgen-cli Parquet) with the whole process tree capped by a cgroup
# (shared/bench/measure.py --cap-mib), Spillway beside DuckDB, Polars streaming, DataFusion
# and Dask given the same engine memory setting, one process per query and engine.
#
#   RUNS=3 bash benches/tpch_cap.sh                            # SF10, 2 GiB cap, 1536 MiB engines
#   CAP_MIB=0 ENGINE_MIB=0 bash benches/tpch_cap.sh            # the same without any cap
#   DATA=$BENCH_DATA/tpch/sf1 QUERIES=q1 ENGINES="" bash benches/tpch_cap.sh   # Spillway alone
#
# → benches/results/tpch-cap<CAP>-<date>.jsonl; answers in $BENCH_DATA/out/tpch-<engine>/.
# Spill folders are $BENCH_DATA/spill/tpch-<engine> (measure.py EMPTIES its --spill-dir).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH_DATA=${BENCH_DATA:-$(cd "$ROOT/.." && pwd)/bench-data}
SHARED=${SHARED_BENCH:-$(cd "$ROOT/.." && pwd)/shared/bench}
PY="$BENCH_DATA/venv/bin/python"
DATA=${DATA:-$BENCH_DATA/tpch/sf10}
CAP_MIB=${CAP_MIB:-2048}      # 0: no cap (accounting only)
ENGINE_MIB=${ENGINE_MIB:-1536} # 0: each engine's default
THREADS=${THREADS:-2}
TIMEOUT=${TIMEOUT:-900}
RUNS=${RUNS:-1}                # rounds over all queries and engines (take medians)
QUERIES=${QUERIES:-q1 q6 q3}
ENGINES=${ENGINES-duckdb polars-stream datafusion dask}   # peers; empty for Spillway alone
SPILLWAY=${SPILLWAY:-1}
# SW_ENV="K=V ...": also run Spillway with these environment variables (label spillway+env),
# e.g. glibc malloc tunables: GLIBC_TUNABLES=glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824
SW_ENV=${SW_ENV:-}
OUT=${OUT:-$ROOT/benches/results/tpch-cap$CAP_MIB-$(date +%Y%m%d-%H%M).jsonl}
mkdir -p "$ROOT/benches/results" "$BENCH_DATA/spill" "$BENCH_DATA/out"
cargo build --release --example tpch
BIN="$ROOT/target/release/examples/tpch"
SW_MEM=(); PEER_MEM=()
if [ "$ENGINE_MIB" != 0 ]; then SW_MEM=(--memory-limit "${ENGINE_MIB}MiB"); PEER_MEM=(--mem-mb "$ENGINE_MIB"); fi
m() {
  local label=$1 spill=$2 envs=() kv; shift 2
  for kv in ${ENV_FOR_RUN:-}; do envs+=(--env "$kv"); done
  mkdir -p "$spill"
  "$PY" "$SHARED/measure.py" --label "$label" --out "$OUT" --cap-mib "$CAP_MIB" --timeout "$TIMEOUT" \
    --spill-dir "$spill" "${envs[@]}" -- "$@" | grep -E '^\{' | cut -c1-240 || true
}
for run in $(seq "$RUNS"); do
for q in $QUERIES; do
  if [ "$SPILLWAY" = 1 ]; then
    m "tpch-cap$CAP_MIB/spillway/$q" "$BENCH_DATA/spill/tpch-spillway" "$BIN" --data "$DATA" --queries "$q" \
      --threads "$THREADS" "${SW_MEM[@]}" --spill-dir "$BENCH_DATA/spill/tpch-spillway" \
      --out-dir "$BENCH_DATA/out/tpch-spillway"
    if [ -n "$SW_ENV" ]; then
      ENV_FOR_RUN="$SW_ENV" m "tpch-cap$CAP_MIB/spillway+env/$q" "$BENCH_DATA/spill/tpch-spillway" "$BIN" \
        --data "$DATA" --queries "$q" --threads "$THREADS" "${SW_MEM[@]}" \
        --spill-dir "$BENCH_DATA/spill/tpch-spillway" --out-dir "$BENCH_DATA/out/tpch-spillway"
    fi
  fi
  for e in $ENGINES; do
    m "tpch-cap$CAP_MIB/$e/$q" "$BENCH_DATA/spill/tpch-$e" "$PY" "$SHARED/q_tpch.py" --engine "$e" --q "$q" \
      --data "$DATA" --threads "$THREADS" "${PEER_MEM[@]}" --spill-dir "$BENCH_DATA/spill/tpch-$e"
  done
done
done
echo "results: $OUT"
