//! Single values: literals in expressions and the results of reductions.
//!
//! A [`ScalarValue`] is a one-element Arrow array, so every Arrow type is a scalar type
//! without a parallel enum to keep in sync, and Arrow's kernels (cast, compare, min, max)
//! work on scalars as they do on columns.
//!
//! Dates, timestamps and decimals have constructors of their own ([`date`] or a
//! `chrono::NaiveDate`, [`ScalarValue::date32`], [`ScalarValue::timestamp`],
//! [`ScalarValue::decimal128`]), as no Rust type stands for most of them; a float literal compared
//! with a decimal column becomes the decimal its shortest text is
//! ([`ScalarValue::exact_decimal_type`]), so `0.05` means exactly five hundredths.

use std::fmt;
use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Decimal128Array, Scalar, StringArray,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray, new_null_array,
};
use arrow::datatypes::{
    DECIMAL128_MAX_PRECISION, DataType, Float16Type, Float32Type, Float64Type, TimeUnit,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::element::Element;
use crate::{Error, Result};

/// One value of any Arrow type, possibly null.
#[derive(Clone)]
pub struct ScalarValue(ArrayRef);

impl ScalarValue {
    /// Wraps a one-element array. Returns an internal error for any other length.
    pub fn try_from_array(array: ArrayRef) -> Result<Self> {
        if array.len() != 1 {
            return Err(Error::Internal(format!(
                "a scalar needs a one-element array, got {} elements",
                array.len()
            )));
        }
        Ok(ScalarValue(array))
    }

    /// The value at `index` of `array`.
    pub fn from_array_index(array: &dyn Array, index: usize) -> Self {
        ScalarValue(array.slice(index, 1))
    }

    /// A null of type `data_type`.
    pub fn null(data_type: &DataType) -> Self {
        ScalarValue(new_null_array(data_type, 1))
    }

    /// A value of a Rust type that maps to Arrow ([`Element`]).
    pub fn new<T: Element>(value: T) -> Self {
        ScalarValue(T::build(std::iter::once(Some(value))))
    }

    /// A `Date32`: `days` since 1970-01-01.
    ///
    /// ```
    /// use spillway_planner::scalar::ScalarValue;
    /// assert_eq!(ScalarValue::date32(0).to_string(), "1970-01-01");
    /// ```
    pub fn date32(days: i32) -> Self {
        ScalarValue(Arc::new(Date32Array::from(vec![days])))
    }

    /// A `Timestamp(unit, tz)`: `value` units since 1970-01-01 00:00:00 UTC, in time zone
    /// `tz` (an IANA name such as `"Europe/Paris"`, or an offset such as `"+02:00"`), or a
    /// wall-clock time without one when `tz` is `None`. (A string literal compared with a
    /// timestamp column is read as that column's type, in its time zone.)
    ///
    /// ```
    /// use arrow::datatypes::TimeUnit;
    /// use spillway_planner::scalar::ScalarValue;
    /// let noon = ScalarValue::timestamp(43_200, TimeUnit::Second, Some("Europe/Paris"))?;
    /// assert_eq!(noon.to_string(), "1970-01-01T13:00:00+01:00");
    /// assert!(ScalarValue::timestamp(0, TimeUnit::Second, Some("Mars/Olympus")).is_err());
    /// # Ok::<(), spillway_planner::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Plan`] for a time zone Arrow does not know.
    pub fn timestamp(value: i64, unit: TimeUnit, tz: Option<&str>) -> Result<Self> {
        if let Some(zone) = tz {
            zone.parse::<Tz>()
                .map_err(|e| Error::Plan(format!("a timestamp literal's time zone: {e}")))?;
        }
        let tz: Option<Arc<str>> = tz.map(Into::into);
        let array: ArrayRef = match unit {
            TimeUnit::Second => {
                Arc::new(TimestampSecondArray::from(vec![value]).with_timezone_opt(tz))
            }
            TimeUnit::Millisecond => {
                Arc::new(TimestampMillisecondArray::from(vec![value]).with_timezone_opt(tz))
            }
            TimeUnit::Microsecond => {
                Arc::new(TimestampMicrosecondArray::from(vec![value]).with_timezone_opt(tz))
            }
            TimeUnit::Nanosecond => {
                Arc::new(TimestampNanosecondArray::from(vec![value]).with_timezone_opt(tz))
            }
        };
        Ok(ScalarValue(array))
    }

    /// A `Decimal128(precision, scale)` whose value is `unscaled × 10^-scale`:
    /// `decimal128(5, 3, 2)` is 0.05.
    ///
    /// ```
    /// use spillway_planner::scalar::ScalarValue;
    /// let five_hundredths = ScalarValue::decimal128(5, 3, 2)?;
    /// assert_eq!(five_hundredths.to_string(), "0.05");
    /// # Ok::<(), spillway_planner::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Plan`] when the precision is not 1 to 38, the scale is over the precision,
    /// or the value has more digits than the precision.
    pub fn decimal128(unscaled: i128, precision: u8, scale: i8) -> Result<Self> {
        let array = Decimal128Array::from(vec![unscaled])
            .with_precision_and_scale(precision, scale)
            .and_then(|a| a.validate_decimal_precision(precision).map(|()| a))
            .map_err(|e| {
                Error::Plan(format!(
                    "{unscaled} is not a Decimal128({precision}, {scale}) value: {e}"
                ))
            })?;
        Ok(ScalarValue(Arc::new(array)))
    }

    /// The narrowest `Decimal128` that holds this number exactly: an integer's digits at
    /// scale 0, a float's shortest decimal text (`0.05` → `Decimal128(2, 2)`), a decimal's
    /// own type. `None` for a null, a non-number, NaN, an infinity, or more than 38 digits.
    pub fn exact_decimal_type(&self) -> Option<DataType> {
        if self.is_null() {
            return None;
        }
        match self.data_type() {
            DataType::Decimal32(p, s) | DataType::Decimal64(p, s) | DataType::Decimal128(p, s) => {
                Some(DataType::Decimal128(*p, *s))
            }
            DataType::Decimal256(p, s) if *p <= DECIMAL128_MAX_PRECISION => {
                Some(DataType::Decimal128(*p, *s))
            }
            t if t.is_integer() || t.is_floating() => {
                let text = self.decimal_text()?;
                let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
                let int_digits = int.trim_start_matches(['-', '0']).len();
                let scale = frac.len();
                let precision = (int_digits + scale).max(1);
                (precision <= usize::from(DECIMAL128_MAX_PRECISION))
                    .then_some(DataType::Decimal128(precision as u8, scale as i8))
            }
            _ => None,
        }
    }

    /// A number's shortest exact decimal text (Rust prints floats without exponents, in the
    /// fewest digits that read back as the same value); `None` for NaN and infinities.
    fn decimal_text(&self) -> Option<String> {
        let a = self.as_array();
        Some(match self.data_type() {
            DataType::Float64 => {
                let v = a.as_primitive::<Float64Type>().value(0);
                v.is_finite().then(|| v.to_string())?
            }
            DataType::Float32 => {
                let v = a.as_primitive::<Float32Type>().value(0);
                v.is_finite().then(|| v.to_string())?
            }
            DataType::Float16 => {
                let v = a.as_primitive::<Float16Type>().value(0).to_f32();
                v.is_finite().then(|| v.to_string())?
            }
            _ => self.to_string(),
        })
    }

    /// The Arrow type of the value.
    pub fn data_type(&self) -> &DataType {
        self.0.data_type()
    }

    /// Whether the value is null (a `DataType::Null` scalar always is, though its array has
    /// no validity bits to say so).
    pub fn is_null(&self) -> bool {
        self.0.logical_null_count() > 0
    }

    /// The value as a one-element array.
    pub fn as_array(&self) -> &ArrayRef {
        &self.0
    }

    /// The value as an Arrow [`Datum`](arrow::array::Datum) for kernels that broadcast a scalar over a column.
    pub fn to_datum(&self) -> Scalar<ArrayRef> {
        Scalar::new(Arc::clone(&self.0))
    }

    /// The value converted to type `to` with Arrow's cast rules (errors instead of nulls).
    pub fn cast_to(&self, to: &DataType) -> Result<Self> {
        if self.data_type() == to {
            return Ok(self.clone());
        }
        let opts = arrow::compute::CastOptions {
            safe: false,
            ..Default::default()
        };
        // A float into a decimal wide enough for its shortest text: parse that text, so
        // 0.05 becomes exactly 5 hundredths whatever the binary float's rounding.
        if let (Some(DataType::Decimal128(_, s)), DataType::Decimal128(_, to_s)) =
            (self.exact_decimal_type(), to)
            && self.data_type().is_floating()
            && s <= *to_s
            && let Some(text) = self.decimal_text()
        {
            let text: ArrayRef = Arc::new(StringArray::from(vec![text]));
            return arrow::compute::cast_with_options(&text, to, &opts)
                .map(ScalarValue)
                .map_err(|e| Error::compute(format!("cast of {self} to {to}"), e));
        }
        arrow::compute::cast_with_options(&self.0, to, &opts)
            .map(ScalarValue)
            .map_err(|e| Error::compute(format!("cast of {self} to {to}"), e))
    }

    /// Converts to a Rust value. A null becomes an error unless `T` is an `Option`, except
    /// that a null floating-point result becomes `NaN`, as in pandas.
    ///
    /// # Errors
    /// [`Error::Conversion`] when the value does not fit `T`.
    pub fn to_value<T: FromScalar>(&self) -> Result<T> {
        T::from_scalar(self)
    }
}

impl<T: Element> From<T> for ScalarValue {
    fn from(value: T) -> Self {
        ScalarValue::new(value)
    }
}

/// `None` is a null of `T`'s type: `is_in([Some(1), None])`.
impl<T: Element> From<Option<T>> for ScalarValue {
    fn from(value: Option<T>) -> Self {
        ScalarValue(T::build(std::iter::once(value)))
    }
}

impl fmt::Display for ScalarValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opts = FormatOptions::default().with_null("null");
        match ArrayFormatter::try_new(self.0.as_ref(), &opts) {
            Ok(fmt) => {
                let quote = matches!(
                    self.data_type(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) && !self.is_null();
                if quote {
                    write!(f, "'{}'", fmt.value(0))
                } else {
                    write!(f, "{}", fmt.value(0))
                }
            }
            Err(_) => write!(f, "<{}>", self.data_type()),
        }
    }
}

