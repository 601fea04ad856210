//! Row-group pruning: what the statistics of a Parquet file let a scan skip.

use super::*;

#[test]
fn pushdown_is_inexact_for_what_statistics_decide() {
    let (_dir, source) = sorted_file();
    let inexact = [
        col("x").gt(lit(500)),
        lit(500).lt(col("x")),
        col("s").eq(lit("s0100")),
        col("f").lt_eq(lit(2.5)),
        col("x").neq(lit(3i64)),
        col("x").is_null(),
        col("s").is_not_null(),
        col("x").gt(lit(1)).and(col("x").lt(lit(5))),
        col("x").lt(lit(1)).or(col("s").gt_eq(lit("s0900"))),
    ];
    for f in &inexact {
        assert_eq!(source.filter_pushdown(f), FilterPushdown::Inexact, "{f}");
    }
    let unsupported = [
        col("x").apply(|x: i64| x > 3),
        col("x").cast(DataType::Float64).gt(lit(1.0)),
        (col("x") + lit(1)).gt(lit(3)),
        col("x").gt(col("f")),
        !col("x").gt(lit(3)),
        col("nope").gt(lit(3)),
        col("s").gt(lit(3)),
        col("x").gt(lit(1)).and(col("x").apply(|x: i64| x > 3)),
        col("x").abs().gt(lit(3)),
        lit(10).eq(col("x").round(-1)),
        col("f").sqrt().is_null(),
        col("x").gt(lit(1)).and(col("x").pow(lit(2)).lt(lit(9))),
    ];
    for f in &unsupported {
        assert_eq!(
            source.filter_pushdown(f),
            FilterPushdown::Unsupported,
            "{f}"
        );
    }
}

#[test]
fn comparisons_prune_row_groups_that_cannot_match() {
    let (_dir, source) = sorted_file();
    // Row group i holds x in [100 i, 100 i + 99].
    assert_eq!(
        row_groups_read(&source, &[col("x").gt(lit(500))]),
        groups(5..=9)
    );
    assert_eq!(
        row_groups_read(&source, &[col("x").gt_eq(lit(500))]),
        groups(5..=9)
    );
    assert_eq!(
        row_groups_read(&source, &[col("x").gt(lit(498))]),
        groups(4..=9)
    );
    assert_eq!(
        row_groups_read(&source, &[lit(500).lt(col("x"))]),
        groups(5..=9)
    );
    assert_eq!(
        row_groups_read(&source, &[lit(100).gt(col("x"))]),
        groups(0..=0)
    );
    assert_eq!(
        row_groups_read(&source, &[col("x").lt(lit(100))]),
        groups(0..=0)
    );
    assert_eq!(
        row_groups_read(&source, &[col("x").lt_eq(lit(100))]),
        groups(0..=1)
    );
    assert_eq!(
        row_groups_read(&source, &[col("x").eq(lit(250i64))]),
        groups(2..=2)
    );
    assert_eq!(
        row_groups_read(&source, &[col("x").neq(lit(250))]),
        groups(0..=9)
    );
    // Literals of another type compare as the engine compares them.
    assert_eq!(
        row_groups_read(&source, &[col("x").lt(lit(100.5))]),
        groups(0..=1)
    );
    assert_eq!(
        row_groups_read(&source, &[col("x").gt(lit(898.5))]),
        groups(8..=9)
    );
    // and / or, and several filters.
    let between = col("x").gt_eq(lit(300)).and(col("x").lt(lit(500)));
    assert_eq!(row_groups_read(&source, &[between]), groups(3..=4));
    let either = col("x").lt(lit(100)).or(col("x").gt_eq(lit(900)));
    let mut expected = groups(0..=0);
    expected.extend(groups(9..=9));
    assert_eq!(row_groups_read(&source, &[either]), expected);
    let both = [col("x").gt_eq(lit(300)), col("x").lt(lit(500))];
    assert_eq!(row_groups_read(&source, &both), groups(3..=4));
    // An unsupported part of an `or` keeps everything.
    let opaque = col("x").lt(lit(100)).or((col("x") + lit(1)).gt(lit(3)));
    assert_eq!(row_groups_read(&source, &[opaque]), groups(0..=9));
}

#[test]
fn strings_and_floats_prune_too() {
    let (_dir, source) = sorted_file();
    assert_eq!(
        row_groups_read(&source, &[col("s").gt_eq(lit("s0950"))]),
        groups(9..=9)
    );
    assert_eq!(
        row_groups_read(&source, &[lit("s0150").eq(col("s"))]),
        groups(1..=1)
    );
    // f = x / 2: row group i holds f in [50 i, 50 i + 49.5].
    assert_eq!(
        row_groups_read(&source, &[col("f").lt(lit(50.0))]),
        groups(0..=0)
    );
    assert_eq!(
        row_groups_read(&source, &[col("f").gt(lit(449.0))]),
        groups(8..=9)
    );
}

