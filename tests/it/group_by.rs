//! group_by through the public API against a BTreeMap reference: random keys (few and many,
//! with nulls) × partitioning × threads.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use spillway::arrow::array::{Array, AsArray, Float64Array, Int64Array, StringViewArray};
use spillway::arrow::datatypes::{Float64Type, Int64Type, UInt64Type};
use spillway::prelude::*;

type Key = (Option<i64>, Option<String>);

#[derive(Clone, Debug)]
struct Row {
    k: Option<i64>,
    s: Option<String>,
    a: Option<i64>,
    b: Option<f64>,
}

fn rows(key_range: i64) -> impl Strategy<Value = Vec<Row>> {
    proptest::collection::vec(
        (
            proptest::option::weighted(0.9, 0..key_range),
            proptest::option::weighted(0.9, "[xyz]"),
            proptest::option::weighted(0.9, -1000_i64..1000),
            proptest::option::weighted(0.9, value_b()),
        )
            .prop_map(|(k, s, a, b)| Row { k, s, a, b }),
        0..400,
    )
}

/// A float: finite, or one time in forty ±∞, so that merges of partial states meet
/// infinities (the answer must not depend on where the partitions cut).
fn value_b() -> BoxedStrategy<f64> {
    prop_oneof![
        38 => -1e3_f64..1e3,
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
    .boxed()
}

fn frame(rows: &[Row], nparts: usize, threads: usize) -> DataFrame {
    frame_in(&session(threads, usize::MAX >> 1, None), rows, nparts)
}

fn session(threads: usize, memory_limit: usize, spill_dir: Option<&std::path::Path>) -> Session {
    let mut b = Session::builder()
        .threads(threads)
        .batch_rows(16)
        .memory_limit(memory_limit);
    if let Some(d) = spill_dir {
        b = b.spill_dir(d);
    }
    b.build().unwrap()
}

fn frame_in(session: &Session, rows: &[Row], nparts: usize) -> DataFrame {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new("s", DataType::Utf8View, true),
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.k))),
            Arc::new(StringViewArray::from_iter(
                rows.iter().map(|r| r.s.as_deref()),
            )),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.a))),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.b))),
        ],
    )
    .unwrap();
    session.from_batches(schema, vec![batch], nparts).unwrap()
}

/// `(k, s) -> (sum a, count a)` from the engine's output.
fn sums(batches: &[RecordBatch]) -> BTreeMap<Key, (i64, u64)> {
    let mut out = BTreeMap::new();
    for b in batches {
        for (i, key) in keys_of(b).into_iter().enumerate() {
            let sum = b.column(2).as_primitive::<Int64Type>().value(i);
            let n = b.column(3).as_primitive::<UInt64Type>().value(i);
            assert!(out.insert(key, (sum, n)).is_none(), "a key came out twice");
        }
    }
    out
}

fn keys_of(b: &RecordBatch) -> Vec<Key> {
    let k = b.column(0).as_primitive::<Int64Type>();
    let s = b.column(1).as_string_view();
    (0..b.num_rows())
        .map(|i| {
            (
                k.is_valid(i).then(|| k.value(i)),
                s.is_valid(i).then(|| s.value(i).to_string()),
            )
        })
        .collect()
}

