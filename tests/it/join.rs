//! Joins through the public API against a nested-loop reference: every join type, keys
//! with nulls, duplicates and skew, × partitioning × threads × memory limits.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use spillway::arrow::array::{Array, AsArray, Int64Array, StringViewArray};
use spillway::arrow::datatypes::Int64Type;
use spillway::prelude::*;

type Out = (Option<i64>, Option<String>, Option<i64>, Option<i64>);

fn side(max_key: i64) -> impl Strategy<Value = Vec<(Option<i64>, Option<String>, i64)>> {
    proptest::collection::vec(
        (
            proptest::option::weighted(0.9, prop_oneof![3 => Just(0_i64), 7 => 0..max_key]),
            proptest::option::weighted(0.9, "[pq]"),
            -100_i64..100,
        ),
        0..120,
    )
}

fn session(threads: usize, limit: usize, spill: &std::path::Path) -> Session {
    Session::builder()
        .threads(threads)
        .batch_rows(16)
        .memory_limit(limit)
        .spill_dir(spill)
        .build()
        .unwrap()
}

fn frame(
    s: &Session,
    rows: &[(Option<i64>, Option<String>, i64)],
    value: &str,
    nparts: usize,
) -> DataFrame {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new("t", DataType::Utf8View, true),
        Field::new(value, DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.0))),
            Arc::new(StringViewArray::from_iter(
                rows.iter().map(|r| r.1.as_deref()),
            )),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
        ],
    )
    .unwrap();
    s.from_batches(schema, vec![batch], nparts).unwrap()
}

/// Output rows as (k, t, a, b), counted.
fn bag(batches: &[RecordBatch], has_b: bool) -> BTreeMap<Out, usize> {
    let mut out = BTreeMap::new();
    for b in batches {
        let k = b.column(0).as_primitive::<Int64Type>();
        let t = b.column(1).as_string_view();
        let a = b.column(2).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            let row = (
                k.is_valid(i).then(|| k.value(i)),
                t.is_valid(i).then(|| t.value(i).to_string()),
                a.is_valid(i).then(|| a.value(i)),
                has_b
                    .then(|| {
                        let c = b.column(3).as_primitive::<Int64Type>();
                        c.is_valid(i).then(|| c.value(i))
                    })
                    .flatten(),
            );
            *out.entry(row).or_default() += 1;
        }
    }
    out
}

type Side = [(Option<i64>, Option<String>, i64)];

/// The nested-loop answer, on keys (k, t).
fn reference(l: &Side, r: &Side, how: JoinType) -> BTreeMap<Out, usize> {
    let eq = |x: &(Option<i64>, Option<String>, i64), y: &(Option<i64>, Option<String>, i64)| {
        x.0.is_some() && x.1.is_some() && x.0 == y.0 && x.1 == y.1
    };
    let mut out: BTreeMap<Out, usize> = BTreeMap::new();
    let mut add = |row: Out| *out.entry(row).or_default() += 1;
    for x in l {
        let matches: Vec<_> = r.iter().filter(|y| eq(x, y)).collect();
        match how {
            JoinType::Semi if !matches.is_empty() => add((x.0, x.1.clone(), Some(x.2), None)),
            JoinType::Anti if matches.is_empty() => add((x.0, x.1.clone(), Some(x.2), None)),
            JoinType::Semi | JoinType::Anti => {}
            _ => {
                for y in &matches {
                    add((x.0, x.1.clone(), Some(x.2), Some(y.2)));
                }
                if matches.is_empty() && matches!(how, JoinType::Left | JoinType::Full) {
                    add((x.0, x.1.clone(), Some(x.2), None));
                }
            }
        }
    }
    if matches!(how, JoinType::Right | JoinType::Full) {
        for y in r {
            if !l.iter().any(|x| eq(x, y)) {
                add((y.0, y.1.clone(), None, Some(y.2)));
            }
        }
    }
    out
}

