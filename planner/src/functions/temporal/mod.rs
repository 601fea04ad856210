//! The dates-and-times family: fields (`year`, `month`, `weekday`, `hour`, ...), truncation,
//! calendar arithmetic, the days between two dates, parsing strings and formatting: their
//! names, type rules and argument checks, and the [`DtExpr`] namespace that builds them
//! (`col("d").dt().year()`, as Polars spells it). Parsing is on the string namespace:
//! `col("s").str().to_date("%d/%m/%Y")`. The kernels are in the engine's
//! `eval/temporal/` (`text.rs` for parsing and formatting).
//!
//! ```
//! use spillway_planner::expr::{col, lit};
//! use spillway_planner::functions::{CalendarUnit, days_between};
//! use spillway_planner::scalar::date;
//! use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
//!
//! let paris = DataType::Timestamp(TimeUnit::Nanosecond, Some("Europe/Paris".into()));
//! let schema = Schema::new(vec![
//!     Field::new("day", DataType::Date32, true),
//!     Field::new("at", paris.clone(), true),
//!     Field::new("s", DataType::Utf8View, true),
//! ]);
//! let year = col("day").dt().year();
//! assert_eq!(year.to_string(), "year(day)");
//! assert_eq!(year.data_type(&schema)?, DataType::Int32);
//! let month = col("at").dt().truncate(CalendarUnit::Month);
//! assert_eq!(month.data_type(&schema)?, paris);
//! let due = col("day").dt().add_months(3);
//! assert_eq!(due.to_string(), "add_months(day, 3)");
//! let late = days_between(lit(date(1994, 1, 1)?), col("day"));
//! assert_eq!(late.data_type(&schema)?, DataType::Int64);
//! let parsed = col("s").str().to_date("%d/%m/%Y");
//! assert_eq!(parsed.data_type(&schema)?, DataType::Date32);
//! let err = col("s").dt().year().data_type(&schema).unwrap_err();
//! assert!(err.to_string().contains("year takes a date or timestamp"), "{err}");
//! # Ok::<(), spillway_planner::Error>(())
//! ```
//!
//! # Types
//!
//! A date or timestamp argument is a `Date32`, `Date64` or `Timestamp` of any unit, with or
//! without a time zone: an IANA name (`"Europe/Paris"`, `"UTC"`) or a fixed offset
//! (`"+02:00"`). Anything else, or a time zone Arrow does not know, is a type error when the
//! plan is built, naming the function, the argument and its type.
//!
//! | function | result |
//! |---|---|
//! | `year`, `quarter`, `month`, `day`, `weekday`, `ordinal_day`, `hour`, `minute`, `second` | `Int32`, as Arrow's `date_part` (Polars narrows to `Int8` or `Int16`) |
//! | `truncate`, `add_days`, `add_months`, `add_years` | the argument's own type |
//! | `days_between` | `Int64` |
//! | `strftime` | `Utf8View` |
//! | `to_date`, `to_date_or_null` | `Date32` |
//! | `to_datetime`, `to_datetime_or_null` | `Timestamp(µs)`; `Timestamp(µs, "UTC")` when the format reads an offset (`%z`) |
//!
//! # Semantics
//!
//! - A timestamp with a time zone is read in its zone: the hour of 2024-07-01 00:30 UTC in
//!   `"Europe/Paris"` is 2. `truncate` and the `add_*` functions work on the wall-clock time
//!   in that zone, then map back to an instant: a wall-clock time that does not exist (the
//!   hour skipped when clocks move forward) is an error naming the value; one that exists
//!   twice takes the input's offset when it can, else the earlier. A timestamp without a
//!   time zone is a wall-clock time as it is.
//! - A date is at 00:00:00: `hour`, `minute` and `second` of a date are 0 (DuckDB), and
//!   truncating a date to an hour gives the date.
//! - `weekday` is ISO: Monday is 1, Sunday 7 (Polars). `ordinal_day` is 1 to 366.
//! - `truncate(unit)` is DuckDB's `date_trunc`: the start of the year, quarter, month, week
//!   (a Monday), day, hour, minute or second.
//! - `add_months(n)` keeps the day of the month, or clamps it to the month's last day, as SQL
//!   and Polars do: January 31 plus one month is February 29 in 2024, February 28 in 2023.
//!   `add_years(n)` is `add_months(12 n)`: February 29 plus a year is February 28.
//!   `add_days(n)` adds calendar days (23 or 25 hours across a change of offset). `n` is any
//!   integer column or literal, negative to go back; a null `n` gives a null. A result out
//!   of the type's range (or of chrono's, ±262,000 years) is an error when the plan runs.
//! - `days_between(start, end)` is `end`'s date minus `start`'s, in days: the number of
//!   midnights from one to the other (DuckDB's `date_diff('day', start, end)`), each
//!   timestamp's date taken in its own zone; negative when `end` is earlier.
//! - `to_date(format)` and `to_datetime(format)` read strings (`Utf8`, `LargeUtf8`,
//!   `Utf8View` or a dictionary of them) with a chrono format, as Polars does (`"%Y-%m-%d"`,
//!   `"%d/%m/%Y %H:%M:%S"`, `"%+"`). A string that does not match is an error naming the
//!   value and its row in the batch (Polars' `strict=True`); `to_date_or_null` and
//!   `to_datetime_or_null` give a null instead. `to_datetime` of a format without a time
//!   reads midnight; with an offset (`%z`) the instant is kept, in UTC.
//! - `strftime(format)` writes with a chrono format; a date is written at midnight. An
//!   offset or zone (`%z`, `%Z`) needs a time zone: on a date, or a timestamp without one,
//!   it is a type error.
//! - Formats are literals, checked when the plan is built: an unknown specifier (`%Q`) is a
//!   type error, and they are compiled once per batch, never per row.
//! - A null in gives a null out.
//!
//! A function of literals only (`lit(date(1994, 1, 1)?).dt().add_months(3)`) is computed
//! once per batch, as a one-row value: the optimizer does no constant folding.
//!
//! Dates and timestamps compare with each other as [`coerce`](crate::coerce) says: a
//! `Date32` with a `Date64` or a timestamp without a time zone (at midnight), timestamps of
//! any two units, and of any two time zones (they are instants); a date or a timestamp
//! without a time zone never with a timestamp that has one.

