//! Built-in functions (the math family) through the public API, against plain Rust: empty
//! input, one and many partitions, nulls, a group-by and a sort over function results under
//! a memory limit that forces spilling, Parquet filters on functions, plan-time type errors
//! naming the column, a panicking closure under a function, rounding half away from zero,
//! and a property test of `floor_div`, `clip` and overflowing arithmetic.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use spillway::arrow::array::{AsArray, Decimal128Array, Float64Array, Int64Array, StringViewArray};
use spillway::arrow::datatypes::{Decimal128Type, Float64Type, Int64Type, UInt64Type};
use spillway::prelude::*;

/// `n` rows: `id` counts up, `x` an integer in −1000..=1000 (null every 11th row), `f` a
/// float of both signs (null every 13th row), `s` a string.
fn frame(s: &Session, n: usize, nparts: usize) -> DataFrame {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("x", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("s", DataType::Utf8View, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from_iter_values(0..n as i64)),
            Arc::new(Int64Array::from(xs(n))),
            Arc::new(Float64Array::from(fs(n))),
            Arc::new(StringViewArray::from_iter_values(
                (0..n).map(|i| ["a", "b"][i % 2]),
            )),
        ],
    )
    .unwrap();
    s.from_batches(schema, vec![batch], nparts).unwrap()
}

fn xs(n: usize) -> Vec<Option<i64>> {
    (0..n as i64)
        .map(|i| (i % 11 != 3).then_some((i * 7919) % 2001 - 1000))
        .collect()
}

fn fs(n: usize) -> Vec<Option<f64>> {
    (0..n)
        .map(|i| (i % 13 != 5).then_some((i as f64 - n as f64 / 2.0) / 3.7))
        .collect()
}

fn session(threads: usize) -> Session {
    Session::builder()
        .threads(threads)
        .batch_rows(64)
        .build()
        .unwrap()
}

fn ints(batches: &[RecordBatch], column: usize) -> Vec<Option<i64>> {
    batches
        .iter()
        .flat_map(|b| b.column(column).as_primitive::<Int64Type>().iter())
        .collect()
}

fn floats(batches: &[RecordBatch], column: usize) -> Vec<Option<f64>> {
    batches
        .iter()
        .flat_map(|b| b.column(column).as_primitive::<Float64Type>().iter())
        .collect()
}

/// Equal, NaN equal to NaN (what IEEE functions give for out-of-domain values).
fn same(got: &[Option<f64>], want: &[Option<f64>]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| match (g, w) {
            (Some(g), Some(w)) => g == w || (g.is_nan() && w.is_nan()),
            (g, w) => g == w,
        })
}

/// Half away from zero to a multiple of 100, as `round(x, -2)`.
fn round_hundreds(x: i64) -> i64 {
    let (q, r) = (x / 100, x % 100);
    (q + if r.abs() >= 50 { x.signum() } else { 0 }) * 100
}

