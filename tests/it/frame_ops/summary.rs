//! sample, describe and unpivot.

use super::*;

// ---- sample ----

#[test]
fn sample_picks_the_same_rows_whatever_the_partitioning() {
    let spill = tempfile::tempdir().unwrap();
    let data = table(5_000);
    let all: Vec<Vec<Cell>> = data.iter().map(Row::cells).collect();
    let one = session(1, None, spill.path());
    let want = run(&frame(&one, &data, 1).sample(0.2, 7).unwrap(), spill.path()).0;
    assert!((800..1200).contains(&want.len()), "{}", want.len());
    // A subsequence of the input, in order.
    let mut rest = all.iter();
    assert!(want.iter().all(|w| rest.any(|r| r == w)));
    for (threads, nparts) in [(2, 3), (3, 8)] {
        let s = session(threads, None, spill.path());
        let got = run(
            &frame(&s, &data, nparts).sample(0.2, 7).unwrap(),
            spill.path(),
        )
        .0;
        assert_eq!(got, want, "{threads} threads, {nparts} partitions");
    }
    // Another seed, other rows; 0 and 1 keep none and all.
    let other = run(&frame(&one, &data, 2).sample(0.2, 8).unwrap(), spill.path()).0;
    assert_ne!(other, want);
    assert!(
        run(&frame(&one, &data, 2).sample(0.0, 7).unwrap(), spill.path())
            .0
            .is_empty()
    );
    assert_eq!(
        run(&frame(&one, &data, 2).sample(1.0, 7).unwrap(), spill.path()).0,
        all
    );
    assert!(
        run(&frame(&one, &[], 1).sample(0.5, 7).unwrap(), spill.path())
            .0
            .is_empty()
    );
}

#[test]
fn sample_holds_and_spills_under_a_tiny_memory_limit_and_checks_its_fraction() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, Some(16 << 10), spill.path());
    let data = table(5_000);
    let (got, stats) = run(&frame(&s, &data, 6).sample(0.5, 1).unwrap(), spill.path());
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    let roomy = session(2, None, spill.path());
    assert_eq!(
        got,
        run(
            &frame(&roomy, &data, 1).sample(0.5, 1).unwrap(),
            spill.path()
        )
        .0
    );
    let df = frame(&s, &data, 2);
    for bad in [-0.1, 1.01, f64::NAN, f64::INFINITY] {
        let e = df.sample(bad, 1).unwrap_err();
        assert!(
            matches!(e, Error::Plan(_)) && e.to_string().contains("fraction"),
            "{e}"
        );
    }
    // A frame with a column of the index's name keeps it.
    let named = df
        .rename("a", "__sample_index")
        .unwrap()
        .sample(0.5, 1)
        .unwrap();
    assert_eq!(names(&named), ["__sample_index", "b", "s"]);
    assert_eq!(run(&named, spill.path()).0.len(), got.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The rows a sample keeps are its reference's: the same sample of the same rows in one
    /// partition on one thread, a subsequence of the input, and nested as the fraction grows.
    #[test]
    fn sample_matches_the_reference(
        data in rows(200),
        nparts in 1_usize..=8,
        threads in 1_usize..=3,
        tiny in any::<bool>(),
        fraction in 0.0_f64..=1.0,
        seed in any::<u64>(),
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = session(threads, tiny.then_some(8 << 10), spill.path());
        let got = run(&frame(&s, &data, nparts).sample(fraction, seed).unwrap(), spill.path()).0;
        let one = session(1, None, spill.path());
        let want = run(&frame(&one, &data, 1).sample(fraction, seed).unwrap(), spill.path()).0;
        prop_assert_eq!(&got, &want);
        // Subsequences: of the input, and of the sample with a bigger fraction.
        let bigger = (fraction + 0.3).min(1.0);
        let more = run(&frame(&one, &data, 1).sample(bigger, seed).unwrap(), spill.path()).0;
        let mut rest = more.iter();
        prop_assert!(got.iter().all(|g| rest.any(|m| m == g)));
        let mut rest = data.iter().map(Row::cells);
        prop_assert!(more.iter().all(|m| rest.any(|r| r == *m)));
    }
}

// ---- describe ----

