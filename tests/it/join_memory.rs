//! Joins under tight memory limits (issue 11, "the memory limit holds"): null keys on
//! either side never fill memory, a broadcast is decided on decoded sizes, and a broadcast
//! whose right side turns out bigger than estimated falls back to a partitioned join
//! instead of failing. Every answer is checked against the same join under no limit.

use std::sync::Arc;

use proptest::prelude::*;
use spillway::arrow::array::{Int64Array, StringViewArray};
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

/// The join types a broadcast join can run (it keeps no unmatched right rows).
const BROADCAST_HOWS: [JoinType; 4] = [
    JoinType::Inner,
    JoinType::Left,
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

/// Writes 20 000 rows (`k`: 100 keys in runs of 200; `s`: 50 strings of 40-odd bytes,
/// repeating) as one dictionary-encoded Parquet file; returns its path and size.
fn dictionary_parquet(dir: &std::path::Path) -> (String, u64) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("s", DataType::Utf8View, false),
    ]));
    let strings = (0..20_000_i64).map(|i| format!("a repeated string value, number {:08}", i % 50));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from_iter_values((0..20_000).map(|i| i / 200))),
            Arc::new(StringViewArray::from_iter_values(strings)),
        ],
    )
    .unwrap();
    let path = dir.join("dim.parquet");
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    (path.to_str().unwrap().to_string(), size)
}

#[test]
fn a_dictionary_encoded_parquet_side_is_judged_by_its_decoded_size() {
    let dir = tempfile::tempdir().unwrap();
    let (path, size) = dictionary_parquet(dir.path());
    // 20 000 rows decode to 8 bytes of key and a 16-byte string view each: 480 KB.
    let decoded = 20_000 * 24;
    assert!(size < 20_000, "the file is {size} bytes");
    assert!(decoded > 20 * size as usize, "the file is {size} bytes");
    // A limit whose broadcast share (an eighth) lies between the two sizes.
    let limit = 256 << 10;
    assert!((size as usize) < limit / 8 && limit / 8 < decoded);
    let frames = |s: &Session| {
        let left: Vec<Option<i64>> = (0..300_i64).map(|i| Some(i % 150)).collect();
        (keyed(s, &left, "a", 2), s.read_parquet(&path).unwrap())
    };
    let spill = tempfile::tempdir().unwrap();
    let s = session(limit, 64 << 20, spill.path());
    let (l, r) = frames(&s);
    let text = l
        .join(&r, ["k"], ["k"], JoinType::Inner)
        .unwrap()
        .explain()
        .unwrap();
    assert!(text.contains("hash-join"), "{text}");
    assert!(!text.contains("broadcast"), "{text}");
    check_against_unlimited(limit, 64 << 20, &BROADCAST_HOWS, &frames);
}

/// A right side the planner estimates at its scanned keys (8 bytes a row) while each row
/// grows twelve more 8-byte columns on the way: 13 times the estimate. (Fixed-width
/// columns, so that a slice of a batch is charged only its own rows.)
fn padded_right(s: &Session, rows: i64, nparts: usize) -> DataFrame {
    s.from_vec("k", (0..rows).map(|i| i * 3).collect(), nparts)
        .unwrap()
        .into_frame()
        .with_columns((0..12).map(|j| (col("k") + lit(j)).alias(format!("p{j}"))))
        .unwrap()
}

#[test]
fn a_right_side_bigger_than_estimated_falls_back_to_a_partitioned_join() {
    let limit = 384 << 10;
    let frames = |s: &Session| {
        let left: Vec<Option<i64>> = (0..6_000_i64)
            .map(|i| (i % 7 != 0).then_some(i % 5_000))
            .collect();
        (keyed(s, &left, "a", 3), padded_right(s, 4_000, 2))
    };
    let spill = tempfile::tempdir().unwrap();
    let s = session(limit, 64 << 20, spill.path());
    let (l, r) = frames(&s);
    let q = l.join(&r, ["k"], ["k"], JoinType::Inner).unwrap();
    let text = q.explain().unwrap();
    assert!(text.contains("broadcast-build"), "{text}");
    // The table would take more than the whole limit: only the fallback can run it.
    let (_, stats) = q.collect_with_stats().unwrap();
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    check_against_unlimited(limit, 64 << 20, &BROADCAST_HOWS, &frames);
}