impl fmt::Debug for ScalarValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}::{}", self.data_type())
    }
}

impl PartialEq for ScalarValue {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_data() == other.0.to_data()
    }
}

/// A `Date32` literal for a calendar date (proleptic Gregorian), to compare with date
/// columns: `col("l_shipdate").lt_eq(lit(date(1998, 9, 2)?))`.
///
/// ```
/// use spillway_planner::scalar::date;
/// assert_eq!(date(1998, 9, 2)?.to_string(), "1998-09-02");
/// assert!(date(1998, 2, 29).is_err());
/// # Ok::<(), spillway_planner::Error>(())
/// ```
///
/// # Errors
/// [`Error::Plan`] when there is no such day (month 13, February 30, ...) or it is too far
/// from 1970 for a `Date32`.
pub fn date(year: i32, month: u32, day: u32) -> Result<ScalarValue> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if day == 0 || day > month_days {
        return Err(Error::Plan(format!(
            "{year:04}-{month:02}-{day:02} is not a date"
        )));
    }
    i32::try_from(days_from_civil(year, month, day))
        .map(ScalarValue::date32)
        .map_err(|_| {
            Error::Plan(format!(
                "{year:04}-{month:02}-{day:02} is out of Date32's range"
            ))
        })
}

/// Days from 1970-01-01 to a valid date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Rust types a [`ScalarValue`] converts to, for `compute()` on a reduction.
pub trait FromScalar: Sized {
    /// The conversion.
    ///
    /// # Errors
    /// [`Error::Conversion`] when the value does not fit.
    fn from_scalar(value: &ScalarValue) -> Result<Self>;
}

