//! Frame operations (issue 13) through the public API: rename, drop, with_row_index and
//! fill_null (`columns`), union and concat, cross_join (`combine`), sample, describe and
//! unpivot (`summary`). Each against a naive evaluation written here, over empty input, one
//! partition, many, a tiny memory limit that forces a spill, nulls and the errors; and a
//! property test per operation across partition counts, thread counts and memory limits.
//!
//! This file holds the test tables and what reads the results back.

mod columns;
mod combine;
mod summary;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use spillway::ExecStats;
use spillway::arrow::array::{Array, AsArray, Float64Array, Int64Array, StringViewArray};
use spillway::arrow::datatypes::{Float64Type, Int32Type, Int64Type, UInt64Type};
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
        DataType::Int32 => Cell::Int(column.as_primitive::<Int32Type>().value(i).into()),
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
