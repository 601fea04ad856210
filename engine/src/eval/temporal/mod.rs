//! Kernels of the dates-and-times family (`year`, `weekday`, `hour`, `truncate`,
//! `add_months`, `days_between`, `to_date`, `strftime`, ...).
//!
//! The semantics and result types are stated once in the planner's
//! `spillway_planner::functions::temporal`; [`evaluate`] asks it for the result type.
//!
//! - Fields come from Arrow's `date_part`, which reads a timestamp in its time zone; a
//!   value chrono cannot represent (past ±262,000 years), which `date_part` would turn into
//!   a null, is an error instead.
//! - Everything else goes through a [`Clock`]: the values of a `Date32`, `Date64` or
//!   `Timestamp` column (widened to `i64`) read as wall-clock times (chrono's
//!   `NaiveDateTime`, in the column's time zone), computed on with chrono's calendar, and
//!   written back into the column's own type. Reading back a wall-clock time that does not
//!   exist in the zone is an error naming it; one that exists twice takes the input's
//!   offset when it can.
//! - Text (`to_date`, `to_datetime`, `strftime`) is in `text.rs`. A format is compiled
//!   once per batch (the planner has already checked it), never per row. Strings are read
//!   from `Utf8`, `LargeUtf8` and `Utf8View` as they are; a dictionary is first expanded to
//!   its value type.
//! - Nulls propagate: a null value, count or format gives a null.

use std::sync::Arc;

use arrow::array::temporal_conversions::{as_datetime, date64_to_datetime};
use arrow::array::timezone::Tz;
use arrow::array::{Array, ArrayRef, AsArray, Int64Array, PrimitiveArray, new_null_array};
use arrow::compute::kernels::numeric;
use arrow::compute::kernels::temporal::{DatePart as ArrowPart, date_part};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::*;
use arrow::error::ArrowError;
use chrono::offset::LocalResult;
use chrono::{
    Datelike, Days, FixedOffset, Months, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Timelike,
};
use spillway_planner::expr::Expr;
use spillway_planner::functions::strings::literal_string;
use spillway_planner::functions::{CalendarUnit, DatePart, TemporalFunction};
use spillway_planner::scalar::ScalarValue;
use spillway_planner::{Error, Result};

use super::Value;

mod text;

/// `func(values)`, where `values` are the evaluated `args` of `expr`, over `rows` rows. All
/// scalar arguments give a scalar.
pub(super) fn evaluate(
    func: TemporalFunction,
    expr: &Expr,
    args: &[Expr],
    values: Vec<Value>,
    rows: usize,
) -> Result<Value> {
    let (types, out, scalar) = super::signature(func.into(), expr, args, &values)?;
    let len = if scalar { 1 } else { rows };
    let array = if types.contains(&DataType::Null) {
        new_null_array(&out, len)
    } else {
        let mut values = values.into_iter();
        let (Some(x), y) = (values.next(), values.next()) else {
            return Err(Error::Internal(format!("{expr} has no argument")));
        };
        let x = x.into_array(len)?;
        let second = |y: Option<Value>| match y {
            Some(y) => y.into_array(len),
            None => Err(Error::Internal(format!("{expr} misses an argument"))),
        };
        let format = || match args.get(1).and_then(literal_string) {
            Some(f) => Ok(f),
            None => Err(Error::Internal(format!("{expr} has no literal format"))),
        };
        use TemporalFunction::*;
        let computed = match func {
            Part(part) => extract(&x, part),
            Truncate(unit) => map_local(&x, |_, t| {
                truncate(t, unit).map(Some).ok_or_else(out_of_range)
            }),
            AddDays | AddMonths | AddYears => add(func, &x, &second(y)?),
            DaysBetween => days_between(&x, &second(y)?),
            ToDate { strict } | ToDatetime { strict } => match format()? {
                Some(f) => text::parse(&x, &f, &out, strict),
                None => Ok(new_null_array(&out, len)),
            },
            Strftime => match format()? {
                Some(f) => text::strftime(&x, &f),
                None => Ok(new_null_array(&out, len)),
            },
        };
        computed.map_err(|e| Error::compute(expr.to_string(), e))?
    };
    Ok(if scalar {
        Value::Scalar(array)
    } else {
        Value::Array(array)
    })
}