#[test]
fn math_functions_match_plain_rust_over_empty_one_and_many_partitions() {
    for (n, nparts) in [(0, 1), (0, 4), (1, 1), (1_000, 1), (1_000, 7), (1_000, 64)] {
        for threads in [1, 2] {
            let s = session(threads);
            let out = frame(&s, n, nparts)
                .select([
                    col("x").abs().alias("abs"),
                    col("x").round(-2).alias("hundreds"),
                    col("x").sign().alias("sign"),
                    col("f").round(1).alias("tenths"),
                    col("f").floor().alias("floor"),
                    col("f").ceil().alias("ceil"),
                    col("f").abs().sqrt().alias("sqrt"),
                    col("f").ln().alias("ln"),
                    col("x").pow(lit(2)).alias("square"),
                    col("f").pow(col("x").sign()).alias("pow"),
                    (col("f") / lit(40)).exp().alias("exp"),
                    col("x").floor_div(lit(7)).alias("floor_div"),
                    col("x").clip(lit(-100), lit(100)).alias("clip"),
                    col("f").cbrt().alias("cbrt"),
                    col("f").abs().log(lit(10)).alias("log10"),
                    col("f")
                        .clip(null(&DataType::Null), col("x"))
                        .alias("clip_f"),
                ])
                .unwrap()
                .collect()
                .unwrap();
            let (x, f) = (xs(n), fs(n));
            assert_eq!(out.iter().map(|b| b.num_rows()).sum::<usize>(), n);
            let int = |g: fn(i64) -> i64| x.iter().map(|v| v.map(g)).collect::<Vec<_>>();
            let float = |g: &dyn Fn(f64) -> f64| f.iter().map(|v| v.map(g)).collect::<Vec<_>>();
            assert_eq!(ints(&out, 0), int(i64::abs));
            assert_eq!(ints(&out, 1), int(round_hundreds));
            assert_eq!(ints(&out, 2), int(i64::signum));
            let checks: [(usize, Vec<Option<f64>>); 6] = [
                (3, float(&|v| (v * 10.0).round() / 10.0)),
                (4, float(&f64::floor)),
                (5, float(&f64::ceil)),
                (6, float(&|v| v.abs().sqrt())),
                (7, float(&f64::ln)),
                (10, float(&|v| (v / 40.0).exp())),
            ];
            for (column, want) in checks {
                let got = floats(&out, column);
                assert!(same(&got, &want), "column {column}: {got:?}");
            }
            let square: Vec<_> = x.iter().map(|v| v.map(|v| (v as f64).powf(2.0))).collect();
            assert_eq!(floats(&out, 8), square);
            let pow: Vec<_> = f
                .iter()
                .zip(&x)
                .map(|(f, x)| Some(f.as_ref()?.powf(x.as_ref()?.signum() as f64)))
                .collect();
            assert!(same(&floats(&out, 9), &pow));
            assert_eq!(ints(&out, 11), int(|v| v.div_euclid(7)));
            assert_eq!(ints(&out, 12), int(|v| v.clamp(-100, 100)));
            assert!(same(&floats(&out, 13), &float(&f64::cbrt)));
            assert!(same(&floats(&out, 14), &float(&|v| v.abs().log10())));
            let clip_f: Vec<_> = f
                .iter()
                .zip(&x)
                .map(|(f, x)| Some(f.as_ref()?.min(x.map_or(f64::INFINITY, |x| x as f64))))
                .collect();
            assert!(same(&floats(&out, 15), &clip_f));
        }
    }
}

#[test]
fn group_by_and_sort_over_function_results_spill_under_a_tiny_memory_limit() {
    const N: usize = 20_000;
    let spill = tempfile::tempdir().unwrap();
    let s = Session::builder()
        .threads(2)
        .batch_rows(64)
        .memory_limit(2_048)
        .spill_dir(spill.path())
        .build()
        .unwrap();
    let df = frame(&s, N, 8);
    let x = xs(N);

    // Group by x rounded to hundreds: the sum of |x| and the count of each bucket.
    let (out, stats) = df
        .group_by([col("x").round(-2).alias("bucket")])
        .agg([
            col("x").abs().sum().alias("total"),
            col("x").count().alias("n"),
        ])
        .unwrap()
        .collect_with_stats()
        .unwrap();
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    let mut want: BTreeMap<Option<i64>, (i64, u64)> = BTreeMap::new();
    for v in &x {
        let e = want.entry(v.map(round_hundreds)).or_default();
        e.0 += v.map_or(0, i64::abs);
        e.1 += u64::from(v.is_some());
    }
    let mut got = BTreeMap::new();
    for b in &out {
        let (k, t) = (
            b.column(0).as_primitive::<Int64Type>(),
            b.column(1).as_primitive::<Int64Type>(),
        );
        let n = b.column(2).as_primitive::<UInt64Type>();
        for i in 0..b.num_rows() {
            let key = (!k.is_null(i)).then(|| k.value(i));
            got.insert(key, (t.value(i), n.value(i)));
        }
    }
    assert_eq!(got, want);

    // Sort by |x| (nulls first), ties by id descending.
    let (out, stats) = df
        .sort([col("x").abs().asc().nulls_first(), col("id").desc()])
        .unwrap()
        .collect_with_stats()
        .unwrap();
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    let mut ids: Vec<i64> = (0..N as i64).collect();
    ids.sort_by_key(|&i| (x[i as usize].map(i64::abs), std::cmp::Reverse(i)));
    let got: Vec<i64> = ints(&out, 0).into_iter().map(Option::unwrap).collect();
    assert_eq!(got, ids);
    assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    assert_eq!(s.memory().used(), 0);
}