/// Equal up to rounding; NaN equals NaN, and an infinity only itself.
fn close(x: Option<f64>, y: Option<f64>) -> bool {
    match (x, y) {
        (Some(x), Some(y)) if x.is_nan() || y.is_nan() => x.is_nan() && y.is_nan(),
        (Some(x), Some(y)) if x.is_infinite() || y.is_infinite() => x == y,
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs())),
        (None, None) => true,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn group_by_matches_a_reference(
        rows in prop_oneof![rows(4), rows(1_000)],
        nparts in 1_usize..=64,
        threads in 1_usize..=4,
    ) {
        let out = frame(&rows, nparts, threads)
            .group_by([col("k"), col("s")])
            .agg([
                col("a").sum(),
                col("a").count().alias("n"),
                col("a").min(),
                col("a").max(),
                col("b").mean(),
                col("b").var(),
            ])
            .unwrap()
            .collect_batch()
            .unwrap();

        let mut want: BTreeMap<Key, Vec<&Row>> = BTreeMap::new();
        for r in &rows {
            want.entry((r.k, r.s.clone())).or_default().push(r);
        }
        prop_assert_eq!(out.num_rows(), want.len());
        let keys = keys_of(&out);
        for (i, key) in keys.iter().enumerate() {
            let group = &want[key];
            let a: Vec<i64> = group.iter().filter_map(|r| r.a).collect();
            let b: Vec<f64> = group.iter().filter_map(|r| r.b).collect();
            prop_assert_eq!(out.column(2).as_primitive::<Int64Type>().value(i), a.iter().sum::<i64>());
            prop_assert_eq!(out.column(3).as_primitive::<UInt64Type>().value(i), a.len() as u64);
            let min = out.column(4).as_primitive::<Int64Type>();
            prop_assert_eq!(min.is_valid(i).then(|| min.value(i)), a.iter().copied().min());
            let max = out.column(5).as_primitive::<Int64Type>();
            prop_assert_eq!(max.is_valid(i).then(|| max.value(i)), a.iter().copied().max());
            let mean = out.column(6).as_primitive::<Float64Type>();
            let want_mean = (!b.is_empty()).then(|| b.iter().sum::<f64>() / b.len() as f64);
            prop_assert!(close(mean.is_valid(i).then(|| mean.value(i)), want_mean));
            let var = out.column(7).as_primitive::<Float64Type>();
            let want_var = (b.len() > 1).then(|| {
                let m = b.iter().sum::<f64>() / b.len() as f64;
                b.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (b.len() - 1) as f64
            });
            prop_assert!(close(var.is_valid(i).then(|| var.value(i)), want_var));
        }

        // distinct: the same keys, each once.
        let distinct = frame(&rows, nparts, threads)
            .select([col("k"), col("s")])
            .unwrap()
            .distinct()
            .unwrap()
            .collect_batch()
            .unwrap();
        let mut got = keys_of(&distinct);
        got.sort();
        prop_assert_eq!(got, want.keys().cloned().collect::<Vec<_>>());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// From a limit that spills at every step to an ample one: the same answer, spilled
    /// bytes reported when the limit is tiny, nothing left in the spill folder, and every
    /// reserved byte given back.
    #[test]
    fn group_by_under_a_memory_limit(
        rows in prop_oneof![rows(8), rows(100_000)],
        nparts in 1_usize..=16,
        threads in 1_usize..=3,
        limit in prop_oneof![Just(2_048_usize), Just(16 << 10), Just(256 << 10), Just(1 << 30)],
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = session(threads, limit, Some(spill.path()));
        let (out, stats) = frame_in(&s, &rows, nparts)
            .group_by([col("k"), col("s")])
            .agg([col("a").sum(), col("a").count().alias("n")])
            .unwrap()
            .collect_with_stats()
            .unwrap();
        let mut want: BTreeMap<Key, (i64, u64)> = BTreeMap::new();
        for r in &rows {
            let e = want.entry((r.k, r.s.clone())).or_default();
            e.0 += r.a.unwrap_or(0);
            e.1 += u64::from(r.a.is_some());
        }
        prop_assert_eq!(sums(&out), want);
        if limit == 2_048 && rows.len() >= 64 {
            prop_assert!(stats.spilled_bytes > 0, "{stats:?}");
        }
        prop_assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
        prop_assert_eq!(s.memory().used(), 0);
    }
}

#[test]
fn a_failure_while_spilling_leaves_no_files_and_no_memory_behind() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, 4_096, Some(spill.path()));
    let df = s
        .from_vec("x", (0..20_000_i64).collect(), 8)
        .unwrap()
        .into_frame();
    let err = df
        .group_by([col("x")])
        .agg([col("x")
            .apply(|x: i64| {
                if x == 19_000 {
                    panic!("late failure")
                } else {
                    x
                }
            })
            .sum()])
        .unwrap()
        .collect()
        .unwrap_err();
    assert!(err.to_string().contains("late failure"), "{err}");
    assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    assert_eq!(s.memory().used(), 0);
    // And the same query without the failure spills and answers.
    let (out, stats) = df
        .group_by([col("x")])
        .agg([col("x").count().alias("n")])
        .unwrap()
        .collect_with_stats()
        .unwrap();
    assert_eq!(out.iter().map(|b| b.num_rows()).sum::<usize>(), 20_000);
    assert!(
        stats.spilled_bytes > 0 && stats.spill_files > 0,
        "{stats:?}"
    );
    assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
}

