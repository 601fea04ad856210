//! Frame operations (issue 13) through the public API: rename, drop, with_row_index,
//! union and concat, cross_join, fill_null, sample, describe and unpivot. Each against a
//! naive evaluation written here, over empty input, one partition, many, a tiny memory limit
//! that forces a spill, nulls and the errors; and a property test per operation across
//! partition counts, thread counts and memory limits.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use spillway::ExecStats;
use spillway::arrow::array::{Array, AsArray, Float64Array, Int64Array, StringViewArray};
use spillway::arrow::datatypes::{Float64Type, Int64Type, UInt64Type};
use spillway::prelude::*;

/// One row of the test tables: `a: Int64`, `b: Float64`, `s: Utf8View`, all nullable.
#[derive(Clone, Debug)]
struct Row {
    a: Option<i64>,
    b: Option<f64>,
    s: Option<String>,
}

/// One value of an output row, comparable and orderable (floats by their bits).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(u64),
    Str(String),
}

fn float(v: f64) -> Cell {
    Cell::Float(v.to_bits())
}

impl Row {
    fn cells(&self) -> Vec<Cell> {
        vec![
            self.a.map_or(Cell::Null, Cell::Int),
            self.b.map_or(Cell::Null, float),
            self.s.clone().map_or(Cell::Null, Cell::Str),
        ]
    }
}

fn row() -> impl Strategy<Value = Row> {
    (
        proptest::option::weighted(0.85, -50_i64..50),
        proptest::option::weighted(0.85, (-1000_i64..1000).prop_map(|v| v as f64 / 4.0)),
        proptest::option::weighted(0.85, "[a-d]{0,3}"),
    )
        .prop_map(|(a, b, s)| Row { a, b, s })
}

fn rows(max: usize) -> impl Strategy<Value = Vec<Row>> {
    proptest::collection::vec(row(), 0..max)
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Float64, true),
        Field::new("s", DataType::Utf8View, true),
    ]))
}

/// A session of `threads` threads, batches of 7 rows, and a memory limit of `limit` bytes
/// (the default when `None`) spilling into `spill`.
fn session(threads: usize, limit: Option<usize>, spill: &Path) -> Session {
    let mut builder = Session::builder()
        .threads(threads)
        .batch_rows(7)
        .spill_dir(spill);
    if let Some(limit) = limit {
        builder = builder.memory_limit(limit);
    }
    builder.build().unwrap()
}

/// `rows` as a frame of `nparts` partitions, arriving as input batches of 50 rows so that
/// partitions straddle batch borders.
fn frame(s: &Session, rows: &[Row], nparts: usize) -> DataFrame {
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
    s.from_batches(schema(), batches, nparts).unwrap()
}

/// `n` rows with every kind of value and a null in each column now and then.
fn table(n: usize) -> Vec<Row> {
    (0..n)
        .map(|i| Row {
            a: (i % 7 != 3).then_some(i as i64 % 23 - 11),
            b: (i % 5 != 1).then_some(i as f64 * 0.25 - 3.0),
            s: (i % 6 != 2).then(|| ["x", "yy", "", "zzz"][i % 4].to_string()),
        })
        .collect()
}

/// The value at `i` of `column`.
fn cell(column: &dyn Array, i: usize) -> Cell {
    if column.is_null(i) {
        return Cell::Null;
    }
    match column.data_type() {
        DataType::Boolean => Cell::Bool(column.as_boolean().value(i)),
        DataType::Int64 => Cell::Int(column.as_primitive::<Int64Type>().value(i)),
        DataType::UInt64 => Cell::UInt(column.as_primitive::<UInt64Type>().value(i)),
        DataType::Float64 => float(column.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8View => Cell::Str(column.as_string_view().value(i).to_string()),
        DataType::Utf8 => Cell::Str(column.as_string::<i32>().value(i).to_string()),
        other => panic!("no cell for {other}"),
    }
}

/// Every row of `batches`, in order.
fn table_rows(batches: &[RecordBatch]) -> Vec<Vec<Cell>> {
    batches
        .iter()
        .flat_map(|b| {
            (0..b.num_rows()).map(move |i| b.columns().iter().map(|c| cell(c, i)).collect())
        })
        .collect()
}

fn names(df: &DataFrame) -> Vec<String> {
    df.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// Collects `df`, checking that the run left no memory reserved and no spill file.
fn run(df: &DataFrame, spill: &Path) -> (Vec<Vec<Cell>>, ExecStats) {
    let (batches, stats) = df.collect_with_stats().unwrap();
    for b in &batches {
        assert_eq!(b.schema(), df.schema(), "a batch of another schema");
    }
    assert_eq!(df.session().memory().used(), 0, "memory still reserved");
    assert_eq!(std::fs::read_dir(spill).unwrap().count(), 0, "spill left");
    (table_rows(&batches), stats)
}

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

/// `rows` numbered from `offset`, the index first.
fn numbered(rows: impl IntoIterator<Item = Vec<Cell>>, offset: u64) -> Vec<Vec<Cell>> {
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let mut out = vec![Cell::UInt(offset + i as u64)];
            out.extend(r);
            out
        })
        .collect()
}

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

// ---- union, union_all and concat ----

/// The rows counted: a result whose row order is not defined.
fn bag(rows: impl IntoIterator<Item = Vec<Cell>>) -> BTreeMap<Vec<Cell>, usize> {
    let mut out = BTreeMap::new();
    for r in rows {
        *out.entry(r).or_default() += 1;
    }
    out
}

/// `rows` as a frame whose columns come as `s: Utf8, a: Int32, b: Float64` (another order,
/// other types than [`frame`]'s), `a` cut to an `i32`.
fn other_frame(s: &Session, rows: &[Row], nparts: usize) -> DataFrame {
    use spillway::arrow::array::{Int32Array, StringArray};
    let schema = Arc::new(Schema::new(vec![
        Field::new("s", DataType::Utf8, true),
        Field::new("a", DataType::Int32, true),
        Field::new("b", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.s.as_deref()))),
            Arc::new(Int32Array::from_iter(
                rows.iter().map(|r| r.a.map(|a| a as i32)),
            )),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.b))),
        ],
    )
    .unwrap();
    s.from_batches(schema, vec![batch], nparts).unwrap()
}

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
