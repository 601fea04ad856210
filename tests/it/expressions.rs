//! Expressions through the facade: typing, coercion, closures, errors.

use std::sync::Arc;

use proptest::prelude::*;
use spillway::arrow::array::{Float64Array, Int64Array};
use spillway::expr::{binary_types, common_numeric, converts_losslessly};
use spillway::prelude::*;

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("a", DataType::Int32, true),
        Field::new("b", DataType::Float64, true),
        Field::new("s", DataType::Utf8View, true),
    ])
}

#[test]
fn unknown_column_lists_the_available_ones() {
    let err = col("c").gt(lit(1)).to_field(&schema()).unwrap_err();
    match err {
        Error::ColumnNotFound { name, available } => {
            assert_eq!(name, "c");
            assert_eq!(available, vec!["a", "b", "s"]);
        }
        other => panic!("wrong error: {other}"),
    }
}

#[test]
fn wrong_types_are_rejected_at_build_time() {
    for bad in [
        col("s") * lit(2),
        col("a").and(col("b")),
        !col("a"),
        col("s").apply(|x: f64| x),
    ] {
        let err = bad.to_field(&schema()).unwrap_err();
        assert!(matches!(err, Error::Type { .. }), "{bad}: {err}");
    }
}

#[test]
fn not_negates_with_kleene_logic_and_floats_compare_in_total_order() {
    let s = Session::builder().threads(2).build().unwrap();
    let values = vec![
        Some(1.0),
        None,
        Some(f64::NAN),
        Some(-0.0),
        Some(f64::NEG_INFINITY),
    ];
    let schema = Arc::new(Schema::new(vec![Field::new("b", DataType::Float64, true)]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(Float64Array::from(values))],
    )
    .unwrap();
    let df = s.from_batches(schema, vec![batch], 2).unwrap();
    let out = df
        .select([
            not(col("b").gt(lit(0.0))).alias("not_pos"),
            (!col("b").eq(lit(f64::NAN))).alias("not_nan"),
        ])
        .unwrap()
        .collect_batch()
        .unwrap();
    let column = |i: usize| {
        out.column(i)
            .as_any()
            .downcast_ref::<spillway::arrow::array::BooleanArray>()
            .unwrap()
            .iter()
            .collect::<Vec<_>>()
    };
    // NaN is above 0.0 and equal to itself; -0.0 is not above 0.0; null stays null.
    assert_eq!(
        column(0),
        vec![Some(false), None, Some(false), Some(true), Some(true)]
    );
    assert_eq!(
        column(1),
        vec![Some(true), None, Some(false), Some(true), Some(true)]
    );
}

#[test]
fn apply_closure_errors_and_panics_are_typed() {
    let f = ElementFn::new(|n: i64| {
        if n < 0 {
            Err("negative size")
        } else {
            Ok(n as f64)
        }
    });
    let err = f.call(&Int64Array::from(vec![3, -1])).unwrap_err();
    assert!(
        matches!(&err, Error::UserFunction { value: Some(v), .. } if v == "-1"),
        "{err}"
    );

    let p = ElementFn::new(|n: i64| -> i64 {
        assert!(n != 5, "five");
        n
    });
    assert!(matches!(
        p.call(&Int64Array::from(vec![5])),
        Err(Error::UserPanic { .. })
    ));
}

#[test]
fn map_partitions_output_is_checked_against_its_declaration() {
    let declared = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
    let f = PartitionFn::new(declared, |b: RecordBatch| Ok::<_, String>(b));
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(vec![1]))],
    )
    .unwrap();
    let err = f.call(batch).unwrap_err();
    assert!(err.to_string().contains("declared [x: Float64]"), "{err}");

    let ok = PartitionFn::new(
        Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)])),
        |_b: RecordBatch| {
            RecordBatch::try_new(
                Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)])),
                vec![Arc::new(Float64Array::from(vec![1.5]))],
            )
        },
    );
    assert_eq!(
        ok.call(RecordBatch::new_empty(schema().into()))
            .unwrap()
            .num_rows(),
        1
    );
}

fn numeric_type() -> impl Strategy<Value = DataType> {
    prop_oneof![
        Just(DataType::Int8),
        Just(DataType::Int16),
        Just(DataType::Int32),
        Just(DataType::Int64),
        Just(DataType::UInt8),
        Just(DataType::UInt16),
        Just(DataType::UInt32),
        Just(DataType::UInt64),
        Just(DataType::Float32),
        Just(DataType::Float64),
    ]
}

