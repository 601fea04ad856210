//! union, union_all, concat and cross_join.

use super::*;

// ---- union, union_all and concat ----

#[test]
fn union_all_appends_the_partitions_of_each_frame_in_order() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, None, spill.path());
    for (l, r) in [(0, 0), (0, 30), (25, 0), (40, 300)] {
        let (left, right) = (table(l), table(r + 1000).split_off(1000));
        for (lp, rp) in [(1, 1), (1, 6), (5, 2)] {
            let all = frame(&s, &left, lp)
                .union_all(&other_frame(&s, &right, rp))
                .unwrap();
            assert_eq!(names(&all), ["a", "b", "s"]);
            let types: Vec<DataType> = all
                .schema()
                .fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect();
            assert_eq!(
                types,
                [DataType::Int64, DataType::Float64, DataType::Utf8View]
            );
            let want: Vec<Vec<Cell>> = left.iter().chain(&right).map(Row::cells).collect();
            assert_eq!(run(&all, spill.path()).0, want, "{l}+{r} rows in {lp}+{rp}");
        }
    }
}

#[test]
fn concat_of_three_filters_projects_and_numbers_across_the_inputs() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(3, None, spill.path());
    let parts: Vec<Vec<Row>> = vec![table(30), table(70).split_off(30), table(100).split_off(70)];
    let frames: Vec<DataFrame> = parts
        .iter()
        .enumerate()
        .map(|(i, rows)| frame(&s, rows, i + 2))
        .collect();
    let all = DataFrame::concat(&frames).unwrap();
    let flat: Vec<&Row> = parts.iter().flatten().collect();
    // A filter and a projection over the union go into each input.
    let picked = all
        .filter(col("a").gt(lit(2)))
        .unwrap()
        .select([col("s"), col("a")])
        .unwrap();
    let text = picked.explain().unwrap();
    assert!(text.contains("Union of 3"), "{text}");
    let want: Vec<Vec<Cell>> = flat
        .iter()
        .filter(|r| r.a.is_some_and(|a| a > 2))
        .map(|r| vec![r.cells()[2].clone(), r.cells()[0].clone()])
        .collect();
    assert_eq!(run(&picked, spill.path()).0, want);
    // Rows numbered across the inputs, in order.
    let numbered_all = all.with_row_index("i", 0).unwrap();
    assert_eq!(
        run(&numbered_all, spill.path()).0,
        numbered(flat.iter().map(|r| r.cells()), 0)
    );
    // A union of unions, and of one frame.
    let again = DataFrame::concat([&all, &frames[0]]).unwrap();
    assert_eq!(again.count_rows().unwrap(), 130);
    assert_eq!(
        DataFrame::concat([&frames[1]])
            .unwrap()
            .count_rows()
            .unwrap(),
        40
    );
}

#[test]
fn union_removes_duplicates_and_spills_under_a_tiny_memory_limit() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, Some(16 << 10), spill.path());
    let data = table(4_000);
    let df = frame(&s, &data, 4)
        .union(&other_frame(&s, &data, 3))
        .unwrap();
    let (out, stats) = run(&df, spill.path());
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    let want: BTreeMap<Vec<Cell>, usize> = data
        .iter()
        .map(|r| (r.cells(), 1))
        .collect::<BTreeMap<_, _>>();
    assert_eq!(bag(out), want);
    // Sorted after a union_all: the sort spills too.
    let sorted = frame(&s, &data, 3)
        .union_all(&frame(&s, &data, 2))
        .unwrap()
        .sort([col("b")])
        .unwrap();
    let (out, stats) = run(&sorted, spill.path());
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    assert_eq!(out.len(), 8_000);
}

#[test]
fn a_union_writes_one_file_per_partition_of_every_input() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, None, spill.path());
    let dir = tempfile::tempdir().unwrap();
    let data = table(200);
    // Two inputs of final tasks (group-bys) and of pipelines (filters).
    let grouped = frame(&s, &data, 3)
        .group_by([col("s")])
        .agg([col("a").sum()])
        .unwrap();
    let both = grouped.union_all(&grouped).unwrap();
    let out = dir.path().join("grouped");
    assert_eq!(both.write_csv(&out).unwrap(), 10);
    let files = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(files, both.task_graph().unwrap().outputs.len());
    assert_eq!(
        s.read_csv(out.join("*.csv").to_str().unwrap())
            .unwrap()
            .count_rows()
            .unwrap(),
        10
    );
    let filtered = frame(&s, &data, 3).filter(col("a").gt(lit(0))).unwrap();
    let both = filtered.union_all(&frame(&s, &data, 2)).unwrap();
    let out = dir.path().join("filtered");
    let want = data.iter().filter(|r| r.a.is_some_and(|a| a > 0)).count() + 200;
    assert_eq!(both.write_parquet(&out).unwrap(), want);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 5);
    let back = s
        .read_parquet(out.join("*.parquet").to_str().unwrap())
        .unwrap();
    assert_eq!(back.count_rows().unwrap(), want);
}