#[test]
fn decimals_round_exactly_end_to_end() {
    let s = session(2);
    // 1.2345, -1.2355, null, 99.9950 as Decimal128(6, 4).
    let values = Decimal128Array::from(vec![Some(12_345), Some(-12_355), None, Some(999_950)])
        .with_precision_and_scale(6, 4)
        .unwrap();
    let df = s.from_array("d", Arc::new(values), 2).unwrap().into_frame();
    let out = df
        .select([
            col("d").round(2),
            col("d").floor().alias("floor"),
            col("d").abs().alias("abs"),
        ])
        .unwrap()
        .collect_batch()
        .unwrap();
    let schema = out.schema();
    assert_eq!(schema.field(0).name(), "d");
    assert_eq!(schema.field(0).data_type(), &DataType::Decimal128(6, 2));
    assert_eq!(schema.field(1).data_type(), &DataType::Decimal128(6, 0));
    assert_eq!(schema.field(2).data_type(), &DataType::Decimal128(6, 4));
    let column = |i: usize| -> Vec<Option<i128>> {
        out.column(i)
            .as_primitive::<Decimal128Type>()
            .iter()
            .collect()
    };
    assert_eq!(column(0), [Some(123), Some(-124), None, Some(10_000)]);
    assert_eq!(column(1), [Some(1), Some(-2), None, Some(99)]);
    assert_eq!(column(2), [Some(12_345), Some(12_355), None, Some(999_950)]);
}

#[test]
fn a_function_of_a_string_column_is_an_error_when_the_plan_is_built() {
    let s = session(2);
    let df = frame(&s, 10, 2);
    let build_errors = [
        df.select([col("s").sqrt()]).unwrap_err(),
        df.with_column(col("x").pow(col("s")).alias("p"))
            .unwrap_err(),
        df.filter(col("s").abs().gt(lit(1))).unwrap_err(),
    ];
    for (err, (context, column)) in
        build_errors
            .iter()
            .zip([("sqrt(s)", "'s'"), ("pow(x, s)", "'s'"), ("abs(s)", "'s'")])
    {
        match err {
            Error::Type {
                context: c,
                message,
            } => {
                assert_eq!(c, context, "{err}");
                assert!(message.contains(&format!("{column} is Utf8View")), "{err}");
            }
            other => panic!("wrong error: {other}"),
        }
    }
    let err = df.select([col("nope").abs()]).unwrap_err();
    assert!(matches!(err, Error::ColumnNotFound { .. }), "{err}");
}

#[test]
fn a_runtime_overflow_is_an_error_naming_the_function_and_its_partition() {
    let s = session(2);
    let values = vec![0, 5, i64::MIN, 7];
    let err = s
        .from_vec("x", values, 4)
        .unwrap()
        .map(col("x").abs())
        .unwrap()
        .sum()
        .compute::<i64>()
        .unwrap_err();
    match &err {
        Error::Task {
            partition, source, ..
        } => {
            assert_eq!(*partition, 2, "{err}");
            assert!(
                matches!(source.as_ref(), Error::Compute { context, .. } if context == "abs(x)"),
                "{err}"
            );
        }
        other => panic!("wrong error: {other}"),
    }
}

#[test]
fn a_panicking_closure_under_a_function_names_its_partition() {
    let s = Session::builder()
        .threads(2)
        .batch_rows(100)
        .build()
        .unwrap();
    let df = s
        .from_vec("x", (0..64_000_i64).collect(), 64)
        .unwrap()
        .into_frame();
    let err = df
        .select([col("x")
            .apply(|x: i64| {
                assert!(x != 3_500, "bad sample {x}");
                x - 10_000
            })
            .abs()
            .sqrt()
            .alias("r")])
        .unwrap()
        .column("r")
        .unwrap()
        .sum()
        .compute::<f64>()
        .unwrap_err();
    match &err {
        Error::Task {
            partition, source, ..
        } => {
            assert_eq!(*partition, 3, "{err}");
            assert!(
                matches!(source.as_ref(), Error::UserPanic { message, .. } if message == "bad sample 3500"),
                "{err}"
            );
        }
        other => panic!("wrong error: {other}"),
    }
}

#[test]
fn parquet_keeps_a_filter_on_a_function_above_the_scan_and_answers_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(2);
    const N: usize = 5_000;
    frame(&s, N, 5).write_parquet(dir.path().join("t")).unwrap();
    let df = s
        .read_parquet(dir.path().join("t/*.parquet").to_string_lossy())
        .unwrap()
        .filter(col("x").abs().gt(lit(900)).and(col("id").gt_eq(lit(100))))
        .unwrap();
    let text = df.explain().unwrap();
    // Statistics prune `id >= 100`, not `abs(x) > 900`: that stays a filter above the scan.
    let optimized = text.split("== optimized plan ==").nth(1).unwrap();
    let scan = optimized.lines().find(|l| l.contains("Scan")).unwrap();
    assert!(scan.ends_with("filters=[(id >= 100)]"), "{text}");
    assert!(optimized.contains("Filter ((abs(x) > 900) AND"), "{text}");
    let want = xs(N)
        .iter()
        .enumerate()
        .filter(|(i, x)| *i >= 100 && x.is_some_and(|x| x.abs() > 900))
        .count();
    assert_eq!(df.count_rows().unwrap(), want);
}