use std::fmt;
use std::str::FromStr;

use arrow::array::timezone::Tz;
use arrow::datatypes::{DataType, TimeUnit};
use chrono::format::{Fixed, Item, Numeric, StrftimeItems};

use super::strings::{StrExpr, is_string, literal_string};
use super::write_call;
use crate::coerce::is_temporal;
use crate::expr::{Expr, lit};
use crate::{Error, Result};

/// A field of a date or timestamp, for `year`, `month`, `weekday`, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DatePart {
    /// The year of the proleptic Gregorian calendar: 0 is 1 BCE, -1 is 2 BCE (ISO 8601).
    Year,
    /// 1 to 4.
    Quarter,
    /// 1 to 12.
    Month,
    /// The day of the month, 1 to 31.
    Day,
    /// The ISO day of the week: Monday 1 to Sunday 7.
    Weekday,
    /// The day of the year, 1 to 366.
    OrdinalDay,
    /// 0 to 23.
    Hour,
    /// 0 to 59.
    Minute,
    /// 0 to 59 (60 never: Arrow has no leap seconds).
    Second,
}

impl DatePart {
    /// The function's name: `year`, `ordinal_day`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Self::Year => "year",
            Self::Quarter => "quarter",
            Self::Month => "month",
            Self::Day => "day",
            Self::Weekday => "weekday",
            Self::OrdinalDay => "ordinal_day",
            Self::Hour => "hour",
            Self::Minute => "minute",
            Self::Second => "second",
        }
    }
}

/// What [`DtExpr::truncate`] rounds down to: DuckDB's `date_trunc` units.
///
/// ```
/// use spillway_planner::functions::CalendarUnit;
/// assert_eq!("month".parse::<CalendarUnit>()?, CalendarUnit::Month);
/// assert_eq!(CalendarUnit::Week.to_string(), "week");
/// assert!("fortnight".parse::<CalendarUnit>().is_err());
/// # Ok::<(), spillway_planner::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CalendarUnit {
    /// January 1.
    Year,
    /// January, April, July or October 1.
    Quarter,
    /// The first of the month.
    Month,
    /// The Monday of the ISO week.
    Week,
    /// Midnight.
    Day,
    /// The start of the hour.
    Hour,
    /// The start of the minute.
    Minute,
    /// The start of the second.
    Second,
}

