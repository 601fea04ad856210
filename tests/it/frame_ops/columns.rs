//! rename, rename_many, drop, with_row_index and fill_null.

use super::*;

// ---- rename and drop ----

#[test]
fn rename_and_drop_keep_the_rows_in_order_over_any_partitioning() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, None, spill.path());
    for n in [0, 1, 40, 333] {
        let data = table(n);
        for nparts in [1, 5] {
            let df = frame(&s, &data, nparts);
            let renamed = df.rename_many([("a", "s"), ("s", "a")]).unwrap();
            assert_eq!(names(&renamed), ["s", "b", "a"]);
            let want: Vec<Vec<Cell>> = data.iter().map(Row::cells).collect();
            assert_eq!(run(&renamed, spill.path()).0, want);
            let one = df.rename("b", "bee").unwrap();
            assert_eq!(names(&one), ["a", "bee", "s"]);
            let dropped = df.drop(["b"]).unwrap();
            assert_eq!(names(&dropped), ["a", "s"]);
            let want: Vec<Vec<Cell>> = data
                .iter()
                .map(|r| {
                    let c = r.cells();
                    vec![c[0].clone(), c[2].clone()]
                })
                .collect();
            assert_eq!(run(&dropped, spill.path()).0, want);
            assert_eq!(
                names(&df.drop(Vec::<String>::new()).unwrap()),
                ["a", "b", "s"]
            );
        }
    }
}

#[test]
fn rename_and_drop_name_what_is_wrong() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(1, None, spill.path());
    let df = frame(&s, &table(3), 1);
    match df.rename("nope", "x").unwrap_err() {
        Error::ColumnNotFound { name, available } => {
            assert_eq!(name, "nope");
            assert_eq!(available, ["a", "b", "s"]);
        }
        other => panic!("{other}"),
    }
    let e = df.rename("a", "b").unwrap_err();
    assert!(e.to_string().contains("two columns 'b'"), "{e}");
    let e = df.rename_many([("a", "x"), ("a", "y")]).unwrap_err();
    assert!(e.to_string().contains("column 'a' twice"), "{e}");
    assert!(matches!(
        df.drop(["a", "typo"]).unwrap_err(),
        Error::ColumnNotFound { name, .. } if name == "typo"
    ));
    let e = df.drop(["a", "b", "s"]).unwrap_err();
    assert!(e.to_string().contains("no column"), "{e}");
}

#[test]
fn renamed_columns_sort_and_spill_under_a_tiny_memory_limit() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, Some(16 << 10), spill.path());
    let data = table(3_000);
    let df = frame(&s, &data, 6)
        .rename("a", "key")
        .unwrap()
        .drop(["s"])
        .unwrap()
        .sort([col("key"), col("b")])
        .unwrap();
    let (out, stats) = run(&df, spill.path());
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    let mut want: Vec<Vec<Cell>> = data
        .iter()
        .map(|r| vec![r.cells()[0].clone(), r.cells()[1].clone()])
        .collect();
    // Nulls last, as the sort puts them by default; floats here are all finite.
    let key = |c: &Cell| match c {
        Cell::Null => (1, 0.0),
        Cell::Int(v) => (0, *v as f64),
        Cell::Float(bits) => (0, f64::from_bits(*bits)),
        other => panic!("{other:?}"),
    };
    want.sort_by(|x, y| {
        let (kx, ky) = ((key(&x[0]), key(&x[1])), (key(&y[0]), key(&y[1])));
        kx.partial_cmp(&ky).unwrap()
    });
    assert_eq!(out, want);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn rename_matches_the_reference(
        data in rows(120),
        nparts in 1_usize..=8,
        threads in 1_usize..=3,
        swap in any::<bool>(),
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = session(threads, None, spill.path());
        let pairs: Vec<(&str, &str)> =
            if swap { vec![("a", "s"), ("s", "a")] } else { vec![("b", "value")] };
        let df = frame(&s, &data, nparts).rename_many(pairs).unwrap();
        let want_names = if swap { ["s", "b", "a"] } else { ["a", "value", "s"] };
        prop_assert_eq!(names(&df), want_names);
        let want: Vec<Vec<Cell>> = data.iter().map(Row::cells).collect();
        prop_assert_eq!(run(&df, spill.path()).0, want);
    }

    #[test]
    fn drop_matches_the_reference(
        data in rows(120),
        nparts in 1_usize..=8,
        threads in 1_usize..=3,
        keep in proptest::sample::subsequence(vec![0_usize, 1, 2], 1..=2),
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = session(threads, None, spill.path());
        let all = ["a", "b", "s"];
        let dropped: Vec<&str> = (0..3).filter(|i| !keep.contains(i)).map(|i| all[i]).collect();
        let df = frame(&s, &data, nparts).drop(dropped).unwrap();
        let want: Vec<Vec<Cell>> = data
            .iter()
            .map(|r| keep.iter().map(|&i| r.cells()[i].clone()).collect())
            .collect();
        prop_assert_eq!(run(&df, spill.path()).0, want);
    }
}