/// Mean, sample std, min, linear quartiles and max of `v` (pandas' `describe`).
fn summary(v: &[f64]) -> Vec<Option<f64>> {
    if v.is_empty() {
        return vec![None; 7];
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len() as f64;
    let mean = s.iter().sum::<f64>() / n;
    let std = (s.len() > 1)
        .then(|| (s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    let q = |q: f64| {
        let pos = q * (n - 1.0);
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
    };
    vec![
        Some(mean),
        std,
        Some(s[0]),
        Some(q(0.25)),
        Some(q(0.5)),
        Some(q(0.75)),
        Some(s[s.len() - 1]),
    ]
}

/// The describe column of a numeric column with `values` and `nulls` nulls.
fn numeric_described(values: &[f64], nulls: usize) -> Vec<Option<f64>> {
    let mut out = vec![Some(values.len() as f64), Some(nulls as f64)];
    out.extend(summary(values));
    out
}

fn close(got: &Cell, want: Option<f64>) -> bool {
    match (got, want) {
        (Cell::Null, None) => true,
        (Cell::Float(bits), Some(w)) => {
            let g = f64::from_bits(*bits);
            (g - w).abs() <= 1e-9 * w.abs().max(1.0)
        }
        _ => false,
    }
}

/// Checks `described` (the rows of `describe`) against the reference over `data`.
fn check_described(described: &[Vec<Cell>], data: &[Row]) -> Result<(), String> {
    let stats = [
        "count",
        "null_count",
        "mean",
        "std",
        "min",
        "25%",
        "50%",
        "75%",
        "max",
    ];
    let column = |i: usize| -> Vec<Cell> { described.iter().map(|r| r[i].clone()).collect() };
    if column(0) != stats.map(|s| Cell::Str(s.into())) {
        return Err(format!("statistics {:?}", column(0)));
    }
    let a: Vec<f64> = data.iter().filter_map(|r| r.a.map(|a| a as f64)).collect();
    let b: Vec<f64> = data.iter().filter_map(|r| r.b).collect();
    for (i, values) in [(1, &a), (2, &b)] {
        let want = numeric_described(values, data.len() - values.len());
        let got = column(i);
        if !got.iter().zip(&want).all(|(g, w)| close(g, *w)) {
            return Err(format!("column {i}: {got:?}, wanted {want:?}"));
        }
    }
    let s: Vec<&String> = data.iter().filter_map(|r| r.s.as_ref()).collect();
    let text = |v: Option<String>| v.map_or(Cell::Null, Cell::Str);
    let want = vec![
        text(Some(s.len().to_string())),
        text(Some((data.len() - s.len()).to_string())),
        Cell::Null,
        Cell::Null,
        text(s.iter().min().map(|s| s.to_string())),
        Cell::Null,
        Cell::Null,
        Cell::Null,
        text(s.iter().max().map(|s| s.to_string())),
    ];
    if column(3) != want {
        return Err(format!("strings: {:?}, wanted {want:?}", column(3)));
    }
    Ok(())
}

#[test]
fn describe_gives_polars_statistics_over_any_partitioning() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, None, spill.path());
    for n in [0, 1, 2, 333] {
        let data = table(n);
        for nparts in [1, 6] {
            let d = frame(&s, &data, nparts).describe().unwrap();
            assert_eq!(names(&d), ["statistic", "a", "b", "s"]);
            let types: Vec<DataType> = d
                .schema()
                .fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect();
            assert_eq!(
                types,
                [
                    DataType::Utf8View,
                    DataType::Float64,
                    DataType::Float64,
                    DataType::Utf8View
                ]
            );
            check_described(&run(&d, spill.path()).0, &data).unwrap();
        }
    }
    // Another kind of column (a list) is counted only.
    let listed = frame(&s, &table(10), 2)
        .group_by([col("s")])
        .agg([col("a").top_k(2).alias("top")])
        .unwrap()
        .drop(["s"])
        .unwrap();
    let out = run(&listed.describe().unwrap(), spill.path()).0;
    assert_eq!(out[0][1], Cell::Str("5".into()));
    assert_eq!(out[4][1], Cell::Null);
    let e = frame(&s, &table(3), 1)
        .rename("a", "statistic")
        .unwrap()
        .describe()
        .unwrap_err();
    assert!(
        matches!(e, Error::Plan(_)) && e.to_string().contains("statistic"),
        "{e}"
    );
}

#[test]
fn describe_runs_within_a_tiny_memory_limit_after_a_spilling_union() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, Some(16 << 10), spill.path());
    let data = table(3_000);
    let df = frame(&s, &data, 3).union(&frame(&s, &data, 2)).unwrap();
    assert!(run(&df, spill.path()).1.spilled_bytes > 0);
    let d = df.describe().unwrap();
    let mut distinct: Vec<Row> = Vec::new();
    for r in &data {
        if !distinct.iter().any(|d| d.cells() == r.cells()) {
            distinct.push(r.clone());
        }
    }
    check_described(&run(&d, spill.path()).0, &distinct).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn describe_matches_the_reference(
        data in rows(150),
        nparts in 1_usize..=8,
        threads in 1_usize..=3,
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = session(threads, None, spill.path());
        let d = frame(&s, &data, nparts).describe().unwrap();
        let checked = check_described(&run(&d, spill.path()).0, &data);
        prop_assert!(checked.is_ok(), "{:?}", checked);
    }
}