impl CalendarUnit {
    /// Every unit, largest first.
    pub const ALL: [CalendarUnit; 8] = [
        Self::Year,
        Self::Quarter,
        Self::Month,
        Self::Week,
        Self::Day,
        Self::Hour,
        Self::Minute,
        Self::Second,
    ];

    /// The unit's name: `year`, `month`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Self::Year => "year",
            Self::Quarter => "quarter",
            Self::Month => "month",
            Self::Week => "week",
            Self::Day => "day",
            Self::Hour => "hour",
            Self::Minute => "minute",
            Self::Second => "second",
        }
    }
}

impl fmt::Display for CalendarUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CalendarUnit {
    type Err = Error;

    /// A unit by its name, as DuckDB's `date_trunc` takes it (`"month"`, `"week"`, ...).
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|u| u.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(CalendarUnit::name).collect();
                Error::Plan(format!(
                    "'{s}' is not a calendar unit; the units are {}",
                    names.join(", ")
                ))
            })
    }
}

/// A function of the dates-and-times family. See the [module docs](self) for the semantics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TemporalFunction {
    /// A field: `year`, `month`, `weekday`, `hour`, ...
    Part(DatePart),
    /// Rounded down to the start of its unit (DuckDB's `date_trunc`).
    Truncate(CalendarUnit),
    /// Plus a number of days (the second argument, an integer).
    AddDays,
    /// Plus a number of months, clamped to the month's last day.
    AddMonths,
    /// Plus a number of years, clamped to February 28.
    AddYears,
    /// The second argument's date minus the first's, in days.
    DaysBetween,
    /// A string read as a date with a format (a literal second argument).
    ToDate {
        /// A string that does not match is an error (else a null).
        strict: bool,
    },
    /// A string read as a timestamp with a format (a literal second argument).
    ToDatetime {
        /// A string that does not match is an error (else a null).
        strict: bool,
    },
    /// Written as a string with a format (a literal second argument).
    Strftime,
}

