//! Kernels of the math functions of two or three arguments: `pow` and `log` (in `Float64`),
//! `floor_div` (in the type `%` computes in: integers, decimals or floats) and `clip` (in the
//! common type of the value and its bounds). A scalar second or third argument (a literal)
//! is read once, never broadcast to a column.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, PrimitiveArray, downcast_integer_array,
    downcast_primitive_array, new_null_array,
};
use arrow::compute::kernels::numeric;
use arrow::compute::{binary, cast, try_binary, try_unary};
use arrow::datatypes::{ArrowNativeTypeOp, DataType, Decimal128Type, Float64Type};
use arrow::error::ArrowError;

use super::{Value, float_map, unsupported};

/// `f(x, y)` in `Float64` (`pow`, `log`); a scalar `y` is not broadcast first.
pub(super) fn float(
    x: &ArrayRef,
    y: Value,
    f: fn(f64, f64) -> f64,
) -> Result<ArrayRef, ArrowError> {
    let x = cast(x, &DataType::Float64)?;
    let x = x.as_primitive::<Float64Type>();
    let out: PrimitiveArray<Float64Type> = match y {
        Value::Scalar(y) => {
            let y = cast(&y, &DataType::Float64)?;
            if y.is_null(0) {
                return Ok(new_null_array(&DataType::Float64, x.len()));
            }
            let y = y.as_primitive::<Float64Type>().value(0);
            x.unary(|x| f(x, y))
        }
        Value::Array(y) => {
            let y = cast(&y, &DataType::Float64)?;
            binary(x, y.as_primitive::<Float64Type>(), f)?
        }
    };
    Ok(Arc::new(out))
}

/// The logarithm of `x` in base `base`: `ln(x) / ln(base)`, but Rust's own `log10` and
/// `log2` for those bases, so `log(1000, 10)` is 3, not 2.9999999999999996.
pub(super) fn log(x: f64, base: f64) -> f64 {
    if base == 10.0 {
        x.log10()
    } else if base == 2.0 {
        x.log2()
    } else {
        x.ln() / base.ln()
    }
}

/// `x // y`: `x` and `y` of the planner's operand type, giving `out` (the same type, or a
/// decimal of scale 0).
pub(super) fn floor_div(x: &ArrayRef, y: &Value, out: &DataType) -> Result<ArrayRef, ArrowError> {
    downcast_integer_array!(
        x => Ok(Arc::new(try_zip(x, y, div_floored)?)),
        DataType::Decimal128(..) => {
            // Both of one scale: the quotient of the unscaled values is the quotient.
            let DataType::Decimal128(p, s) = out else {
                return Err(unsupported("floor_div into", out));
            };
            let q = try_zip(x.as_primitive::<Decimal128Type>(), y, div_floored)?;
            Ok(Arc::new(q.with_precision_and_scale(*p, *s)?))
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let q = match y {
                Value::Scalar(y) => numeric::div(x, &arrow::array::Scalar::new(y))?,
                Value::Array(y) => numeric::div(x, y)?,
            };
            float_map(&q, f32::floor, f64::floor)
        }
        t => Err(unsupported("floor_div", t)),
    )
}

/// `a / b` rounded towards −∞; an error for a zero `b` or a quotient that does not fit
/// (`i64::MIN / -1`).
fn div_floored<N: ArrowNativeTypeOp>(a: N, b: N) -> Result<N, ArrowError> {
    let q = a.div_checked(b)?;
    let r = a.sub_wrapping(q.mul_wrapping(b));
    // Truncation rounded up when the remainder and the divisor differ in sign.
    if !r.is_zero() && r.is_lt(N::ZERO) != b.is_lt(N::ZERO) {
        Ok(q.sub_wrapping(N::ONE))
    } else {
        Ok(q)
    }
}

/// `f(x, y)` row by row (not called on nulls), `y` a column of `x`'s type or a scalar.
fn try_zip<T: ArrowPrimitiveType>(
    x: &PrimitiveArray<T>,
    y: &Value,
    f: impl Fn(T::Native, T::Native) -> Result<T::Native, ArrowError>,
) -> Result<PrimitiveArray<T>, ArrowError> {
    match y {
        Value::Scalar(y) => match primitive::<T>(y)? {
            y if y.is_null(0) => Ok(PrimitiveArray::new_null(x.len())),
            y => {
                let y = y.value(0);
                try_unary(x, |v| f(v, y))
            }
        },
        Value::Array(y) => try_binary(x, primitive::<T>(y)?, f),
    }
}

/// `a` as a `PrimitiveArray<T>`, or an error naming its type.
fn primitive<T: ArrowPrimitiveType>(a: &ArrayRef) -> Result<&PrimitiveArray<T>, ArrowError> {
    a.as_primitive_opt::<T>()
        .ok_or_else(|| unsupported("this kernel", a.data_type()))
}

