//! Polars interop (feature `polars`): frames in and out without copying buffers, and
//! `map_polars` over partitions, against references computed in the test.

use std::sync::Arc;

use proptest::prelude::*;
use spillway::arrow::array::{AsArray, Int64Array};
use spillway::arrow::datatypes::Int64Type;
use spillway::polars_core::prelude::{
    ChunkCompareIneq, Column, DataFrame as PlFrame, DataType as PlType, NamedFrom, Series,
};
use spillway::prelude::*;

fn session(threads: usize) -> Session {
    Session::builder()
        .threads(threads)
        .batch_rows(32)
        .build()
        .unwrap()
}

type Row = (
    Option<i64>,
    Option<f64>,
    Option<String>,
    Option<bool>,
    Option<i32>,
);

fn polars_frame(rows: &[Row]) -> PlFrame {
    let ints: Vec<Option<i64>> = rows.iter().map(|r| r.0).collect();
    let floats: Vec<Option<f64>> = rows.iter().map(|r| r.1).collect();
    let strings: Vec<Option<&str>> = rows.iter().map(|r| r.2.as_deref()).collect();
    let bools: Vec<Option<bool>> = rows.iter().map(|r| r.3).collect();
    let days: Vec<Option<i32>> = rows.iter().map(|r| r.4).collect();
    let date = Series::new("d".into(), days).cast(&PlType::Date).unwrap();
    PlFrame::new(
        rows.len(),
        vec![
            Column::new("i".into(), ints),
            Column::new("f".into(), floats),
            Column::new("s".into(), strings),
            Column::new("b".into(), bools),
            Column::from(date),
        ],
    )
    .unwrap()
}

fn row() -> impl Strategy<Value = Row> {
    (
        proptest::option::weighted(0.8, -1000_i64..1000),
        proptest::option::weighted(0.8, -1e6_f64..1e6),
        proptest::option::weighted(0.8, "[a-z]{0,20}"),
        proptest::option::weighted(0.8, any::<bool>()),
        proptest::option::weighted(0.8, 0_i32..30_000),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn frames_round_trip_through_spillway_types_and_nulls_included(
        rows in proptest::collection::vec(row(), 0..200),
        nparts in 1_usize..=8,
        threads in 1_usize..=3,
    ) {
        let s = session(threads);
        let df = polars_frame(&rows);
        let frame = s.from_polars(&df, nparts).unwrap();
        let types: Vec<DataType> = frame.schema().fields().iter().map(|f| f.data_type().clone()).collect();
        prop_assert_eq!(
            types,
            vec![DataType::Int64, DataType::Float64, DataType::Utf8View, DataType::Boolean, DataType::Date32]
        );
        let back = frame.to_polars().unwrap();
        prop_assert!(back.equals_missing(&df), "{back:?}\n!=\n{df:?}");
        // Through a Spillway operator and back.
        let filtered = frame.filter(col("i").gt(lit(0))).unwrap().to_polars().unwrap();
        let expected = rows.iter().filter(|r| r.0.is_some_and(|i| i > 0)).count();
        prop_assert_eq!(filtered.height(), expected);
    }
}

#[test]
fn buffers_are_shared_not_copied() {
    let s = session(2);
    let df = PlFrame::new(4, vec![Column::new("i".into(), vec![1_i64, 2, 3, 4])]).unwrap();
    let polars_ptr = df.columns()[0]
        .as_materialized_series()
        .i64()
        .unwrap()
        .cont_slice()
        .unwrap()
        .as_ptr();
    let batches = s.from_polars(&df, 1).unwrap().collect().unwrap();
    let spillway_ptr = batches[0]
        .column(0)
        .as_primitive::<Int64Type>()
        .values()
        .as_ptr();
    assert_eq!(
        polars_ptr, spillway_ptr,
        "the column crossed without a copy"
    );
    let back = s
        .from_array("x", Arc::new(Int64Array::from(vec![5_i64, 6])), 1)
        .unwrap()
        .into_frame();
    let batches = back.collect().unwrap();
    let arrow_ptr = batches[0]
        .column(0)
        .as_primitive::<Int64Type>()
        .values()
        .as_ptr();
    let pl = back.to_polars().unwrap();
    let pl_ptr = pl.columns()[0]
        .as_materialized_series()
        .i64()
        .unwrap()
        .cont_slice()
        .unwrap()
        .as_ptr();
    assert_eq!(arrow_ptr, pl_ptr);
}

#[test]
fn map_polars_runs_polars_code_on_every_partition() {
    let s = session(2);
    let frame = s
        .from_vec("x", (0..1000_i64).collect(), 7)
        .unwrap()
        .into_frame();
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Int64, true),
        Field::new("y", DataType::Int64, true),
    ]));
    let out = frame.map_polars(Arc::clone(&schema), |df: PlFrame| {
        let x = df.column("x")?.as_materialized_series().clone();
        let y = (&x * 3).with_name("y".into());
        let mask = x.i64()?.gt(500);
        PlFrame::new(df.height(), vec![x.into(), y.into()])?.filter(&mask)
    });
    let batches = out.collect().unwrap();
    let ys: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(1).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(ys, (501..1000).map(|x| x * 3).collect::<Vec<_>>());
    assert_eq!(
        out.map_polars(Arc::clone(&schema), Ok::<_, String>)
            .count_rows()
            .unwrap(),
        499
    );

    // The closure's error, a panic and a wrong schema name the partition.
    let just_x = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let err = frame
        .map_polars(just_x, |df: PlFrame| {
            if df
                .column("x")
                .unwrap()
                .as_materialized_series()
                .i64()
                .unwrap()
                .get(0)
                == Some(572)
            {
                return Err("partition starting at 572".to_string());
            }
            Ok(df)
        })
        .collect()
        .unwrap_err();
    assert!(matches!(err, Error::Task { partition: 4, .. }), "{err}");
    assert!(
        err.to_string().contains("partition starting at 572"),
        "{err}"
    );
    let err = frame
        .map_polars(Arc::clone(&schema), |_: PlFrame| -> Result<PlFrame> {
            panic!("polars code panicked")
        })
        .collect()
        .unwrap_err();
    assert!(err.to_string().contains("polars code panicked"), "{err}");
    let err = frame
        .map_polars(Arc::clone(&schema), Ok::<_, String>)
        .collect()
        .unwrap_err();
    assert!(
        err.to_string().contains("declared [x: Int64, y: Int64]"),
        "{err}"
    );
}

#[test]
fn a_frame_without_columns_is_an_error_and_an_empty_one_is_not() {
    let s = session(1);
    assert!(matches!(
        s.from_polars(&PlFrame::empty(), 2),
        Err(Error::Plan(_))
    ));
    let empty = polars_frame(&[]);
    let frame = s.from_polars(&empty, 3).unwrap();
    assert_eq!(frame.count_rows().unwrap(), 0);
    assert!(frame.to_polars().unwrap().equals_missing(&empty));
}