impl FromScalar for ScalarValue {
    fn from_scalar(value: &ScalarValue) -> Result<Self> {
        Ok(value.clone())
    }
}

impl<T: Element> FromScalar for Option<T> {
    fn from_scalar(value: &ScalarValue) -> Result<Self> {
        if value.is_null() {
            return Ok(None);
        }
        check_no_fraction_lost(value, &T::data_type(), std::any::type_name::<T>())?;
        let cast = value
            .cast_to(&T::data_type())
            .map_err(|_| Error::Conversion {
                value: format!("{value:?}"),
                target: std::any::type_name::<T>(),
            })?;
        Ok(T::values(cast.as_array())?.next().flatten())
    }
}

/// A conversion to an integer type of a value with a fraction (a float, or a decimal with
/// digits after the point) would truncate it silently: that is a [`Error::Conversion`]
/// (`mean().compute::<i64>()` of 5.9988 is an error, not 5). Round first, or ask for a
/// float.
fn check_no_fraction_lost(value: &ScalarValue, to: &DataType, target: &'static str) -> Result<()> {
    if !to.is_integer() {
        return Ok(());
    }
    let array = value.as_array();
    let whole = match value.data_type() {
        DataType::Float64 => array.as_primitive::<Float64Type>().value(0).fract() == 0.0,
        DataType::Float32 => array.as_primitive::<Float32Type>().value(0).fract() == 0.0,
        DataType::Float16 => f64::from(array.as_primitive::<Float16Type>().value(0)).fract() == 0.0,
        DataType::Decimal128(_, scale) if *scale > 0 => {
            let unscaled = array
                .as_primitive::<arrow::datatypes::Decimal128Type>()
                .value(0);
            10_i128
                .checked_pow(u32::from(scale.unsigned_abs()))
                .is_none_or(|unit| unscaled % unit == 0)
        }
        _ => true,
    };
    if whole {
        Ok(())
    } else {
        Err(Error::Conversion {
            value: format!("{value:?}"),
            target,
        })
    }
}

