//! Dates and times to and from text: `to_date` and `to_datetime` read strings with a chrono
//! format, `strftime` writes them. The format is compiled once per batch.

use std::fmt::Write;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringViewBuilder};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use chrono::format::{Item, Parsed};
use chrono::{NaiveTime, TimeZone};
use spillway_planner::functions::temporal::{format_items, is_offset, is_time};

use super::{Clock, as_i64, compute_error, from_i64};

/// `(Utf8 | LargeUtf8 | Utf8View)` strings, a dictionary expanded to its values' type.
fn strings(s: &ArrayRef) -> Result<Vec<Option<&str>>, ArrowError> {
    Ok(match s.data_type() {
        DataType::Utf8 => s.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => s.as_string::<i64>().iter().collect(),
        DataType::Utf8View => s.as_string_view().iter().collect(),
        t => {
            return Err(ArrowError::InvalidArgumentError(format!(
                "a date parser got {t}"
            )));
        }
    })
}

/// `to_date` (`out` `Date32`) and `to_datetime` (`out` a `Timestamp(µs)`) of strings `s`.
pub(super) fn parse(
    s: &ArrayRef,
    format: &str,
    out: &DataType,
    strict: bool,
) -> Result<ArrayRef, ArrowError> {
    let items = format_items(format).map_err(ArrowError::InvalidArgumentError)?;
    let s = match s.data_type() {
        DataType::Dictionary(_, v) => cast(s, v)?,
        _ => Arc::clone(s),
    };
    let (time, offset) = (items.iter().any(is_time), items.iter().any(is_offset));
    let clock = Clock::of(out)?;
    let read = |text: &str| -> Result<i64, String> {
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, text, items.iter()).map_err(|e| e.to_string())?;
        let utc = if matches!(clock, Clock::Date32) {
            parsed.to_naive_date().map(|d| d.and_time(NaiveTime::MIN))
        } else if offset {
            parsed.to_datetime().map(|t| t.naive_utc())
        } else if time {
            parsed.to_naive_datetime_with_offset(0)
        } else {
            parsed.to_naive_date().map(|d| d.and_time(NaiveTime::MIN))
        };
        clock.value(utc.map_err(|e| e.to_string())?, None)
    };
    let values = strings(&s)?
        .into_iter()
        .enumerate()
        .map(|(row, text)| match text.map(|t| (t, read(t))) {
            None => Ok(None),
            Some((_, Ok(v))) => Ok(Some(v)),
            Some((_, Err(_))) if !strict => Ok(None),
            Some((text, Err(e))) => Err(ArrowError::ParseError(format!(
                "'{text}' (row {row} of the batch) does not match the format '{format}': {e}"
            ))),
        })
        .collect::<Result<Int64Array, ArrowError>>()?;
    from_i64(values, out)
}

/// `strftime`: each value written with `format`, in its time zone; a date at midnight.
pub(super) fn strftime(x: &ArrayRef, format: &str) -> Result<ArrayRef, ArrowError> {
    let items: Vec<Item<'static>> =
        format_items(format).map_err(ArrowError::InvalidArgumentError)?;
    let clock = Clock::of(x.data_type())?;
    let mut out = StringViewBuilder::with_capacity(x.len());
    let mut buf = String::new();
    for v in as_i64(x)?.iter() {
        let Some(v) = v else {
            out.append_null();
            continue;
        };
        let utc = clock.utc(v).ok_or_else(|| {
            compute_error(format!("{v} is out of the range of dates chrono reads"))
        })?;
        buf.clear();
        let written = match &clock {
            Clock::Timestamp(_, Some(tz)) => {
                write!(
                    buf,
                    "{}",
                    tz.from_utc_datetime(&utc).format_with_items(items.iter())
                )
            }
            _ => write!(buf, "{}", utc.format_with_items(items.iter())),
        };
        written.map_err(|_| {
            compute_error(format!(
                "{} cannot be written with '{format}'",
                clock.show(utc)
            ))
        })?;
        out.append_value(&buf);
    }
    Ok(Arc::new(out.finish()))
}