fn out_of_range() -> String {
    "the result is out of range".into()
}

fn compute_error(message: String) -> ArrowError {
    ArrowError::ComputeError(message)
}

/// How the values of a date or timestamp array read as wall-clock times, and back.
enum Clock {
    Date32,
    Date64,
    Timestamp(TimeUnit, Option<Tz>),
}

impl Clock {
    fn of(t: &DataType) -> Result<Clock, ArrowError> {
        Ok(match t {
            DataType::Date32 => Clock::Date32,
            DataType::Date64 => Clock::Date64,
            DataType::Timestamp(unit, zone) => {
                let tz = zone.as_deref().map(str::parse::<Tz>).transpose()?;
                Clock::Timestamp(*unit, tz)
            }
            t => {
                return Err(ArrowError::InvalidArgumentError(format!(
                    "a date function got {t}"
                )));
            }
        })
    }

    /// The instant of value `v`, as a time in UTC; `None` past chrono's range.
    fn utc(&self, v: i64) -> Option<NaiveDateTime> {
        match self {
            Clock::Date32 => {
                let days = i32::try_from(v).ok()?;
                Date32Type::to_naive_date_opt(days).map(|d| d.and_time(NaiveTime::MIN))
            }
            Clock::Date64 => date64_to_datetime(v),
            Clock::Timestamp(TimeUnit::Second, _) => as_datetime::<TimestampSecondType>(v),
            Clock::Timestamp(TimeUnit::Millisecond, _) => {
                as_datetime::<TimestampMillisecondType>(v)
            }
            Clock::Timestamp(TimeUnit::Microsecond, _) => {
                as_datetime::<TimestampMicrosecondType>(v)
            }
            Clock::Timestamp(TimeUnit::Nanosecond, _) => as_datetime::<TimestampNanosecondType>(v),
        }
    }

    /// The wall-clock time of value `v` in the clock's zone, with the zone's offset then.
    fn local(&self, v: i64) -> Result<(NaiveDateTime, Option<FixedOffset>), String> {
        let utc = self
            .utc(v)
            .ok_or_else(|| format!("{v} is out of the range of dates chrono reads"))?;
        let Clock::Timestamp(_, Some(tz)) = self else {
            return Ok((utc, None));
        };
        let offset = tz.offset_from_utc_datetime(&utc).fix();
        let local = utc
            .checked_add_offset(offset)
            .ok_or_else(|| format!("{utc} is out of range in {tz}"))?;
        Ok((local, Some(offset)))
    }

    /// The value of wall-clock time `local`: in an overlap, the instant at offset `prefer`
    /// if there is one, else the earlier.
    fn value(&self, local: NaiveDateTime, prefer: Option<FixedOffset>) -> Result<i64, String> {
        let utc = match self {
            Clock::Timestamp(_, Some(tz)) => match tz.from_local_datetime(&local) {
                LocalResult::Single(t) => t.naive_utc(),
                LocalResult::Ambiguous(early, late) => {
                    let t = if Some(late.offset().fix()) == prefer {
                        late
                    } else {
                        early
                    };
                    t.naive_utc()
                }
                LocalResult::None => {
                    return Err(format!(
                        "{local} does not exist in time zone {tz} (its clocks skip it)"
                    ));
                }
            },
            _ => local,
        };
        let v = match self {
            Clock::Date32 => Some(i64::from(Date32Type::from_naive_date(utc.date()))),
            Clock::Date64 => Some(utc.and_utc().timestamp_millis()),
            Clock::Timestamp(unit, _) => ticks(*unit, utc),
        };
        v.ok_or_else(|| format!("{local} is out of the type's range"))
    }

    /// A wall-clock time as users see it: a date without its midnight.
    fn show(&self, local: NaiveDateTime) -> String {
        match self {
            Clock::Date32 | Clock::Date64 if local.time() == NaiveTime::MIN => {
                local.date().to_string()
            }
            _ => local.to_string(),
        }
    }
}