#[test]
fn concat_names_the_missing_column_and_the_types_that_do_not_go_together() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(1, None, spill.path());
    let df = frame(&s, &table(3), 1);
    let fewer = df.drop(["b"]).unwrap();
    match df.union_all(&fewer).unwrap_err() {
        Error::ColumnNotFound { name, available } => {
            assert_eq!(name, "b");
            assert_eq!(available, ["a", "s"]);
        }
        other => panic!("{other}"),
    }
    let e = fewer.union_all(&df).unwrap_err();
    assert!(matches!(e, Error::Plan(_)), "{e}");
    assert!(e.to_string().contains("column 'b'"), "{e}");
    let text = df.with_column(col("a").cast(DataType::Utf8View)).unwrap();
    let e = df.union(&text).unwrap_err();
    match &e {
        Error::Type { context, message } => {
            assert!(context.contains("column a"), "{e}");
            assert!(
                message.contains("Utf8View") && message.contains("Int64"),
                "{e}"
            );
        }
        other => panic!("{other}"),
    }
    let none: [&DataFrame; 0] = [];
    assert!(matches!(DataFrame::concat(none), Err(Error::Plan(_))));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn union_and_union_all_match_the_reference(
        left in rows(120),
        right in rows(120),
        lparts in 1_usize..=6,
        rparts in 1_usize..=6,
        threads in 1_usize..=3,
        tiny in any::<bool>(),
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = session(threads, tiny.then_some(16 << 10), spill.path());
        let (l, r) = (frame(&s, &left, lparts), other_frame(&s, &right, rparts));
        let all = l.union_all(&r).unwrap();
        let want: Vec<Vec<Cell>> = left.iter().chain(&right).map(Row::cells).collect();
        prop_assert_eq!(run(&all, spill.path()).0, want.clone());
        // A filter and a projection go into both inputs, which keep one schema.
        let picked = all.filter(col("a").gt(lit(0))).unwrap().select([col("s")]).unwrap();
        let want_picked: Vec<Vec<Cell>> = left
            .iter()
            .chain(&right)
            .filter(|r| r.a.is_some_and(|a| a > 0))
            .map(|r| vec![r.cells()[2].clone()])
            .collect();
        prop_assert_eq!(run(&picked, spill.path()).0, want_picked);
        let distinct = l.union(&r).unwrap();
        let want_set: BTreeMap<Vec<Cell>, usize> = want.into_iter().map(|r| (r, 1)).collect();
        prop_assert_eq!(bag(run(&distinct, spill.path()).0), want_set);
    }
}

// ---- cross_join ----

/// Every pair of `left` and `right` rows, left cells first.
fn pairs(left: &[Row], right: &[Row]) -> BTreeMap<Vec<Cell>, usize> {
    bag(left.iter().flat_map(|l| {
        right.iter().map(move |r| {
            let mut c = l.cells();
            c.extend(r.cells());
            c
        })
    }))
}

#[test]
fn cross_join_pairs_every_row_over_any_partitioning() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, None, spill.path());
    for (l, r) in [(0, 5), (5, 0), (1, 1), (13, 40)] {
        let (left, right) = (table(l), table(r + 100).split_off(100));
        for (lp, rp) in [(1, 1), (4, 3)] {
            let j = frame(&s, &left, lp)
                .cross_join(&frame(&s, &right, rp))
                .unwrap();
            assert_eq!(names(&j), ["a", "b", "s", "a_right", "b_right", "s_right"]);
            assert_eq!(
                bag(run(&j, spill.path()).0),
                pairs(&left, &right),
                "{l}x{r}"
            );
        }
    }
    // Only some columns read, and a filter over both sides.
    let (left, right) = (table(20), table(30));
    let j = frame(&s, &left, 3)
        .cross_join(&frame(&s, &right, 2).rename("a", "z").unwrap())
        .unwrap()
        .filter(col("a").lt(col("z")))
        .unwrap()
        .select([col("z"), col("s")])
        .unwrap();
    let want = bag(left.iter().flat_map(|l| {
        right
            .iter()
            .filter(move |r| matches!((l.a, r.a), (Some(x), Some(y)) if x < y))
            .map(move |r| vec![r.cells()[0].clone(), l.cells()[2].clone()])
    }));
    assert_eq!(bag(run(&j, spill.path()).0), want);
    assert!(j.explain().unwrap().contains("cross-join"));
}

#[test]
fn cross_join_spills_a_right_side_past_the_memory_limit() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, Some(16 << 10), spill.path());
    let (left, right) = (table(25), table(3_000));
    let j = frame(&s, &left, 3)
        .cross_join(&frame(&s, &right, 4))
        .unwrap();
    let (out, stats) = run(&j, spill.path());
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    assert_eq!(out.len(), 75_000);
    assert!(bag(out) == pairs(&left, &right));
}

#[test]
fn a_cross_join_takes_no_keys_and_other_joins_need_them() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(1, None, spill.path());
    let df = frame(&s, &table(3), 1);
    let e = df.join(&df, ["a"], ["a"], JoinType::Cross).unwrap_err();
    assert!(
        matches!(e, Error::Plan(_)) && e.to_string().contains("no keys"),
        "{e}"
    );
    let none: [&str; 0] = [];
    let e = df.join(&df, none, none, JoinType::Inner).unwrap_err();
    assert!(matches!(e, Error::Plan(_)), "{e}");
    let same = df.join(&df, none, none, JoinType::Cross).unwrap();
    assert_eq!(same.count_rows().unwrap(), 9);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn cross_join_matches_the_reference(
        left in rows(40),
        right in rows(40),
        lparts in 1_usize..=5,
        rparts in 1_usize..=5,
        threads in 1_usize..=3,
        tiny in any::<bool>(),
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = session(threads, tiny.then_some(8 << 10), spill.path());
        let j = frame(&s, &left, lparts).cross_join(&frame(&s, &right, rparts)).unwrap();
        prop_assert_eq!(bag(run(&j, spill.path()).0), pairs(&left, &right));
    }
}