#[test]
fn the_fallback_joins_empty_one_and_many_left_partitions() {
    let limit = 384 << 10;
    for (left_rows, nparts) in [(0_i64, 1), (5_000, 1), (5_000, 7)] {
        let frames = move |s: &Session| {
            let left: Vec<Option<i64>> = (0..left_rows).map(|i| Some(i * 2)).collect();
            (keyed(s, &left, "a", nparts), padded_right(s, 4_000, 3))
        };
        check_against_unlimited(limit, 64 << 20, &BROADCAST_HOWS, &frames);
    }
}

#[test]
fn a_panic_upstream_of_a_fallback_join_is_a_user_panic() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(384 << 10, 64 << 20, spill.path());
    let left = keyed(&s, &(0..5_000).map(Some).collect::<Vec<_>>(), "a", 3)
        .with_column(
            col("a")
                .apply(|a: i64| -> i64 {
                    assert!(a < 4_000, "no value above 3999");
                    a
                })
                .alias("checked"),
        )
        .unwrap();
    let right = padded_right(&s, 4_000, 2);
    // Broadcast (and fallen back: its table does not fit the limit), and shuffled.
    let text = left
        .join(&right, ["k"], ["k"], JoinType::Inner)
        .unwrap()
        .explain()
        .unwrap();
    assert!(text.contains("broadcast-build"), "{text}");
    for (l, r) in [(&left, &right), (&right, &left)] {
        let err = l
            .join(r, ["k"], ["k"], JoinType::Inner)
            .unwrap()
            .collect()
            .unwrap_err();
        assert!(
            matches!(err.root(), Error::UserPanic { message, .. } if message.contains("no value above")),
            "{err}"
        );
    }
    assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    assert_eq!(s.memory().used(), 0);
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

type Rows = Vec<(Option<i64>, i64)>;

fn side(max_key: i64) -> impl Strategy<Value = Rows> {
    proptest::collection::vec(
        (
            proptest::option::weighted(0.5, 0..max_key),
            -1_000_i64..1_000,
        ),
        0..400,
    )
}

fn frame_of(s: &Session, rows: &Rows, value: &str, nparts: usize, pad: bool) -> DataFrame {
    let keys: Vec<Option<i64>> = rows.iter().map(|r| r.0).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new(value, DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from(keys)),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
        ],
    )
    .unwrap();
    let f = s.from_batches(schema, vec![batch], nparts).unwrap();
    if !pad {
        return f;
    }
    // Columns the planner does not see coming: the estimate is far too small.
    f.with_columns((0..10).map(|j| (col(value) * lit(j)).alias(format!("{value}{j}"))))
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn joins_with_null_keys_under_tiny_limits_match_the_unlimited_answer(
        l in side(20),
        r in side(20),
        lparts in 1_usize..=8,
        rparts in 1_usize..=8,
        limit in prop_oneof![Just(16 << 10_usize), Just(32 << 10), Just(64 << 10)],
        broadcast in any::<bool>(),
        pad in any::<bool>(),
    ) {
        let frames = |s: &Session| {
            (frame_of(s, &l, "a", lparts, false), frame_of(s, &r, "b", rparts, pad))
        };
        for how in HOWS {
            let want = joined(1 << 30, 0, how, &frames).unwrap();
            let got = joined(limit, if broadcast { usize::MAX } else { 0 }, how, &frames);
            prop_assert!(got.is_ok(), "{} under {}: {:?}", how, limit, got.err());
            prop_assert_eq!(got.unwrap(), want, "{}", how);
        }
    }
}
