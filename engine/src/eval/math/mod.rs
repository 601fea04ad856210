//! Kernels of the math family, over Arrow arrays with Arrow's `unary`, `try_unary` and
//! `binary`: the functions of one argument here (`abs`, `sign`, `sqrt`, `cbrt`, `ln`,
//! `log10`, `exp`), rounding (`round`, `floor`, `ceil`) in `round.rs`, and the functions of
//! two or three (`pow`, `log`, `floor_div`, `clip`) in `binary.rs`.
//!
//! The result types, and the semantics (IEEE 754 for floats, errors for integer and decimal
//! overflow, rounding half away from zero), are stated once in the planner's
//! `spillway_planner::functions::math`; [`evaluate`] asks it for the result type and for the
//! type `clip` and `floor_div` compute in, so the kernels cannot disagree with the type
//! checker. Nulls propagate: a null in, a null out (but a null bound of `clip` clips
//! nothing). `Decimal32` and `Decimal64` are widened to `Decimal128` first, and a `Float16`
//! is computed as a `Float32`.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, PrimitiveArray, downcast_integer_array,
    new_null_array,
};
use arrow::compute::{cast, try_unary};
use arrow::datatypes::{
    ArrowNativeTypeOp, DataType, Decimal128Type, Float32Type, Float64Type, Int8Type,
};
use arrow::error::ArrowError;
use spillway_planner::expr::Expr;
use spillway_planner::functions::MathFunction;
use spillway_planner::{Error, Result};

use super::Value;

mod binary;
mod round;

/// `func(values)`, where `values` are the evaluated `args` of `expr`, over `rows` rows. All
/// scalar arguments give a scalar.
pub(super) fn evaluate(
    func: MathFunction,
    expr: &Expr,
    args: &[Expr],
    values: Vec<Value>,
    rows: usize,
) -> Result<Value> {
    let (types, out, scalar) = super::signature(func.into(), expr, args, &values)?;
    let len = if scalar { 1 } else { rows };
    // A null bound of clip clips nothing; for the rest a null argument gives nulls.
    let null = match func {
        MathFunction::Clip => types[0] == DataType::Null,
        _ => types.contains(&DataType::Null),
    };
    let array = if null {
        new_null_array(&out, len)
    } else {
        let ctx = |e: ArrowError| Error::compute(expr.to_string(), e);
        let operand = func
            .operand_type(args, &types)
            .map_err(|m| Error::type_error(expr, m))?;
        let mut values = values.into_iter();
        let mut next = || {
            values
                .next()
                .ok_or_else(|| Error::Internal(format!("{expr} has too few arguments")))
        };
        let x = next()?;
        match func {
            MathFunction::Pow => binary::float(&x.into_array(len)?, next()?, f64::powf),
            MathFunction::Log => binary::float(&x.into_array(len)?, next()?, binary::log),
            MathFunction::FloorDiv => {
                let x = x.cast(&operand, expr)?.into_array(len)?;
                binary::floor_div(&x, &next()?.cast(&operand, expr)?, &out)
            }
            MathFunction::Clip => {
                let x = x.cast(&operand, expr)?.into_array(len)?;
                let lo = next()?.cast(&operand, expr)?;
                binary::clip(&x, &lo, &next()?.cast(&operand, expr)?)
            }
            _ => one_argument(func, &x.into_array(len)?, &out),
        }
        .map_err(ctx)?
    };
    Ok(if scalar {
        Value::Scalar(array)
    } else {
        Value::Array(array)
    })
}