#[test]
fn keys_may_be_expressions_and_errors_name_the_key() {
    let s = Session::builder().threads(2).build().unwrap();
    let df = s
        .from_vec("x", (0..1000_i64).collect(), 7)
        .unwrap()
        .into_frame();
    let out = df
        .group_by([(col("x") % lit(3)).alias("r")])
        .agg([col("x").sum(), col("x").max().alias("top")])
        .unwrap()
        .collect_batch()
        .unwrap();
    let mut got: Vec<(i64, i64, i64)> = (0..out.num_rows())
        .map(|i| {
            (
                out.column(0).as_primitive::<Int64Type>().value(i),
                out.column(1).as_primitive::<Int64Type>().value(i),
                out.column(2).as_primitive::<Int64Type>().value(i),
            )
        })
        .collect();
    got.sort();
    let want: Vec<(i64, i64, i64)> = (0..3)
        .map(|r| {
            let xs = (0..1000_i64).filter(|x| x % 3 == r);
            (r, xs.clone().sum(), xs.max().unwrap())
        })
        .collect();
    assert_eq!(got, want);

    let err = df
        .group_by([col("nope")])
        .agg([col("x").sum()])
        .unwrap_err();
    assert!(matches!(err, Error::ColumnNotFound { .. }), "{err}");
    let err = df
        .group_by([col("x")])
        .agg([col("x").sum().alias("x")])
        .unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
    // An empty input gives no groups.
    let empty = df.filter(col("x").lt(lit(0))).unwrap();
    let none = empty.group_by([col("x")]).agg([col("x").count()]).unwrap();
    assert!(none.collect().unwrap().is_empty());
    // A panic in a key closure names its task.
    let err = df
        .group_by([col("x").apply(|x: i64| if x == 999 { panic!("bad key") } else { x })])
        .agg([col("x").count().alias("n")])
        .unwrap()
        .collect()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Task { task, .. } if task.starts_with("scan-group-partial")),
        "{err}"
    );
}