impl TemporalFunction {
    /// The function's name: `year`, `truncate`, `add_months`, `to_date`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Self::Part(p) => p.name(),
            Self::Truncate(_) => "truncate",
            Self::AddDays => "add_days",
            Self::AddMonths => "add_months",
            Self::AddYears => "add_years",
            Self::DaysBetween => "days_between",
            Self::ToDate { strict: true } => "to_date",
            Self::ToDate { strict: false } => "to_date_or_null",
            Self::ToDatetime { strict: true } => "to_datetime",
            Self::ToDatetime { strict: false } => "to_datetime_or_null",
            Self::Strftime => "strftime",
        }
    }

    /// How many arguments the function takes.
    pub fn arity(&self) -> usize {
        match self {
            Self::Part(_) | Self::Truncate(_) => 1,
            _ => 2,
        }
    }

    /// Whether the function can give a null for arguments that are not null (the
    /// `_or_null` parsers), making its result nullable.
    pub fn may_give_null(&self) -> bool {
        matches!(
            self,
            Self::ToDate { strict: false } | Self::ToDatetime { strict: false }
        )
    }

    /// The result's type (see the module docs), or a message naming the argument of the
    /// wrong type, the format that is not a literal or not valid. `args` and `types` have
    /// [`arity`](Self::arity) elements.
    ///
    /// # Errors
    /// A wrong argument, as above.
    pub fn return_type(&self, args: &[Expr], types: &[DataType]) -> Result<DataType, String> {
        match self {
            Self::ToDate { .. } | Self::ToDatetime { .. } => {
                if !(is_string(&types[0]) || types[0] == DataType::Null) {
                    return Err(format!(
                        "{} takes a string (Utf8, LargeUtf8, Utf8View or a dictionary of them) \
                         but its argument '{}' is {}",
                        self.name(),
                        args[0],
                        types[0]
                    ));
                }
                let items = self.format(&args[1], &types[1])?;
                let offset = items.as_deref().is_some_and(|i| i.iter().any(is_offset));
                Ok(match self {
                    Self::ToDate { .. } => DataType::Date32,
                    _ if offset => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    _ => DataType::Timestamp(TimeUnit::Microsecond, None),
                })
            }
            Self::DaysBetween => {
                self.temporal(&args[0], &types[0])?;
                self.temporal(&args[1], &types[1])?;
                Ok(DataType::Int64)
            }
            Self::Part(_) => self.temporal(&args[0], &types[0]).map(|()| DataType::Int32),
            Self::Truncate(_) => self
                .temporal(&args[0], &types[0])
                .map(|()| types[0].clone()),
            Self::AddDays | Self::AddMonths | Self::AddYears => {
                self.temporal(&args[0], &types[0])?;
                if !(types[1].is_integer() || types[1] == DataType::Null) {
                    let what = match self {
                        Self::AddDays => "days",
                        Self::AddMonths => "months",
                        _ => "years",
                    };
                    return Err(format!(
                        "{} takes a whole number of {what} (an integer) but its argument '{}' \
                         is {}",
                        self.name(),
                        args[1],
                        types[1]
                    ));
                }
                Ok(types[0].clone())
            }
            Self::Strftime => {
                self.temporal(&args[0], &types[0])?;
                let items = self.format(&args[1], &types[1])?;
                let zoned = matches!(&types[0], DataType::Timestamp(_, Some(_)));
                let needs_zone = items.as_deref().is_some_and(|i| i.iter().any(is_zone));
                if needs_zone && !zoned && types[0] != DataType::Null {
                    return Err(format!(
                        "strftime's format {} writes a time zone, but '{}' is {}, which has \
                         none",
                        args[1], args[0], types[0]
                    ));
                }
                Ok(DataType::Utf8View)
            }
        }
    }

    /// Checks that `arg` (of type `t`) is a date or timestamp whose time zone Arrow knows.
    fn temporal(&self, arg: &Expr, t: &DataType) -> Result<(), String> {
        if !(is_temporal(t) || t == &DataType::Null) {
            return Err(format!(
                "{} takes a date or timestamp (Date32, Date64 or Timestamp) but its argument \
                 '{arg}' is {t}",
                self.name()
            ));
        }
        if let DataType::Timestamp(_, Some(zone)) = t
            && let Err(e) = zone.parse::<Tz>()
        {
            return Err(format!("{} cannot read '{arg}' ({t}): {e}", self.name()));
        }
        Ok(())
    }

    /// Checks that `arg` is a literal, valid chrono format, giving its items (`None` for a
    /// null literal).
    fn format(&self, arg: &Expr, t: &DataType) -> Result<Option<Vec<Item<'static>>>, String> {
        let not_literal = || {
            format!(
                "{} takes its format as a literal string, but got '{arg}' ({t})",
                self.name()
            )
        };
        if !(is_string(t) || t == &DataType::Null) {
            return Err(not_literal());
        }
        let Some(format) = literal_string(arg).ok_or_else(not_literal)? else {
            return Ok(None);
        };
        format_items(&format)
            .map(Some)
            .map_err(|e| format!("{} has an invalid format {arg}: {e}", self.name()))
    }

    /// Writes the call: `year(d)`, `truncate(d, 'month')`, `add_days(d, 3)`.
    ///
    /// # Errors
    /// Only the formatter's.
    pub fn fmt_call(&self, args: &[Expr], f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncate(unit) => write_call(f, self.name(), args, &[&format!("'{unit}'")]),
            _ => write_call(f, self.name(), args, &[]),
        }
    }
}

/// The items of a chrono format string (`"%Y-%m-%d"`), owned.
///
/// # Errors
/// A message for an unknown specifier (`%Q`) or a lone `%`.
pub fn format_items(format: &str) -> Result<Vec<Item<'static>>, String> {
    StrftimeItems::new(format)
        .parse_to_owned()
        .map_err(|e| format!("{e} (see chrono's strftime specifiers)"))
}

/// Whether a format item reads or writes an offset from UTC (`%z`, `%:z`, `%+`, ...).
pub fn is_offset(item: &Item<'_>) -> bool {
    matches!(
        item,
        Item::Fixed(
            Fixed::TimezoneOffset
                | Fixed::TimezoneOffsetColon
                | Fixed::TimezoneOffsetDoubleColon
                | Fixed::TimezoneOffsetTripleColon
                | Fixed::TimezoneOffsetColonZ
                | Fixed::TimezoneOffsetZ
                | Fixed::RFC2822
                | Fixed::RFC3339
        )
    )
}

/// Whether a format item writes a time zone: an offset, or its name (`%Z`).
pub fn is_zone(item: &Item<'_>) -> bool {
    is_offset(item) || matches!(item, Item::Fixed(Fixed::TimezoneName))
}