/// A function of one argument, giving `out` (the planner's result type).
fn one_argument(func: MathFunction, x: &ArrayRef, out: &DataType) -> Result<ArrayRef, ArrowError> {
    use round::Rounding::*;
    let x = &widen_decimal(x)?;
    match func {
        MathFunction::Abs => abs(x),
        MathFunction::Sign => sign(x),
        MathFunction::Round { digits } => round::round(x, out, digits, HalfAwayFromZero),
        MathFunction::Floor => round::round(x, out, 0, Floor),
        MathFunction::Ceil => round::round(x, out, 0, Ceil),
        MathFunction::Sqrt => to_f64(x, f64::sqrt),
        MathFunction::Cbrt => to_f64(x, f64::cbrt),
        MathFunction::Ln => to_f64(x, f64::ln),
        MathFunction::Log10 => to_f64(x, f64::log10),
        MathFunction::Exp => to_f64(x, f64::exp),
        MathFunction::Pow | MathFunction::Log | MathFunction::Clip | MathFunction::FloorDiv => Err(
            ArrowError::InvalidArgumentError(format!("{} takes more arguments", func.name())),
        ),
    }
}

/// `Decimal32` and `Decimal64` as `Decimal128` of the same precision and scale.
fn widen_decimal(x: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    match x.data_type() {
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => {
            cast(x, &DataType::Decimal128(*p, *s))
        }
        _ => Ok(Arc::clone(x)),
    }
}

pub(super) fn unsupported(func: &str, t: &DataType) -> ArrowError {
    ArrowError::InvalidArgumentError(format!("{func} does not take {t}"))
}

/// `f` over a float array in its own type (a `Float16` through `Float32`).
pub(super) fn float_map(
    x: &ArrayRef,
    on_f32: impl Fn(f32) -> f32,
    on_f64: impl Fn(f64) -> f64,
) -> Result<ArrayRef, ArrowError> {
    Ok(match x.data_type() {
        DataType::Float16 => {
            let wide = float_map(&cast(x, &DataType::Float32)?, on_f32, on_f64)?;
            cast(&wide, &DataType::Float16)?
        }
        DataType::Float32 => Arc::new(
            x.as_primitive::<Float32Type>()
                .unary::<_, Float32Type>(on_f32),
        ),
        DataType::Float64 => Arc::new(
            x.as_primitive::<Float64Type>()
                .unary::<_, Float64Type>(on_f64),
        ),
        t => return Err(unsupported("a float kernel", t)),
    })
}

/// `f` over `x` read as `Float64`.
fn to_f64(x: &ArrayRef, f: impl Fn(f64) -> f64) -> Result<ArrayRef, ArrowError> {
    let x = cast(x, &DataType::Float64)?;
    Ok(Arc::new(
        x.as_primitive::<Float64Type>().unary::<_, Float64Type>(f),
    ))
}

/// `f` over `x`, into `x`'s type, with Arrow's `try_unary` (nulls are not passed to `f`).
pub(super) fn same_type<T: ArrowPrimitiveType>(
    x: &PrimitiveArray<T>,
    f: impl Fn(T::Native) -> Result<T::Native, ArrowError>,
) -> Result<PrimitiveArray<T>, ArrowError> {
    try_unary::<T, _, T>(x, f)
}

/// `|v|`, an error where it does not fit its type `t` (`i64::MIN`).
fn abs_checked<N: ArrowNativeTypeOp>(v: N, t: &DataType) -> Result<N, ArrowError> {
    if !v.is_lt(N::ZERO) {
        return Ok(v);
    }
    v.neg_checked()
        .map_err(|_| ArrowError::ArithmeticOverflow(format!("abs({v:?}) does not fit {t}")))
}

fn abs(x: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let t = x.data_type();
    downcast_integer_array!(
        x => Ok(Arc::new(same_type(x, |v| abs_checked(v, t))?)),
        DataType::Decimal128(p, s) => {
            let d = x.as_primitive::<Decimal128Type>();
            let out = same_type(d, |v| abs_checked(v, t))?;
            Ok(Arc::new(out.with_precision_and_scale(*p, *s)?))
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            float_map(x, f32::abs, f64::abs)
        }
        t => Err(unsupported("abs", t)),
    )
}

