#!/usr/bin/env bash
# The Parquet fault fuzz of tests/it/parquet_fuzz.rs with many more cases than the test's
# 2 000: two small files with page checksums, truncated, with bits flipped in pages, footer
# and magic, bytes overwritten, ranges zeroed. Each case must read back unchanged or fail
# with a typed error naming the file. Prints the cases run, the tally by kind of damage,
# the most common errors, where the parquet crate panicked (caught, each a Format error)
# and any failure (an uncaught panic, an internal error, a wrong answer).
#
#   CASES=20000 SEED=12345 bash benches/fuzz_parquet.sh
#
# Uses the debug test build (CARGO_TARGET_DIR is honoured); exits 1 on a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export SPILLWAY_FUZZ_CASES=${CASES:-20000}
if [ -n "${SEED:-}" ]; then export SPILLWAY_FUZZ_SEED=$SEED; fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
started=$(date +%s)
cargo test --test it --quiet parquet_fuzz:: -- --nocapture --test-threads 1 > "$log" 2>&1
status=$?
grep -E '^fuzz:' "$log"
echo "fuzz: panics caught inside the parquet crate, by place:"
grep -o 'panicked at [^ ]*parquet-[0-9.]*/src/[^ ]*' "$log" | sed 's/.*parquet-/  parquet-/' \
  | sort | uniq -c | sort -rn | head -20
echo "fuzz: wall time $(( $(date +%s) - started )) s (build included); test exit status $status"
if [ $status -ne 0 ]; then grep -E 'FAILED|panicked' "$log" | head -20; fi
exit $status
