#!/usr/bin/env bash
# CSV -> Parquet under a hard memory cap on the whole process tree: Spillway's
# csv_to_parquet example beside DuckDB's COPY and Polars' sink_parquet, plus the raw read
# speed of the file (`cat`) and a row count by each engine (the scan alone).
#
#   CSV=$BENCH_DATA/out/csv/G1_1e8_1e2_0_0.csv CAP_MIB=1024 ENGINE_MIB=512 RUNS=1 bash benches/csv.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH_DATA=${BENCH_DATA:-$(cd "$ROOT/.." && pwd)/bench-data}
SHARED=${SHARED_BENCH:-$(cd "$ROOT/.." && pwd)/shared/bench}
PY="$BENCH_DATA/venv/bin/python"
CSV=${CSV:-$BENCH_DATA/groupby/G1_1e7_1e2_0_0.csv}
CAP_MIB=${CAP_MIB:-1024}
ENGINE_MIB=${ENGINE_MIB:-512}
RUNS=${RUNS:-1}
OUT="$ROOT/benches/results/csv-$(date +%Y%m%d-%H%M).jsonl"
DEST="$BENCH_DATA/out/csv"     # outputs, deleted after each run
SPILL="$BENCH_DATA/spill/csv"  # never /tmp: measure.py empties its --spill-dir
mkdir -p "$ROOT/benches/results" "$DEST" "$SPILL"
cargo build --release --example csv_to_parquet
BIN="$ROOT/target/release/examples/csv_to_parquet"
m() {
  local label=$1; shift
  "$PY" "$SHARED/measure.py" --label "$label" --out "$OUT" --cap-mib "$CAP_MIB" --spill-dir "$SPILL" -- "$@" \
    | grep -E '^\{' | cut -c1-240 || true
}
for run in $(seq "$RUNS"); do
  m "cap$CAP_MIB/cat" sh -c "cat '$CSV' > /dev/null"
  m "cap$CAP_MIB/spillway/count" "$BIN" "$CSV" "$DEST/unused" --count-only --threads 2 --memory-limit "${ENGINE_MIB}MiB"
  m "cap$CAP_MIB/duckdb/count" "$PY" benches/csv_peers.py --engine duckdb --count-only --csv "$CSV" --out "$DEST/x" --threads 2 --mem-mb "$ENGINE_MIB" --spill-dir "$SPILL"
  m "cap$CAP_MIB/polars/count" "$PY" benches/csv_peers.py --engine polars --count-only --csv "$CSV" --out "$DEST/x" --threads 2
  m "cap$CAP_MIB/spillway/convert" "$BIN" "$CSV" "$DEST/spillway" --threads 2 --memory-limit "${ENGINE_MIB}MiB"
  rm -rf "$DEST/spillway"
  m "cap$CAP_MIB/duckdb/convert" "$PY" benches/csv_peers.py --engine duckdb --csv "$CSV" --out "$DEST/duckdb.parquet" --threads 2 --mem-mb "$ENGINE_MIB" --spill-dir "$SPILL"
  rm -f "$DEST/duckdb.parquet"
  m "cap$CAP_MIB/polars/convert" "$PY" benches/csv_peers.py --engine polars --csv "$CSV" --out "$DEST/polars.parquet" --threads 2
  rm -f "$DEST/polars.parquet"
done
echo "results: $OUT"