proptest! {
    /// The common type of two numbers does not depend on their order, and holds both
    /// whenever some type can.
    #[test]
    fn numeric_coercion_is_symmetric(a in numeric_type(), b in numeric_type()) {
        let ab = common_numeric(&a, &b).unwrap();
        prop_assert_eq!(&ab, &common_numeric(&b, &a).unwrap());
        if converts_losslessly(&a, &b) {
            prop_assert_eq!(&ab, &b);
        }
        let types = binary_types(&col("x"), &a, spillway::expr::BinaryOp::Add, &col("y"), &b).unwrap();
        prop_assert_eq!(types.output, ab);
    }

    /// Every scalar converts back to the Rust value it was made from.
    #[test]
    fn scalars_round_trip(i in any::<i64>(), f in any::<f64>().prop_filter("not NaN", |f| !f.is_nan())) {
        prop_assert_eq!(ScalarValue::from(i).to_value::<i64>().unwrap(), i);
        prop_assert_eq!(ScalarValue::from(f).to_value::<f64>().unwrap(), f);
    }
}

// ---- dates and decimals: a TPC-H Q1 / Q6 shape against an exact reference ----

/// A lineitem-like row: a flag, a ship day (days since 1970), a price and a discount in
/// hundredths (Decimal128(15, 2) columns).
#[derive(Clone, Debug)]
struct Line {
    flag: Option<&'static str>,
    day: Option<i32>,
    price: Option<i128>,
    disc: Option<i128>,
}

fn lines() -> impl Strategy<Value = Vec<Line>> {
    proptest::collection::vec(
        (
            proptest::option::weighted(0.95, prop_oneof![Just("A"), Just("N"), Just("R")]),
            proptest::option::weighted(0.95, 10_300..10_600_i32),
            proptest::option::weighted(0.9, -1_000_000..10_000_000_i128),
            proptest::option::weighted(0.9, 0..=10_i128),
        )
            .prop_map(|(flag, day, price, disc)| Line {
                flag,
                day,
                price,
                disc,
            }),
        0..300,
    )
}

fn line_frame(rows: &[Line], nparts: usize, threads: usize) -> DataFrame {
    use spillway::arrow::array::{Date32Array, Decimal128Array, StringViewArray};
    let money = DataType::Decimal128(15, 2);
    let schema = Arc::new(Schema::new(vec![
        Field::new("flag", DataType::Utf8View, true),
        Field::new("day", DataType::Date32, true),
        Field::new("price", money.clone(), true),
        Field::new("disc", money, true),
    ]));
    let dec = |v: Vec<Option<i128>>| -> ArrayRef {
        Arc::new(
            Decimal128Array::from(v)
                .with_precision_and_scale(15, 2)
                .unwrap(),
        )
    };
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringViewArray::from_iter(rows.iter().map(|r| r.flag))),
            Arc::new(Date32Array::from_iter(rows.iter().map(|r| r.day))),
            dec(rows.iter().map(|r| r.price).collect()),
            dec(rows.iter().map(|r| r.disc).collect()),
        ],
    )
    .unwrap();
    let session = Session::builder()
        .threads(threads)
        .batch_rows(16)
        .build()
        .unwrap();
    session.from_batches(schema, vec![batch], nparts).unwrap()
}

/// The decimal values of column `i` (the unscaled integers) and its type.
fn decimals(b: &RecordBatch, i: usize) -> (DataType, Vec<Option<i128>>) {
    use spillway::arrow::array::AsArray;
    use spillway::arrow::datatypes::Decimal128Type;
    let c = b.column(i);
    let values = c.as_primitive::<Decimal128Type>().iter().collect();
    (c.data_type().clone(), values)
}