/// Reference values of the collection aggregates for one group's rows.
fn collection_reference(
    group: &[&Row],
) -> (u64, Option<i64>, Option<i64>, Option<f64>, Option<f64>) {
    let distinct: std::collections::BTreeSet<i64> = group.iter().filter_map(|r| r.a).collect();
    let mut b: Vec<f64> = group.iter().filter_map(|r| r.b).collect();
    b.sort_by(f64::total_cmp);
    let median = (!b.is_empty()).then(|| {
        let n = b.len();
        if n % 2 == 1 {
            b[n / 2]
        } else {
            (b[n / 2 - 1] + b[n / 2]) / 2.0
        }
    });
    let q90 = (!b.is_empty()).then(|| {
        let pos = 0.9 * (b.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        let frac = pos - lo as f64;
        if frac == 0.0 {
            b[lo]
        } else {
            b[lo] + (b[hi] - b[lo]) * frac
        }
    });
    (
        distinct.len() as u64,
        group.first().and_then(|r| r.a),
        group.last().and_then(|r| r.a),
        median,
        q90,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// n_unique, first, last, median and quantile per group, and over the whole table,
    /// under limits that spill and ample ones; first/last follow input order.
    #[test]
    fn collection_aggregates_match_a_reference(
        rows in prop_oneof![rows(4), rows(1_000)],
        nparts in 1_usize..=16,
        threads in 1_usize..=3,
        limit in prop_oneof![Just(8_192_usize), Just(1 << 30)],
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = session(threads, limit, Some(spill.path()));
        let df = frame_in(&s, &rows, nparts);
        let out = df
            .group_by([col("k"), col("s")])
            .agg([
                col("a").n_unique().alias("nu"),
                col("a").first().alias("first"),
                col("a").last().alias("last"),
                col("b").median().alias("med"),
                col("b").quantile(0.9).alias("q90"),
            ])
            .unwrap()
            .collect()
            .unwrap();
        let mut want: BTreeMap<Key, Vec<&Row>> = BTreeMap::new();
        for r in &rows {
            want.entry((r.k, r.s.clone())).or_default().push(r);
        }
        let mut seen = 0;
        for b in &out {
            for (i, key) in keys_of(b).into_iter().enumerate() {
                seen += 1;
                let (nu, first, last, med, q90) = collection_reference(&want[&key]);
                let opt_i = |c: usize| {
                    let a = b.column(c).as_primitive::<Int64Type>();
                    a.is_valid(i).then(|| a.value(i))
                };
                let opt_f = |c: usize| {
                    let a = b.column(c).as_primitive::<Float64Type>();
                    a.is_valid(i).then(|| a.value(i))
                };
                prop_assert_eq!(b.column(2).as_primitive::<UInt64Type>().value(i), nu);
                prop_assert_eq!(opt_i(3), first);
                prop_assert_eq!(opt_i(4), last);
                prop_assert!(close(opt_f(5), med));
                prop_assert!(close(opt_f(6), q90));
            }
        }
        prop_assert_eq!(seen, want.len());

        // The same over the whole table.
        let all: Vec<&Row> = rows.iter().collect();
        let (nu, first, last, med, q90) = collection_reference(&all);
        prop_assert_eq!(df.column("a").unwrap().n_unique().compute::<u64>().unwrap(), nu);
        prop_assert_eq!(df.column("a").unwrap().first().compute::<Option<i64>>().unwrap(), first);
        prop_assert_eq!(df.column("a").unwrap().last().compute::<Option<i64>>().unwrap(), last);
        prop_assert!(close(df.column("b").unwrap().median().compute::<Option<f64>>().unwrap(), med));
        prop_assert!(close(df.column("b").unwrap().quantile(0.9).compute::<Option<f64>>().unwrap(), q90));
        prop_assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
        prop_assert_eq!(s.memory().used(), 0);
    }
}

#[test]
fn explain_analyze_reports_rows_time_memory_and_spill_per_stage() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, 8_192, Some(spill.path()));
    let df = s
        .from_vec("x", (0..5_000_i64).collect(), 4)
        .unwrap()
        .into_frame()
        .group_by([(col("x") % lit(700)).alias("k")])
        .agg([col("x").sum()])
        .unwrap();
    let text = df.explain_analyze().unwrap();
    assert!(text.contains("700 rows in"), "{text}");
    assert!(
        text.contains("stage 0 scan-project-group-partial: 4 tasks, 2800 rows out")
            || text.contains("stage 0 scan-group-partial: 4 tasks"),
        "{text}"
    );
    assert!(text.contains("stage 1 group-final"), "{text}");
    assert!(
        !text.contains("spilled 0 B in 0 files"),
        "a tiny limit spills: {text}"
    );
    assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
}

fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 2 {
        return None;
    }
    let n = pairs.len() as f64;
    let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let cxy: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let vx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let vy: f64 = pairs.iter().map(|p| (p.1 - my).powi(2)).sum();
    let d = (vx * vy).sqrt();
    (d > 0.0).then(|| cxy / d)
}