/// `x` kept between `lo` and `hi` (of `x`'s type, columns or scalars; a null bound clips
/// nothing), compared as IEEE 754 compares: a NaN is kept and a NaN bound clips nothing.
pub(super) fn clip(x: &ArrayRef, lo: &Value, hi: &Value) -> Result<ArrayRef, ArrowError> {
    downcast_primitive_array!(
        x => Ok(Arc::new(clip_typed(x, lo, hi)?)),
        t => Err(unsupported("clip", t)),
    )
}

fn clip_typed<T: ArrowPrimitiveType>(
    x: &PrimitiveArray<T>,
    lo: &Value,
    hi: &Value,
) -> Result<PrimitiveArray<T>, ArrowError> {
    let (lo, hi) = (Bound::<T>::new(lo)?, Bound::<T>::new(hi)?);
    let clipped: PrimitiveArray<T> = x
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut v = v?;
            if let Some(lo) = lo.at(i)
                && v < lo
            {
                v = lo;
            }
            if let Some(hi) = hi.at(i)
                && v > hi
            {
                v = hi;
            }
            Some(v)
        })
        .collect();
    Ok(clipped.with_data_type(x.data_type().clone()))
}

/// A bound of `clip`: one value for every row, or a column.
enum Bound<'a, T: ArrowPrimitiveType> {
    Scalar(Option<T::Native>),
    Column(&'a PrimitiveArray<T>),
}

impl<'a, T: ArrowPrimitiveType> Bound<'a, T> {
    fn new(v: &'a Value) -> Result<Self, ArrowError> {
        Ok(match v {
            Value::Scalar(a) => {
                let a = primitive::<T>(a)?;
                Bound::Scalar(a.is_valid(0).then(|| a.value(0)))
            }
            Value::Array(a) => Bound::Column(primitive::<T>(a)?),
        })
    }