/// −1, 0 or 1 (NaN and ±0.0 stay as they are).
fn sign(x: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    fn of<T: ArrowNativeTypeOp>(v: T) -> T {
        if v.is_lt(T::ZERO) {
            T::ONE.neg_wrapping()
        } else if v.is_zero() {
            T::ZERO
        } else {
            T::ONE
        }
    }
    downcast_integer_array!(
        x => Ok(Arc::new(same_type(x, |v| Ok(of(v)))?)),
        DataType::Decimal128(_, _) => {
            let d = x.as_primitive::<Decimal128Type>();
            Ok(Arc::new(d.unary::<_, Int8Type>(|v| v.signum() as i8)))
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => float_map(
            x,
            |v| if v > 0.0 { 1.0 } else if v < 0.0 { -1.0 } else { v },
            |v| if v > 0.0 { 1.0 } else if v < 0.0 { -1.0 } else { v },
        ),
        t => Err(unsupported("sign", t)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        Decimal128Array, Float32Array, Float64Array, Int8Array, Int32Array, Int64Array,
        RecordBatch, UInt8Array,
    };
    use arrow::datatypes::{Field, Int32Type, Int64Type, Schema};
    use spillway_planner::expr::{col, lit, null};

    use crate::eval::evaluate as eval_expr;

    /// A batch of one column `x`.
    pub(super) fn batch(x: ArrayRef) -> RecordBatch {
        let schema = Schema::new(vec![Field::new("x", x.data_type().clone(), true)]);
        RecordBatch::try_new(Arc::new(schema), vec![x]).unwrap()
    }

    pub(super) fn run(e: Expr, x: ArrayRef) -> ArrayRef {
        let b = batch(x);
        let out = eval_expr(&e, &b).unwrap_or_else(|err| panic!("{e}: {err}"));
        assert_eq!(
            out.data_type(),
            &e.data_type(b.schema_ref()).unwrap(),
            "{e}"
        );
        assert_eq!(out.len(), b.num_rows());
        out
    }

    pub(super) fn f64s(a: &ArrayRef) -> Vec<Option<f64>> {
        a.as_primitive::<Float64Type>().iter().collect()
    }

    pub(super) fn ints(v: Vec<Option<i64>>) -> ArrayRef {
        Arc::new(Int64Array::from(v))
    }

    pub(super) fn floats(v: Vec<Option<f64>>) -> ArrayRef {
        Arc::new(Float64Array::from(v))
    }

    pub(super) fn decimals(v: Vec<Option<i128>>, p: u8, s: i8) -> ArrayRef {
        Arc::new(
            Decimal128Array::from(v)
                .with_precision_and_scale(p, s)
                .unwrap(),
        )
    }

    pub(super) fn i128s(a: &ArrayRef) -> Vec<Option<i128>> {
        a.as_primitive::<Decimal128Type>().iter().collect()
    }

    #[test]
    fn integers_keep_their_type_and_nulls() {
        let x = ints(vec![Some(-3), None, Some(0), Some(7)]);
        let i = |a: &ArrayRef| a.as_primitive::<Int64Type>().iter().collect::<Vec<_>>();
        assert_eq!(
            i(&run(col("x").abs(), Arc::clone(&x))),
            [Some(3), None, Some(0), Some(7)]
        );
        assert_eq!(
            i(&run(col("x").sign(), Arc::clone(&x))),
            [Some(-1), None, Some(0), Some(1)]
        );
        for e in [col("x").round(2), col("x").floor(), col("x").ceil()] {
            assert_eq!(i(&run(e, Arc::clone(&x))), i(&x));
        }
        let small: ArrayRef = Arc::new(Int8Array::from(vec![Some(-128), Some(5), None]));
        let out = run(col("x").sign(), small);
        assert_eq!(out.data_type(), &DataType::Int8);
        let u: ArrayRef = Arc::new(UInt8Array::from(vec![0, 200]));
        let out = run(col("x").abs(), Arc::clone(&u));
        assert_eq!(
            out.as_primitive::<arrow::datatypes::UInt8Type>().values(),
            &[0, 200]
        );
        let out = run(col("x").sign(), u);
        assert_eq!(
            out.as_primitive::<arrow::datatypes::UInt8Type>().values(),
            &[0, 1]
        );
    }

    #[test]
    fn abs_of_the_smallest_integer_is_an_overflow_error() {
        for x in [
            ints(vec![Some(1), Some(i64::MIN)]),
            Arc::new(Int8Array::from(vec![i8::MIN])) as ArrayRef,
            Arc::new(Int32Array::from(vec![None, Some(i32::MIN)])),
        ] {
            let b = batch(x);
            let err = eval_expr(&col("x").abs(), &b).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, Error::Compute { .. }), "{text}");
            assert!(text.starts_with("compute error in abs(x)"), "{text}");
            assert!(text.contains("does not fit"), "{text}");
        }
        // A null in the place of the smallest value is no error.
        let b = batch(Arc::new(Int32Array::from(vec![None, Some(i32::MIN + 1)])));
        let out = eval_expr(&col("x").abs(), &b).unwrap();
        assert_eq!(out.as_primitive::<Int32Type>().value(1), i32::MAX);
    }

    #[test]
    fn floats_follow_ieee_754() {
        let x = floats(vec![
            Some(-1.0),
            Some(0.0),
            Some(4.0),
            None,
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
        ]);
        let sqrt = f64s(&run(col("x").sqrt(), Arc::clone(&x)));
        assert!(sqrt[0].unwrap().is_nan());
        assert_eq!(&sqrt[1..4], [Some(0.0), Some(2.0), None]);
        assert!(sqrt[4].unwrap().is_nan());
        assert_eq!(sqrt[5], Some(f64::INFINITY));
        assert!(sqrt[6].unwrap().is_nan());
        let ln = f64s(&run(col("x").ln(), Arc::clone(&x)));
        assert!(ln[0].unwrap().is_nan());
        assert_eq!(ln[1], Some(f64::NEG_INFINITY));
        assert_eq!(ln[2], Some(4.0_f64.ln()));
        assert_eq!(ln[5], Some(f64::INFINITY));
        let log10 = f64s(&run(col("x").log10(), Arc::clone(&x)));
        assert_eq!(log10[1], Some(f64::NEG_INFINITY));
        assert_eq!(log10[2], Some(4.0_f64.log10()));
        let exp = f64s(&run(col("x").exp(), Arc::clone(&x)));
        assert_eq!(
            &exp[..4],
            [Some((-1.0_f64).exp()), Some(1.0), Some(4.0_f64.exp()), None]
        );
        assert_eq!(exp[5..], [Some(f64::INFINITY), Some(0.0)]);
        let abs = f64s(&run(col("x").abs(), Arc::clone(&x)));
        assert_eq!(abs[6], Some(f64::INFINITY));
        assert!(abs[4].unwrap().is_nan());
        let sign = f64s(&run(col("x").sign(), Arc::clone(&x)));
        assert_eq!(&sign[..4], [Some(-1.0), Some(0.0), Some(1.0), None]);
        assert!(sign[4].unwrap().is_nan());
        for e in [col("x").floor(), col("x").ceil(), col("x").round(3)] {
            let out = f64s(&run(e, Arc::clone(&x)));
            assert_eq!(out[5..], [Some(f64::INFINITY), Some(f64::NEG_INFINITY)]);
            assert!(out[4].unwrap().is_nan());
        }
        let y = floats(vec![
            Some(2.5),
            Some(-2.5),
            Some(1.005),
            Some(-0.04),
            Some(1.5e308),
        ]);
        assert_eq!(
            f64s(&run(col("x").round(0), Arc::clone(&y))),
            [Some(3.0), Some(-3.0), Some(1.0), Some(-0.0), Some(1.5e308)]
        );
        assert_eq!(
            f64s(&run(col("x").round(1), Arc::clone(&y))),
            [Some(2.5), Some(-2.5), Some(1.0), Some(-0.0), Some(1.5e308)]
        );
        assert_eq!(f64s(&run(col("x").round(400), Arc::clone(&y))), f64s(&y));
        assert_eq!(
            f64s(&run(col("x").floor(), Arc::clone(&y))),
            [Some(2.0), Some(-3.0), Some(1.0), Some(-1.0), Some(1.5e308)]
        );
        assert_eq!(
            f64s(&run(col("x").ceil(), y)),
            [Some(3.0), Some(-2.0), Some(2.0), Some(-0.0), Some(1.5e308)]
        );
    }

    #[test]
    fn narrow_floats_keep_their_type() {
        let x: ArrayRef = Arc::new(Float32Array::from(vec![Some(-1.25), None, Some(2.75)]));
        let out = run(col("x").round(1), Arc::clone(&x));
        let got: Vec<_> = out.as_primitive::<Float32Type>().iter().collect();
        assert_eq!(got, [Some(-1.3), None, Some(2.8)]);
        let out = run(col("x").abs(), x);
        let got: Vec<_> = out.as_primitive::<Float32Type>().iter().collect();
        assert_eq!(got, [Some(1.25), None, Some(2.75)]);
        let wide: ArrayRef = Arc::new(Float32Array::from(vec![Some(-2.5), None]));
        let h = cast(&wide, &DataType::Float16).unwrap();
        let out = run(col("x").floor(), Arc::clone(&h));
        let back = cast(&out, &DataType::Float32).unwrap();
        let got: Vec<_> = back.as_primitive::<Float32Type>().iter().collect();
        assert_eq!(got, [Some(-3.0), None]);
        assert_eq!(f64s(&run(col("x").sqrt(), h))[1], None);
    }

    #[test]
    fn empty_arrays_scalars_and_null_literals() {
        let empty = ints(vec![]);
        for e in [
            col("x").abs(),
            col("x").round(-1),
            col("x").sqrt(),
            col("x").pow(col("x")),
            col("x").sign(),
        ] {
            assert_eq!(run(e, Arc::clone(&empty)).len(), 0);
        }
        let x = ints(vec![Some(1), None, Some(3)]);
        // Functions of literals stay scalars until the end, then broadcast.
        let out = f64s(&run(lit(16).sqrt().pow(lit(0.5)), Arc::clone(&x)));
        assert_eq!(out, [Some(2.0), Some(2.0), Some(2.0)]);
        let out = run(null(&DataType::Null).abs(), Arc::clone(&x));
        assert_eq!(out.data_type(), &DataType::Null);
        let out = run(null(&DataType::Float64).exp(), x);
        assert_eq!(out.null_count(), 3);
    }

    #[test]
    fn kernels_match_rust_on_many_values() {
        let values: Vec<Option<f64>> = (0..2000)
            .map(|i| (i % 7 != 0).then(|| (f64::from(i) - 1000.0) / 7.3))
            .collect();
        let x = floats(values.clone());
        let check = |e: Expr, f: fn(f64) -> f64| {
            let got = f64s(&run(e.clone(), Arc::clone(&x)));
            let want: Vec<Option<f64>> = values.iter().map(|v| v.map(f)).collect();
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    g == w || g.zip(*w).is_some_and(|(g, w)| g.is_nan() && w.is_nan()),
                    "{e}: {g:?} != {w:?}"
                );
            }
        };
        check(col("x").abs(), f64::abs);
        check(col("x").sqrt(), f64::sqrt);
        check(col("x").ln(), f64::ln);
        check(col("x").exp(), f64::exp);
        check(col("x").floor(), f64::floor);
        check(col("x").ceil(), f64::ceil);
        check(col("x").round(0), f64::round);
        check(col("x").pow(lit(3)), |v| v.powf(3.0));
    }
}