fn close_loose(x: Option<f64>, y: Option<f64>) -> bool {
    match (x, y) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-6,
        (None, None) => true,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn corr_matches_a_two_pass_reference(
        rows in rows(4),
        nparts in 1_usize..=16,
        threads in 1_usize..=3,
    ) {
        let df = frame(&rows, nparts, threads);
        let out = df
            .group_by([col("k")])
            .agg([col("a").corr(col("b")).alias("r")])
            .unwrap()
            .collect()
            .unwrap();
        let mut want: BTreeMap<Option<i64>, Vec<(f64, f64)>> = BTreeMap::new();
        for r in &rows {
            let e = want.entry(r.k).or_default();
            if let (Some(a), Some(b)) = (r.a, r.b) {
                e.push((a as f64, b));
            }
        }
        let mut seen = 0;
        for b in &out {
            let k = b.column(0).as_primitive::<Int64Type>();
            let r = b.column(1).as_primitive::<Float64Type>();
            for i in 0..b.num_rows() {
                seen += 1;
                let key = k.is_valid(i).then(|| k.value(i));
                prop_assert!(close_loose(r.is_valid(i).then(|| r.value(i)), pearson(&want[&key])));
            }
        }
        prop_assert_eq!(seen, want.len());
        let all: Vec<(f64, f64)> = want.values().flatten().copied().collect();
        let global = df
            .agg([col("a").corr(col("b"))])
            .unwrap()
            .collect_batch()
            .unwrap();
        let g = global.column(0).as_primitive::<Float64Type>();
        prop_assert!(close_loose(g.is_valid(0).then(|| g.value(0)), pearson(&all)));
    }
}

#[test]
fn corr_needs_two_numeric_inputs() {
    let df = frame(&[], 1, 1);
    let err = df.agg([col("s").corr(col("a"))]).unwrap_err();
    assert!(err.to_string().contains("corr needs numbers"), "{err}");
    assert_eq!(col("a").corr(col("b")).to_string(), "corr(a, b)");
}