const HOWS: [JoinType; 6] = [
    JoinType::Inner,
    JoinType::Left,
    JoinType::Right,
    JoinType::Full,
    JoinType::Semi,
    JoinType::Anti,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn joins_match_a_nested_loop(
        l in side(12),
        r in side(12),
        lparts in 1_usize..=8,
        rparts in 1_usize..=8,
        threads in 1_usize..=3,
        limit in prop_oneof![Just(48 << 10_usize), Just(1 << 30)],
        broadcast in any::<bool>(),
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = Session::builder()
            .threads(threads)
            .batch_rows(16)
            .memory_limit(limit)
            .spill_dir(spill.path())
            .broadcast_limit(if broadcast { usize::MAX } else { 0 })
            .build()
            .unwrap();
        let left = frame(&s, &l, "a", lparts);
        let right = frame(&s, &r, "b", rparts);
        for how in HOWS {
            let (out, _) = left
                .join(&right, ["k", "t"], ["k", "t"], how)
                .unwrap()
                .collect_with_stats()
                .unwrap();
            prop_assert_eq!(bag(&out, how.has_right_columns()), reference(&l, &r, how), "{}", how);
        }
        prop_assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
        prop_assert_eq!(s.memory().used(), 0);
    }
}

#[test]
fn a_build_side_too_big_for_memory_is_split_and_spilled() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, 64 << 10, spill.path());
    let n = 20_000_i64;
    let l = s.from_vec("k", (0..n).collect(), 4).unwrap().into_frame();
    let r = s
        .from_vec("k", (0..n).rev().collect(), 4)
        .unwrap()
        .into_frame()
        .with_column((col("k") * lit(2)).alias("twice"))
        .unwrap();
    let joined = l.join(&r, ["k"], ["k"], JoinType::Inner).unwrap();
    let (out, stats) = joined
        .agg([col("twice").sum(), col("k").count().alias("n")])
        .unwrap()
        .collect_with_stats()
        .unwrap();
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    let b = &out[0];
    assert_eq!(
        b.column(0).as_primitive::<Int64Type>().value(0),
        n * (n - 1)
    );
    assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
}

#[test]
fn one_key_too_big_for_memory_is_a_typed_error() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(1, 16 << 10, spill.path());
    let l = s.from_vec("k", vec![1_i64; 10], 1).unwrap().into_frame();
    let r = s
        .from_vec("k", vec![1_i64; 50_000], 4)
        .unwrap()
        .into_frame();
    let err = l
        .join(&r, ["k"], ["k"], JoinType::Inner)
        .unwrap()
        .collect()
        .unwrap_err();
    match err.root() {
        Error::ResourcesExhausted {
            consumer, limit, ..
        } => {
            assert!(consumer.contains("join build side"), "{consumer}");
            assert_eq!(*limit, 16 << 10);
        }
        other => panic!("wrong error: {other}"),
    }
    assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    assert_eq!(s.memory().used(), 0);
}

#[test]
fn join_schemas_rename_clashes_and_check_keys() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, 1 << 30, spill.path());
    let l = frame(&s, &[(Some(1), Some("p".into()), 5)], "v", 1);
    let r = frame(&s, &[(Some(1), Some("q".into()), 7)], "v", 1);
    let j = l.join(&r, ["k"], ["k"], JoinType::Inner).unwrap();
    let names: Vec<String> = j
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["k", "t", "v", "t_right", "v_right"]);
    assert_eq!(j.count_rows().unwrap(), 1);
    assert!(matches!(
        l.join(&r, ["nope"], ["k"], JoinType::Inner).unwrap_err(),
        Error::ColumnNotFound { .. }
    ));
    assert!(matches!(
        l.join(&r, ["k"], ["t"], JoinType::Inner).unwrap_err(),
        Error::Type { .. }
    ));
    let text = j.explain().unwrap();
    assert!(text.contains("Join inner on [k = k]"), "{text}");
    assert!(text.contains("broadcast-build"), "{text}");
    assert!(!text.contains("shuffle"), "{text}");
}