#[test]
fn dates_and_decimals_prune_with_exact_literals() {
    // Row group i holds days 100 i .. 100 i + 99 after 1970-01-01, and prices in cents
    // 100 i .. 100 i + 99 (Decimal128(15, 2)), so group i's prices are [i, i + 0.99].
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sorted.parquet");
    let day: ArrayRef = Arc::new(arrow::array::Date32Array::from_iter_values(0..1000));
    let price: ArrayRef = Arc::new(
        arrow::array::Decimal128Array::from_iter_values(0..1000)
            .with_precision_and_scale(15, 2)
            .unwrap(),
    );
    let batch = RecordBatch::try_from_iter([("day", day), ("price", price)]).unwrap();
    write(&path, &[batch], 100);
    let source = ParquetSource::try_new(path.to_str().unwrap()).unwrap();
    let date = |d| lit(spillway_planner::scalar::ScalarValue::date32(d));
    assert_eq!(
        row_groups_read(&source, &[col("day").gt_eq(date(900))]),
        groups(9..=9)
    );
    assert_eq!(
        row_groups_read(&source, &[col("day").lt(lit("1970-04-11"))]),
        groups(0..=0)
    );
    // A float literal compares as its exact decimal: 0.99 is in group 0 only, 1.0 starts
    // group 1, and 5.005 falls between cents (group 5 holds 5.00 to 5.99).
    assert_eq!(
        row_groups_read(&source, &[col("price").lt_eq(lit(0.99))]),
        groups(0..=0)
    );
    assert_eq!(
        row_groups_read(&source, &[col("price").between(lit(1), lit(2.0))]),
        groups(1..=2)
    );
    assert_eq!(
        row_groups_read(&source, &[col("price").eq(lit(5.005))]),
        groups(5..=5)
    );
    assert_eq!(
        row_groups_read(&source, &[col("price").gt(lit(9.99))]),
        vec!["sorted.parquet row groups []".to_string()]
    );
}

#[test]
fn everything_pruned_leaves_one_empty_partition() {
    let (_dir, source) = sorted_file();
    let parts = source
        .plan_scan(&request(&[col("x").gt(lit(5000))], 0))
        .unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].describe(), "sorted.parquet row groups []");
    assert_eq!(parts[0].estimated_rows(), Some(0));
    assert_eq!(parts[0].open().unwrap().count(), 0);
}

#[test]
fn nan_and_nulls_are_kept_where_they_may_match() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nan.parquet");
    // Row group 0: 0..=9 and a NaN; row group 1: 20..=30, no NaN, a null in row group 2 only.
    let f: ArrayRef = Arc::new(Float64Array::from_iter(
        (0..10)
            .map(|i| Some(i as f64))
            .chain([Some(f64::NAN)])
            .chain((20..31).map(|i| Some(i as f64)))
            .chain([Some(40.0), None, Some(41.0)]),
    ));
    let batch = RecordBatch::try_from_iter([("f", f)]).unwrap();
    write(&path, &[batch], 11);
    let source = ParquetSource::try_new(path.to_str().unwrap()).unwrap();
    let read = |filter: Expr| -> Vec<String> {
        row_groups_read(&source, &[filter])
            .into_iter()
            .map(|d| d.trim_start_matches("nan.parquet row groups ").to_string())
            .collect()
    };
    // NaN is above every number in Arrow's order: row group 0 may match `f > 25`.
    assert_eq!(read(col("f").gt(lit(25.0))), ["[0]", "[1]", "[2]"]);
    assert_eq!(read(col("f").lt(lit(15.0))), ["[0]"]);
    // ... but not `f = 25`.
    assert_eq!(read(col("f").eq(lit(25.0))), ["[1]"]);
    assert_eq!(read(col("f").eq(lit(f64::NAN))), ["[0]"]);
    assert_eq!(read(col("f").is_null()), ["[2]"]);
    assert_eq!(read(col("f").is_not_null()), ["[0]", "[1]", "[2]"]);
}

#[test]
fn a_column_without_statistics_is_never_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nostats.parquet");
    write_with(&path, &[sorted(1000)], 100, |p| {
        p.set_column_statistics_enabled(ColumnPath::from("x"), EnabledStatistics::None)
    });
    let source = ParquetSource::try_new(path.to_str().unwrap()).unwrap();
    let all: Vec<String> = (0..10)
        .map(|i| format!("nostats.parquet row groups [{i}]"))
        .collect();
    assert_eq!(row_groups_read(&source, &[col("x").gt(lit(500))]), all);
    assert_eq!(row_groups_read(&source, &[col("x").is_null()]), all);
    // The other columns still have theirs.
    assert_eq!(
        row_groups_read(&source, &[col("s").lt(lit("s0100"))]).len(),
        1
    );
}

// ---- errors ----