/// Grouped and global aggregates are one family of states, so they agree on the IEEE
/// corner: an infinity makes `var` and `std` NaN (the grouped path once gave ∞ for
/// `var([1, ∞])`), and `corr` over an infinity is null, as over a NaN, however the rows
/// are partitioned.
#[test]
fn an_infinity_makes_var_and_std_nan_grouped_or_global() {
    let inf = f64::INFINITY;
    for values in [
        vec![1.0, inf],
        vec![inf, 1.0],
        vec![1.0, 2.0, -inf],
        vec![inf, inf],
        vec![3.0, f64::NAN, 1.0],
    ] {
        let rows: Vec<Row> = values
            .iter()
            .enumerate()
            .map(|(i, &b)| Row {
                k: Some(7),
                s: None,
                a: Some(i as i64 * i as i64),
                b: Some(b),
            })
            .collect();
        for nparts in 1..=values.len() {
            let df = frame(&rows, nparts, 2);
            let aggs = || {
                [
                    col("b").var().alias("var"),
                    col("b").std().alias("std"),
                    col("a").corr(col("b")).alias("r"),
                ]
            };
            let grouped = df.group_by([col("k")]).agg(aggs()).unwrap();
            let grouped = grouped.collect_batch().unwrap();
            let global = df.agg(aggs()).unwrap().collect_batch().unwrap();
            for (path, b, first) in [("grouped", &grouped, 1), ("global", &global, 0)] {
                assert_eq!(b.num_rows(), 1, "{path}");
                for c in first..first + 2 {
                    let v = b.column(c).as_primitive::<Float64Type>();
                    assert!(
                        v.is_valid(0) && v.value(0).is_nan(),
                        "{path} {} of {values:?} in {nparts} partitions: {v:?}",
                        b.schema().field(c).name()
                    );
                }
                let r = b.column(first + 2);
                assert!(r.is_null(0), "{path} corr of {values:?}: {r:?}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// h2o q8: the two largest values of each group, as rows.
    #[test]
    fn top_k_per_group_exploded_matches_a_reference(
        rows in prop_oneof![rows(4), rows(1_000)],
        nparts in 1_usize..=16,
        threads in 1_usize..=3,
        limit in prop_oneof![Just(8_192_usize), Just(1 << 30)],
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = session(threads, limit, Some(spill.path()));
        let out = frame_in(&s, &rows, nparts)
            .filter(col("b").is_not_null())
            .unwrap()
            .group_by([col("k")])
            .agg([col("b").top_k(2).alias("top")])
            .unwrap()
            .explode("top")
            .unwrap()
            .collect()
            .unwrap();
        let mut got: Vec<(Option<i64>, u64)> = Vec::new();
        for b in &out {
            let k = b.column(0).as_primitive::<Int64Type>();
            let t = b.column(1).as_primitive::<Float64Type>();
            for i in 0..b.num_rows() {
                got.push((k.is_valid(i).then(|| k.value(i)), t.value(i).to_bits()));
            }
        }
        got.sort();
        let mut by_key: BTreeMap<Option<i64>, Vec<f64>> = BTreeMap::new();
        for r in &rows {
            if let Some(b) = r.b {
                by_key.entry(r.k).or_default().push(b);
            }
        }
        let mut want: Vec<(Option<i64>, u64)> = Vec::new();
        for (k, mut v) in by_key {
            v.sort_by(|a, b| b.total_cmp(a));
            want.extend(v.into_iter().take(2).map(|x| (k, x.to_bits())));
        }
        want.sort();
        prop_assert_eq!(got, want);
        prop_assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    }
}

#[test]
fn explode_gives_a_null_row_for_an_empty_list_and_rejects_non_lists() {
    let df = frame(
        &[Row {
            k: Some(1),
            s: None,
            a: None,
            b: None,
        }],
        1,
        1,
    );
    let out = df
        .group_by([col("k")])
        .agg([col("b").top_k(3).alias("top")])
        .unwrap()
        .explode("top")
        .unwrap()
        .collect_batch()
        .unwrap();
    assert_eq!(out.num_rows(), 1);
    assert!(out.column(1).is_null(0));
    assert!(matches!(df.explode("k").unwrap_err(), Error::Type { .. }));
    assert!(matches!(
        df.explode("nope").unwrap_err(),
        Error::ColumnNotFound { .. }
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn drop_duplicates_keeps_each_subsets_first_row(
        rows in rows(40),
        nparts in 1_usize..=8,
        threads in 1_usize..=3,
        tiny in any::<bool>(),
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = session(threads, if tiny { 24 << 10 } else { 1 << 30 }, Some(spill.path()));
        let out = frame_in(&s, &rows, nparts)
            .drop_duplicates(["k", "s"])
            .unwrap()
            .collect()
            .unwrap();
        let mut reference: BTreeMap<Key, (Option<i64>, Option<u64>)> = BTreeMap::new();
        for r in &rows {
            reference
                .entry((r.k, r.s.clone()))
                .or_insert((r.a, r.b.map(f64::to_bits)));
        }
        let mut got = BTreeMap::new();
        for b in &out {
            prop_assert_eq!(b.schema().field(2).name().clone(), "a".to_string());
            let a = b.column(2).as_primitive::<Int64Type>();
            let f = b.column(3).as_primitive::<Float64Type>();
            for (i, key) in keys_of(b).into_iter().enumerate() {
                let row = (a.is_valid(i).then(|| a.value(i)), f.is_valid(i).then(|| f.value(i).to_bits()));
                prop_assert!(got.insert(key, row).is_none(), "a key twice");
            }
        }
        prop_assert_eq!(got, reference);
        prop_assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    }
}

#[test]
fn drop_duplicates_names_a_missing_column_and_an_empty_subset_is_distinct() {
    let s = session(2, 1 << 30, None);
    let f = s.from_vec("x", vec![1_i64, 1, 2], 2).unwrap().into_frame();
    assert!(matches!(
        f.drop_duplicates(["nope"]),
        Err(Error::ColumnNotFound { name, .. }) if name == "nope"
    ));
    assert_eq!(
        f.drop_duplicates(Vec::<String>::new())
            .unwrap()
            .count_rows()
            .unwrap(),
        2
    );
    assert_eq!(f.drop_duplicates(["x"]).unwrap().count_rows().unwrap(), 2);
}

#[test]
fn nearly_unique_keys_pass_through_the_partial_aggregation_with_the_same_answer() {
    // 300 000 rows over 250 000 keys: each partition's table stops reducing after its
    // first 100 000 rows and holds one batch at a time; the final merges every key.
    let n = 300_000_i64;
    let keys: Vec<i64> = (0..n).map(|i| (i * 7_919) % 250_000).collect();
    let mut times: std::collections::HashMap<i64, u64> = std::collections::HashMap::new();
    for &k in &keys {
        *times.entry(k).or_default() += 1;
    }
    for (limit, parts) in [(1_usize << 30, 2_usize), (4 << 20, 3)] {
        let spill = tempfile::tempdir().unwrap();
        let s = session(2, limit, Some(spill.path()));
        let frame = s
            .from_vec("k", keys.clone(), parts)
            .unwrap()
            .into_frame()
            .with_column((col("k") * lit(2)).alias("v"))
            .unwrap();
        let out = frame
            .group_by([col("k")])
            .agg([
                col("v").sum(),
                col("v").count().alias("n"),
                col("v").first().alias("f"),
            ])
            .unwrap()
            .collect()
            .unwrap();
        let mut seen = 0;
        for b in &out {
            let k = b.column(0).as_primitive::<Int64Type>();
            let sum = b.column(1).as_primitive::<Int64Type>();
            let count = b.column(2).as_primitive::<UInt64Type>();
            let first = b.column(3).as_primitive::<Int64Type>();
            for i in 0..b.num_rows() {
                let times = times[&k.value(i)];
                assert_eq!(count.value(i), times, "key {}", k.value(i));
                assert_eq!(sum.value(i), 2 * k.value(i) * times as i64);
                assert_eq!(first.value(i), 2 * k.value(i));
                seen += 1;
            }
        }
        assert_eq!(seen, 250_000);
        assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    }
}

#[test]
fn a_dictionary_key_groups_by_its_values() {
    use spillway::arrow::array::{DictionaryArray, RecordBatch};
    use spillway::arrow::datatypes::{DataType, Field, Int32Type, Schema};
    let keys: DictionaryArray<Int32Type> =
        vec![Some("b"), Some("a"), None, Some("b"), Some("a"), Some("b")]
            .into_iter()
            .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "k",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        ),
        Field::new("v", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(keys),
            Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, 6])),
        ],
    )
    .unwrap();
    let s = Session::builder().threads(2).build().unwrap();
    for parts in [1, 3] {
        let grouped = s
            .from_batches(Arc::clone(&schema), vec![batch.clone()], parts)
            .unwrap()
            .group_by([col("k")])
            .agg([col("v").sum().alias("v")])
            .unwrap()
            .sort([col("k").asc().nulls_first()])
            .unwrap();
        assert_eq!(grouped.schema().field(0).data_type(), &DataType::Utf8);
        let out = grouped.collect_batch().unwrap();
        let k = spillway::arrow::compute::cast(out.column(0), &DataType::Utf8).unwrap();
        let k: Vec<Option<&str>> = k.as_string::<i32>().iter().collect();
        assert_eq!(k, [None, Some("a"), Some("b")]);
        let v: Vec<i64> = out.column(1).as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(v, [3, 7, 11]);
    }
}

#[test]
fn a_dictionary_key_groups_by_its_values_when_spilling_too() {
    use spillway::arrow::array::{DictionaryArray, RecordBatch};
    use spillway::arrow::datatypes::{DataType, Field, Int32Type, Schema};
    let n = 20_000_i64;
    let names: Vec<String> = (0..n)
        .map(|i| format!("key-{:04}", (i * 7) % 1000))
        .collect();
    let keys: DictionaryArray<Int32Type> = names.iter().map(|s| Some(s.as_str())).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", keys.data_type().clone(), true),
        Field::new("v", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(keys), Arc::new(Int64Array::from_iter_values(0..n))],
    )
    .unwrap();
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    for (i, k) in names.iter().enumerate() {
        *want.entry(k.clone()).or_default() += i as i64;
    }
    let spill = tempfile::tempdir().unwrap();
    let s = Session::builder()
        .threads(2)
        .batch_rows(512)
        .memory_limit(64 << 10)
        .spill_dir(spill.path())
        .build()
        .unwrap();
    let grouped = s
        .from_batches(schema, vec![batch], 4)
        .unwrap()
        .group_by([col("k")])
        .agg([col("v").sum().alias("v")])
        .unwrap();
    let (batches, stats) = grouped.collect_with_stats().unwrap();
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    let mut got: BTreeMap<String, i64> = BTreeMap::new();
    for b in &batches {
        let k = spillway::arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
        let k = k.as_string::<i32>();
        let v = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            got.insert(k.value(i).to_string(), v.value(i));
        }
    }
    assert_eq!(got, want);
}
