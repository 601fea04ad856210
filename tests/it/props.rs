//! Property tests: random tables × random partitioning × random thread counts × a tiny or
//! an ample memory limit give the answer of a naive single-threaded evaluation written
//! here, row by row.
//!
//! The tiny limits (4 to 64 KiB, smaller than one partition's batches) change nothing:
//! these operators stream a partition batch by batch and reserve no memory, so they never
//! wait for memory, spill or fail for lack of it.

use std::sync::Arc;

use proptest::prelude::*;
use spillway::arrow::array::{
    Array, AsArray, Float64Array, Int64Array, StringViewArray, UInt64Array,
};
use spillway::arrow::datatypes::{Float64Type, Int64Type};
use spillway::prelude::*;

/// One row of the reference table.
#[derive(Clone, Debug)]
struct Row {
    a: Option<i64>,
    b: Option<f64>,
    s: Option<String>,
}

fn row() -> impl Strategy<Value = Row> {
    (
        proptest::option::weighted(0.85, -1_000_000_i64..1_000_000),
        proptest::option::weighted(0.85, -1e6_f64..1e6),
        proptest::option::weighted(0.85, "[a-z]{0,6}"),
    )
        .prop_map(|(a, b, s)| Row { a, b, s })
}

/// A table with its partitioning, thread count and memory limit (`None`: the default,
/// ample one).
fn case() -> impl Strategy<Value = (Vec<Row>, usize, usize, Option<usize>)> {
    (
        proptest::collection::vec(row(), 0..300),
        1_usize..=64,
        1_usize..=4,
        proptest::option::of(4_usize << 10..=64 << 10),
    )
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Float64, true),
        Field::new("s", DataType::Utf8View, true),
    ]))
}

/// The rows as a frame, cut into `nparts` partitions, on a session of `threads` threads
/// with a memory limit of `limit` bytes (the default when `None`). The rows arrive as
/// several input batches so partitions also straddle batch borders.
fn frame(rows: &[Row], nparts: usize, threads: usize, limit: Option<usize>) -> DataFrame {
    let mut builder = Session::builder().threads(threads).batch_rows(7).fan_in(3);
    if let Some(limit) = limit {
        builder = builder.memory_limit(limit);
    }
    let session = builder.build().unwrap();
    let batches = rows
        .chunks(50)
        .map(|chunk| {
            RecordBatch::try_new(
                schema(),
                vec![
                    Arc::new(Int64Array::from_iter(chunk.iter().map(|r| r.a))),
                    Arc::new(Float64Array::from_iter(chunk.iter().map(|r| r.b))),
                    Arc::new(StringViewArray::from_iter(
                        chunk.iter().map(|r| r.s.as_deref()),
                    )),
                ],
            )
            .unwrap()
        })
        .collect();
    session.from_batches(schema(), batches, nparts).unwrap()
}

fn ints(batches: &[RecordBatch], column: &str) -> Vec<Option<i64>> {
    batches
        .iter()
        .flat_map(|b| {
            b.column_by_name(column)
                .unwrap()
                .as_primitive::<Int64Type>()
                .iter()
                .collect::<Vec<_>>()
        })
        .collect()
}

fn floats(batches: &[RecordBatch], column: &str) -> Vec<Option<f64>> {
    batches
        .iter()
        .flat_map(|b| {
            b.column_by_name(column)
                .unwrap()
                .as_primitive::<Float64Type>()
                .iter()
                .collect::<Vec<_>>()
        })
        .collect()
}