#[test]
fn keys_of_different_widths_and_string_types_join_in_their_common_type() {
    use spillway::arrow::array::{Int32Array, StringArray};
    let spill = tempfile::tempdir().unwrap();
    for limit in [1 << 30, 16 << 10] {
        let s = session(2, limit, spill.path());
        let table = |k: ArrayRef, name: &str| {
            let schema = Arc::new(Schema::new(vec![
                Field::new("k", k.data_type().clone(), true),
                Field::new(name, DataType::Int64, false),
            ]));
            let v = Arc::new(Int64Array::from_iter_values(0..k.len() as i64));
            let b = RecordBatch::try_new(Arc::clone(&schema), vec![k, v]).unwrap();
            s.from_batches(schema, vec![b], 3).unwrap()
        };
        let narrow = table(
            Arc::new(Int32Array::from_iter(
                (0..300).map(|i| (i % 7 != 0).then_some(i)),
            )),
            "a",
        );
        let wide = table(
            Arc::new(Int64Array::from_iter_values((0..600).map(|i| i / 2))),
            "b",
        );
        for how in [
            JoinType::Inner,
            JoinType::Left,
            JoinType::Right,
            JoinType::Semi,
        ] {
            let j = narrow.join(&wide, ["k"], ["k"], how).unwrap();
            assert_eq!(j.schema().field(0).data_type(), &DataType::Int64, "{how:?}");
            let rows = j.count_rows().unwrap();
            // 300 keys, 257 of them non-null, each matching 2 rows of the wide side.
            let want = match how {
                JoinType::Inner => 257 * 2,
                JoinType::Left => 257 * 2 + 43,
                JoinType::Right => 600,
                _ => 257,
            };
            assert_eq!(rows, want, "{how:?} at {limit}");
        }
        let utf8 = table(
            Arc::new(StringArray::from_iter_values(
                (0..50).map(|i| format!("key {i}")),
            )),
            "a",
        );
        let view = table(
            Arc::new(StringViewArray::from_iter_values(
                (25..75).map(|i| format!("key {i}")),
            )),
            "b",
        );
        let j = utf8.join(&view, ["k"], ["k"], JoinType::Inner).unwrap();
        assert_eq!(j.count_rows().unwrap(), 25);
        // A string and a number have no common type: refused, naming both.
        let err = utf8.join(&wide, ["k"], ["k"], JoinType::Inner).unwrap_err();
        assert!(matches!(err, Error::Type { .. }), "{err}");
        assert!(err.to_string().contains("Int64"), "{err}");
    }
}

/// A session whose joins broadcast a right side up to `broadcast` bytes.
fn broadcasting(
    threads: usize,
    limit: usize,
    broadcast: usize,
    spill: &std::path::Path,
) -> Session {
    Session::builder()
        .threads(threads)
        .batch_rows(64)
        .memory_limit(limit)
        .broadcast_limit(broadcast)
        .spill_dir(spill)
        .build()
        .unwrap()
}

#[test]
fn a_small_right_side_is_broadcast_and_a_big_one_shuffled() {
    let spill = tempfile::tempdir().unwrap();
    let s = broadcasting(2, 1 << 30, 64 << 10, spill.path());
    let big = s
        .from_vec("k", (0..50_000_i64).collect(), 8)
        .unwrap()
        .into_frame();
    let small = s
        .from_vec("k", (0..100_i64).map(|k| k * 7).collect(), 3)
        .unwrap()
        .into_frame()
        .with_column((col("k") + lit(1)).alias("v"))
        .unwrap();
    for how in [
        JoinType::Inner,
        JoinType::Left,
        JoinType::Semi,
        JoinType::Anti,
    ] {
        let j = big.join(&small, ["k"], ["k"], how).unwrap();
        let text = j.explain().unwrap();
        assert!(text.contains("broadcast-build: 1 task"), "{how}: {text}");
        assert!(text.contains("scan-broadcast-join"), "{how}: {text}");
        assert!(!text.contains("shuffle"), "{how}: {text}");
        let rows = j.count_rows().unwrap();
        let expected = match how {
            JoinType::Inner | JoinType::Semi => 100,
            JoinType::Left => 50_000,
            _ => 50_000 - 100,
        };
        assert_eq!(rows, expected, "{how}");
    }
    // Rows keep the left side's partition order.
    let out = big
        .join(&small, ["k"], ["k"], JoinType::Inner)
        .unwrap()
        .collect()
        .unwrap();
    let keys: Vec<i64> = out
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(keys, (0..100).map(|k| k * 7).collect::<Vec<i64>>());
    // A right or full join needs the right side's unmatched rows: never broadcast; nor
    // is a right side bigger than the limit.
    for j in [
        big.join(&small, ["k"], ["k"], JoinType::Right).unwrap(),
        small.join(&big, ["k"], ["k"], JoinType::Inner).unwrap(),
    ] {
        let text = j.explain().unwrap();
        assert!(text.contains("hash-join"), "{text}");
        assert!(!text.contains("broadcast"), "{text}");
    }
    assert_eq!(s.memory().used(), 0);
}

