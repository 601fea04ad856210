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
//! Status: the planner's vocabulary is in place; the lazy `DataFrame`, the engine and the
//! Parquet source are the open work of the walking-skeleton issue (see the README).

pub use arrow;
pub use spillway_planner::{
    Error, Result, agg, config, error, expr, logical, optimizer, scalar, source, udf,
};

/// The names most programs need.
pub mod prelude {
    pub use arrow::array::{Array, ArrayRef, RecordBatch};
    pub use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
    pub use spillway_planner::agg::{AggExpr, AggFunc};
    pub use spillway_planner::config::SessionConfig;
    pub use spillway_planner::expr::{Expr, col, lit, not, null};
    pub use spillway_planner::scalar::ScalarValue;
    pub use spillway_planner::udf::{Element, ElementFn, PartitionFn};
    pub use spillway_planner::{Error, Result};
}
