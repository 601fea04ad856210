//! Exact decimal sums and means: unscaled `i128` values at the input's scale.
//!
//! A `Decimal128(p, s)` value is an `i128` counting units of `10^-s`, so values of one
//! scale add as integers, exactly. Sums are checked: the result type is
//! `Decimal128(38, s)`, and a sum past 38 digits (or past `i128`) is an error, never a
//! wrapped or rounded value. A mean divides the exact sum by the count once, in `Float64`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array};
use arrow::compute::cast;
use arrow::datatypes::{DECIMAL128_MAX_PRECISION, DataType, Decimal128Type};
use arrow::error::ArrowError;
use spillway_planner::{Error, Result};

/// The values of a decimal column as unscaled `i128` at `scale` (its own, for a
/// `Decimal128` of that scale; others are cast, which is exact for the planned types).
pub(crate) fn decimal_values(
    array: &dyn Array,
    scale: i8,
    context: &str,
) -> Result<Decimal128Array> {
    if matches!(array.data_type(), DataType::Decimal128(_, s) if *s == scale) {
        return Ok(array.as_primitive::<Decimal128Type>().clone());
    }
    let to = DataType::Decimal128(DECIMAL128_MAX_PRECISION, scale);
    let a = cast(array, &to).map_err(|e| Error::compute(context, e))?;
    Ok(a.as_primitive::<Decimal128Type>().clone())
}

fn overflow(context: &str) -> Error {
    Error::compute(
        context,
        ArrowError::ArithmeticOverflow(format!(
            "a sum of decimals passes {DECIMAL128_MAX_PRECISION} digits"
        )),
    )
}

/// `a + b`, or an error naming `context` when it overflows `i128`.
pub(crate) fn add(a: i128, b: i128, context: &str) -> Result<i128> {
    a.checked_add(b).ok_or_else(|| overflow(context))
}

/// The sum of the non-null values of `values`.
pub(crate) fn sum(values: &Decimal128Array, context: &str) -> Result<i128> {
    let (mut total, mut overflowed) = (0i128, false);
    let mut add = |x: i128| {
        let (t, o) = total.overflowing_add(x);
        total = t;
        overflowed |= o;
    };
    match values.nulls() {
        None => values.values().iter().for_each(|&x| add(x)),
        Some(valid) => values
            .values()
            .iter()
            .zip(valid.iter())
            .for_each(|(&x, ok)| {
                if ok {
                    add(x);
                }
            }),
    }
    if overflowed {
        return Err(overflow(context));
    }
    Ok(total)
}

/// Adds row `i` of `values` into `sums[groups[i]]`, skipping nulls, and counts it into
/// `counts[groups[i]]` when counts are kept. Overflow is checked once per batch.
pub(crate) fn add_grouped(
    sums: &mut [i128],
    mut counts: Option<&mut [u64]>,
    values: &Decimal128Array,
    groups: &[u32],
    context: &str,
) -> Result<()> {
    let mut overflowed = false;
    let mut add = |g: u32, x: i128| {
        let g = g as usize;
        let (sum, o) = sums[g].overflowing_add(x);
        sums[g] = sum;
        overflowed |= o;
        if let Some(c) = counts.as_deref_mut() {
            c[g] += 1;
        }
    };
    match values.nulls() {
        None => {
            for (&x, &g) in values.values().iter().zip(groups) {
                add(g, x);
            }
        }
        Some(valid) => {
            for ((&x, &g), ok) in values.values().iter().zip(groups).zip(valid.iter()) {
                if ok {
                    add(g, x);
                }
            }
        }
    }
    if overflowed {
        return Err(overflow(context));
    }
    Ok(())
}

/// Sums as a `Decimal128(38, scale)` column; an error for a sum past 38 digits.
pub(crate) fn sums_column(
    sums: impl IntoIterator<Item = i128>,
    scale: i8,
    context: &str,
) -> Result<ArrayRef> {
    let a = Decimal128Array::from_iter_values(sums)
        .with_precision_and_scale(DECIMAL128_MAX_PRECISION, scale)
        .map_err(|e| Error::compute(context, e))?;
    a.validate_decimal_precision(DECIMAL128_MAX_PRECISION)
        .map_err(|_| overflow(context))?;
    Ok(Arc::new(a))
}

/// The mean of `count` values whose unscaled sum at `scale` is `sum` (DuckDB's rounding:
/// one division of the sum by `count × 10^scale`).
pub(crate) fn mean(sum: i128, count: u64, scale: i8) -> f64 {
    sum as f64 / (count as f64 * 10f64.powi(i32::from(scale)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_exact_and_checked() {
        let a = Decimal128Array::from(vec![Some(5), None, Some(-7), Some(12)])
            .with_precision_and_scale(15, 2)
            .unwrap();
        assert_eq!(sum(&a, "sum").unwrap(), 10);
        let col = sums_column([10, -3], 2, "sum").unwrap();
        assert_eq!(col.data_type(), &DataType::Decimal128(38, 2));
        assert!(add(i128::MAX, 1, "sum").is_err());
        assert!(sums_column([10i128.pow(38)], 2, "sum").is_err());
        // A wider scale is reached by an exact cast.
        let wide = decimal_values(&a, 4, "sum").unwrap();
        assert_eq!(wide.value(0), 500);
        assert_eq!(mean(10, 4, 2), 0.025);
    }
}