    /// The bound at row `i`: `None` for a null (or a row past a short column).
    fn at(&self, i: usize) -> Option<T::Native> {
        match self {
            Bound::Scalar(v) => *v,
            Bound::Column(a) => (i < a.len() && a.is_valid(i)).then(|| a.value(i)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, AsArray, Float32Array, Int8Array, Int32Array, UInt8Array};
    use arrow::datatypes::{DataType, Float32Type, Int8Type, Int32Type, Int64Type, UInt8Type};
    use spillway_planner::expr::{col, lit, null};

    use super::super::tests::{batch, decimals, f64s, floats, i128s, ints, run};
    use crate::eval::evaluate as eval_expr;

    #[test]
    fn pow_takes_a_column_or_a_scalar_exponent() {
        let x = ints(vec![Some(2), Some(-8), None, Some(0)]);
        assert_eq!(
            f64s(&run(col("x").pow(lit(2)), Arc::clone(&x))),
            [Some(4.0), Some(64.0), None, Some(0.0)]
        );
        let out = f64s(&run(col("x").pow(lit(-1.0)), Arc::clone(&x)));
        assert_eq!(out[3], Some(f64::INFINITY));
        let out = f64s(&run(col("x").pow(lit(1.0 / 3.0)), Arc::clone(&x)));
        assert!(out[1].unwrap().is_nan());
        assert_eq!(
            f64s(&run(col("x").pow(col("x")), Arc::clone(&x))),
            [Some(4.0), Some((-8.0_f64).powf(-8.0)), None, Some(1.0)]
        );
        assert_eq!(
            f64s(&run(lit(2).pow(col("x")), Arc::clone(&x))),
            [Some(4.0), Some(2.0_f64.powi(-8)), None, Some(1.0)]
        );
        assert_eq!(
            f64s(&run(col("x").pow(null(&DataType::Int32)), Arc::clone(&x))),
            [None, None, None, None]
        );
        assert_eq!(
            f64s(&run(col("x").pow(null(&DataType::Null)), x)),
            [None, None, None, None]
        );
    }

    #[test]
    fn cbrt_and_log_follow_ieee_754() {
        let x = floats(vec![Some(-27.0), Some(0.0), Some(1000.0), None, Some(8.0)]);
        assert_eq!(
            f64s(&run(col("x").cbrt(), Arc::clone(&x))),
            [Some(-3.0), Some(0.0), Some(10.0), None, Some(2.0)]
        );
        let ten = f64s(&run(col("x").log(10), Arc::clone(&x)));
        assert!(ten[0].unwrap().is_nan());
        assert_eq!(
            ten[1..],
            [
                Some(f64::NEG_INFINITY),
                Some(3.0),
                None,
                Some(8.0_f64.log10())
            ]
        );
        assert_eq!(f64s(&run(col("x").log(2), Arc::clone(&x)))[4], Some(3.0));
        let e = f64s(&run(col("x").log(lit(std::f64::consts::E)), Arc::clone(&x)));
        assert!((e[2].unwrap() - 1000.0_f64.ln()).abs() < 1e-12);
        // A column of bases; a null base gives a null.
        let b = batch(Arc::new(arrow::array::Float64Array::from(vec![
            Some(4.0),
            None,
        ])));
        let out = eval_expr(&col("x").log(col("x")), &b).unwrap();
        assert_eq!(f64s(&out), [Some(1.0), None]);
        let out = eval_expr(&col("x").log(null(&DataType::Float64)), &b).unwrap();
        assert_eq!(out.null_count(), 2);
        // Integers are read as Float64.
        assert_eq!(
            f64s(&run(col("x").cbrt(), ints(vec![Some(-8)]))),
            [Some(-2.0)]
        );
    }

    fn i64s(a: &ArrayRef) -> Vec<Option<i64>> {
        a.as_primitive::<Int64Type>().iter().collect()
    }

    #[test]
    fn floor_div_rounds_down_and_fails_on_zero_and_overflow() {
        let x = ints(vec![
            Some(7),
            Some(-7),
            Some(7),
            Some(-7),
            Some(6),
            None,
            Some(0),
        ]);
        let y = [
            Some(2),
            Some(2),
            Some(-2),
            Some(-2),
            Some(-3),
            Some(1),
            Some(-5),
        ];
        let b = arrow::array::RecordBatch::try_from_iter([
            ("x", x),
            (
                "y",
                Arc::new(arrow::array::Int64Array::from(y.to_vec())) as ArrayRef,
            ),
        ])
        .unwrap();
        let out = eval_expr(&col("x").floor_div(col("y")), &b).unwrap();
        assert_eq!(
            i64s(&out),
            [
                Some(3),
                Some(-4),
                Some(-4),
                Some(3),
                Some(-2),
                None,
                Some(0)
            ]
        );
        let out = eval_expr(&col("x").floor_div(lit(-3)), &b).unwrap();
        assert_eq!(
            i64s(&out),
            [
                Some(-3),
                Some(2),
                Some(-3),
                Some(2),
                Some(-2),
                None,
                Some(0)
            ]
        );
        let out = eval_expr(&col("x").floor_div(null(&DataType::Int64)), &b).unwrap();
        assert_eq!(out.null_count(), 7);
        for (e, what) in [
            (
                col("x").floor_div(lit(0)),
                "compute error in floor_div(x, 0): Divide by zero",
            ),
            (col("x").floor_div(col("y") - col("y")), "Divide by zero"),
        ] {
            let err = eval_expr(&e, &b).unwrap_err().to_string();
            assert!(err.contains(what), "{e}: {err}");
        }
        // The smallest integer by -1 does not fit; by 1 it does.
        let b = batch(ints(vec![Some(i64::MIN), None]));
        let err = eval_expr(&col("x").floor_div(lit(-1)), &b)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("floor_div(x, -1)") && err.contains("Overflow"),
            "{err}"
        );
        assert_eq!(
            i64s(&run(col("x").floor_div(lit(1)), ints(vec![Some(i64::MIN)]))),
            [Some(i64::MIN)]
        );
        let small: ArrayRef = Arc::new(Int8Array::from(vec![i8::MIN, 5]));
        assert!(eval_expr(&col("x").floor_div(lit(-1)), &batch(Arc::clone(&small))).is_err());
        let out = run(col("x").floor_div(lit(2)), small);
        let got: Vec<_> = out.as_primitive::<Int8Type>().iter().collect();
        assert_eq!(got, [Some(-64), Some(2)]);
        // Unsigned integers; a negative literal widens them.
        let u: ArrayRef = Arc::new(UInt8Array::from(vec![255, 7]));
        let out = run(col("x").floor_div(lit(2)), Arc::clone(&u));
        assert_eq!(out.as_primitive::<UInt8Type>().values(), &[127, 3]);
        let out = run(col("x").floor_div(lit(-2)), u);
        let got: Vec<_> = out.as_primitive::<Int32Type>().iter().collect();
        assert_eq!(got, [Some(-128), Some(-4)]);
    }

    #[test]
    fn floor_div_of_floats_and_decimals() {
        let x = floats(vec![
            Some(7.5),
            Some(-7.5),
            Some(1.0),
            Some(-1.0),
            Some(0.0),
            None,
        ]);
        let out = f64s(&run(col("x").floor_div(lit(2)), Arc::clone(&x)));
        assert_eq!(
            out,
            [
                Some(3.0),
                Some(-4.0),
                Some(0.0),
                Some(-1.0),
                Some(0.0),
                None
            ]
        );
        let out = f64s(&run(col("x").floor_div(lit(0.0)), x));
        assert_eq!(
            out[..4],
            [
                Some(f64::INFINITY),
                Some(f64::NEG_INFINITY),
                Some(f64::INFINITY),
                Some(f64::NEG_INFINITY)
            ]
        );
        assert!(out[4].unwrap().is_nan());
        let f: ArrayRef = Arc::new(Float32Array::from(vec![-0.5_f32]));
        let out = run(col("x").floor_div(col("x")), f);
        assert_eq!(out.as_primitive::<Float32Type>().value(0), 1.0);
        // 12.34 // 0.5 = 24, -12.34 // 0.5 = -25: exactly, as Decimal128(6, 0).
        let d = decimals(vec![Some(1234), Some(-1234), None, Some(99_99)], 6, 2);
        let out = run(col("x").floor_div(lit(0.5)), Arc::clone(&d));
        assert_eq!(out.data_type(), &DataType::Decimal128(6, 0));
        assert_eq!(i128s(&out), [Some(24), Some(-25), None, Some(199)]);
        let out = run(col("x").floor_div(lit(3)), Arc::clone(&d));
        assert_eq!(i128s(&out), [Some(4), Some(-5), None, Some(33)]);
        let err = eval_expr(&col("x").floor_div(lit(0)), &batch(d)).unwrap_err();
        assert!(err.to_string().contains("Divide by zero"), "{err}");
    }

    #[test]
    fn clip_keeps_values_between_bounds_a_null_bound_clipping_nothing() {
        let x = ints(vec![Some(-50), Some(5), Some(50), None]);
        assert_eq!(
            i64s(&run(col("x").clip(lit(1), lit(10)), Arc::clone(&x))),
            [Some(1), Some(5), Some(10), None]
        );
        assert_eq!(
            i64s(&run(
                col("x").clip(null(&DataType::Null), lit(10)),
                Arc::clone(&x)
            )),
            [Some(-50), Some(5), Some(10), None]
        );
        assert_eq!(
            i64s(&run(
                col("x").clip(lit(1), null(&DataType::Int64)),
                Arc::clone(&x)
            )),
            [Some(1), Some(5), Some(50), None]
        );
        // Bounds from columns, nulls in them clip nothing; lo > hi gives hi.
        let b = arrow::array::RecordBatch::try_from_iter([
            ("x", x),
            (
                "lo",
                Arc::new(arrow::array::Int64Array::from(vec![
                    Some(0),
                    None,
                    Some(60),
                    Some(0),
                ])) as ArrayRef,
            ),
            (
                "hi",
                Arc::new(arrow::array::Int64Array::from(vec![
                    Some(-60),
                    Some(4),
                    None,
                    Some(0),
                ])) as ArrayRef,
            ),
        ])
        .unwrap();
        let out = eval_expr(&col("x").clip(col("lo"), col("hi")), &b).unwrap();
        assert_eq!(i64s(&out), [Some(-60), Some(4), Some(60), None]);
        // A float bound makes the result a float.
        let out = run(
            col("x").clip(lit(0.5), lit(9.5)),
            ints(vec![Some(0), Some(3), Some(20)]),
        );
        assert_eq!(f64s(&out), [Some(0.5), Some(3.0), Some(9.5)]);
        // Narrow types keep their type; literals of another width adapt.
        let small: ArrayRef = Arc::new(Int32Array::from(vec![Some(i32::MIN), Some(i32::MAX)]));
        let out = run(col("x").clip(lit(-1), lit(1)), small);
        let got: Vec<_> = out.as_primitive::<Int32Type>().iter().collect();
        assert_eq!(got, [Some(-1), Some(1)]);
        // Decimals, exactly: 0.05 is five hundredths.
        let d = decimals(vec![Some(1), Some(7), Some(-9)], 4, 2);
        let out = run(col("x").clip(lit(0.05), lit(0.06)), d);
        assert_eq!(i128s(&out), [Some(5), Some(6), Some(5)]);
    }

    #[test]
    fn clip_compares_floats_as_ieee_754() {
        let x = floats(vec![
            Some(f64::NAN),
            Some(-0.0),
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
            Some(2.0),
        ]);
        let out = f64s(&run(col("x").clip(lit(0.0), lit(1.0)), Arc::clone(&x)));
        assert!(out[0].unwrap().is_nan());
        assert_eq!(out[1].unwrap().to_bits(), (-0.0_f64).to_bits());
        assert_eq!(out[2..], [Some(1.0), Some(0.0), Some(1.0)]);
        let out = f64s(&run(col("x").clip(lit(f64::NAN), lit(1.0)), x));
        assert_eq!(out[2..], [Some(1.0), Some(f64::NEG_INFINITY), Some(1.0)]);
    }
}
