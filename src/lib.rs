//! # Spillway: out-of-core, partitioned, parallel dataframes on Arrow
//!
//! What Dask DataFrame is to pandas, Spillway is to Arrow and Polars: a lazy planner cuts a
//! table into partitions, builds a task graph of map / apply / reduce work over them, and
//! runs it on a thread pool under a memory budget, spilling what does not fit.
//!
//! ```text
//!  source ──► logical plan ──► optimizer ──► task graph ──► executor ──► sink / result
//!  (io)        (planner)        (planner)     (engine)      (engine)      (io)
//! ```
//!
//! This crate is the facade users depend on. It re-exports the planner's vocabulary
//! (expressions, typed closures, errors, configuration) and the `arrow` crate it speaks, so
//! users never juggle two `arrow` versions.
//!
//! ```
//! use spillway::prelude::*;
//!
//! let schema = Schema::new(vec![Field::new("n", DataType::Int64, false)]);
//! let estimate = col("n").apply(|n: i64| n as f64 / 2.0).alias("half");
//! assert_eq!(estimate.to_field(&schema)?.data_type(), &DataType::Float64);
//! # Ok::<(), spillway::Error>(())
//! ```
//!
//! Built-in functions are methods on [`Expr`](expr::Expr), one family per module of
//! [`functions`] (the math family: `abs`, `sign`, `round`, `floor`, `ceil`, `sqrt`, `cbrt`,
//! `ln`, `log10`, `log`, `exp`, `pow`, `clip`, `floor_div`; the string family behind
//! `col("s").str()`: `len_chars`, `to_uppercase`, `strip_chars`, `like`, `contains`,
//! `slice`, `replace`, `split_part`, ..., and `concat_str`; conditionals and nulls:
//! `when(..).then(..).otherwise(..)`, `coalesce`, `fill_null`, `nullif`, `is_in`, `is_nan`,
//! `fill_nan`; dates and times behind `col("d").dt()`: `year`, `month`, `weekday`, `hour`,
//! `truncate`, `add_months`, `strftime`, with `days_between` and
//! `col("s").str().to_date(format)`):
//!
//! ```
//! use spillway::prelude::*;
//!
//! let session = Session::builder().threads(2).build()?;
//! let df = session.from_vec("x", vec![-2.25_f64, 9.0, -16.0], 2)?.into_frame();
//! let out = df
//!     .select([col("x").abs().sqrt().round(1).alias("root"), col("x").pow(2)])?
//!     .collect_batch()?;
//! assert_eq!(out.schema().field(1).name(), "x");
//! let root = out.column(0).as_any().downcast_ref::<arrow::array::Float64Array>().unwrap();
//! assert_eq!(root.values(), &[1.5, 3.0, 4.0]);
//! # Ok::<(), spillway::Error>(())
//! ```
//!
//! ```
//! use spillway::prelude::*;
//!
//! let session = Session::builder().threads(2).build()?;
//! let df = session.from_vec("qty", vec![5_i64, 60, 250], 2)?.into_frame();
//! let size = when(col("qty").gt(100)).then(lit("bulk")).otherwise(lit("retail"));
//! let out = df
//!     .agg([
//!         when(col("qty").is_in([5, 60])).then(col("qty")).otherwise(0).sum().alias("small"),
//!         size.eq(lit("bulk")).cast(DataType::Int64).sum().alias("bulk"),
//!     ])?
//!     .collect_batch()?;
//! let small = out.column(0).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap();
//! assert_eq!(small.value(0), 65);
//! let bulk = out.column(1).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap();
//! assert_eq!(bulk.value(0), 1);
//! # Ok::<(), spillway::Error>(())
//! ```
//!
//! Beside dataframes, the same session runs plain parallel work, the joblib /
//! `multiprocessing` / `dask.delayed` use case: [`Session::parallel_map`] over any
//! iterator, [`Delayed`] graphs and [`Session::submit`] futures (see [`ParallelMap`],
//! [`Delayed`] and [`TaskFuture`]), with progress bars switched by
//! [`config::Progress`].
//!
//! ```
//! use spillway::prelude::*;
//!
//! // The seed pipeline of the Dask tutorial, without `meta`: the closure's signature types it.
//! let session = Session::builder().threads(2).build()?;
//! let sizes = session.from_vec("n", vec![1_000_i64; 8], 2)?;
//! let estimate: f64 = sizes.apply(|n: i64| n as f64 * 0.5)?.mean().compute()?;
//! assert_eq!(estimate, 500.0);
//! # Ok::<(), spillway::Error>(())
//! ```

mod frame;
mod parallel;
#[cfg(feature = "polars")]
pub mod polars;
mod series;
mod session;

pub use frame::{DataFrame, GroupBy, WriteOptions};
pub use parallel::{Delayed, MapResults, ParallelMap, TaskFuture, resolve_n_jobs};
pub use series::{Reduction, Series};
pub use session::{Session, SessionBuilder};
pub use spillway_engine::exec::ExecStats;
pub use spillway_engine::graph::TaskGraph;
pub use spillway_engine::memory::MemoryPool;
pub use spillway_io::dataset::{DatasetFormat, DatasetOptions, DatasetSource};
pub use spillway_io::{
    BadRow, BadRows, CsvOptions, CsvSource, CsvWriteOptions, FileFormat, IpcCompression, IpcSource,
    IpcWriteOptions, MemorySource, ParquetCompression, ParquetSource, ParquetWriteOptions,
    WriteMode,
};

pub use arrow;
/// The calendar Spillway's dates and times are read with: `chrono::NaiveDate` is what a
/// closure takes for a `Date32` value, and what `lit` takes for a date literal.
pub use chrono;
/// Polars' core crate, whose `DataFrame` is `polars::prelude::DataFrame` (feature `polars`).
#[cfg(feature = "polars")]
pub use polars_core;
/// A `Date32` literal for a calendar date: `lit(date(1998, 9, 2)?)`.
pub use spillway_planner::scalar::date;
pub use spillway_planner::{
    Error, Result, agg, coerce, config, error, expr, functions, logical, optimizer, scalar, sink,
    sort, source, udf,
};

/// The names most programs need.
pub mod prelude {
    pub use arrow::array::{Array, ArrayRef, RecordBatch};
    pub use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
    pub use spillway_planner::agg::{AggExpr, AggFunc};
    pub use spillway_planner::config::{Progress, SessionConfig};
    pub use spillway_planner::expr::{Expr, col, lit, not, null};
    pub use spillway_planner::functions::{
        CalendarUnit, DtExpr, coalesce, concat_str, days_between, when,
    };
    pub use spillway_planner::logical::JoinType;
    pub use spillway_planner::scalar::{ScalarValue, date};
    pub use spillway_planner::sort::SortKey;
    pub use spillway_planner::udf::{Element, ElementFn, PartitionFn};
    pub use spillway_planner::{Error, Result};
    /// `expr.not()`, as `!expr` and `not(expr)`: `col("x").is_in([1, 2]).not()`.
    pub use std::ops::Not;

    pub use crate::{
        BadRows, CsvOptions, CsvWriteOptions, DatasetFormat, DatasetOptions, IpcCompression,
        IpcWriteOptions, ParquetCompression, ParquetWriteOptions, WriteMode, WriteOptions,
    };
    pub use crate::{
        DataFrame, Delayed, MapResults, ParallelMap, Reduction, Series, Session, TaskFuture,
    };
}
