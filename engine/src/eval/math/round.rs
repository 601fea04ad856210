//! Rounding kernels of the math family: `round` (half away from zero, to any number of
//! digits, negative ones too), `floor` and `ceil`, over integers, floats and decimals. A
//! decimal is rounded exactly on its unscaled `i128` into the planner's result type (its
//! precision, a lower scale); an integer or decimal that then does not fit is an error.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, downcast_integer_array};
use arrow::compute::try_unary;
use arrow::datatypes::{DataType, Decimal128Type, DecimalType};
use arrow::error::ArrowError;

use super::{float_map, same_type, unsupported};

/// How `round`, `floor` and `ceil` settle what they drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Rounding {
    HalfAwayFromZero,
    Floor,
    Ceil,
}

/// `round(x, digits)`, `floor(x)` (`digits` 0, [`Rounding::Floor`]) and `ceil(x)`, giving
/// `out`.
pub(super) fn round(
    x: &ArrayRef,
    out: &DataType,
    digits: i32,
    how: Rounding,
) -> Result<ArrayRef, ArrowError> {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, AsArray, Decimal64Array, Int8Array};
    use arrow::datatypes::{DataType, Int8Type, Int64Type};
    use spillway_planner::expr::col;

    use super::super::tests::{batch, decimals, f64s, floats, i128s, ints, run};
    use crate::eval::evaluate as eval_expr;

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
}