/// Time `utc` in `unit`s since 1970-01-01 00:00:00 UTC, `None` past `i64`.
fn ticks(unit: TimeUnit, utc: NaiveDateTime) -> Option<i64> {
    match unit {
        TimeUnit::Second => TimestampSecondType::from_naive_datetime(utc, None),
        TimeUnit::Millisecond => TimestampMillisecondType::from_naive_datetime(utc, None),
        TimeUnit::Microsecond => TimestampMicrosecondType::from_naive_datetime(utc, None),
        TimeUnit::Nanosecond => TimestampNanosecondType::from_naive_datetime(utc, None),
    }
}

/// The values of a date or timestamp array as `i64` (a `Date32` widened).
fn as_i64(a: &ArrayRef) -> Result<Int64Array, ArrowError> {
    Ok(match a.data_type() {
        DataType::Date32 => a.as_primitive::<Date32Type>().unary(i64::from),
        DataType::Date64 => a.as_primitive::<Date64Type>().reinterpret_cast(),
        DataType::Timestamp(TimeUnit::Second, _) => {
            a.as_primitive::<TimestampSecondType>().reinterpret_cast()
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => a
            .as_primitive::<TimestampMillisecondType>()
            .reinterpret_cast(),
        DataType::Timestamp(TimeUnit::Microsecond, _) => a
            .as_primitive::<TimestampMicrosecondType>()
            .reinterpret_cast(),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => a
            .as_primitive::<TimestampNanosecondType>()
            .reinterpret_cast(),
        t => {
            return Err(ArrowError::InvalidArgumentError(format!(
                "a date function got {t}"
            )));
        }
    })
}

/// `values` as an array of date or timestamp type `t` (time zone included).
fn from_i64(values: Int64Array, t: &DataType) -> Result<ArrayRef, ArrowError> {
    fn typed<T: ArrowPrimitiveType<Native = i64>>(v: &Int64Array, t: &DataType) -> ArrayRef {
        Arc::new(v.reinterpret_cast::<T>().with_data_type(t.clone()))
    }
    Ok(match t {
        DataType::Date32 => {
            let days: PrimitiveArray<Date32Type> = values.try_unary(|v| {
                i32::try_from(v).map_err(|_| compute_error(format!("day {v} is past Date32")))
            })?;
            Arc::new(days)
        }
        DataType::Date64 => typed::<Date64Type>(&values, t),
        DataType::Timestamp(TimeUnit::Second, _) => typed::<TimestampSecondType>(&values, t),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            typed::<TimestampMillisecondType>(&values, t)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            typed::<TimestampMicrosecondType>(&values, t)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            typed::<TimestampNanosecondType>(&values, t)
        }
        t => {
            return Err(ArrowError::InvalidArgumentError(format!(
                "a date function cannot give {t}"
            )));
        }
    })
}

/// `f(row, wall-clock time)` for each non-null value of `a`, written back into `a`'s type;
/// `f` gives `None` for a null, or a message the error names the value in.
fn map_local(
    a: &ArrayRef,
    mut f: impl FnMut(usize, NaiveDateTime) -> Result<Option<NaiveDateTime>, String>,
) -> Result<ArrayRef, ArrowError> {
    let clock = Clock::of(a.data_type())?;
    let mut one = |row: usize, v: i64| -> Result<Option<i64>, String> {
        let (local, offset) = clock.local(v)?;
        let show = || clock.show(local);
        match f(row, local).map_err(|e| format!("{}: {e}", show()))? {
            Some(t) => clock
                .value(t, offset)
                .map(Some)
                .map_err(|e| format!("{}: {e}", show())),
            None => Ok(None),
        }
    };
    let values = as_i64(a)?
        .iter()
        .enumerate()
        .map(|(row, v)| v.map_or(Ok(None), |v| one(row, v)))
        .collect::<Result<Int64Array, String>>()
        .map_err(compute_error)?;
    from_i64(values, a.data_type())
}

/// A field, with Arrow's `date_part`.
fn extract(x: &ArrayRef, part: DatePart) -> Result<ArrayRef, ArrowError> {
    let arrow_part = match part {
        DatePart::Year => ArrowPart::Year,
        DatePart::Quarter => ArrowPart::Quarter,
        DatePart::Month => ArrowPart::Month,
        DatePart::Day => ArrowPart::Day,
        DatePart::Weekday => ArrowPart::DayOfWeekMonday1,
        DatePart::OrdinalDay => ArrowPart::DayOfYear,
        DatePart::Hour => ArrowPart::Hour,
        DatePart::Minute => ArrowPart::Minute,
        DatePart::Second => ArrowPart::Second,
    };
    let out = date_part(x, arrow_part)?;
    // `date_part` gives a null for a value chrono cannot read: an error here.
    if out.null_count() != x.null_count()
        && let Some(row) = (0..x.len()).find(|&i| x.is_valid(i) && out.is_null(i))
    {
        let value = ScalarValue::from_array_index(x.as_ref(), row);
        return Err(compute_error(format!(
            "{value} is out of the range of dates chrono reads"
        )));
    }
    Ok(out)
}

