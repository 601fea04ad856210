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
        let (_, result) = binary_types(&col("x"), &a, spillway::expr::BinaryOp::Add, &col("y"), &b).unwrap();
        prop_assert_eq!(result, ab);
    }

    /// Every scalar converts back to the Rust value it was made from.
    #[test]
    fn scalars_round_trip(i in any::<i64>(), f in any::<f64>().prop_filter("not NaN", |f| !f.is_nan())) {
        prop_assert_eq!(ScalarValue::from(i).to_value::<i64>().unwrap(), i);
        prop_assert_eq!(ScalarValue::from(f).to_value::<f64>().unwrap(), f);
    }
}
