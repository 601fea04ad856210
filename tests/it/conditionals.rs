//! The conditional family (`when/then/otherwise`, `coalesce`, `fill_null`, `nullif`,
//! `is_in`, `is_nan`, `fill_nan`) through the public API, against a row-by-row reference
//! over `Option`s: empty input, one and many partitions, one to three threads, nulls, NaN
//! and negatives; conditionals as filters, columns, group keys, aggregate inputs (grouped and
//! global) and sort keys under a memory limit that forces spilling; plan-time type errors;
//! SQL's lazy `CASE` (a branch's error only on its own rows); and a property test.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use spillway::arrow::array::{
    AsArray, DictionaryArray, Float64Array, Int64Array, StringArray, StringViewArray,
};
use spillway::arrow::datatypes::{Float64Type, Int32Type, Int64Type, UInt64Type};
use spillway::prelude::*;

/// One input row: `id`, `x` (an integer of both signs, zeros, nulls), `f` (a float with
/// NaN, −0.0, infinities and nulls), `s` (a string or null).
#[derive(Clone, Debug)]
struct Row {
    id: i64,
    x: Option<i64>,
    f: Option<f64>,
    s: Option<&'static str>,
}

const WORDS: [&str; 4] = ["a", "b", "日本", "c"];

fn rows(n: usize) -> Vec<Row> {
    (0..n)
        .map(|i| {
            let id = i as i64;
            let f = match i % 17 {
                5 => None,
                7 => Some(f64::NAN),
                9 => Some(-0.0),
                11 => Some(f64::NEG_INFINITY),
                _ => Some((id - n as i64 / 2) as f64 / 3.7),
            };
            Row {
                id,
                x: (i % 11 != 3).then_some((id * 7919) % 2001 - 1000),
                f,
                s: (i % 5 != 2).then_some(WORDS[i % 4]),
            }
        })
        .collect()
}

fn frame(session: &Session, rows: &[Row], nparts: usize) -> DataFrame {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("x", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("s", DataType::Utf8View, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.id))),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.x))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.f))),
        Arc::new(StringViewArray::from_iter(rows.iter().map(|r| r.s))),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
    session.from_batches(schema, vec![batch], nparts).unwrap()
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

fn bools(batches: &[RecordBatch], column: usize) -> Vec<Option<bool>> {
    batches
        .iter()
        .flat_map(|b| b.column(column).as_boolean().iter())
        .collect()
}

fn texts(batches: &[RecordBatch], column: usize) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column(column).as_string_view();
            a.iter().map(|s| s.map(str::to_owned)).collect::<Vec<_>>()
        })
        .collect()
}

/// Equal, NaN equal to NaN.
fn same_floats(got: &[Option<f64>], want: &[Option<f64>]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| match (g, w) {
            (Some(g), Some(w)) => g == w || (g.is_nan() && w.is_nan()),
            (g, w) => g == w,
        })
}

/// What a case's column should hold, row by row.
enum Reference {
    Int(fn(&Row) -> Option<i64>),
    Float(fn(&Row) -> Option<f64>),
    Bool(fn(&Row) -> Option<bool>),
    Text(fn(&Row) -> Option<String>),
}

