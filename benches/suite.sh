#!/usr/bin/env bash
# The side-by-side suite in one command: Spillway beside DuckDB, Polars and DataFusion on
# the same data, threads and memory setting, each query in its own process
# (shared/bench/measure.py), then a table with, per engine, the geomean ratio to DuckDB.
#
#   bash benches/suite.sh h2o-1e7        # h2o groupby q1-q10, 1e7 rows, in memory
#   bash benches/suite.sh h2o-1e8-cap    # q1-q10, 1e8 rows, 2 GiB cgroup cap, engine setting 1536 MiB
#   bash benches/suite.sh tpch-sf10-cap  # TPC-H SF10 under the 2 GiB cap (the queries the peers' script has)
#
# → benches/results/suite-<name>-<date>.jsonl and its table on stdout
#   (again later: python3 benches/suite_table.py FILE). QUERIES and ENGINES override.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH_DATA=${BENCH_DATA:-$(cd "$ROOT/.." && pwd)/bench-data}
name=${1:?usage: bash benches/suite.sh h2o-1e7|h2o-1e8-cap|tpch-sf10-cap}
export OUT="$ROOT/benches/results/suite-$name-$(date +%Y%m%d-%H%M).jsonl"
H2O_QUERIES="q1 q2 q3 q4 q5 q6 q7 q8 q9 q10"
case "$name" in
  h2o-1e7)
    # In memory: no cap, and a setting no question reaches (q10 holds about 1 GiB).
    DATA=$BENCH_DATA/groupby/G1_1e7_1e2_0_0 CAP_MIB=0 ENGINE_MIB=8192 \
      QUERIES=${QUERIES:-$H2O_QUERIES} ENGINES=${ENGINES-duckdb polars polars-stream datafusion} \
      bash benches/cap.sh ;;
  h2o-1e8-cap)
    DATA=$BENCH_DATA/groupby/G1_1e8_1e2_0_0 CAP_MIB=2048 ENGINE_MIB=1536 \
      QUERIES=${QUERIES:-$H2O_QUERIES} ENGINES=${ENGINES-duckdb polars-stream datafusion} \
      bash benches/cap.sh ;;
  tpch-sf10-cap)
    DATA=$BENCH_DATA/tpch/sf10 CAP_MIB=2048 ENGINE_MIB=1536 \
      QUERIES=${QUERIES:-q1 q3 q6} ENGINES=${ENGINES-duckdb polars-stream datafusion} \
      bash benches/tpch_cap.sh ;;
  *) echo "unknown suite $name: h2o-1e7, h2o-1e8-cap or tpch-sf10-cap" >&2; exit 2 ;;
esac
python3 benches/suite_table.py "$OUT"
