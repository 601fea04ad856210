//! Kernels of the math family (`abs`, `sign`, `round`, `floor`, `ceil`, `sqrt`, `ln`,
//! `log10`, `exp`, `pow`), over Arrow arrays with Arrow's `unary`, `try_unary` and `binary`.
//!
//! The result types, and the semantics (IEEE 754 for floats, errors for integer and decimal
//! overflow, rounding half away from zero), are stated once in the planner's
//! `spillway_planner::functions::math`; [`evaluate`] asks it for the result type, so the
//! kernels cannot disagree with the type checker. Nulls propagate: a null in, a null out.
//! `Decimal32` and `Decimal64` are widened to `Decimal128` first, and a `Float16` is
//! computed as a `Float32`.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, PrimitiveArray, downcast_integer_array,
    new_null_array,
};
use arrow::compute::{binary, cast, try_unary};
use arrow::datatypes::{
    ArrowNativeTypeOp, DataType, Decimal128Type, DecimalType, Float32Type, Float64Type, Int8Type,
};
use arrow::error::ArrowError;
use spillway_planner::expr::Expr;
use spillway_planner::functions::MathFunction;
use spillway_planner::{Error, Result};

use super::Value;

/// `func(values)`, where `values` are the evaluated `args` of `expr`, over `rows` rows. All
/// scalar arguments give a scalar.
pub(super) fn evaluate(
    func: MathFunction,
    expr: &Expr,
    args: &[Expr],
    values: Vec<Value>,
    rows: usize,
) -> Result<Value> {
    let types: Vec<DataType> = values.iter().map(|v| v.data_type().clone()).collect();
    let out = func
        .return_type(args, &types)
        .map_err(|m| Error::type_error(expr, m))?;
    let scalar = values.iter().all(|v| matches!(v, Value::Scalar(_)));
    let len = if scalar { 1 } else { rows };
    let array = if types.contains(&DataType::Null) {
        new_null_array(&out, len)
    } else {
        let mut values = values.into_iter();
        let (Some(x), y) = (values.next(), values.next()) else {
            return Err(Error::Internal(format!("{expr} has no argument")));
        };
        let ctx = |e: ArrowError| Error::compute(expr.to_string(), e);
        match (func, y) {
            (MathFunction::Pow, Some(y)) => pow(&x.into_array(len)?, y).map_err(ctx)?,
            (_, None) => one_argument(func, &x.into_array(len)?, &out).map_err(ctx)?,
            (_, Some(_)) => return Err(Error::Internal(format!("{expr}: too many arguments"))),
        }
    };
    Ok(if scalar {
        Value::Scalar(array)
    } else {
        Value::Array(array)
    })
}

/// How `round`, `floor` and `ceil` settle what they drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rounding {
    HalfAwayFromZero,
    Floor,
    Ceil,
}

