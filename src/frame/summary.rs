//! Frame operations that look at the rows as a whole: [`DataFrame::sample`] (a filter on a
//! hash of the row index) and [`DataFrame::describe`] (one global aggregate, reshaped).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringViewArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use spillway_planner::agg::AggExpr;
use spillway_planner::expr::{col, lit};
use spillway_planner::{Error, Result};

use super::DataFrame;
use super::columns::unused_name;

/// The statistics [`DataFrame::describe`] gives, one row each, in order.
const STATISTICS: [&str; 9] = [
    "count",
    "null_count",
    "mean",
    "std",
    "min",
    "25%",
    "50%",
    "75%",
    "max",
];

/// SplitMix64's finalizer: a well-mixed 64-bit hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl DataFrame {
    /// About `fraction` of the rows, each kept or not independently (Bernoulli sampling, as
    /// Spark's `sample(fraction, seed)` and Dask's `sample(frac)`: the count varies around
    /// `fraction` × rows). The rows keep their order.
    ///
    /// Deterministic: row `i` (numbered in order across partitions, as
    /// [`DataFrame::with_row_index`] numbers it) is kept when a hash of `i` and `seed` falls
    /// below `fraction`, so the same seed picks the same rows of the same data whatever
    /// the partitioning, the threads or the memory limit. Numbering the rows holds each
    /// partition (spilled beyond the memory limit's share) until the partitions before it
    /// are counted.
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let df = session.from_vec("x", (0..10_000_i64).collect(), 4)?.into_frame();
    /// let n = df.sample(0.1, 42)?.count_rows()?;
    /// assert!((800..1200).contains(&n), "{n}");
    /// let again = session.from_vec("x", (0..10_000_i64).collect(), 7)?.into_frame();
    /// assert_eq!(again.sample(0.1, 42)?.collect_batch()?, df.sample(0.1, 42)?.collect_batch()?);
    /// assert!(df.sample(1.5, 42).is_err());
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Plan`] when `fraction` is not a number from 0 to 1.
    pub fn sample(&self, fraction: f64, seed: u64) -> Result<DataFrame> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(Error::Plan(format!(
                "sample takes a fraction from 0 to 1, got {fraction}"
            )));
        }
        if fraction == 1.0 {
            return Ok(self.clone());
        }
        // Kept when the hash's top 53 bits, as a fraction of 2^53, fall below `fraction`.
        let threshold = (fraction * (1_u64 << 53) as f64) as u64;
        let key = mix(seed);
        let index = unused_name(&self.schema(), "__sample_index");
        let keep = col(index.as_str()).apply(move |i: u64| (mix(i ^ key) >> 11) < threshold);
        self.with_row_index(&index, 0)?.filter(keep)?.drop([index])
    }

    /// Summary statistics of every column, as Polars' `describe`: a frame of nine rows
    /// (`statistic`: count, null_count, mean, std, min, 25%, 50%, 75%, max) and a column
    /// per column of this frame, named after it.
    ///
    /// - A numeric column (integers, floats, decimals) gives `Float64` values: the count of
    ///   non-null values, of nulls, their mean, sample standard deviation (ddof = 1),
    ///   minimum, quartiles (interpolated linearly, as pandas' `describe`; Polars takes the
    ///   nearest value) and maximum, computed on the values as `Float64`.
    /// - Another column gives `Utf8View` text: its counts, and for strings, booleans and
    ///   dates its minimum and maximum; the other statistics are null.
    ///
    /// Runs the plan at once: one pass over the data (a global aggregate, within the
    /// memory limit; the quartiles keep each numeric column's values, as
    /// [`Expr::quantile`](crate::expr::Expr::quantile) does), and returns the small result as
    /// a frame of one partition.
    ///
    /// ```
    /// use spillway::prelude::*;
    /// use spillway::arrow::array::AsArray;
    /// use spillway::arrow::datatypes::Float64Type;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let x = arrow::array::Float64Array::from(vec![Some(1.0), Some(2.0), Some(3.0), None]);
    /// let df = session.from_array("x", std::sync::Arc::new(x), 2)?.into_frame();
    /// let d = df.describe()?.collect_batch()?;
    /// assert_eq!(d.num_rows(), 9);
    /// let x = d.column(1).as_primitive::<Float64Type>();
    /// assert_eq!((x.value(0), x.value(1), x.value(2), x.value(6)), (3.0, 1.0, 2.0, 2.0));
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`DataFrame::collect`]; [`Error::Plan`] when the frame has a column named
    /// `statistic`.
    pub fn describe(&self) -> Result<DataFrame> {
        let schema = self.schema();
        if schema.field_with_name("statistic").is_ok() {
            return Err(Error::Plan(
                "describe names its first column 'statistic', and the frame has a column of \
                 that name; rename it first"
                    .into(),
            ));
        }
        let mut aggs = vec![lit(1_i64).count().alias("rows")];
        let kinds: Vec<Kind> = schema
            .fields()
            .iter()
            .map(|f| kind(f.data_type()))
            .collect();
        for (i, (f, k)) in schema.fields().iter().zip(&kinds).enumerate() {
            aggs.extend(statistics(i, f.name(), f.data_type(), *k));
        }
        let row = self.agg(aggs)?.collect_batch()?;
        let mut fields = vec![Field::new("statistic", DataType::Utf8View, false)];
        let mut columns: Vec<ArrayRef> =
            vec![Arc::new(StringViewArray::from_iter_values(STATISTICS))];
        let mut next = 1;
        for (f, k) in schema.fields().iter().zip(&kinds) {
            let (field, column) = described(f.name(), *k, &row, &mut next)?;
            fields.push(field);
            columns.push(column);
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns)
            .map_err(|e| Error::compute("describe", e))?;
        self.session.from_batches(schema, vec![batch], 1)
    }
}