/// `day <= 1998-09-02 AND disc BETWEEN 0.02 AND 0.08`, as the reference reads it.
fn q_filter(r: &Line, cutoff: i32) -> bool {
    matches!((r.day, r.disc), (Some(d), Some(x)) if d <= cutoff && (2..=8).contains(&x))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Q1's shape: date and decimal filters, a group-by with exact decimal sums, a mean,
    /// min, max and count, equal to an i128 reference for any partitioning.
    #[test]
    fn decimal_group_by_is_exact(rows in lines(), nparts in 1_usize..9, threads in 1_usize..3) {
        use spillway::arrow::array::AsArray;
        use spillway::arrow::datatypes::{Float64Type, UInt64Type};
        let cutoff = date(1998, 9, 2).unwrap();
        let cut_days = cutoff.to_value::<i32>().unwrap_or(10_471);
        prop_assert_eq!(cut_days, 10_471);
        let out = line_frame(&rows, nparts, threads)
            .filter(col("day").lt_eq(lit(cutoff)).and(col("disc").between(lit(0.02), lit(0.08))))
            .unwrap()
            .group_by([col("flag")])
            .agg([
                col("price").sum().alias("sum_price"),
                (col("price") * (lit(1) - col("disc"))).sum().alias("sum_disc_price"),
                col("price").mean().alias("avg_price"),
                col("disc").min().alias("min_disc"),
                col("price").max().alias("max_price"),
                lit(1).count().alias("n"),
            ])
            .unwrap()
            .sort([col("flag")])
            .unwrap()
            .collect_batch()
            .unwrap();

        // The reference, by flag: sum, sum of discounted prices, the mean's sum and count,
        // min discount, max price, rows.
        type Acc = (i128, i128, i128, u64, Option<i128>, Option<i128>, u64);
        let mut want: std::collections::BTreeMap<Option<&str>, Acc> = Default::default();
        for r in rows.iter().filter(|r| q_filter(r, cut_days)) {
            let e = want.entry(r.flag).or_insert((0, 0, 0, 0, None, None, 0));
            let disc = r.disc.unwrap();
            if let Some(p) = r.price {
                e.0 += p;
                e.1 += p * (100 - disc);
                e.2 += p;
                e.3 += 1;
                e.5 = Some(e.5.map_or(p, |m| m.max(p)));
            }
            e.4 = Some(e.4.map_or(disc, |m| m.min(disc)));
            e.6 += 1;
        }
        prop_assert_eq!(out.num_rows(), want.len());
        let flags: Vec<Option<String>> = out
            .column(0)
            .as_string_view()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect();
        let (sum_t, sums) = decimals(&out, 1);
        let (disc_t, disc_sums) = decimals(&out, 2);
        let (min_t, mins) = decimals(&out, 4);
        let (_, maxes) = decimals(&out, 5);
        prop_assert_eq!(sum_t, DataType::Decimal128(38, 2));
        prop_assert_eq!(disc_t, DataType::Decimal128(38, 4));
        prop_assert_eq!(min_t, DataType::Decimal128(15, 2));
        let means = out.column(3).as_primitive::<Float64Type>();
        let counts = out.column(6).as_primitive::<UInt64Type>();
        for (i, flag) in flags.iter().enumerate() {
            let w = want[&flag.as_deref()];
            prop_assert_eq!(sums[i], Some(w.0));
            prop_assert_eq!(disc_sums[i], Some(w.1));
            let mean = (w.3 > 0).then(|| w.2 as f64 / (w.3 as f64 * 100.0));
            prop_assert_eq!(means.is_valid(i).then(|| means.value(i)), mean);
            prop_assert_eq!(mins[i], w.4);
            prop_assert_eq!(maxes[i], w.5);
            prop_assert_eq!(counts.value(i), w.6);
        }
    }

    /// Q6's shape: a global exact decimal sum over date and decimal filters.
    #[test]
    fn decimal_global_sum_is_exact(rows in lines(), nparts in 1_usize..9) {
        let cut_days = 10_471;
        let revenue = line_frame(&rows, nparts, 2)
            .filter(
                col("day").lt_eq(lit("1998-09-02"))
                    .and(col("disc").gt_eq(lit(0.02)))
                    .and(col("disc").lt_eq(lit(0.08))),
            )
            .unwrap()
            .agg([(col("price") * col("disc")).sum().alias("revenue")])
            .unwrap()
            .collect_batch()
            .unwrap();
        let (t, got) = decimals(&revenue, 0);
        prop_assert_eq!(t, DataType::Decimal128(38, 4));
        let want: i128 = rows
            .iter()
            .filter(|r| q_filter(r, cut_days))
            .filter_map(|r| Some(r.price? * r.disc?))
            .sum();
        prop_assert_eq!(got, vec![Some(want)]);
    }
}

#[test]
fn decimal_and_date_errors_name_the_expression() {
    let frame = line_frame(&[], 1, 1);
    // A date is not a number; a product whose scale passes 38 is refused at build time.
    let err = frame.select([col("day") + lit(1)]).unwrap_err();
    assert!(matches!(err, Error::Type { .. }), "{err}");
    assert!(err.to_string().contains("(day + 1)"), "{err}");
    let tiny = col("price").cast(DataType::Decimal128(38, 30));
    let err = frame.select([tiny.clone() * tiny]).unwrap_err();
    assert!(err.to_string().contains("over the maximum of 38"), "{err}");
    // A string literal that is not a date cannot be compared with a date column.
    assert!(frame.filter(col("day").lt(lit("soon"))).is_err());
    assert!(date(2023, 2, 29).is_err());
    // Empty input: an exact zero sum, a null mean.
    let out = frame
        .agg([col("price").sum(), col("price").mean()])
        .unwrap()
        .collect_batch()
        .unwrap();
    assert_eq!(decimals(&out, 0).1, vec![Some(0)]);
    assert!(out.column(1).is_null(0));
}
