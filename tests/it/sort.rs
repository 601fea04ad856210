//! sort and top-k through the public API against a stable in-memory sort: random keys with
//! nulls and ties × partitioning × threads × memory limits from spilling to ample.

use std::cmp::Ordering;
use std::sync::Arc;

use proptest::prelude::*;
use spillway::arrow::array::{AsArray, Float64Array, Int64Array, StringViewArray};
use spillway::arrow::datatypes::{Float64Type, Int64Type};
use spillway::prelude::*;

#[derive(Clone, Debug)]
struct Row {
    k: Option<i64>,
    s: Option<String>,
    id: i64,
}

fn rows() -> impl Strategy<Value = Vec<Row>> {
    proptest::collection::vec(
        (
            proptest::option::weighted(0.85, 0_i64..20),
            proptest::option::weighted(0.85, "[a-c]{0,2}"),
        ),
        0..500,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(id, (k, s))| Row {
                k,
                s,
                id: id as i64,
            })
            .collect()
    })
}

fn session(threads: usize, limit: usize, spill: &std::path::Path) -> Session {
    Session::builder()
        .threads(threads)
        .batch_rows(32)
        .memory_limit(limit)
        .spill_dir(spill)
        .build()
        .unwrap()
}

fn frame(s: &Session, rows: &[Row], nparts: usize) -> DataFrame {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new("s", DataType::Utf8View, true),
        Field::new("id", DataType::Int64, false),
        Field::new("f", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.k))),
            Arc::new(StringViewArray::from_iter(
                rows.iter().map(|r| r.s.as_deref()),
            )),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.id))),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.id as f64 / 3.0),
            )),
        ],
    )
    .unwrap();
    s.from_batches(schema, vec![batch], nparts).unwrap()
}

fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| b.column(2).as_primitive::<Int64Type>().values().to_vec())
        .collect()
}

/// `k` ascending nulls first, then `s` descending nulls last; ties keep input order.
fn reference(rows: &[Row]) -> Vec<i64> {
    let mut sorted = rows.to_vec();
    sorted.sort_by(|a, b| {
        let k = match (a.k, b.k) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(&y),
        };
        let s = match (&a.s, &b.s) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => y.cmp(x),
        };
        k.then(s)
    });
    sorted.iter().map(|r| r.id).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn sort_is_a_stable_in_memory_sort(
        rows in rows(),
        nparts in 1_usize..=24,
        threads in 1_usize..=3,
        limit in prop_oneof![Just(4_096_usize), Just(64 << 10), Just(1 << 30)],
        n in 0_usize..60,
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = session(threads, limit, spill.path());
        let sorted = frame(&s, &rows, nparts)
            .sort([col("k").asc().nulls_first(), col("s").desc()])
            .unwrap();
        let (out, stats) = sorted.collect_with_stats().unwrap();
        let want = reference(&rows);
        prop_assert_eq!(ids(&out), want.clone());
        if limit == 4_096 && rows.len() >= 200 {
            prop_assert!(stats.spilled_bytes > 0, "{stats:?}");
        }
        // Columns travel with their keys.
        for b in &out {
            let id = b.column(2).as_primitive::<Int64Type>();
            let f = b.column(3).as_primitive::<Float64Type>();
            for i in 0..b.num_rows() {
                prop_assert_eq!(f.value(i), id.value(i) as f64 / 3.0);
            }
        }
        // Top-k: the first n of the same order, without spilling.
        let (top, stats) = sorted.head(n).collect_with_stats().unwrap();
        prop_assert_eq!(ids(&top), want.iter().copied().take(n).collect::<Vec<_>>());
        if limit == 1 << 30 {
            prop_assert_eq!(stats.spilled_bytes, 0);
        }
        prop_assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
        prop_assert_eq!(s.memory().used(), 0);
    }
}

#[test]
fn sort_plans_show_top_k_and_reject_bad_keys() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, 1 << 30, spill.path());
    let df = frame(
        &s,
        &(0..100)
            .map(|i| Row {
                k: Some(i % 7),
                s: None,
                id: i,
            })
            .collect::<Vec<_>>(),
        4,
    );
    let text = df
        .sort([col("k").desc()])
        .unwrap()
        .head(3)
        .explain()
        .unwrap();
    assert!(text.contains("fetch=3"), "{text}");
    assert!(text.contains("sort-merge"), "{text}");
    let err = df.sort([col("nope")]).unwrap_err();
    assert!(matches!(err, Error::ColumnNotFound { .. }), "{err}");
    let empty: [SortKey; 0] = [];
    assert!(df.sort(empty).is_err());
    // A key expression, and a write of the sorted rows that reads back in order.
    let out = spill.path().join("sorted");
    let written = df
        .sort([(col("id") % lit(10)).asc(), col("id").desc()])
        .unwrap()
        .write_parquet(&out)
        .unwrap();
    assert_eq!(written, 100);
    let back = s
        .read_parquet(out.to_string_lossy())
        .unwrap()
        .collect()
        .unwrap();
    let got = ids(&back);
    let mut want: Vec<i64> = (0..100).collect();
    want.sort_by_key(|&i| (i % 10, -i));
    assert_eq!(got, want);
    // An empty input sorts to nothing.
    let none = df
        .filter(col("id").lt(lit(0)))
        .unwrap()
        .sort([col("k")])
        .unwrap();
    assert!(none.collect().unwrap().is_empty());
}