/// The start of `unit` containing wall-clock time `t`.
fn truncate(t: NaiveDateTime, unit: CalendarUnit) -> Option<NaiveDateTime> {
    let d = t.date();
    let midnight = |d: Option<NaiveDate>| d.map(|d| d.and_time(NaiveTime::MIN));
    let start = match unit {
        CalendarUnit::Year => midnight(NaiveDate::from_ymd_opt(d.year(), 1, 1)),
        CalendarUnit::Quarter => {
            midnight(NaiveDate::from_ymd_opt(d.year(), d.month0() / 3 * 3 + 1, 1))
        }
        CalendarUnit::Month => midnight(d.with_day(1)),
        CalendarUnit::Week => {
            let back = Days::new(d.weekday().num_days_from_monday().into());
            midnight(d.checked_sub_days(back))
        }
        CalendarUnit::Day => midnight(Some(d)),
        CalendarUnit::Hour => t.with_second(0).and_then(|t| t.with_minute(0)),
        CalendarUnit::Minute => t.with_second(0),
        CalendarUnit::Second => Some(t),
    };
    start.and_then(|s| s.with_nanosecond(0))
}

/// `add_days`, `add_months`, `add_years` of `x` by the integers `n`, row by row.
fn add(func: TemporalFunction, x: &ArrayRef, n: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    // Strict: a `UInt64` count past `i64::MAX` is an error, not a null.
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    let n = cast_with_options(n, &DataType::Int64, &strict)?;
    let n = n.as_primitive::<Int64Type>();
    let (unit, months_per) = match func {
        TemporalFunction::AddDays => ("days", 0),
        TemporalFunction::AddMonths => ("months", 1),
        _ => ("years", 12),
    };
    map_local(x, |row, t| {
        if n.is_null(row) {
            return Ok(None);
        }
        let k = n.value(row);
        let shifted = if months_per == 0 {
            TimeDelta::try_days(k).and_then(|d| t.checked_add_signed(d))
        } else {
            k.checked_mul(months_per).and_then(|m| add_months(t, m))
        };
        shifted
            .map(Some)
            .ok_or_else(|| format!("plus {k} {unit} is out of range"))
    })
}

/// `t` plus `months` (negative: minus), the day clamped to the month's last.
fn add_months(t: NaiveDateTime, months: i64) -> Option<NaiveDateTime> {
    let m = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
    if months >= 0 {
        t.checked_add_months(m)
    } else {
        t.checked_sub_months(m)
    }
}

/// The day number (since 1970-01-01) of each value's date, in its own zone.
fn local_days(a: &ArrayRef) -> Result<Int64Array, ArrowError> {
    if a.data_type() == &DataType::Date32 {
        return as_i64(a);
    }
    let clock = Clock::of(a.data_type())?;
    as_i64(a)?
        .iter()
        .map(|v| {
            v.map(|v| {
                let (local, _) = clock.local(v)?;
                Ok(i64::from(Date32Type::from_naive_date(local.date())))
            })
            .transpose()
        })
        .collect::<Result<Int64Array, String>>()
        .map_err(compute_error)
}

