//! The one integration-test binary: specs through the public API, one module per theme.

mod expressions;
mod frame;
mod parquet_files;
mod props;