// ---- unpivot ----

/// `unpivot([s], [a, b], "var", "val")` of `data`, row by row: `(s, "a", a as f64)`, then
/// `(s, "b", b)`.
fn unpivoted(data: &[Row]) -> Vec<Vec<Cell>> {
    data.iter()
        .flat_map(|r| {
            let s = r.cells()[2].clone();
            [
                vec![
                    s.clone(),
                    Cell::Str("a".into()),
                    r.a.map_or(Cell::Null, |a| float(a as f64)),
                ],
                vec![s, Cell::Str("b".into()), r.b.map_or(Cell::Null, float)],
            ]
        })
        .collect()
}

#[test]
fn unpivot_gives_a_row_per_value_over_any_partitioning() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, None, spill.path());
    for n in [0, 1, 120] {
        let data = table(n);
        for nparts in [1, 5] {
            let df = frame(&s, &data, nparts);
            let long = df.unpivot(["s"], ["a", "b"], "var", "val").unwrap();
            assert_eq!(names(&long), ["s", "var", "val"]);
            assert_eq!(long.schema().field(2).data_type(), &DataType::Float64);
            assert_eq!(run(&long, spill.path()).0, unpivoted(&data));
            // No `on`: every column but the index; no index: the pairs alone.
            let none: [&str; 0] = [];
            let all = df.unpivot(["s"], none, "var", "val").unwrap();
            assert_eq!(run(&all, spill.path()).0, unpivoted(&data));
            let bare = df.unpivot(none, ["b"], "variable", "value").unwrap();
            let want: Vec<Vec<Cell>> = data
                .iter()
                .map(|r| vec![Cell::Str("b".into()), r.cells()[1].clone()])
                .collect();
            assert_eq!(run(&bare, spill.path()).0, want);
        }
    }
}

#[test]
fn unpivoted_rows_sort_and_spill_under_a_tiny_memory_limit() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, Some(16 << 10), spill.path());
    let data = table(2_000);
    let long = frame(&s, &data, 4)
        .unpivot(["s"], ["a", "b"], "var", "val")
        .unwrap()
        .sort([col("val")])
        .unwrap();
    let (out, stats) = run(&long, spill.path());
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    assert_eq!(bag(out), bag(unpivoted(&data)));
}

#[test]
fn unpivot_names_what_is_wrong() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(1, None, spill.path());
    let df = frame(&s, &table(3), 1);
    assert!(matches!(
        df.unpivot(["nope"], ["a"], "v", "w").unwrap_err(),
        Error::ColumnNotFound { name, .. } if name == "nope"
    ));
    assert!(matches!(
        df.unpivot(["s"], ["typo"], "v", "w").unwrap_err(),
        Error::ColumnNotFound { name, .. } if name == "typo"
    ));
    let plan = |e: Error, part: &str| {
        assert!(
            matches!(e, Error::Plan(_)) && e.to_string().contains(part),
            "{e}"
        );
    };
    plan(df.unpivot(["a"], ["a", "b"], "v", "w").unwrap_err(), "both");
    plan(df.unpivot(["s"], ["a"], "v", "v").unwrap_err(), "both 'v'");
    plan(
        df.unpivot(["s"], ["a"], "s", "w").unwrap_err(),
        "index column",
    );
    let none: [&str; 0] = [];
    plan(
        df.unpivot(["a", "b", "s"], none, "v", "w").unwrap_err(),
        "no column",
    );
    match df.unpivot(none, ["a", "s"], "v", "w").unwrap_err() {
        Error::Type { context, message } => {
            assert!(context.contains("column s"), "{context}");
            assert!(
                message.contains("Utf8View") && message.contains("Int64"),
                "{message}"
            );
        }
        other => panic!("{other}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn unpivot_matches_the_reference(
        data in rows(150),
        nparts in 1_usize..=8,
        threads in 1_usize..=3,
        tiny in any::<bool>(),
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = session(threads, tiny.then_some(8 << 10), spill.path());
        let long = frame(&s, &data, nparts).unpivot(["s"], ["a", "b"], "var", "val").unwrap();
        prop_assert_eq!(run(&long, spill.path()).0, unpivoted(&data));
    }
}