fn strings(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            b.column_by_name(column)
                .unwrap()
                .as_string_view()
                .iter()
                .map(|s| s.map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn close(x: f64, y: f64) -> bool {
    (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs()))
}

fn close_opt(x: Option<f64>, y: Option<f64>) -> bool {
    match (x, y) {
        (Some(x), Some(y)) => close(x, y),
        (None, None) => true,
        _ => false,
    }
}

/// Sample variance with ddof 1, two-pass.
fn variance(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    Some(values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn filter_select_and_derived_columns((rows, nparts, threads, limit) in case(), k in -1_000_000_i64..1_000_000) {
        let out = frame(&rows, nparts, threads, limit)
            .filter(col("a").gt(lit(k)).or(col("s").eq(lit("a"))))
            .unwrap()
            .with_columns([
                ((col("a") + lit(1)) * lit(2)).alias("c"),
                (col("b") / lit(4)).alias("b"),
            ])
            .unwrap()
            .select([col("c"), col("b"), col("s"), col("a").is_null().alias("na")])
            .unwrap()
            .collect()
            .unwrap();
        let keep: Vec<&Row> = rows
            .iter()
            .filter(|r| r.a.is_some_and(|a| a > k) || r.s.as_deref() == Some("a"))
            .collect();
        prop_assert_eq!(ints(&out, "c"), keep.iter().map(|r| r.a.map(|a| (a + 1) * 2)).collect::<Vec<_>>());
        let b = floats(&out, "b");
        prop_assert_eq!(b.len(), keep.len());
        for (got, r) in b.iter().zip(&keep) {
            prop_assert!(close_opt(*got, r.b.map(|b| b / 4.0)));
        }
        prop_assert_eq!(strings(&out, "s"), keep.iter().map(|r| r.s.clone()).collect::<Vec<_>>());
        let na: Vec<bool> = out.iter().flat_map(|b| b.column(3).as_boolean().iter().map(Option::unwrap).collect::<Vec<_>>()).collect();
        prop_assert_eq!(na, keep.iter().map(|r| r.a.is_none()).collect::<Vec<_>>());
    }

    #[test]
    fn apply_closures((rows, nparts, threads, limit) in case()) {
        let df = frame(&rows, nparts, threads, limit);
        let out = df
            .with_columns([
                col("a").apply(|a: i64| a * 3 - 1).alias("a3"),
                col("a").apply(|a: Option<i64>| a.is_none()).alias("none"),
                col("s").apply(|s: String| s.len() as i64).alias("len"),
                col("b").apply(|b: f64| if b > 0.0 { Some(b.sqrt()) } else { None }).alias("root"),
            ])
            .unwrap()
            .collect()
            .unwrap();
        prop_assert_eq!(ints(&out, "a3"), rows.iter().map(|r| r.a.map(|a| a * 3 - 1)).collect::<Vec<_>>());
        prop_assert_eq!(ints(&out, "len"), rows.iter().map(|r| r.s.as_ref().map(|s| s.len() as i64)).collect::<Vec<_>>());
        let none: Vec<Option<bool>> = out.iter().flat_map(|b| b.column_by_name("none").unwrap().as_boolean().iter().collect::<Vec<_>>()).collect();
        prop_assert_eq!(none, rows.iter().map(|r| Some(r.a.is_none())).collect::<Vec<_>>());
        let root = floats(&out, "root");
        for (got, r) in root.iter().zip(&rows) {
            prop_assert!(close_opt(*got, r.b.filter(|b| *b > 0.0).map(f64::sqrt)));
        }
    }

    #[test]
    fn map_partitions_sees_whole_partitions((rows, nparts, threads, limit) in case()) {
        let out_schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("rows_in_partition", DataType::UInt64, false),
        ]));
        let declared = Arc::clone(&out_schema);
        let out = frame(&rows, nparts, threads, limit)
            .map_partitions(Arc::clone(&out_schema), move |batch: RecordBatch| {
                let n = batch.num_rows() as u64;
                RecordBatch::try_new(
                    Arc::clone(&declared),
                    vec![
                        Arc::clone(batch.column(0)),
                        Arc::new(UInt64Array::from(vec![n; batch.num_rows()])),
                    ],
                )
            })
            .collect()
            .unwrap();
        prop_assert_eq!(ints(&out, "a"), rows.iter().map(|r| r.a).collect::<Vec<_>>());
        // Each partition is seen whole: its row count, repeated on each of its rows, is
        // the size Dask's from_pandas gives that partition.
        let sizes: Vec<u64> = out
            .iter()
            .flat_map(|b| b.column(1).as_primitive::<spillway::arrow::datatypes::UInt64Type>().values().to_vec())
            .collect();
        let parts = nparts.min(rows.len()).max(1);
        let mut expect = Vec::new();
        for p in 0..parts {
            let len = rows.len() / parts + usize::from(p < rows.len() % parts);
            expect.extend(std::iter::repeat_n(len as u64, len));
        }
        prop_assert_eq!(sizes, expect);
    }

    #[test]
    fn reductions((rows, nparts, threads, limit) in case()) {
        let df = frame(&rows, nparts, threads, limit);
        let a: Vec<i64> = rows.iter().filter_map(|r| r.a).collect();
        let b: Vec<f64> = rows.iter().filter_map(|r| r.b).collect();
        let s: Vec<&str> = rows.iter().filter_map(|r| r.s.as_deref()).collect();
        let col_a = df.column("a").unwrap();
        let col_b = df.column("b").unwrap();
        let col_s = df.column("s").unwrap();

        prop_assert_eq!(col_a.sum().compute::<i64>().unwrap(), a.iter().sum::<i64>());
        prop_assert_eq!(col_a.count().compute::<u64>().unwrap(), a.len() as u64);
        prop_assert_eq!(col_a.min().compute::<Option<i64>>().unwrap(), a.iter().copied().min());
        prop_assert_eq!(col_a.max().compute::<Option<i64>>().unwrap(), a.iter().copied().max());
        let mean_a = (!a.is_empty()).then(|| a.iter().sum::<i64>() as f64 / a.len() as f64);
        prop_assert!(close_opt(col_a.mean().compute::<Option<f64>>().unwrap(), mean_a));

        prop_assert!(close(col_b.sum().compute::<f64>().unwrap(), b.iter().sum()));
        let var_b = variance(&b);
        prop_assert!(close_opt(col_b.var().compute::<Option<f64>>().unwrap(), var_b));
        prop_assert!(close_opt(col_b.std().compute::<Option<f64>>().unwrap(), var_b.map(f64::sqrt)));
        prop_assert_eq!(col_b.min().compute::<Option<f64>>().unwrap(), b.iter().copied().reduce(f64::min));
        prop_assert_eq!(col_b.max().compute::<Option<f64>>().unwrap(), b.iter().copied().reduce(f64::max));

        prop_assert_eq!(col_s.min().compute::<Option<String>>().unwrap(), s.iter().min().map(|s| s.to_string()));
        prop_assert_eq!(col_s.max().compute::<Option<String>>().unwrap(), s.iter().max().map(|s| s.to_string()));
        prop_assert_eq!(col_s.count().compute::<u64>().unwrap(), s.len() as u64);

        // Several aggregates over a filtered, derived input in one graph.
        let one = df
            .filter(col("b").gt(lit(0.0)))
            .unwrap()
            .agg([(col("a") * lit(2)).sum().alias("s2"), col("b").mean().alias("mb")])
            .unwrap()
            .collect_batch()
            .unwrap();
        let pos: Vec<&Row> = rows.iter().filter(|r| r.b.is_some_and(|b| b > 0.0)).collect();
        prop_assert_eq!(one.num_rows(), 1);
        prop_assert_eq!(
            one.column(0).as_primitive::<Int64Type>().value(0),
            pos.iter().filter_map(|r| r.a).map(|a| a * 2).sum::<i64>()
        );
        let mb = one.column(1).as_primitive::<Float64Type>();
        let want = (!pos.is_empty()).then(|| pos.iter().map(|r| r.b.unwrap()).sum::<f64>() / pos.len() as f64);
        prop_assert!(close_opt(mb.is_valid(0).then(|| mb.value(0)), want));
    }

    #[test]
    fn head_takes_the_first_rows_in_partition_order((rows, nparts, threads, limit) in case(), n in 0_usize..400) {
        let df = frame(&rows, nparts, threads, limit);
        let out = df.head(n).collect().unwrap();
        prop_assert_eq!(ints(&out, "a"), rows.iter().take(n).map(|r| r.a).collect::<Vec<_>>());
        // A filter after the limit applies to the limited rows.
        let out = df.limit(n).filter(col("a").is_not_null()).unwrap().collect().unwrap();
        prop_assert_eq!(ints(&out, "a"), rows.iter().take(n).filter_map(|r| r.a).map(Some).collect::<Vec<_>>());
    }
}