/// Whether a format item reads a time of day (an hour, `%s`, `%+`, ...).
pub fn is_time(item: &Item<'_>) -> bool {
    matches!(
        item,
        Item::Numeric(
            Numeric::Hour
                | Numeric::Hour12
                | Numeric::Minute
                | Numeric::Second
                | Numeric::Nanosecond
                | Numeric::Timestamp,
            _
        ) | Item::Fixed(Fixed::RFC2822 | Fixed::RFC3339)
    )
}

/// The date-and-time functions of an expression, as Polars' `dt` namespace: built by
/// [`Expr::dt`], each method gives the [`Expr`] calling one [`TemporalFunction`].
#[derive(Clone, Debug)]
pub struct DtExpr(Expr);

impl Expr {
    /// The date-and-time functions of `self`: `col("d").dt().year()`. See
    /// [`temporal`](crate::functions::temporal).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// assert_eq!(col("d").dt().month().to_string(), "month(d)");
    /// ```
    pub fn dt(self) -> DtExpr {
        DtExpr(self)
    }
}

impl DtExpr {
    fn call(self, func: TemporalFunction, more: impl IntoIterator<Item = Expr>) -> Expr {
        let mut args = vec![self.0];
        args.extend(more);
        Expr::call(func, args)
    }

    fn part(self, part: DatePart) -> Expr {
        self.call(TemporalFunction::Part(part), [])
    }

    /// The year, as `Int32` (in the timestamp's time zone, if it has one).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// assert_eq!(col("d").dt().year().to_string(), "year(d)");
    /// ```
    pub fn year(self) -> Expr {
        self.part(DatePart::Year)
    }

    /// The quarter, 1 to 4.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// assert_eq!(col("d").dt().quarter().to_string(), "quarter(d)");
    /// ```
    pub fn quarter(self) -> Expr {
        self.part(DatePart::Quarter)
    }

    /// The month, 1 to 12.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let summer = col("d").dt().month().eq(7);
    /// assert_eq!(summer.to_string(), "(month(d) = 7)");
    /// ```
    pub fn month(self) -> Expr {
        self.part(DatePart::Month)
    }

    /// The day of the month, 1 to 31.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// assert_eq!(col("d").dt().day().to_string(), "day(d)");
    /// ```
    pub fn day(self) -> Expr {
        self.part(DatePart::Day)
    }

    /// The ISO day of the week: Monday 1 to Sunday 7 (Polars' `weekday`).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let weekend = col("d").dt().weekday().gt_eq(6);
    /// assert_eq!(weekend.to_string(), "(weekday(d) >= 6)");
    /// ```
    pub fn weekday(self) -> Expr {
        self.part(DatePart::Weekday)
    }

    /// The day of the year, 1 to 366.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// assert_eq!(col("d").dt().ordinal_day().to_string(), "ordinal_day(d)");
    /// ```
    pub fn ordinal_day(self) -> Expr {
        self.part(DatePart::OrdinalDay)
    }

    /// The hour, 0 to 23 (0 for a date).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// assert_eq!(col("t").dt().hour().to_string(), "hour(t)");
    /// ```
    pub fn hour(self) -> Expr {
        self.part(DatePart::Hour)
    }

    /// The minute, 0 to 59 (0 for a date).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// assert_eq!(col("t").dt().minute().to_string(), "minute(t)");
    /// ```
    pub fn minute(self) -> Expr {
        self.part(DatePart::Minute)
    }

    /// The second, 0 to 59 (0 for a date).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// assert_eq!(col("t").dt().second().to_string(), "second(t)");
    /// ```
    pub fn second(self) -> Expr {
        self.part(DatePart::Second)
    }

    /// Rounded down to the start of its `unit` (DuckDB's `date_trunc`), of the same type.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// use spillway_planner::functions::CalendarUnit;
    /// let month = col("d").dt().truncate(CalendarUnit::Month);
    /// assert_eq!(month.to_string(), "truncate(d, 'month')");
    /// ```
    pub fn truncate(self, unit: CalendarUnit) -> Expr {
        self.call(TemporalFunction::Truncate(unit), [])
    }

    /// Plus `n` calendar days (an integer column or literal; negative goes back).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let due = col("d").dt().add_days(col("grace"));
    /// assert_eq!(due.to_string(), "add_days(d, grace)");
    /// ```
    pub fn add_days(self, n: impl Into<Expr>) -> Expr {
        self.call(TemporalFunction::AddDays, [n.into()])
    }

