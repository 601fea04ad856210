//! Joins under tight memory limits (issue 11, "the memory limit holds"): null keys on
//! either side never fill memory, and a key too big for memory is named with its size.
//! Every answer is checked against the same join under no limit.

use std::sync::Arc;

use spillway::arrow::array::Int64Array;
use spillway::arrow::util::display::array_value_to_string;
use spillway::prelude::*;

const HOWS: [JoinType; 6] = [
    JoinType::Inner,
    JoinType::Left,
    JoinType::Right,
    JoinType::Full,
    JoinType::Semi,
    JoinType::Anti,
];

fn session(limit: usize, broadcast: usize, spill: &std::path::Path) -> Session {
    Session::builder()
        .threads(2)
        .batch_rows(256)
        .memory_limit(limit)
        .broadcast_limit(broadcast)
        .spill_dir(spill)
        .build()
        .unwrap()
}

/// A frame of `k` (nullable keys) and `value` (the row's index), in `nparts` partitions.
fn keyed(s: &Session, keys: &[Option<i64>], value: &str, nparts: usize) -> DataFrame {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new(value, DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from(keys.to_vec())),
            Arc::new(Int64Array::from_iter_values(0..keys.len() as i64)),
        ],
    )
    .unwrap();
    s.from_batches(schema, vec![batch], nparts).unwrap()
}

/// Every output row as text, sorted: joins promise no order.
fn sorted_rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut rows = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let cells: Vec<String> = b
                .columns()
                .iter()
                .map(|c| {
                    if c.is_null(i) {
                        "∅".to_string()
                    } else {
                        array_value_to_string(c, i).unwrap()
                    }
                })
                .collect();
            rows.push(cells.join("|"));
        }
    }
    rows.sort();
    rows
}

/// The sorted rows of `left` joined with `right` on `k`, built by `frames` on a session of
/// `limit` bytes; the spill folder is empty and no memory is held afterwards.
fn joined(
    limit: usize,
    broadcast: usize,
    how: JoinType,
    frames: &dyn Fn(&Session) -> (DataFrame, DataFrame),
) -> Result<Vec<String>> {
    let spill = tempfile::tempdir().unwrap();
    let s = session(limit, broadcast, spill.path());
    let (l, r) = frames(&s);
    let out = l.join(&r, ["k"], ["k"], how)?.collect();
    assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    assert_eq!(s.memory().used(), 0);
    Ok(sorted_rows(&out?))
}

/// The join under `limit` gives the answer of the same join under no limit.
fn check_against_unlimited(
    limit: usize,
    broadcast: usize,
    hows: &[JoinType],
    frames: &dyn Fn(&Session) -> (DataFrame, DataFrame),
) {
    for &how in hows {
        let want = joined(1 << 30, 0, how, frames).unwrap();
        let got = joined(limit, broadcast, how, frames)
            .unwrap_or_else(|e| panic!("{how} join under {limit} bytes: {e}"));
        assert_eq!(got.len(), want.len(), "{how}");
        assert!(got == want, "{how}: the answers differ");
    }
}

/// 20 000 rows, 19 000 of them with a null key and 1 000 with the keys 0..1000.
fn mostly_null_keys() -> Vec<Option<i64>> {
    (0..20_000_i64)
        .map(|i| (i % 20 == 0).then_some(i / 20))
        .collect()
}

#[test]
fn null_build_keys_never_fill_memory_for_any_join_type() {
    let frames = |s: &Session| {
        let left: Vec<Option<i64>> = (0..2_000_i64).map(|i| Some(i % 1_500)).collect();
        (
            keyed(s, &left, "a", 4),
            keyed(s, &mostly_null_keys(), "b", 4),
        )
    };
    check_against_unlimited(64 << 10, 64 << 20, &HOWS, &frames);
    // The answer by hand: 1 000 right keys, each matched by the left rows with that key.
    let rows = |how| joined(64 << 10, 64 << 20, how, &frames).unwrap().len();
    let matched: usize = (0..2_000).filter(|i| i % 1_500 < 1_000).count();
    assert_eq!(rows(JoinType::Inner), matched);
    assert_eq!(rows(JoinType::Right), matched + 19_000);
    assert_eq!(rows(JoinType::Full), 2_000 + 19_000);
    assert_eq!(rows(JoinType::Anti), 2_000 - matched);
}

#[test]
fn null_probe_keys_never_fill_memory_for_any_join_type() {
    // A right side too big to broadcast under 64 KiB, and one small enough.
    for right_keys in [3_000_i64, 200] {
        let frames = move |s: &Session| {
            let right: Vec<Option<i64>> = (0..right_keys).map(Some).collect();
            (
                keyed(s, &mostly_null_keys(), "a", 4),
                keyed(s, &right, "b", 2),
            )
        };
        check_against_unlimited(64 << 10, 64 << 20, &HOWS, &frames);
        let rows = |how| joined(64 << 10, 64 << 20, how, &frames).unwrap().len();
        let matched = (right_keys as usize).min(1_000);
        assert_eq!(rows(JoinType::Inner), matched);
        assert_eq!(rows(JoinType::Left), 20_000);
        assert_eq!(rows(JoinType::Anti), 20_000 - matched);
    }
}

#[test]
fn one_key_too_big_for_memory_names_its_size() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(16 << 10, 0, spill.path());
    let l = keyed(&s, &[Some(1); 10], "a", 1);
    let r = keyed(&s, &[Some(1); 50_000], "b", 4);
    let err = l
        .join(&r, ["k"], ["k"], JoinType::Inner)
        .unwrap()
        .collect()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err.root(), Error::ResourcesExhausted { .. }),
        "{text}"
    );
    assert!(text.contains("one key"), "{text}");
    assert!(text.contains("k = 1"), "{text}");
    // The key's 50 000 rows of two 8-byte columns: 800 000 bytes.
    assert!(text.contains("800000 bytes"), "{text}");
    assert_eq!(s.memory().used(), 0);
}