// ---- with_row_index ----

#[test]
fn with_row_index_numbers_rows_in_order_across_any_partitioning() {
    let spill = tempfile::tempdir().unwrap();
    for threads in [1, 3] {
        let s = session(threads, None, spill.path());
        for n in [0, 1, 40, 333] {
            let data = table(n);
            for nparts in [1, 4, 9] {
                let df = frame(&s, &data, nparts);
                let indexed = df.with_row_index("i", 7).unwrap();
                assert_eq!(names(&indexed), ["i", "a", "b", "s"]);
                assert_eq!(indexed.schema().field(0).data_type(), &DataType::UInt64);
                assert!(!indexed.schema().field(0).is_nullable());
                let want = numbered(data.iter().map(Row::cells), 7);
                assert_eq!(
                    run(&indexed, spill.path()).0,
                    want,
                    "{n} rows, {nparts} parts"
                );
                // Partitions of uneven sizes, some empty: numbered after a filter.
                let kept = df
                    .filter(col("a").gt(lit(0)))
                    .unwrap()
                    .with_row_index("i", 0)
                    .unwrap();
                let want = numbered(
                    data.iter()
                        .filter(|r| r.a.is_some_and(|a| a > 0))
                        .map(Row::cells),
                    0,
                );
                assert_eq!(run(&kept, spill.path()).0, want);
            }
        }
    }
}

#[test]
fn the_row_index_alone_and_filtered_on_keeps_its_numbers() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, None, spill.path());
    let df = frame(&s, &table(100), 6).with_row_index("i", 0).unwrap();
    let only = df.select([col("i")]).unwrap();
    let want: Vec<Vec<Cell>> = (0..100).map(|i| vec![Cell::UInt(i)]).collect();
    assert_eq!(run(&only, spill.path()).0, want);
    let late = df
        .filter(col("i").gt_eq(lit(95_u64)))
        .unwrap()
        .select([col("i"), col("a")])
        .unwrap();
    let out = run(&late, spill.path()).0;
    let index: Vec<Cell> = out.iter().map(|r| r[0].clone()).collect();
    assert_eq!(index, (95..100).map(Cell::UInt).collect::<Vec<_>>());
    // A second index numbers the rows again, beside the first.
    let twice = df
        .with_row_index("j", 1)
        .unwrap()
        .select([col("j"), col("i")])
        .unwrap();
    let out = run(&twice, spill.path()).0;
    assert!(out.iter().all(|r| match (&r[0], &r[1]) {
        (Cell::UInt(j), Cell::UInt(i)) => *j == i + 1,
        _ => false,
    }));
}

#[test]
fn with_row_index_holds_and_spills_under_a_tiny_memory_limit() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, Some(16 << 10), spill.path());
    let data = table(5_000);
    let df = frame(&s, &data, 6).with_row_index("i", 0).unwrap();
    let (out, stats) = run(&df, spill.path());
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    assert_eq!(out, numbered(data.iter().map(Row::cells), 0));
    let text = df.explain().unwrap();
    assert!(text.contains("count-rows"), "{text}");
}