fn cases() -> Vec<(Expr, Reference)> {
    use Reference::*;
    let x = || col("x");
    vec![
        (
            when(x().gt(0))
                .then(x())
                .when(x().lt(-500))
                .then(-1)
                .otherwise(0),
            Int(|r| match r.x {
                Some(v) if v > 0 => Some(v),
                Some(v) if v < -500 => Some(-1),
                _ => Some(0),
            }),
        ),
        // id % x divides by zero where x is 0: a row that branch does not take.
        (
            when(x().eq(0)).then(0).otherwise(col("id") % x()),
            Int(|r| match r.x? {
                0 => Some(0),
                v => Some(r.id % v),
            }),
        ),
        (
            Expr::from(when(x().is_in([1, 2, 3])).then(col("id"))),
            Int(|r| [1, 2, 3].contains(&r.x?).then_some(r.id)),
        ),
        (
            coalesce([x(), col("id") * lit(-1)]),
            Int(|r| r.x.or(Some(-r.id))),
        ),
        (x().fill_null(-7), Int(|r| r.x.or(Some(-7)))),
        (x().nullif(0), Int(|r| r.x.filter(|v| *v != 0))),
        (
            x().is_in([1, 2, 3, -1000, 999]),
            Bool(|r| r.x.map(|v| [1, 2, 3, -1000, 999].contains(&v))),
        ),
        // NOT IN a list with a null: false when found, else null.
        (
            x().is_in([Some(5), None]).not(),
            Bool(|r| (r.x? == 5).then_some(false)),
        ),
        (
            col("s").is_in(["a", "日本"]),
            Bool(|r| r.s.map(|s| s == "a" || s == "日本")),
        ),
        (col("f").is_nan(), Bool(|r| r.f.map(f64::is_nan))),
        (
            col("f").is_in([f64::NAN, -0.0]),
            Bool(|r| {
                let f = r.f?;
                Some(f.is_nan() || f.to_bits() == (-0.0_f64).to_bits())
            }),
        ),
        (
            col("f").fill_nan(0.0),
            Float(|r| r.f.map(|v| if v.is_nan() { 0.0 } else { v })),
        ),
        (
            when(col("f").is_nan())
                .then(-1.0)
                .otherwise(col("f").round(1)),
            Float(|r| {
                let f = r.f?;
                Some(if f.is_nan() {
                    -1.0
                } else {
                    (f * 10.0).round() / 10.0
                })
            }),
        ),
        (
            coalesce([col("f").nullif(-0.0), x(), lit(0.5)]),
            Float(|r| {
                let f = r.f.filter(|f| f.to_bits() != (-0.0_f64).to_bits());
                f.or(r.x.map(|x| x as f64)).or(Some(0.5))
            }),
        ),
        (
            when(col("s").eq(lit("a")))
                .then(lit("A"))
                .otherwise(col("s")),
            Text(|r| r.s.map(|s| if s == "a" { "A" } else { s }.to_owned())),
        ),
        (
            coalesce([col("s"), lit("?")]),
            Text(|r| Some(r.s.unwrap_or("?").to_owned())),
        ),
    ]
}

#[test]
fn conditionals_match_the_reference_over_empty_one_and_many_partitions_and_threads() {
    let cases = cases();
    for (n, nparts) in [(0, 1), (0, 4), (1, 1), (1_000, 1), (1_000, 7), (1_000, 64)] {
        for threads in [1, 3] {
            let input = rows(n);
            let mut select = vec![col("id")];
            select.extend(
                cases
                    .iter()
                    .enumerate()
                    .map(|(i, (e, _))| e.clone().alias(format!("c{i}"))),
            );
            let out = frame(&session(threads), &input, nparts)
                .select(select)
                .unwrap()
                .collect()
                .unwrap();
            let ids: Vec<usize> = ints(&out, 0).iter().map(|i| i.unwrap() as usize).collect();
            assert_eq!(ids.len(), n);
            for (i, (e, reference)) in cases.iter().enumerate() {
                let c = i + 1;
                let context = format!("{e} over {n} rows, {nparts} partitions");
                match reference {
                    Reference::Int(f) => {
                        let want: Vec<_> = ids.iter().map(|id| f(&input[*id])).collect();
                        assert_eq!(ints(&out, c), want, "{context}");
                    }
                    Reference::Float(f) => {
                        let want: Vec<_> = ids.iter().map(|id| f(&input[*id])).collect();
                        assert!(same_floats(&floats(&out, c), &want), "{context}");
                    }
                    Reference::Bool(f) => {
                        let want: Vec<_> = ids.iter().map(|id| f(&input[*id])).collect();
                        assert_eq!(bools(&out, c), want, "{context}");
                    }
                    Reference::Text(f) => {
                        let want: Vec<_> = ids.iter().map(|id| f(&input[*id])).collect();
                        assert_eq!(texts(&out, c), want, "{context}");
                    }
                }
            }
        }
    }
}

