//! The one integration-test binary: specs through the public API, one module per theme.

mod cancel;
mod conditionals;
mod csv_files;
mod csv_fuzz;
mod disk;
mod expressions;
mod faults;
mod files;
mod frame;
mod frame_ops;
mod functions;
mod group_by;
mod join;
mod join_memory;
mod limits;
mod parallel;
mod parquet_faults;
mod parquet_files;
mod parquet_fuzz;
#[cfg(feature = "polars")]
mod polars_interop;
mod props;
mod repartition;
mod sort;
mod strings;
mod temporal;
mod views;
mod writes;
