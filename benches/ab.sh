#!/usr/bin/env bash
# A/B: two builds of the benchmark examples, run alternately on the same data, for a
# change that must keep answers and speed (e.g. a refactor).
#
#   BASE=/path/to/old/examples NEW=target/release/examples ROUNDS=3 bash benches/ab.sh
#
# Each round runs h2o q1..q10 at 1e7 (no cap, 2 threads) and TPC-H q1, q3, q6 at SF1 with
# the old build, then the new (the order flips every round), each query in its own process
# under shared/bench/measure.py; → benches/results/ab-<date>.jsonl, labels base / new.
# Compare with: python3 benches/ab_table.py benches/results/ab-<date>.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH_DATA=${BENCH_DATA:-$(cd "$ROOT/.." && pwd)/bench-data}
SHARED=${SHARED_BENCH:-$(cd "$ROOT/.." && pwd)/shared/bench}
PY="$BENCH_DATA/venv/bin/python"
BASE=${BASE:?the old build\'s examples folder}
NEW=${NEW:-$ROOT/target/release/examples}
ROUNDS=${ROUNDS:-3}
H2O=${H2O:-$BENCH_DATA/groupby/G1_1e7_1e2_0_0}
TPCH=${TPCH:-$BENCH_DATA/tpch/sf1}
OUT="$ROOT/benches/results/ab-$(date +%Y%m%d-%H%M).jsonl"
mkdir -p "$ROOT/benches/results"
m() {
  local label=$1; shift
  "$PY" "$SHARED/measure.py" --label "$label" --out "$OUT" --cap-mib 0 --timeout 600 -- "$@" > /dev/null
}
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="base new"; else order="new base"; fi
  for which in $order; do
    if [ "$which" = base ]; then bin=$BASE; else bin=$NEW; fi
    for q in q1 q2 q3 q4 q5 q6 q7 q8 q9 q10; do
      m "$which" "$bin/h2o_groupby" --data "$H2O" --queries "$q" --threads 2
    done
    for q in q1 q3 q6; do
      m "$which" "$bin/tpch" --data "$TPCH" --queries "$q" --threads 2
    done
  done
done
echo "$OUT"