#[test]
fn conditionals_filter_group_aggregate_and_sort_and_spill_under_a_tiny_memory_limit() {
    const N: usize = 20_000;
    let spill = tempfile::tempdir().unwrap();
    let s = Session::builder()
        .threads(2)
        .batch_rows(64)
        .memory_limit(2_048)
        .spill_dir(spill.path())
        .build()
        .unwrap();
    let input = rows(N);
    let df = frame(&s, &input, 8);
    let positive = || when(col("x").gt(0)).then(col("x")).otherwise(0);

    // Filter on NOT IN, and on a column made by with_column.
    let want = input
        .iter()
        .filter(|r| r.s.is_some_and(|s| s != "a" && s != "b"))
        .count();
    let n = df
        .filter(col("s").is_in(["a", "b"]).not())
        .unwrap()
        .count_rows()
        .unwrap();
    assert_eq!(n, want);
    let n = df
        .with_column(positive().alias("p"))
        .unwrap()
        .filter(col("p").gt(500).and(col("f").is_nan().not()))
        .unwrap()
        .count_rows()
        .unwrap();
    let want = input
        .iter()
        .filter(|r| r.x.is_some_and(|x| x > 500) && r.f.is_some_and(|f| !f.is_nan()))
        .count();
    assert_eq!(n, want);

    // Group by a conditional key (5,001 groups: enough state to spill); sum a CASE.
    let key = when(col("x").gt(0))
        .then(col("id") % lit(5_000))
        .otherwise(-1)
        .alias("key");
    let (out, stats) = df
        .group_by([key])
        .agg([
            positive().sum().alias("pos"),
            col("x").fill_null(0).clip(-10, 10).sum().alias("clipped"),
            col("x").nullif(0).count().alias("nonzero"),
        ])
        .unwrap()
        .collect_with_stats()
        .unwrap();
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    let mut want: BTreeMap<i64, (i64, i64, u64)> = BTreeMap::new();
    for r in &input {
        let key = if r.x.is_some_and(|x| x > 0) {
            r.id % 5_000
        } else {
            -1
        };
        let e = want.entry(key).or_default();
        e.0 += r.x.filter(|x| *x > 0).unwrap_or(0);
        e.1 += r.x.unwrap_or(0).clamp(-10, 10);
        e.2 += u64::from(r.x.is_some_and(|x| x != 0));
    }
    let mut got = BTreeMap::new();
    for b in &out {
        let k = b.column(0).as_primitive::<Int64Type>();
        let pos = b.column(1).as_primitive::<Int64Type>();
        let clipped = b.column(2).as_primitive::<Int64Type>();
        let nonzero = b.column(3).as_primitive::<UInt64Type>();
        for i in 0..b.num_rows() {
            got.insert(
                k.value(i),
                (pos.value(i), clipped.value(i), nonzero.value(i)),
            );
        }
    }
    assert_eq!(got, want);

    // The same aggregates over the whole frame.
    let total = df
        .agg([
            positive().sum().alias("pos"),
            col("x").nullif(0).count().alias("nonzero"),
        ])
        .unwrap()
        .collect_batch()
        .unwrap();
    let pos: i64 = want.values().map(|v| v.0).sum();
    let nonzero: u64 = want.values().map(|v| v.2).sum();
    assert_eq!(total.column(0).as_primitive::<Int64Type>().value(0), pos);
    assert_eq!(
        total.column(1).as_primitive::<UInt64Type>().value(0),
        nonzero
    );

    // Sort by a coalesced key, ties by id descending.
    let (out, stats) = df
        .sort([coalesce([col("x"), lit(2_000)]).asc(), col("id").desc()])
        .unwrap()
        .collect_with_stats()
        .unwrap();
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    let mut ids: Vec<i64> = (0..N as i64).collect();
    ids.sort_by_key(|&i| (input[i as usize].x.unwrap_or(2_000), std::cmp::Reverse(i)));
    let got: Vec<i64> = ints(&out, 0).into_iter().map(Option::unwrap).collect();
    assert_eq!(got, ids);
    assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    assert_eq!(s.memory().used(), 0);
}

