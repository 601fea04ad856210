//! Property tests: random tables × random partitioning × random thread counts × a tiny or
//! an ample memory limit give the answer of a naive single-threaded evaluation written
//! here, row by row.
//!
//! The tiny limits (4 to 64 KiB) change nothing: these operators stream a partition batch
//! by batch and reserve no memory, so they never wait for memory, spill or fail for lack
//! of it.
//!
//! Half the tables have NaN (of either sign), ±∞ and ±0.0 among their floats. The
//! reference follows the rule documented in `spillway_planner::expr`: comparisons, `min`
//! and `max` in IEEE 754 totalOrder (`f64::total_cmp`), sums, means and moments in IEEE
//! arithmetic, NaN counted as a value.

use std::sync::Arc;

use proptest::prelude::*;
use spillway::arrow::array::{
    Array, AsArray, Float64Array, Int64Array, StringViewArray, UInt64Array,
};
use spillway::arrow::datatypes::{Float32Type, Float64Type, Int64Type, UInt64Type};
use spillway::prelude::*;

/// One row of the reference table.
#[derive(Clone, Debug)]
struct Row {
    a: Option<i64>,
    b: Option<f64>,
    s: Option<String>,
}

/// A float: finite, or (when `special`, one time in ten) NaN, −NaN, ±∞ or ±0.0.
fn float(special: bool) -> BoxedStrategy<f64> {
    let finite = -1e6_f64..1e6;
    if !special {
        return finite.boxed();
    }
    prop_oneof![
        54 => finite,
        1 => Just(f64::NAN),
        1 => Just(-f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(0.0),
        1 => Just(-0.0),
    ]
    .boxed()
}

fn row(special: bool) -> impl Strategy<Value = Row> {
    (
        proptest::option::weighted(0.85, -1_000_000_i64..1_000_000),
        proptest::option::weighted(0.85, float(special)),
        proptest::option::weighted(0.85, "[a-z]{0,6}"),
    )
        .prop_map(|(a, b, s)| Row { a, b, s })
}

/// A table with its partitioning, thread count and memory limit (`None`: the default,
/// ample one).
fn case() -> impl Strategy<Value = (Vec<Row>, usize, usize, Option<usize>)> {
    (
        any::<bool>().prop_flat_map(|special| proptest::collection::vec(row(special), 0..300)),
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

/// Column `column` of every batch, cast to `T` (so any string or number type reads).
fn column_as<T: spillway::arrow::datatypes::ArrowPrimitiveType>(
    batches: &[RecordBatch],
    column: &str,
) -> Vec<Option<T::Native>> {
    batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name(column).unwrap();
            assert_eq!(c.data_type(), &T::DATA_TYPE, "{column}");
            c.as_primitive::<T>().iter().collect::<Vec<_>>()
        })
        .collect()
}

fn ints(batches: &[RecordBatch], column: &str) -> Vec<Option<i64>> {
    column_as::<Int64Type>(batches, column)
}

fn floats(batches: &[RecordBatch], column: &str) -> Vec<Option<f64>> {
    column_as::<Float64Type>(batches, column)
}

fn bools(batches: &[RecordBatch], column: &str) -> Vec<Option<bool>> {
    batches
        .iter()
        .flat_map(|b| {
            b.column_by_name(column)
                .unwrap()
                .as_boolean()
                .iter()
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A string column of any string type.
fn strings(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name(column).unwrap();
            let c = spillway::arrow::compute::cast(c, &DataType::Utf8).unwrap();
            c.as_string::<i32>()
                .iter()
                .map(|s| s.map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Equal up to rounding; NaN equals NaN (of either sign) and infinities must match.
fn close(x: f64, y: f64) -> bool {
    if x.is_nan() || y.is_nan() || x.is_infinite() || y.is_infinite() {
        return (x.is_nan() && y.is_nan()) || x == y;
    }
    (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs()))
}

fn close_opt(x: Option<f64>, y: Option<f64>) -> bool {
    match (x, y) {
        (Some(x), Some(y)) => close(x, y),
        (None, None) => true,
        _ => false,
    }
}

fn all_close(got: &[Option<f64>], want: impl IntoIterator<Item = Option<f64>>) -> bool {
    let want: Vec<_> = want.into_iter().collect();
    got.len() == want.len() && got.iter().zip(want).all(|(g, w)| close_opt(*g, w))
}

/// The same float, bit for bit (min and max pick a value, they compute nothing).
fn bits(x: Option<f64>) -> Option<u64> {
    x.map(f64::to_bits)
}

/// Sample variance with ddof 1, two-pass (NaN when a value is NaN or infinite).
fn variance(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    Some(values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64)
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
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
                not(col("a").gt(lit(k))).alias("not_gt"),
                (!col("b").lt_eq(lit(0.0))).alias("b_pos"),
                col("a").cast(DataType::Float64).alias("a_f64"),
                col("a").cast(DataType::Utf8).alias("a_text"),
                col("b").cast(DataType::Float32).alias("b_f32"),
            ])
            .unwrap()
            .select([
                col("c"),
                col("b"),
                col("s"),
                col("a").is_null().alias("na"),
                col("not_gt"),
                col("b_pos"),
                col("a_f64"),
                col("a_text"),
                col("b_f32"),
            ])
            .unwrap()
            .collect()
            .unwrap();
        let keep: Vec<&Row> = rows
            .iter()
            .filter(|r| r.a.is_some_and(|a| a > k) || r.s.as_deref() == Some("a"))
            .collect();
        prop_assert_eq!(ints(&out, "c"), keep.iter().map(|r| r.a.map(|a| (a + 1) * 2)).collect::<Vec<_>>());
        prop_assert!(all_close(&floats(&out, "b"), keep.iter().map(|r| r.b.map(|b| b / 4.0))));
        prop_assert_eq!(strings(&out, "s"), keep.iter().map(|r| r.s.clone()).collect::<Vec<_>>());
        prop_assert_eq!(bools(&out, "na"), keep.iter().map(|r| Some(r.a.is_none())).collect::<Vec<_>>());
        // Kleene logic: the negation of null is null.
        prop_assert_eq!(bools(&out, "not_gt"), keep.iter().map(|r| r.a.map(|a| a <= k)).collect::<Vec<_>>());
        // totalOrder: NaN is above 0.0 and -NaN below it, -0.0 is below 0.0.
        prop_assert_eq!(
            bools(&out, "b_pos"),
            keep.iter().map(|r| r.b.map(|b| b.total_cmp(&0.0).is_gt())).collect::<Vec<_>>()
        );
        prop_assert_eq!(floats(&out, "a_f64"), keep.iter().map(|r| r.a.map(|a| a as f64)).collect::<Vec<_>>());
        prop_assert_eq!(strings(&out, "a_text"), keep.iter().map(|r| r.a.map(|a| a.to_string())).collect::<Vec<_>>());
        let b32 = column_as::<Float32Type>(&out, "b_f32");
        let want: Vec<Option<f32>> = keep.iter().map(|r| r.b.map(|b| b as f32)).collect();
        prop_assert_eq!(b32.len(), want.len());
        for (got, want) in b32.iter().zip(&want) {
            prop_assert!(
                got == want || got.zip(*want).is_some_and(|(g, w)| g.is_nan() && w.is_nan()),
                "{:?} vs {:?}", got, want
            );
        }
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
                col("s").apply(|s: String| format!("<{}>", s.to_uppercase())).alias("tag"),
                col("a").apply(|a: Option<i64>| a.map_or("none".to_string(), |a| format!("{a:x}"))).alias("hex"),
            ])
            .unwrap()
            .collect()
            .unwrap();
        prop_assert_eq!(ints(&out, "a3"), rows.iter().map(|r| r.a.map(|a| a * 3 - 1)).collect::<Vec<_>>());
        prop_assert_eq!(ints(&out, "len"), rows.iter().map(|r| r.s.as_ref().map(|s| s.len() as i64)).collect::<Vec<_>>());
        prop_assert_eq!(bools(&out, "none"), rows.iter().map(|r| Some(r.a.is_none())).collect::<Vec<_>>());
        // The closure sees Rust's f64: NaN > 0.0 is false there.
        prop_assert!(all_close(&floats(&out, "root"), rows.iter().map(|r| r.b.filter(|b| *b > 0.0).map(f64::sqrt))));
        prop_assert_eq!(
            strings(&out, "tag"),
            rows.iter().map(|r| r.s.as_ref().map(|s| format!("<{}>", s.to_uppercase()))).collect::<Vec<_>>()
        );
        prop_assert_eq!(
            strings(&out, "hex"),
            rows.iter().map(|r| Some(r.a.map_or("none".to_string(), |a| format!("{a:x}")))).collect::<Vec<_>>()
        );
    }

    #[test]
    fn map_partitions_sees_whole_partitions((rows, nparts, threads, limit) in case()) {
        let out_schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("a_plus_b", DataType::Float64, true),
            Field::new("upper", DataType::Utf8View, true),
            Field::new("rows_in_partition", DataType::UInt64, false),
        ]));
        let declared = Arc::clone(&out_schema);
        let out = frame(&rows, nparts, threads, limit)
            .map_partitions(Arc::clone(&out_schema), move |batch: RecordBatch| {
                let a = batch.column(0).as_primitive::<Int64Type>();
                let b = batch.column(1).as_primitive::<Float64Type>();
                let s = batch.column(2).as_string_view();
                let sum: Float64Array = a.iter().zip(b).map(|(a, b)| Some(a? as f64 + b?)).collect();
                let upper: StringViewArray = s.iter().map(|s| s.map(str::to_uppercase)).collect();
                let n = batch.num_rows() as u64;
                RecordBatch::try_new(
                    Arc::clone(&declared),
                    vec![
                        Arc::clone(batch.column(0)),
                        Arc::new(sum),
                        Arc::new(upper),
                        Arc::new(UInt64Array::from(vec![n; batch.num_rows()])),
                    ],
                )
            })
            .collect()
            .unwrap();
        prop_assert_eq!(ints(&out, "a"), rows.iter().map(|r| r.a).collect::<Vec<_>>());
        prop_assert!(all_close(
            &floats(&out, "a_plus_b"),
            rows.iter().map(|r| Some(r.a? as f64 + r.b?))
        ));
        prop_assert_eq!(
            strings(&out, "upper"),
            rows.iter().map(|r| r.s.as_ref().map(|s| s.to_uppercase())).collect::<Vec<_>>()
        );
        // Each partition is seen whole: its row count, repeated on each of its rows, is
        // the size Dask's from_pandas gives that partition.
        let sizes: Vec<Option<u64>> = column_as::<UInt64Type>(&out, "rows_in_partition");
        let parts = nparts.min(rows.len()).max(1);
        let mut expect = Vec::new();
        for p in 0..parts {
            let len = rows.len() / parts + usize::from(p < rows.len() % parts);
            expect.extend(std::iter::repeat_n(Some(len as u64), len));
        }
        prop_assert_eq!(sizes, expect);
    }

    #[test]
    fn reductions((rows, nparts, threads, limit) in case()) {
        let df = frame(&rows, nparts, threads, limit);
        let a: Vec<i64> = rows.iter().filter_map(|r| r.a).collect();
        let af: Vec<f64> = a.iter().map(|&a| a as f64).collect();
        let b: Vec<f64> = rows.iter().filter_map(|r| r.b).collect();
        let s: Vec<&str> = rows.iter().filter_map(|r| r.s.as_deref()).collect();
        let col_a = df.column("a").unwrap();
        let col_b = df.column("b").unwrap();
        let col_s = df.column("s").unwrap();

        prop_assert_eq!(col_a.sum().compute::<i64>().unwrap(), a.iter().sum::<i64>());
        prop_assert_eq!(col_a.count().compute::<u64>().unwrap(), a.len() as u64);
        prop_assert_eq!(col_a.min().compute::<Option<i64>>().unwrap(), a.iter().copied().min());
        prop_assert_eq!(col_a.max().compute::<Option<i64>>().unwrap(), a.iter().copied().max());
        prop_assert!(close_opt(col_a.mean().compute::<Option<f64>>().unwrap(), mean(&af)));
        let var_a = variance(&af);
        prop_assert!(close_opt(col_a.var().compute::<Option<f64>>().unwrap(), var_a));
        prop_assert!(close_opt(col_a.std().compute::<Option<f64>>().unwrap(), var_a.map(f64::sqrt)));

        prop_assert!(close(col_b.sum().compute::<f64>().unwrap(), b.iter().sum()));
        prop_assert!(close_opt(col_b.mean().compute::<Option<f64>>().unwrap(), mean(&b)));
        prop_assert_eq!(col_b.count().compute::<u64>().unwrap(), b.len() as u64);
        let var_b = variance(&b);
        prop_assert!(close_opt(col_b.var().compute::<Option<f64>>().unwrap(), var_b));
        prop_assert!(close_opt(col_b.std().compute::<Option<f64>>().unwrap(), var_b.map(f64::sqrt)));
        prop_assert_eq!(
            bits(col_b.min().compute::<Option<f64>>().unwrap()),
            bits(b.iter().copied().min_by(f64::total_cmp))
        );
        prop_assert_eq!(
            bits(col_b.max().compute::<Option<f64>>().unwrap()),
            bits(b.iter().copied().max_by(f64::total_cmp))
        );

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
        let pos: Vec<&Row> = rows.iter().filter(|r| r.b.is_some_and(|b| b.total_cmp(&0.0).is_gt())).collect();
        prop_assert_eq!(one.num_rows(), 1);
        prop_assert_eq!(
            one.column(0).as_primitive::<Int64Type>().value(0),
            pos.iter().filter_map(|r| r.a).map(|a| a * 2).sum::<i64>()
        );
        let mb = one.column(1).as_primitive::<Float64Type>();
        let want = mean(&pos.iter().map(|r| r.b.unwrap()).collect::<Vec<_>>());
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