#[test]
fn floor_div_clip_cbrt_and_log_spill_and_group_under_a_tiny_memory_limit() {
    const N: usize = 20_000;
    let spill = tempfile::tempdir().unwrap();
    let s = Session::builder()
        .threads(2)
        .batch_rows(64)
        .memory_limit(2_048)
        .spill_dir(spill.path())
        .build()
        .unwrap();
    let df = frame(&s, N, 8);
    let x = xs(N);
    // Group by id // 4 (5,000 groups): the sum of x clipped to ±10 and the count.
    let (out, stats) = df
        .group_by([col("id").floor_div(lit(4)).alias("quad")])
        .agg([
            col("x").clip(lit(-10), lit(10)).sum().alias("clipped"),
            col("x").cbrt().count().alias("n"),
        ])
        .unwrap()
        .collect_with_stats()
        .unwrap();
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    let mut want: BTreeMap<i64, (i64, u64)> = BTreeMap::new();
    for (id, v) in x.iter().enumerate() {
        let e = want.entry(id as i64 / 4).or_default();
        e.0 += v.map_or(0, |v| v.clamp(-10, 10));
        e.1 += u64::from(v.is_some());
    }
    let mut got = BTreeMap::new();
    for b in &out {
        let (k, t) = (
            b.column(0).as_primitive::<Int64Type>(),
            b.column(1).as_primitive::<Int64Type>(),
        );
        let n = b.column(2).as_primitive::<UInt64Type>();
        for i in 0..b.num_rows() {
            got.insert(k.value(i), (t.value(i), n.value(i)));
        }
    }
    assert_eq!(got, want);

    // Sort by x // 100 descending (nulls last), ties by log2 of id + 1.
    let (out, stats) = df
        .sort([
            col("x").floor_div(lit(100)).desc().nulls_last(),
            (col("id") + lit(1)).log(lit(2)).asc(),
        ])
        .unwrap()
        .collect_with_stats()
        .unwrap();
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    let mut ids: Vec<i64> = (0..N as i64).collect();
    ids.sort_by_key(|&i| {
        let q = x[i as usize].map(|v| v.div_euclid(100));
        (q.is_none(), std::cmp::Reverse(q), i)
    });
    let got: Vec<i64> = ints(&out, 0).into_iter().map(Option::unwrap).collect();
    assert_eq!(got, ids);
    assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    assert_eq!(s.memory().used(), 0);
}

#[test]
fn round_is_half_away_from_zero_on_floats_and_decimals() {
    let s = session(2);
    let halves = vec![0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.25, -0.35];
    let out = s
        .from_vec("x", halves, 3)
        .unwrap()
        .into_frame()
        .select([col("x").round(0), col("x").round(1).alias("tenths")])
        .unwrap()
        .collect_batch()
        .unwrap();
    let column = |i: usize| {
        out.column(i)
            .as_primitive::<Float64Type>()
            .values()
            .to_vec()
    };
    assert_eq!(column(0), [1.0, 2.0, 3.0, -1.0, -2.0, -3.0, 0.0, -0.0]);
    assert_eq!(column(1), [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.3, -0.4]);
    // 0.125, -0.125, 0.135, -0.005, 2.5 as Decimal128(5, 3), exactly.
    let values = Decimal128Array::from(vec![125, -125, 135, -5, 2_500])
        .with_precision_and_scale(5, 3)
        .unwrap();
    let out = s
        .from_array("d", Arc::new(values), 2)
        .unwrap()
        .into_frame()
        .select([col("d").round(2), col("d").round(0).alias("units")])
        .unwrap()
        .collect_batch()
        .unwrap();
    let column = |i: usize| -> Vec<i128> {
        out.column(i)
            .as_primitive::<Decimal128Type>()
            .values()
            .to_vec()
    };
    assert_eq!(
        out.schema().field(0).data_type(),
        &DataType::Decimal128(5, 2)
    );
    assert_eq!(column(0), [13, -13, 14, -1, 250]);
    assert_eq!(column(1), [0, 0, 0, 0, 3]);
}