#[test]
fn is_in_and_coalesce_work_on_every_string_type() {
    let words: Vec<Option<&str>> = vec![Some("a"), None, Some("日本"), Some("b"), Some("a")];
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(words.clone())),
        Arc::new(spillway::arrow::array::LargeStringArray::from(
            words.clone(),
        )),
        Arc::new(StringViewArray::from(words.clone())),
        Arc::new(
            words
                .iter()
                .copied()
                .collect::<DictionaryArray<Int32Type>>(),
        ),
    ];
    for column in columns {
        let t = column.data_type().clone();
        let s = session(2).from_array("s", column, 2).unwrap().into_frame();
        let out = s
            .select([
                col("s").is_in(["a", "日本"]).alias("in"),
                col("s").is_in([Some("a"), None]).not().alias("not_in"),
                coalesce([col("s"), lit("?")]).alias("filled"),
            ])
            .unwrap()
            .collect()
            .unwrap();
        let want = [Some(true), None, Some(true), Some(false), Some(true)];
        assert_eq!(bools(&out, 0), want, "{t}");
        let want = [Some(false), None, None, None, Some(false)];
        assert_eq!(bools(&out, 1), want, "{t}");
        let filled: Vec<_> = out
            .iter()
            .flat_map(|b| {
                let a = spillway::arrow::compute::cast(b.column(2), &DataType::Utf8).unwrap();
                let a = a.as_string::<i32>().clone();
                a.iter().map(|s| s.unwrap().to_owned()).collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(filled, ["a", "?", "日本", "b", "a"], "{t}");
    }
}

#[test]
fn wrong_arguments_are_type_errors_naming_the_function_when_the_plan_is_built() {
    let s = session(2);
    let df = frame(&s, &rows(10), 2);
    let cases = [
        (
            df.select([when(col("x")).then(1).otherwise(0)])
                .unwrap_err(),
            "when(x).then(1).otherwise(0)",
            "when takes Boolean conditions but its condition 'x' is Int64",
        ),
        (
            df.filter(
                when(col("x").gt(0))
                    .then(col("s"))
                    .otherwise(col("x"))
                    .is_null(),
            )
            .unwrap_err(),
            "when((x > 0)).then(s).otherwise(x)",
            "its argument 'x' is Int64, which does not go with Utf8View",
        ),
        (
            df.with_column(coalesce([col("x"), col("s")]).alias("c"))
                .unwrap_err(),
            "coalesce(x, s)",
            "coalesce takes values of one type but its argument 's' is Utf8View",
        ),
        (
            df.filter(col("x").is_in(["1"])).unwrap_err(),
            "is_in(x, ['1'])",
            "is_in takes values of one type but its argument ''1'' is Utf8View",
        ),
        (
            df.group_by([col("x").is_nan()])
                .agg([col("id").count()])
                .unwrap_err(),
            "is_nan(x)",
            "is_nan takes a float (Float16, Float32 or Float64) but its argument 'x' is Int64",
        ),
        (
            df.agg([col("s").fill_nan(0).count()]).unwrap_err(),
            "fill_nan(s, 0)",
            "fill_nan takes a float",
        ),
        (
            df.sort([col("s").nullif(0).asc()]).unwrap_err(),
            "nullif(s, 0)",
            "nullif takes values of one type but its argument '0' is Int32",
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

#[test]
fn an_error_in_a_branch_is_reported_only_for_the_rows_it_takes() {
    let s = session(2);
    // The second partition, [i64::MAX, 7], holds a row whose double does not fit.
    let df = s.from_vec("x", vec![0_i64, 5, 0, i64::MAX, 7], 2).unwrap();
    let safe = df
        .map(when(col("x").lt(100)).then(col("x") * lit(2)).otherwise(-1))
        .unwrap()
        .sum()
        .compute::<i64>()
        .unwrap();
    assert_eq!(safe, 24 - 1);
    let err = df
        .map(when(col("x").gt(6)).then(col("x") * lit(2)).otherwise(0))
        .unwrap()
        .sum()
        .compute::<i64>()
        .unwrap_err();
    match &err {
        Error::Task {
            partition, source, ..
        } => {
            assert_eq!(*partition, 1, "{err}");
            assert!(
                matches!(source.as_ref(), Error::Compute { context, .. } if context == "(x * 2)"),
                "{err}"
            );
        }
        other => panic!("wrong error: {other}"),
    }
}

/// What the engine gives for one expression of the property test: the values, or `None`
/// for an error.
type Outcome = Option<Vec<Option<i64>>>;

/// SQL's `x IN list`: true if found; null if `x` is null, or if not found and the list
/// holds a null; false otherwise.
fn sql_in(x: Option<i64>, list: &[Option<i64>]) -> Option<bool> {
    let x = x?;
    if list.contains(&Some(x)) {
        Some(true)
    } else if list.contains(&None) {
        None
    } else {
        Some(false)
    }
}

/// `when(x > t).then(x * 2).when(x.is_in(list)).then(y).otherwise(coalesce(y, x))`, row by
/// row: `None` when a row that takes the first branch overflows.
fn reference(xs: &[Option<i64>], ys: &[Option<i64>], t: i64, list: &[Option<i64>]) -> Outcome {
    xs.iter()
        .zip(ys)
        .map(|(&x, &y)| {
            if x.is_some_and(|x| x > t) {
                return x?.checked_mul(2).map(Some);
            }
            Some(if sql_in(x, list) == Some(true) {
                y
            } else {
                y.or(x)
            })
        })
        .collect()
}

fn value() -> impl Strategy<Value = Option<i64>> {
    proptest::option::weighted(
        0.85,
        prop_oneof![
            -20_i64..20,
            Just(i64::MAX),
            Just(i64::MIN),
            Just(i64::MAX / 2 + 1),
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn case_in_and_coalesce_agree_with_the_reference(
        rows in proptest::collection::vec((value(), value()), 0..60),
        t in prop_oneof![Just(i64::MAX), -5_i64..5],
        list in proptest::collection::vec(proptest::option::weighted(0.8, -10_i64..10), 0..4),
        nparts in 1_usize..=8,
        threads in 1_usize..=3,
    ) {
        let (xs, ys): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
        let n = xs.len();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("x", DataType::Int64, true),
            Field::new("y", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from_iter_values(0..n as i64)),
                Arc::new(Int64Array::from(xs.clone())),
                Arc::new(Int64Array::from(ys.clone())),
            ],
        )
        .unwrap();
        let e = when(col("x").gt(t))
            .then(col("x") * lit(2))
            .when(col("x").is_in(list.clone()))
            .then(col("y"))
            .otherwise(coalesce([col("y"), col("x")]));
        let df = session(threads).from_batches(schema, vec![batch], nparts).unwrap();
        // IN and NOT IN alone, with their nulls.
        let out = df
            .select([
                col("id"),
                col("x").is_in(list.clone()).alias("in"),
                col("x").is_in(list.clone()).not().alias("not_in"),
            ])
            .unwrap()
            .collect()
            .unwrap();
        for (row, id) in ints(&out, 0).iter().enumerate() {
            let want = sql_in(xs[id.unwrap() as usize], &list);
            prop_assert_eq!(bools(&out, 1)[row], want);
            prop_assert_eq!(bools(&out, 2)[row], want.map(|w| !w));
        }
        let got = df.select([col("id"), e.alias("v")]).unwrap().collect();
        let got: Outcome = match got {
            Ok(out) => {
                let ids = ints(&out, 0);
                let values = ints(&out, 1);
                let mut by_id = vec![None; n];
                for (id, v) in ids.iter().zip(values) {
                    by_id[id.unwrap() as usize] = v;
                }
                Some(by_id)
            }
            Err(err) => {
                let ok = matches!(err.root(), Error::Compute { context, .. } if context == "(x * 2)");
                prop_assert!(ok, "{}", err);
                None
            }
        };
        prop_assert_eq!(got, reference(&xs, &ys, t, &list), "{:?} {:?}", xs, ys);
    }
}