/// `end`'s date minus `start`'s, in days.
fn days_between(start: &ArrayRef, end: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    numeric::sub(&local_days(end)?, &local_days(start)?)
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        Date32Array, Date64Array, DictionaryArray, RecordBatch, StringArray,
        TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
    };
    use spillway_planner::expr::{col, lit, null};
    use spillway_planner::functions::{DtExpr, days_between as between};
    use spillway_planner::scalar::date;

    use arrow::compute::cast;

    use super::super::evaluate as eval;
    use super::*;

    const DAY: i64 = 86_400;

    /// Days from 1970-01-01 of a calendar date.
    fn days(y: i32, m: u32, d: u32) -> i32 {
        Date32Type::from_naive_date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    /// Seconds since the epoch of a time in UTC.
    fn secs(y: i32, m: u32, d: u32, h: u32, mi: u32) -> i64 {
        let t = NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap();
        t.and_utc().timestamp()
    }

    /// Rows: a leap day, the eve of 1970, a date before year 0, a null. `paris` holds
    /// instants around the changes of offset of 2024 (+01:00 in winter, +02:00 in summer).
    fn batch() -> RecordBatch {
        let d = [
            Some(days(2024, 2, 29)),
            Some(days(1969, 12, 31)),
            Some(days(-1, 3, 1)),
            None,
        ];
        let paris = [
            Some(secs(2024, 7, 1, 0, 30)),
            Some(secs(2024, 3, 30, 1, 30)),
            Some(secs(2024, 10, 27, 1, 30)),
            None,
        ];
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("d32", Arc::new(Date32Array::from(d.to_vec()))),
            (
                "d64",
                Arc::new(Date64Array::from(
                    d.iter()
                        .map(|v| v.map(|v| i64::from(v) * DAY * 1000))
                        .collect::<Vec<_>>(),
                )),
            ),
            (
                "ts",
                Arc::new(TimestampSecondArray::from(
                    d.iter()
                        .map(|v| v.map(|v| i64::from(v) * DAY + 3_723))
                        .collect::<Vec<_>>(),
                )),
            ),
            (
                "paris",
                Arc::new(
                    TimestampNanosecondArray::from(
                        paris
                            .iter()
                            .map(|v| v.map(|v| v * 1_000_000_000))
                            .collect::<Vec<_>>(),
                    )
                    .with_timezone("Europe/Paris"),
                ),
            ),
            (
                "plus2",
                Arc::new(
                    TimestampMillisecondArray::from(
                        paris
                            .iter()
                            .map(|v| v.map(|v| v * 1000))
                            .collect::<Vec<_>>(),
                    )
                    .with_timezone("+02:00"),
                ),
            ),
            (
                "n",
                Arc::new(Int64Array::from(vec![Some(1), Some(-1), None, Some(5)])),
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![
                    Some("29/02/2024"),
                    Some("31/12/1969 23:59"),
                    None,
                    Some("nope"),
                ])),
            ),
        ];
        RecordBatch::try_from_iter(columns).unwrap()
    }

    /// The values of `e` over the batch, written by Arrow's cast to `Utf8`.
    fn texts(e: &Expr) -> Vec<Option<String>> {
        let b = batch();
        let a = eval(e, &b).unwrap_or_else(|err| panic!("{e}: {err}"));
        assert_eq!(a.data_type(), &e.data_type(b.schema_ref()).unwrap(), "{e}");
        let a = cast(&a, &DataType::Utf8).unwrap();
        a.as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect()
    }

    fn want(v: &[Option<&str>]) -> Vec<Option<String>> {
        v.iter().map(|v| v.map(str::to_owned)).collect()
    }

    fn error(e: &Expr) -> String {
        eval(e, &batch()).unwrap_err().to_string()
    }

    #[test]
    fn fields_of_dates_and_of_timestamps_in_their_zone() {
        let f = |c: &str, e: fn(DtExpr) -> Expr| texts(&e(col(c).dt()));
        for c in ["d32", "d64", "ts"] {
            assert_eq!(
                f(c, DtExpr::year),
                want(&[Some("2024"), Some("1969"), Some("-1"), None])
            );
            assert_eq!(
                f(c, DtExpr::quarter),
                want(&[Some("1"), Some("4"), Some("1"), None])
            );
            assert_eq!(
                f(c, DtExpr::day),
                want(&[Some("29"), Some("31"), Some("1"), None])
            );
            // Thursday, Wednesday, and 1 March of year -1 was a Monday.
            assert_eq!(
                f(c, DtExpr::weekday),
                want(&[Some("4"), Some("3"), Some("1"), None])
            );
            assert_eq!(
                f(c, DtExpr::ordinal_day),
                want(&[Some("60"), Some("365"), Some("60"), None])
            );
        }
        assert_eq!(
            f("d32", DtExpr::hour),
            want(&[Some("0"), Some("0"), Some("0"), None])
        );
        assert_eq!(
            f("ts", DtExpr::hour),
            want(&[Some("1"), Some("1"), Some("1"), None])
        );
        assert_eq!(f("ts", DtExpr::minute)[0].as_deref(), Some("2"));
        assert_eq!(f("ts", DtExpr::second)[0].as_deref(), Some("3"));
        // 00:30 UTC is 02:30 in Paris in July, 02:30 CET on the night clocks go back.
        assert_eq!(
            f("paris", DtExpr::hour),
            want(&[Some("2"), Some("2"), Some("2"), None])
        );
        assert_eq!(
            f("plus2", DtExpr::hour),
            want(&[Some("2"), Some("3"), Some("3"), None])
        );
        assert_eq!(
            f("paris", DtExpr::month),
            want(&[Some("7"), Some("3"), Some("10"), None])
        );
    }

    #[test]
    fn truncation_in_the_zone_keeps_the_offset_of_the_input() {
        let t = |c: &str, unit| texts(&col(c).dt().truncate(unit));
        assert_eq!(
            t("d32", CalendarUnit::Week),
            want(&[
                Some("2024-02-26"),
                Some("1969-12-29"),
                Some("-0001-03-01"),
                None
            ])
        );
        assert_eq!(
            t("d64", CalendarUnit::Quarter)[1].as_deref(),
            Some("1969-10-01T00:00:00")
        );
        assert_eq!(
            t("d32", CalendarUnit::Hour)[0].as_deref(),
            Some("2024-02-29")
        );
        assert_eq!(
            t("ts", CalendarUnit::Minute)[0].as_deref(),
            Some("2024-02-29T01:02:00")
        );
        assert_eq!(
            t("ts", CalendarUnit::Year)[2].as_deref(),
            Some("-0001-01-01T00:00:00")
        );
        assert_eq!(
            t("paris", CalendarUnit::Day),
            want(&[
                Some("2024-07-01T00:00:00+02:00"),
                Some("2024-03-30T00:00:00+01:00"),
                Some("2024-10-27T00:00:00+02:00"),
                None
            ])
        );
        // 02:30 CET, the second 02:30 of the night, starts its hour at 02:00 CET.
        assert_eq!(
            t("paris", CalendarUnit::Hour)[2].as_deref(),
            Some("2024-10-27T02:00:00+01:00")
        );
    }

    #[test]
    fn calendar_arithmetic_clamps_to_month_ends_and_refuses_gaps() {
        let jan31 = || lit(date(2024, 1, 31).unwrap()).dt();
        let one = |e: Expr| texts(&e)[0].clone().unwrap();
        assert_eq!(one(jan31().add_months(1)), "2024-02-29");
        assert_eq!(
            one(lit(date(2023, 1, 31).unwrap()).dt().add_months(1)),
            "2023-02-28"
        );
        assert_eq!(one(jan31().add_months(-11i64)), "2023-02-28");
        assert_eq!(
            one(lit(date(2024, 2, 29).unwrap()).dt().add_years(1)),
            "2025-02-28"
        );
        assert_eq!(one(jan31().add_days(-365 * 2)), "2022-01-31");
        assert_eq!(
            texts(&col("d32").dt().add_days(col("n"))),
            want(&[Some("2024-03-01"), Some("1969-12-30"), None, None])
        );
        assert_eq!(
            texts(&col("ts").dt().add_months(col("n")))[0].as_deref(),
            Some("2024-03-29T01:02:03")
        );
        // A day after 02:30 on 30 March is 02:30 on 31 March, which Paris skips.
        let e = error(&col("paris").dt().add_days(1));
        assert!(
            e.contains("2024-03-30 02:30:00: 2024-03-31 02:30:00 does not exist"),
            "{e}"
        );
        assert!(e.contains("add_days(paris, 1)"), "{e}");
        // Across the change, a day is 23 hours, the wall-clock time kept.
        let e = col("paris").dt().add_days(-1);
        assert_eq!(texts(&e)[0].as_deref(), Some("2024-06-30T02:30:00+02:00"));
        let e = error(&col("d32").dt().add_days(i64::MAX));
        assert!(
            e.contains("2024-02-29: plus 9223372036854775807 days is out of range"),
            "{e}"
        );
        let e = error(&col("d32").dt().add_years(i64::MAX / 2));
        assert!(e.contains("out of range"), "{e}");
        assert_eq!(
            texts(&col("d32").dt().add_days(null(&DataType::Int64))),
            vec![None; 4]
        );
    }

    #[test]
    fn days_between_counts_midnights_in_each_zone() {
        let e = between(lit(date(1970, 1, 1).unwrap()), col("d32"));
        assert_eq!(
            texts(&e),
            want(&[Some("19782"), Some("-1"), Some("-719834"), None])
        );
        // 00:30 UTC on 1 July is 1 July in Paris; 23:30 UTC on 30 June would be too.
        let e = between(col("d32"), col("paris"));
        assert_eq!(texts(&e)[0].as_deref(), Some("123"));
        assert_eq!(
            texts(&between(col("ts"), col("d64")))[0].as_deref(),
            Some("0")
        );
    }

    #[test]
    fn parsing_is_strict_or_lenient_and_names_the_value() {
        let e = col("s").str().to_date_or_null("%d/%m/%Y");
        assert_eq!(texts(&e), want(&[Some("2024-02-29"), None, None, None]));
        let e = col("s").str().to_datetime_or_null("%d/%m/%Y %H:%M");
        assert_eq!(texts(&e)[1].as_deref(), Some("1969-12-31T23:59:00"));
        // No time in the format: midnight.
        let e = col("s").str().to_datetime_or_null("%d/%m/%Y");
        assert_eq!(texts(&e)[0].as_deref(), Some("2024-02-29T00:00:00"));
        let e = error(&col("s").str().to_date("%d/%m/%Y"));
        assert!(
            e.contains(
                "'31/12/1969 23:59' (row 1 of the batch) does not match the format '%d/%m/%Y'"
            ),
            "{e}"
        );
        let e = lit("2024-03-31 03:00 +0200")
            .str()
            .to_datetime("%Y-%m-%d %H:%M %z");
        assert_eq!(texts(&e)[0].as_deref(), Some("2024-03-31T01:00:00Z"));
        // A dictionary of large strings reads as its values do.
        let dict: DictionaryArray<Int32Type> =
            ["01/02/2003", "x", "01/02/2003"].into_iter().collect();
        let dict = cast(
            &(Arc::new(dict) as ArrayRef),
            &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::LargeUtf8)),
        )
        .unwrap();
        let b = RecordBatch::try_from_iter([("s", dict)]).unwrap();
        let got = eval(&col("s").str().to_date_or_null("%d/%m/%Y"), &b).unwrap();
        let got: Vec<_> = got.as_primitive::<Date32Type>().iter().collect();
        assert_eq!(got, [Some(days(2003, 2, 1)), None, Some(days(2003, 2, 1))]);
    }

    #[test]
    fn formatting_writes_dates_at_midnight_and_timestamps_in_their_zone() {
        let e = col("d32").dt().strftime("%Y/%m/%d %Hh %a");
        assert_eq!(
            texts(&e),
            want(&[
                Some("2024/02/29 00h Thu"),
                Some("1969/12/31 00h Wed"),
                Some("-0001/03/01 00h Mon"),
                None
            ])
        );
        let e = col("paris").dt().strftime("%H:%M %z");
        assert_eq!(
            texts(&e)[..2],
            want(&[Some("02:30 +0200"), Some("02:30 +0100")])
        );
        assert_eq!(texts(&col("d32").dt().strftime(""))[0].as_deref(), Some(""));
    }

    #[test]
    fn literals_give_scalars_and_chrono_range_errors_are_errors() {
        let b = batch();
        let e = lit(date(1994, 1, 1).unwrap())
            .dt()
            .add_months(3)
            .dt()
            .year();
        let out = eval(&e, &b).unwrap();
        assert_eq!(out.len(), b.num_rows());
        let far = ScalarValue::date32(i32::MAX);
        let e = eval(&lit(far.clone()).dt().year(), &b).unwrap_err();
        assert!(
            e.to_string()
                .contains("out of the range of dates chrono reads"),
            "{e}"
        );
        let e = eval(&lit(far).dt().strftime("%Y"), &b).unwrap_err();
        assert!(e.to_string().contains("out of the range"), "{e}");
    }
}
