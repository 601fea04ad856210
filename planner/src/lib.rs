//! # spillway-planner: what to compute
//!
//! The vocabulary every other Spillway crate speaks:
//!
//! ```text
//!  source ──► logical plan ──► optimizer ──► task graph ──► executor ──► sink / result
//!  (io)        (planner)        (planner)     (engine)      (engine)      (io)
//! ```
//!
//! - [`expr`]: expressions (`col`, `lit`, arithmetic, comparisons, `and/or/not`, `is_null`,
//!   `cast`, `alias`, `apply`), type-checked against a schema when a plan node is built.
//! - [`functions`]: built-in functions (`abs`, `round`, `sqrt`, `pow`, ...), one file per
//!   family, all behind the one [`Expr::Function`](expr::Expr::Function) variant.
//! - [`coerce`]: how operands of different types combine (numbers, decimals, dates).
//! - [`agg`]: aggregate expressions (`sum mean min max count std var`).
//! - [`udf`]: user closures, typed by their Rust signatures (no `meta` as in Dask).
//! - [`scalar`]: single values (literals, dates, decimals, reduction results) and their
//!   Rust conversions.
//! - [`logical`]: the logical plan, a closed enum whose nodes are checked when built.
//! - [`optimizer`]: predicate and projection pushdown, in a documented order.
//! - [`source`]: the [`DataSource`](source::DataSource) contract the formats implement.
//! - [`sort`]: sort keys (direction, nulls first or last).
//! - [`sink`]: the [`DataSink`](sink::DataSink) contract for writing results partition by partition.
//! - [`config`]: typed session configuration, parsed once at the edge.
//! - [`error`]: the one error enum, grouped by whose fault it is.
//! - [`batch`]: helpers over Arrow batches the engine and io share (what a batch holds,
//!   compacting string views).
//!
//! ```
//! use spillway_planner::expr::{col, lit};
//! use arrow::datatypes::{DataType, Field, Schema};
//!
//! let schema = Schema::new(vec![Field::new("n", DataType::Int64, false)]);
//! let e = (col("n") * lit(2)).gt(lit(10));
//! assert_eq!(e.data_type(&schema).unwrap(), DataType::Boolean);
//! assert!(col("typo").to_field(&schema).is_err());
//! ```

pub mod agg;
pub mod batch;
pub mod coerce;
pub mod config;
pub mod element;
pub mod error;
pub mod expr;
pub mod functions;
pub mod logical;
pub mod optimizer;
pub mod scalar;
pub mod sink;
pub mod sort;
pub mod source;
pub mod udf;

pub use error::{Error, Result};