macro_rules! from_scalar_non_null {
    ($($t:ty => $null:expr),* $(,)?) => {$(
        impl FromScalar for $t {
            fn from_scalar(value: &ScalarValue) -> Result<Self> {
                match Option::<$t>::from_scalar(value)? {
                    Some(v) => Ok(v),
                    None => $null.ok_or_else(|| Error::Conversion {
                        value: format!("{value:?}"),
                        target: concat!(stringify!($t), " (the result is null: ask for Option<", stringify!($t), ">)"),
                    }),
                }
            }
        }
    )*};
}

from_scalar_non_null!(
    f64 => Some(f64::NAN),
    f32 => Some(f32::NAN),
    i8 => None::<i8>, i16 => None::<i16>, i32 => None::<i32>, i64 => None::<i64>,
    u8 => None::<u8>, u16 => None::<u16>, u32 => None::<u32>, u64 => None::<u64>,
    bool => None::<bool>, String => None::<String>,
    chrono::NaiveDate => None::<chrono::NaiveDate>,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_convert() {
        let s = ScalarValue::from(3i64);
        assert_eq!(s.to_string(), "3");
        assert_eq!(s.to_value::<i64>().unwrap(), 3);
        assert_eq!(s.to_value::<f64>().unwrap(), 3.0);
        assert_eq!(ScalarValue::from("a".to_string()).to_string(), "'a'");
        assert!(ScalarValue::null(&DataType::Null).is_null());
        assert!(!ScalarValue::from(0).is_null());
        let n = ScalarValue::null(&DataType::Float64);
        assert!(n.to_value::<f64>().unwrap().is_nan());
        assert_eq!(n.to_value::<Option<f64>>().unwrap(), None);
        assert!(matches!(
            ScalarValue::null(&DataType::Int64).to_value::<i64>(),
            Err(Error::Conversion { .. })
        ));
    }

    #[test]
    fn dates_agree_with_arrows_parser() {
        let parse = |s: &str| {
            let a: ArrayRef = Arc::new(StringArray::from(vec![s]));
            arrow::compute::cast(&a, &DataType::Date32).unwrap()
        };
        for (y, m, d) in [
            (1970, 1, 1),
            (1969, 12, 31),
            (1992, 2, 29),
            (1998, 9, 2),
            (2000, 2, 29),
            (2024, 12, 31),
            (1, 1, 1),
            (9999, 12, 31),
        ] {
            let ours = date(y, m, d).unwrap();
            let theirs = parse(&format!("{y:04}-{m:02}-{d:02}"));
            assert_eq!(ours.as_array(), &theirs, "{y}-{m}-{d}");
        }
        for (y, m, d) in [
            (1900, 2, 29),
            (2023, 2, 29),
            (2024, 4, 31),
            (2024, 13, 1),
            (2024, 0, 1),
            (2024, 1, 0),
        ] {
            assert!(matches!(date(y, m, d), Err(Error::Plan(_))), "{y}-{m}-{d}");
        }
        assert!(date(i32::MAX, 1, 1).is_err());
    }

    #[test]
    fn numbers_know_their_exact_decimal() {
        let d = |p, s| Some(DataType::Decimal128(p, s));
        assert_eq!(ScalarValue::from(0.05).exact_decimal_type(), d(2, 2));
        assert_eq!(ScalarValue::from(-12.5f32).exact_decimal_type(), d(3, 1));
        assert_eq!(ScalarValue::from(24).exact_decimal_type(), d(2, 0));
        assert_eq!(ScalarValue::from(0i64).exact_decimal_type(), d(1, 0));
        assert_eq!(ScalarValue::from(i64::MIN).exact_decimal_type(), d(19, 0));
        assert_eq!(ScalarValue::from(1e40).exact_decimal_type(), None);
        assert_eq!(ScalarValue::from(f64::NAN).exact_decimal_type(), None);
        assert_eq!(
            ScalarValue::null(&DataType::Float64).exact_decimal_type(),
            None
        );
        // The float's shortest text, not its binary expansion, becomes the decimal.
        let v = ScalarValue::from(0.07)
            .cast_to(&DataType::Decimal128(15, 4))
            .unwrap();
        assert_eq!(v, ScalarValue::decimal128(700, 15, 4).unwrap());
        let v = ScalarValue::from(0.1 + 0.2)
            .cast_to(&DataType::Decimal128(20, 17))
            .unwrap();
        assert_eq!(
            v,
            ScalarValue::decimal128(30_000_000_000_000_004, 20, 17).unwrap()
        );
        assert!(ScalarValue::decimal128(1000, 3, 0).is_err());
        assert!(ScalarValue::decimal128(1, 39, 0).is_err());
    }
}