    /// Plus `n` months; a day past the new month's end becomes its last day (January 31
    /// plus one month is February 28 or 29).
    ///
    /// ```
    /// use spillway_planner::expr::lit;
    /// use spillway_planner::scalar::date;
    /// let e = lit(date(1994, 1, 1)?).dt().add_months(3);
    /// assert_eq!(e.to_string(), "add_months(1994-01-01, 3)");
    /// # Ok::<(), spillway_planner::Error>(())
    /// ```
    pub fn add_months(self, n: impl Into<Expr>) -> Expr {
        self.call(TemporalFunction::AddMonths, [n.into()])
    }

    /// Plus `n` years; February 29 becomes February 28 in a year that has none.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// assert_eq!(col("d").dt().add_years(-1).to_string(), "add_years(d, -1)");
    /// ```
    pub fn add_years(self, n: impl Into<Expr>) -> Expr {
        self.call(TemporalFunction::AddYears, [n.into()])
    }

    /// Written as a string (`Utf8View`) with a chrono `format`: `"%Y-%m"`, `"%A %d %B"`.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let label = col("d").dt().strftime("%Y-%m");
    /// assert_eq!(label.to_string(), "strftime(d, '%Y-%m')");
    /// ```
    pub fn strftime(self, format: &str) -> Expr {
        self.call(TemporalFunction::Strftime, [lit(format.to_owned())])
    }
}

/// `end`'s date minus `start`'s, in days, as `Int64`: the midnights between them (DuckDB's
/// `date_diff('day', start, end)`); a timestamp's date is taken in its time zone.
///
/// ```
/// use spillway_planner::expr::col;
/// use spillway_planner::functions::days_between;
/// let e = days_between(col("ordered"), col("shipped"));
/// assert_eq!(e.to_string(), "days_between(ordered, shipped)");
/// ```
pub fn days_between(start: impl Into<Expr>, end: impl Into<Expr>) -> Expr {
    Expr::call(
        TemporalFunction::DaysBetween,
        vec![start.into(), end.into()],
    )
}

impl StrExpr {
    fn parse(self, func: TemporalFunction, format: &str) -> Expr {
        Expr::call(func, vec![self.into_expr(), lit(format.to_owned())])
    }

    /// The string read as a `Date32` with a chrono `format` (`"%Y-%m-%d"`, `"%d/%m/%Y"`); a
    /// string that does not match is an error naming it (Polars' `strict=True`).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let e = col("s").str().to_date("%d/%m/%Y");
    /// assert_eq!(e.to_string(), "to_date(s, '%d/%m/%Y')");
    /// ```
    pub fn to_date(self, format: &str) -> Expr {
        self.parse(TemporalFunction::ToDate { strict: true }, format)
    }

    /// As [`to_date`](Self::to_date), with a null for a string that does not match.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let e = col("s").str().to_date_or_null("%Y-%m-%d");
    /// assert_eq!(e.to_string(), "to_date_or_null(s, '%Y-%m-%d')");
    /// ```
    pub fn to_date_or_null(self, format: &str) -> Expr {
        self.parse(TemporalFunction::ToDate { strict: false }, format)
    }

    /// The string read as a `Timestamp(µs)` with a chrono `format`; midnight when the format
    /// has no time, and in UTC when it has an offset (`%z`). A string that does not match is
    /// an error naming it.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    /// let schema = Schema::new(vec![Field::new("s", DataType::Utf8, true)]);
    /// let e = col("s").str().to_datetime("%Y-%m-%d %H:%M%z");
    /// let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    /// assert_eq!(e.data_type(&schema)?, utc);
    /// # Ok::<(), spillway_planner::Error>(())
    /// ```
    pub fn to_datetime(self, format: &str) -> Expr {
        self.parse(TemporalFunction::ToDatetime { strict: true }, format)
    }

    /// As [`to_datetime`](Self::to_datetime), with a null for a string that does not match.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let e = col("s").str().to_datetime_or_null("%Y-%m-%dT%H:%M:%S");
    /// assert_eq!(e.to_string(), "to_datetime_or_null(s, '%Y-%m-%dT%H:%M:%S')");
    /// ```
    pub fn to_datetime_or_null(self, format: &str) -> Expr {
        self.parse(TemporalFunction::ToDatetime { strict: false }, format)
    }
}
#[cfg(test)]
mod tests;