#[test]
fn clip_and_floor_div_arguments_are_checked_when_the_plan_is_built() {
    let s = session(2);
    let df = frame(&s, 10, 2);
    let cases = [
        (
            df.select([col("x").clip(lit(0), col("s"))]).unwrap_err(),
            "clip(x, 0, s)",
            "clip takes a number (an integer, a float or a Decimal128) but its argument 's' is \
             Utf8View",
        ),
        (
            df.filter(col("s").floor_div(lit(2)).gt(lit(1)))
                .unwrap_err(),
            "floor_div(s, 2)",
            "its argument 's' is Utf8View",
        ),
        (
            df.with_column(col("f").log(col("s")).alias("l"))
                .unwrap_err(),
            "log(f, s)",
            "its argument 's' is Utf8View",
        ),
        (
            df.sort([lit("a").cbrt().asc()]).unwrap_err(),
            "cbrt('a')",
            "its argument ''a'' is Utf8View",
        ),
    ];
    for (err, context, message) in cases {
        match &err {
            Error::Type {
                context: c,
                message: m,
            } => {
                assert_eq!(c, context, "{err}");
                assert!(m.contains(message), "{err}");
            }
            other => panic!("wrong error: {other}"),
        }
    }
}

/// Python's `a // b` on integers, through `i128` so that it cannot overflow; `None` for a
/// zero `b` or a quotient `i64` does not hold.
fn floor_div(a: i64, b: i64) -> Option<i64> {
    let (a, b) = (i128::from(a), i128::from(b));
    let q = if b > 0 {
        a.checked_div_euclid(b)?
    } else {
        (-a).checked_div_euclid(-b)?
    };
    i64::try_from(q).ok()
}

fn extreme() -> impl Strategy<Value = Option<i64>> {
    proptest::option::weighted(
        0.85,
        prop_oneof![
            4 => -50_i64..50,
            1 => Just(0_i64),
            1 => Just(-1_i64),
            1 => Just(i64::MAX),
            1 => Just(i64::MIN),
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// `floor_div(a, b)`, `clip(a, lo, b)` and `a + b` over random integers with the extremes:
    /// an error exactly when a row divides by zero or overflows, else the reference's values.
    #[test]
    fn floor_div_clip_and_overflow_agree_with_the_reference(
        rows in proptest::collection::vec((extreme(), extreme()), 0..50),
        lo in proptest::option::of(-60_i64..60),
        nparts in 1_usize..=8,
        threads in 1_usize..=3,
    ) {
        let (a, b): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
        let n = a.len();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from_iter_values(0..n as i64)),
                Arc::new(Int64Array::from(a.clone())),
                Arc::new(Int64Array::from(b.clone())),
            ],
        )
        .unwrap();
        let df = session(threads).from_batches(schema, vec![batch], nparts).unwrap();
        let lo_expr = lo.map_or(null(&DataType::Int64), lit);
        let pairs = || a.iter().zip(&b);
        type Reference = Option<Vec<Option<i64>>>;
        let cases: [(Expr, &str, Reference); 3] = [
            (
                col("a").floor_div(col("b")),
                "floor_div(a, b)",
                pairs().map(|(a, b)| match (a, b) {
                    (Some(a), Some(b)) => floor_div(*a, *b).map(Some),
                    _ => Some(None),
                }).collect(),
            ),
            (
                col("a").clip(lo_expr, col("b")),
                "clip",
                Some(pairs().map(|(a, b)| {
                    let mut v = (*a)?;
                    if let Some(lo) = lo && v < lo { v = lo; }
                    if let Some(b) = b && v > *b { v = *b; }
                    Some(v)
                }).collect()),
            ),
            (
                col("a") + col("b"),
                "(a + b)",
                pairs().map(|(a, b)| match (a, b) {
                    (Some(a), Some(b)) => a.checked_add(*b).map(Some),
                    _ => Some(None),
                }).collect(),
            ),
        ];
        for (e, context, want) in cases {
            let out = df.select([col("id"), e.clone().alias("v")]).unwrap().collect();
            let got = match out {
                Ok(out) => {
                    let mut by_id = vec![None; n];
                    for (id, v) in ints(&out, 0).iter().zip(ints(&out, 1)) {
                        by_id[id.unwrap() as usize] = v;
                    }
                    Some(by_id)
                }
                Err(err) => {
                    let named = matches!(err.root(), Error::Compute { context: c, .. } if c == context);
                    prop_assert!(named, "{}: {}", e, err);
                    None
                }
            };
            prop_assert_eq!(got, want, "{} over {:?} {:?}", e, a, b);
        }
    }
}