/// What [`DataFrame::describe`] computes for a column of some type.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Every statistic, as `Float64`.
    Numeric,
    /// Counts, minimum and maximum (of the column as this type), as text.
    Ordered,
    /// Counts only, as text.
    Other,
}

fn kind(t: &DataType) -> Kind {
    let t = match t {
        DataType::Dictionary(_, values) => values.as_ref(),
        t => t,
    };
    if t.is_numeric() {
        Kind::Numeric
    } else if t.is_primitive()
        || matches!(
            t,
            DataType::Boolean | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        )
    {
        Kind::Ordered
    } else {
        Kind::Other
    }
}

/// The aggregates of column `i` (`name`, of type `t`), named `c{i} ...`.
fn statistics(i: usize, name: &str, t: &DataType, kind: Kind) -> Vec<AggExpr> {
    let named = |a: AggExpr, s: &str| a.alias(format!("c{i} {s}"));
    let mut out = vec![named(col(name).count(), "count")];
    match kind {
        Kind::Numeric => {
            let x = || col(name).cast(DataType::Float64);
            out.extend([
                named(x().mean(), "mean"),
                named(x().std(), "std"),
                named(x().min(), "min"),
                named(x().quantile(0.25), "25%"),
                named(x().quantile(0.5), "50%"),
                named(x().quantile(0.75), "75%"),
                named(x().max(), "max"),
            ]);
        }
        Kind::Ordered => {
            let x = || match t {
                DataType::Dictionary(_, values) => col(name).cast(values.as_ref().clone()),
                _ => col(name),
            };
            out.extend([named(x().min(), "min"), named(x().max(), "max")]);
        }
        Kind::Other => {}
    }
    out
}

/// Column `name`'s nine values, from the aggregate's one row (`row`, its columns for this
/// column from `*next` on, which moves past them).
fn described(
    name: &str,
    kind: Kind,
    row: &RecordBatch,
    next: &mut usize,
) -> Result<(Field, ArrayRef)> {
    let rows = u64_at(row, 0)?;
    let count = u64_at(row, *next)?;
    let nulls = rows.saturating_sub(count);
    let mut take = |n: usize| {
        let cols: Vec<ArrayRef> = row.columns()[*next + 1..*next + 1 + n].to_vec();
        *next += 1 + n;
        cols
    };
    Ok(match kind {
        Kind::Numeric => {
            let stats = take(7);
            let mut values = vec![Some(count as f64), Some(nulls as f64)];
            for c in &stats {
                let c = c
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .ok_or_else(|| Error::Internal(format!("describe of {name}: not Float64")))?;
                values.push(c.is_valid(0).then(|| c.value(0)));
            }
            (
                Field::new(name, DataType::Float64, true),
                Arc::new(Float64Array::from(values)) as ArrayRef,
            )
        }
        Kind::Ordered | Kind::Other => {
            let mut values = vec![Some(count.to_string()), Some(nulls.to_string())];
            values.extend([None, None]);
            let extremes = if matches!(kind, Kind::Ordered) {
                take(2)
            } else {
                take(0)
            };
            let text = |c: Option<&ArrayRef>| -> Result<Option<String>> {
                let Some(c) = c.filter(|c| c.is_valid(0)) else {
                    return Ok(None);
                };
                let f = ArrayFormatter::try_new(c.as_ref(), &FormatOptions::default())
                    .map_err(|e| Error::compute(format!("describe of {name}"), e))?;
                Ok(Some(f.value(0).to_string()))
            };
            values.push(text(extremes.first())?);
            values.extend([None, None, None]);
            values.push(text(extremes.get(1))?);
            (
                Field::new(name, DataType::Utf8View, true),
                Arc::new(StringViewArray::from(values)) as ArrayRef,
            )
        }
    })
}

/// The `UInt64` count in column `i` of the aggregate's one row.
fn u64_at(row: &RecordBatch, i: usize) -> Result<u64> {
    row.column(i)
        .as_any()
        .downcast_ref::<arrow::array::UInt64Array>()
        .filter(|c| c.len() == 1)
        .map(|c| c.value(0))
        .ok_or_else(|| Error::Internal(format!("describe's count {i} is not one UInt64")))
}
