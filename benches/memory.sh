#!/usr/bin/env bash
# Does the memory limit hold? Each blocking workload (sort, top-k, join, group-by,
# distinct) over strings of 5-50 bytes (examples/memory.rs), at limits from 16 MiB to
# 1 GiB, each in its own process under a 2 GiB cgroup cap (shared/bench/measure.py):
# peak RSS (GNU time and the engine's own VmHWM), the engine's reserved peak, bytes
# spilled and time; then h2o q1-q10 at 1e7 in one process at each limit. With DATA_1E8 set,
# h2o q1-q10 at 1e8 in one process at 1800 MiB too.
#
#   bash benches/memory.sh                     # → benches/results/memory-<date>.jsonl
#   LIMITS="16 64" WORKLOADS="sort join" ROWS=2000000 bash benches/memory.sh
#   python3 benches/memory_table.py benches/results/memory-*.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH_DATA=${BENCH_DATA:-$(cd "$ROOT/.." && pwd)/bench-data}
SHARED=${SHARED_BENCH:-$(cd "$ROOT/.." && pwd)/shared/bench}
PY="$BENCH_DATA/venv/bin/python"
ROWS=${ROWS:-2000000}
DATA=${DATA:-$BENCH_DATA/mem-$ROWS}
LIMITS=${LIMITS:-16 64 256 1024}
WORKLOADS=${WORKLOADS-sort topk join groupby distinct}   # empty: none
CAP_MIB=${CAP_MIB:-2048}
THREADS=${THREADS:-2}
OUT="$ROOT/benches/results/memory-$(date +%Y%m%d-%H%M).jsonl"
SPILL="$BENCH_DATA/spill/memory"   # never /tmp: measure.py empties its --spill-dir
mkdir -p "$ROOT/benches/results" "$SPILL"
cargo build --release --example memory --example h2o_groupby
BIN="$ROOT/target/release/examples"
[ -d "$DATA/facts" ] || "$BIN/memory" --data "$DATA" --generate --rows "$ROWS"
PEERS=${PEERS-duckdb polars}   # the same workloads with DuckDB and Polars streaming; empty: none
for limit in $LIMITS; do
  for w in $WORKLOADS; do
    "$PY" "$SHARED/measure.py" --label "mem/$w/${limit}MiB" --out "$OUT" --cap-mib "$CAP_MIB" \
      --timeout 900 --spill-dir "$SPILL" -- \
      "$BIN/memory" --data "$DATA" --workload "$w" --memory-limit "${limit}MiB" \
      --threads "$THREADS" --spill-dir "$SPILL" | grep -E '^\{' | cut -c1-160 || true
    for e in $PEERS; do
      "$PY" "$SHARED/measure.py" --label "mem/$w/${limit}MiB/$e" --out "$OUT" --cap-mib "$CAP_MIB" \
        --timeout 900 --spill-dir "$SPILL" -- \
        "$PY" benches/memory_peers.py --engine "$e" --data "$DATA" --workload "$w" --mem-mb "$limit" \
        --threads "$THREADS" --spill-dir "$SPILL" --out "$BENCH_DATA/out/memory-peers" \
        | grep -E '^\{' | cut -c1-160 || true
    done
  done
done
# h2o q1-q10 at 1e7 in one process at each limit (H2O="" to skip).
H2O=${H2O-$BENCH_DATA/groupby/G1_1e7_1e2_0_0}
if [ -n "$H2O" ]; then
  for limit in $LIMITS; do
    "$PY" "$SHARED/measure.py" --label "mem/h2o-1e7-q1-q10/${limit}MiB" --out "$OUT" --cap-mib "$CAP_MIB" \
      --timeout 1800 --spill-dir "$SPILL" -- \
      "$BIN/h2o_groupby" --data "$H2O" --queries q1,q2,q3,q4,q5,q6,q7,q8,q9,q10 \
      --threads "$THREADS" --memory-limit "${limit}MiB" --spill-dir "$SPILL" --out-dir "$BENCH_DATA/out/memory-h2o" \
      | grep -E '^\{' | cut -c1-160 || true
  done
fi
if [ -n "${DATA_1E8:-}" ]; then
  "$PY" "$SHARED/measure.py" --label "mem/h2o-1e8-q1-q10/1800MiB" --out "$OUT" --cap-mib 2048 \
    --timeout 3600 --spill-dir "$SPILL" -- \
    "$BIN/h2o_groupby" --data "$DATA_1E8" --queries q1,q2,q3,q4,q5,q6,q7,q8,q9,q10 \
    --threads "$THREADS" --memory-limit 1800MiB --spill-dir "$SPILL" --out-dir "$BENCH_DATA/out/memory-h2o" \
    | grep -E '^\{' | cut -c1-160 || true
fi
echo "results: $OUT"