/// A function of one argument, giving `out` (the planner's result type).
fn one_argument(func: MathFunction, x: &ArrayRef, out: &DataType) -> Result<ArrayRef, ArrowError> {
    let x = &widen_decimal(x)?;
    match func {
        MathFunction::Abs => abs(x),
        MathFunction::Sign => sign(x),
        MathFunction::Round { digits } => round(x, out, digits, Rounding::HalfAwayFromZero),
        MathFunction::Floor => round(x, out, 0, Rounding::Floor),
        MathFunction::Ceil => round(x, out, 0, Rounding::Ceil),
        MathFunction::Sqrt => to_f64(x, f64::sqrt),
        MathFunction::Ln => to_f64(x, f64::ln),
        MathFunction::Log10 => to_f64(x, f64::log10),
        MathFunction::Exp => to_f64(x, f64::exp),
        MathFunction::Pow => Err(ArrowError::InvalidArgumentError(
            "pow takes two arguments".into(),
        )),
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

fn unsupported(func: &str, t: &DataType) -> ArrowError {
    ArrowError::InvalidArgumentError(format!("{func} does not take {t}"))
}

/// `f` over a float array in its own type (a `Float16` through `Float32`).
fn float_map(
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
fn same_type<T: ArrowPrimitiveType>(
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

/// `round(x, digits)`, `floor(x)` (`digits` 0, [`Rounding::Floor`]) and `ceil(x)`, giving
/// `out`.
fn round(x: &ArrayRef, out: &DataType, digits: i32, how: Rounding) -> Result<ArrayRef, ArrowError> {
    if x.data_type().is_integer() && digits >= 0 {
        // Integers have no decimals: floor, ceil and round to d >= 0 are the identity.
        return Ok(Arc::clone(x));
    }
    let drop = digits.unsigned_abs();
    downcast_integer_array!(
        x => Ok(Arc::new(same_type(x, |v| round_integer(v, drop))?)),
        DataType::Decimal128(_, _) => round_decimal(x, out, digits, how),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => match how {
            Rounding::Floor => float_map(x, f32::floor, f64::floor),
            Rounding::Ceil => float_map(x, f32::ceil, f64::ceil),
            Rounding::HalfAwayFromZero => float_map(
                x,
                |v| round_f64(f64::from(v), digits) as f32,
                |v| round_f64(v, digits),
            ),
        },
        t => Err(unsupported("round", t)),
    )
}

/// `v` rounded half away from zero to a multiple of `10^drop`, an error where that does not
/// fit `v`'s type.
fn round_integer<N>(v: N, drop: u32) -> Result<N, ArrowError>
where
    N: Into<i128> + TryFrom<i128> + Copy + std::fmt::Debug,
{
    let wide: i128 = v.into();
    let q = div_pow10(wide, drop, Rounding::HalfAwayFromZero);
    let rounded = if q == 0 {
        Some(0)
    } else {
        10_i128.checked_pow(drop).and_then(|f| q.checked_mul(f))
    };
    rounded.and_then(|r| N::try_from(r).ok()).ok_or_else(|| {
        ArrowError::ArithmeticOverflow(format!(
            "{v:?} rounded to a multiple of 10^{drop} does not fit its type"
        ))
    })
}

/// `v / 10^k`, rounded as `how` says.
fn div_pow10(v: i128, k: u32, how: Rounding) -> i128 {
    let Some(f) = 10_i128.checked_pow(k) else {
        // 10^k > 2 * i128::MAX: every |v| is under half of it.
        return match how {
            Rounding::HalfAwayFromZero => 0,
            Rounding::Floor => i128::from(v < 0).wrapping_neg(),
            Rounding::Ceil => i128::from(v > 0),
        };
    };
    let (q, r) = (v / f, v % f);
    match how {
        Rounding::HalfAwayFromZero if r.unsigned_abs() >= f.unsigned_abs() - r.unsigned_abs() => {
            q + v.signum()
        }
        Rounding::Floor if r < 0 => q - 1,
        Rounding::Ceil if r > 0 => q + 1,
        _ => q,
    }
}

/// A `Decimal128(p, s)` rounded to `digits` decimals, as `out` = `Decimal128(p, t)` (the
/// planner's `rounded_scale`): the identity when nothing is dropped, else an error for a
/// value that then needs more than `p` digits.
fn round_decimal(
    x: &ArrayRef,
    out: &DataType,
    digits: i32,
    how: Rounding,
) -> Result<ArrayRef, ArrowError> {
    let (&DataType::Decimal128(_, s), &DataType::Decimal128(p, t)) = (x.data_type(), out) else {
        return Err(unsupported("round to a decimal", out));
    };
    if s == t && digits >= i32::from(s) {
        return Ok(Arc::clone(x));
    }
    let to_u32 = |n: i32| u32::try_from(n).unwrap_or(u32::MAX);
    // Dropped: digits below 10^-digits; then back up to scale t (t >= digits).
    let (drop, up) = (to_u32(i32::from(s) - digits), to_u32(i32::from(t) - digits));
    let rounded = try_unary::<_, _, Decimal128Type>(x.as_primitive::<Decimal128Type>(), |v| {
        let q = div_pow10(v, drop, how);
        let r = if q == 0 {
            Some(0)
        } else {
            10_i128.checked_pow(up).and_then(|f| q.checked_mul(f))
        };
        r.filter(|r| Decimal128Type::is_valid_decimal_precision(*r, p))
            .ok_or_else(|| {
                ArrowError::ArithmeticOverflow(format!(
                    "{} rounded does not fit Decimal128({p}, {t})",
                    Decimal128Type::format_decimal(v, p, s)
                ))
            })
    })?;
    Ok(Arc::new(rounded.with_precision_and_scale(p, t)?))
}

/// `x` rounded half away from zero to `digits` decimals (DuckDB's way: through
/// `x * 10^digits`); NaN and ±∞ stay, and so does a value too large to have decimals.
fn round_f64(x: f64, digits: i32) -> f64 {
    if !x.is_finite() {
        return x;
    }
    if digits >= 0 {
        let m = 10_f64.powi(digits);
        let r = (x * m).round() / m;
        return if r.is_finite() { r } else { x };
    }
    let m = 10_f64.powi(digits.saturating_neg());
    if m.is_infinite() {
        return 0.0_f64.copysign(x);
    }
    (x / m).round() * m
}

/// `base ^ exponent` in `Float64`; a scalar exponent is not broadcast first.
fn pow(base: &ArrayRef, exponent: Value) -> Result<ArrayRef, ArrowError> {
    let base = cast(base, &DataType::Float64)?;
    let base = base.as_primitive::<Float64Type>();
    let out: PrimitiveArray<Float64Type> = match exponent {
        Value::Scalar(e) => {
            let e = cast(&e, &DataType::Float64)?;
            if e.is_null(0) {
                return Ok(new_null_array(&DataType::Float64, base.len()));
            }
            let e = e.as_primitive::<Float64Type>().value(0);
            base.unary(|b| b.powf(e))
        }
        Value::Array(e) => {
            let e = cast(&e, &DataType::Float64)?;
            binary(base, e.as_primitive::<Float64Type>(), f64::powf)?
        }
    };
    Ok(Arc::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        Decimal64Array, Decimal128Array, Float32Array, Float64Array, Int8Array, Int32Array,
        Int64Array, RecordBatch, UInt8Array,
    };
    use arrow::datatypes::{Field, Int32Type, Int64Type, Schema};
    use spillway_planner::expr::{col, lit, null};

    use crate::eval::evaluate as eval_expr;

    /// A batch of one column `x`.
    fn batch(x: ArrayRef) -> RecordBatch {
        let schema = Schema::new(vec![Field::new("x", x.data_type().clone(), true)]);
        RecordBatch::try_new(Arc::new(schema), vec![x]).unwrap()
    }

    fn run(e: Expr, x: ArrayRef) -> ArrayRef {
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

    fn f64s(a: &ArrayRef) -> Vec<Option<f64>> {
        a.as_primitive::<Float64Type>().iter().collect()
    }

    fn ints(v: Vec<Option<i64>>) -> ArrayRef {
        Arc::new(Int64Array::from(v))
    }

    fn floats(v: Vec<Option<f64>>) -> ArrayRef {
        Arc::new(Float64Array::from(v))
    }

    fn decimals(v: Vec<Option<i128>>, p: u8, s: i8) -> ArrayRef {
        Arc::new(
            Decimal128Array::from(v)
                .with_precision_and_scale(p, s)
                .unwrap(),
        )
    }

    fn i128s(a: &ArrayRef) -> Vec<Option<i128>> {
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
    fn round_with_negative_digits_rounds_half_away_from_zero() {
        let x = ints(vec![
            Some(1234),
            Some(-1250),
            Some(1250),
            Some(-4),
            None,
            Some(5),
        ]);
        let i = |a: &ArrayRef| a.as_primitive::<Int64Type>().iter().collect::<Vec<_>>();
        assert_eq!(
            i(&run(col("x").round(-2), Arc::clone(&x))),
            [Some(1200), Some(-1300), Some(1300), Some(0), None, Some(0)]
        );
        assert_eq!(
            i(&run(col("x").round(-1), Arc::clone(&x))),
            [Some(1230), Some(-1250), Some(1250), Some(0), None, Some(10)]
        );
        // Further than the type reaches: zero.
        assert_eq!(
            i(&run(col("x").round(-40), Arc::clone(&x))),
            [Some(0), Some(0), Some(0), Some(0), None, Some(0)]
        );
        assert_eq!(
            i(&run(col("x").round(i32::MIN), x)),
            [Some(0), Some(0), Some(0), Some(0), None, Some(0)]
        );
        // 125 rounds to 130, which is no Int8.
        let b = batch(Arc::new(Int8Array::from(vec![120, 125])));
        let err = eval_expr(&col("x").round(-1), &b).unwrap_err();
        assert!(err.to_string().contains("does not fit"), "{err}");
        let big = ints(vec![Some(i64::MAX)]);
        assert!(eval_expr(&col("x").round(-1), &batch(big)).is_err());
        // Floats.
        let f = floats(vec![
            Some(1234.5),
            Some(-1250.0),
            Some(-0.4),
            None,
            Some(f64::NAN),
        ]);
        let out = f64s(&run(col("x").round(-2), f));
        assert_eq!(&out[..4], [Some(1200.0), Some(-1300.0), Some(-0.0), None]);
        assert!(out[4].unwrap().is_nan());
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
    fn decimals_round_exactly_into_the_planned_type() {
        // 123.4550, -123.4550, 0.0049, -0.0050, null, 9999.9999 as Decimal128(8, 4).
        let x = decimals(
            vec![
                Some(1_234_550),
                Some(-1_234_550),
                Some(49),
                Some(-50),
                None,
                Some(99_999_999),
            ],
            8,
            4,
        );
        let out = run(col("x").round(2), Arc::clone(&x));
        assert_eq!(out.data_type(), &DataType::Decimal128(8, 2));
        assert_eq!(
            i128s(&out),
            [
                Some(12_346),
                Some(-12_346),
                Some(0),
                Some(-1),
                None,
                Some(1_000_000)
            ]
        );
        let out = run(col("x").floor(), Arc::clone(&x));
        assert_eq!(out.data_type(), &DataType::Decimal128(8, 0));
        assert_eq!(
            i128s(&out),
            [Some(123), Some(-124), Some(0), Some(-1), None, Some(9999)]
        );
        let out = run(col("x").ceil(), Arc::clone(&x));
        assert_eq!(
            i128s(&out),
            [Some(124), Some(-123), Some(1), Some(0), None, Some(10_000)]
        );
        let out = run(col("x").round(-2), Arc::clone(&x));
        assert_eq!(out.data_type(), &DataType::Decimal128(8, 0));
        assert_eq!(
            i128s(&out),
            [Some(100), Some(-100), Some(0), Some(0), None, Some(10_000)]
        );
        // Nothing to round: the same values and type.
        let out = run(col("x").round(6), Arc::clone(&x));
        assert_eq!(out.data_type(), &DataType::Decimal128(8, 4));
        assert_eq!(i128s(&out), i128s(&x));
        let out = run(col("x").abs(), Arc::clone(&x));
        assert_eq!(i128s(&out)[1], Some(1_234_550));
        let out = run(col("x").sign(), Arc::clone(&x));
        let signs: Vec<_> = out.as_primitive::<Int8Type>().iter().collect();
        assert_eq!(signs, [Some(1), Some(-1), Some(1), Some(-1), None, Some(1)]);
        let out = f64s(&run(col("x").sqrt(), x));
        assert!(
            (out[0].unwrap() - 123.455_f64.sqrt()).abs() < 1e-12,
            "{out:?}"
        );
        // 999 to tens is 1000, which has more digits than Decimal128(3, 0) holds.
        let b = batch(decimals(vec![Some(999)], 3, 0));
        let err = eval_expr(&col("x").round(-1), &b).unwrap_err();
        assert!(
            err.to_string()
                .contains("999 rounded does not fit Decimal128(3, 0)"),
            "{err}"
        );
        // Far past every digit: zero; floor and ceil of a negative scale are identities.
        let b = batch(decimals(vec![Some(-5), Some(5)], 3, -2));
        assert_eq!(
            i128s(&eval_expr(&col("x").round(-60), &b).unwrap()),
            [Some(0), Some(0)]
        );
        assert_eq!(
            i128s(&eval_expr(&col("x").floor(), &b).unwrap()),
            [Some(-5), Some(5)]
        );
        assert_eq!(
            i128s(&eval_expr(&col("x").round(-3), &b).unwrap()),
            [Some(-10), Some(10)]
        );
    }

    #[test]
    fn narrow_decimals_are_read_as_decimal128() {
        let x: ArrayRef = Arc::new(
            Decimal64Array::from(vec![Some(-1_55), None])
                .with_precision_and_scale(5, 2)
                .unwrap(),
        );
        let out = run(col("x").round(1), x);
        assert_eq!(out.data_type(), &DataType::Decimal128(5, 1));
        assert_eq!(i128s(&out), [Some(-16), None]);
    }

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