#[test]
fn with_row_index_names_a_taken_name_and_an_overflow() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, None, spill.path());
    let df = frame(&s, &table(10), 3);
    let e = df.with_row_index("a", 0).unwrap_err();
    assert!(matches!(e, Error::Plan(_)), "{e}");
    assert!(e.to_string().contains("'a'"), "{e}");
    let e = df
        .with_row_index("i", u64::MAX - 4)
        .unwrap()
        .collect()
        .unwrap_err();
    assert!(matches!(e.root(), Error::Compute { .. }), "{e}");
    assert!(e.to_string().contains("u64::MAX"), "{e}");
    assert_eq!(s.memory().used(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn with_row_index_matches_the_reference(
        data in rows(200),
        nparts in 1_usize..=8,
        threads in 1_usize..=3,
        tiny in any::<bool>(),
        offset in 0_u64..1_000,
        filtered in any::<bool>(),
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = session(threads, tiny.then_some(8 << 10), spill.path());
        let mut df = frame(&s, &data, nparts);
        if filtered {
            df = df.filter(col("s").is_not_null()).unwrap();
        }
        let df = df.with_row_index("idx", offset).unwrap();
        let kept = data.iter().filter(|r| !filtered || r.s.is_some());
        prop_assert_eq!(run(&df, spill.path()).0, numbered(kept.map(Row::cells), offset));
    }
}

// ---- fill_null ----

/// What `fill_null(value)` makes of a row of [`frame`]: `Int64` and `Float64` nulls take an
/// integer, `Float64` ones a float, `Utf8View` ones a string.
fn filled(r: &Row, value: &Cell) -> Vec<Cell> {
    let mut c = r.cells();
    match value {
        Cell::Int(v) => {
            if c[0] == Cell::Null {
                c[0] = Cell::Int(*v);
            }
            if c[1] == Cell::Null {
                c[1] = float(*v as f64);
            }
        }
        Cell::Float(_) if c[1] == Cell::Null => c[1] = value.clone(),
        Cell::Str(_) if c[2] == Cell::Null => c[2] = value.clone(),
        _ => {}
    }
    c
}

fn fill(df: &DataFrame, value: &Cell) -> DataFrame {
    match value {
        Cell::Int(v) => df.fill_null(*v),
        Cell::Float(bits) => df.fill_null(f64::from_bits(*bits)),
        Cell::Str(v) => df.fill_null(v.clone()),
        other => panic!("{other:?}"),
    }
    .unwrap()
}

#[test]
fn fill_null_fills_every_column_that_can_hold_the_value() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, None, spill.path());
    for n in [0, 1, 97] {
        let data = table(n);
        for nparts in [1, 5] {
            let df = frame(&s, &data, nparts);
            for value in [Cell::Int(-7), float(2.5), Cell::Str("none".into())] {
                let out = fill(&df, &value);
                assert_eq!(out.schema().fields().len(), 3);
                for (f, g) in out.schema().fields().iter().zip(df.schema().fields()) {
                    assert_eq!(f.data_type(), g.data_type());
                }
                let want: Vec<Vec<Cell>> = data.iter().map(|r| filled(r, &value)).collect();
                assert_eq!(run(&out, spill.path()).0, want, "{value:?}");
            }
        }
    }
    // An Int32 column cannot hold 2^40, so only the Float64 one takes it; a null fills nothing.
    let data = table(40);
    let out = other_frame(&s, &data, 2).fill_null(1_i64 << 40).unwrap();
    let rows = run(&out, spill.path()).0;
    assert!(rows.iter().any(|r| r[1] == Cell::Null));
    assert!(rows.iter().all(|r| r[2] != Cell::Null));
    let none = frame(&s, &data, 2).fill_null(None::<i64>).unwrap();
    assert_eq!(
        run(&none, spill.path()).0,
        data.iter().map(Row::cells).collect::<Vec<_>>()
    );
}

#[test]
fn filled_columns_sort_and_spill_under_a_tiny_memory_limit() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, Some(16 << 10), spill.path());
    let data = table(3_000);
    let df = frame(&s, &data, 4)
        .fill_null("~")
        .unwrap()
        .sort([col("s")])
        .unwrap();
    let (out, stats) = run(&df, spill.path());
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    let want = bag(data.iter().map(|r| filled(r, &Cell::Str("~".into()))));
    assert_eq!(bag(out.clone()), want);
    assert!(out.windows(2).all(|w| w[0][2] <= w[1][2]));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn fill_null_matches_the_reference(
        data in rows(150),
        nparts in 1_usize..=8,
        threads in 1_usize..=3,
        which in 0_usize..3,
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = session(threads, None, spill.path());
        let value = [Cell::Int(0), float(-1.5), Cell::Str("?".into())][which].clone();
        let out = fill(&frame(&s, &data, nparts), &value);
        let want: Vec<Vec<Cell>> = data.iter().map(|r| filled(r, &value)).collect();
        prop_assert_eq!(run(&out, spill.path()).0, want);
    }
}