#[test]
fn broadcast_joins_chain_in_one_pipeline_and_match_shuffled_joins() {
    let spill = tempfile::tempdir().unwrap();
    let run = |broadcast: usize| {
        let s = broadcasting(2, 1 << 30, broadcast, spill.path());
        let facts = s
            .from_vec("k", (0..20_000_i64).map(|i| i % 1000).collect(), 6)
            .unwrap()
            .into_frame()
            .with_column((col("k") % lit(10)).alias("d"))
            .unwrap();
        let dim1 = s
            .from_vec("k", (0..1000_i64).filter(|k| k % 3 != 0).collect(), 2)
            .unwrap()
            .into_frame()
            .with_column((col("k") * lit(2)).alias("k2"))
            .unwrap();
        let dim2 = s
            .from_vec("d", (0..10_i64).collect(), 1)
            .unwrap()
            .into_frame()
            .with_column((col("d") * lit(100)).alias("hundreds"))
            .unwrap();
        let q = facts
            .join(&dim1, ["k"], ["k"], JoinType::Inner)
            .unwrap()
            .join(&dim2, ["d"], ["d"], JoinType::Left)
            .unwrap()
            .agg([
                col("k2").sum(),
                col("hundreds").sum(),
                col("k").count().alias("n"),
            ])
            .unwrap();
        let text = q.explain().unwrap();
        let (out, stats) = q.collect_with_stats().unwrap();
        let row: Vec<i64> = (0..3)
            .map(|c| {
                let a = out[0].column(c);
                if let Some(a) = a.as_primitive_opt::<Int64Type>() {
                    a.value(0)
                } else {
                    a.as_primitive::<spillway::arrow::datatypes::UInt64Type>()
                        .value(0) as i64
                }
            })
            .collect();
        (row, text, stats.spilled_bytes)
    };
    let (broadcast, text, _) = run(1 << 20);
    assert!(
        text.contains("scan-project-broadcast-join-broadcast-join-partial"),
        "{text}"
    );
    let (shuffled, text, _) = run(0);
    assert!(!text.contains("broadcast"), "{text}");
    assert_eq!(broadcast, shuffled);
    let kept: Vec<i64> = (0..20_000_i64)
        .map(|i| i % 1000)
        .filter(|k| k % 3 != 0)
        .collect();
    assert_eq!(broadcast[0], kept.iter().map(|k| k * 2).sum::<i64>());
    assert_eq!(
        broadcast[1],
        kept.iter().map(|k| (k % 10) * 100).sum::<i64>()
    );
    assert_eq!(broadcast[2], kept.len() as i64);
}

#[test]
fn broadcast_join_errors_and_panics_name_the_task_and_leave_nothing_behind() {
    let spill = tempfile::tempdir().unwrap();
    let s = broadcasting(2, 1 << 30, 1 << 20, spill.path());
    let big = s
        .from_vec("k", (0..10_000_i64).collect(), 4)
        .unwrap()
        .into_frame();
    let small = s
        .from_vec("k", (0..10_i64).collect(), 1)
        .unwrap()
        .into_frame();
    let err = big
        .join(&small, ["k"], ["k"], JoinType::Inner)
        .unwrap()
        .with_column(
            col("k")
                .apply(|k: i64| -> i64 {
                    assert!(k < 5, "no key above 4");
                    k
                })
                .alias("checked"),
        )
        .unwrap()
        .collect()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("broadcast-join"), "{text}");
    assert!(text.contains("no key above 4"), "{text}");
    // Empty sides.
    let none = s.from_vec("k", Vec::<i64>::new(), 1).unwrap().into_frame();
    assert_eq!(
        big.join(&none, ["k"], ["k"], JoinType::Inner)
            .unwrap()
            .count_rows()
            .unwrap(),
        0
    );
    assert_eq!(
        big.join(&none, ["k"], ["k"], JoinType::Anti)
            .unwrap()
            .count_rows()
            .unwrap(),
        10_000
    );
    assert_eq!(
        none.join(&small, ["k"], ["k"], JoinType::Left)
            .unwrap()
            .count_rows()
            .unwrap(),
        0
    );
    assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    assert_eq!(s.memory().used(), 0);
}
