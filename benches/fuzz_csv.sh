#!/usr/bin/env bash
# The CSV fuzz of the integration binary (tests/it/csv_fuzz.rs) with many more cases:
# random files, quotes, ragged rows, invalid UTF-8, byte order marks, CR line ends, empty
# files in a glob, with and without skipping bad rows. Prints how many cases ran, what
# they returned, and every finding with its seed (rerun one with CASES=1 SEED=<seed>).
#
#   CASES=20000 bash benches/fuzz_csv.sh
set -uo pipefail
cd "$(dirname "$0")/.."
CASES=${CASES:-20000}
SEED=${SEED:-1592641008}   # the test's default first seed, 0x5EED_C5F0
LOG=$(mktemp)
start=$(date +%s)
SPILLWAY_FUZZ_CASES=$CASES SPILLWAY_FUZZ_SEED=$SEED \
  cargo test --test it csv_fuzz -- --nocapture --test-threads 1 >"$LOG" 2>&1
status=$?
end=$(date +%s)
grep -a -o 'csv fuzz.*' "$LOG" | head -50
grep -a -E "panicked at|test result" "$LOG" | sort | uniq -c | head -20
echo "fuzz_csv: exit $status, $((end - start)) s in all (build included); log: $LOG"
exit $status
