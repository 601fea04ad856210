//! # spillway-io: sources and sinks
//!
//! The formats Spillway reads, each an implementation of the planner's
//! [`DataSource`](spillway_planner::source::DataSource) contract:
//!
//! ```text
//!  MemorySource ──┐                        ┌─► partition 0 ─► batches (≤ batch_rows rows)
//!  ParquetSource ─┼─► plan_scan(request) ──┼─► partition 1 ─► batches
//!  CsvSource ─────┘   (metadata only)      └─► ...            (read inside one task each)
//! ```
//!
//! A source knows its schema and how it splits into partitions without reading data. The
//! planner asks it for the partitions of one scan ([`ScanRequest`](spillway_planner::source::ScanRequest):
//! the columns to read, the filters it may use, the batch size, the partition size); each
//! partition is then opened inside a task as a stream of bounded Arrow batches.
//!
//! - [`memory`]: [`MemorySource`], record batches already in memory, cut into contiguous
//!   row ranges as Dask's `from_pandas(df, npartitions)` does; reads are zero-copy slices.
//! - [`parquet`]: [`ParquetSource`], one file, a folder or a glob; footers are read once,
//!   partitions are runs of row groups of one file, and row groups whose statistics rule
//!   out the pushed-down filters are skipped.
//! - [`csv`]: [`CsvSource`], one file, a folder or a glob; the schema is inferred from a
//!   sample, partitions are byte ranges cut at record boundaries (quoted newlines included)
//!   found by one pre-pass over each file, and bad rows name their file and line.
//! - [`ipc`]: [`IpcSource`], Arrow IPC files; partitions are runs of record batches of one
//!   file, planned from the footers.
//! - [`dataset`]: hive-partitioned folders (`key=value/...`) of any of those formats, the
//!   folder values as columns, pruned by filters before a file is opened; and unifying
//!   files whose schemas differ, by column name, when asked.
//! - [`sink`]: [`FileSink`], a computation's output as Parquet, CSV or IPC files, one per
//!   output partition or split into hive folders, each written under a temporary name and
//!   renamed when complete.
//!
//! # Layout
//!
//! The modules form layers, each importing only from the layers below it:
//!
//! ```text
//!  dataset, sink              (on top: they use the formats; dataset reads sink::hive)
//!  csv, ipc, parquet, memory  (the formats: never import one another)
//!  files                      (the leaf: imports no other module of this crate)
//! ```
//!
//! What two formats both need lives in the private module `files`: listing the files a
//! pattern names (a file, a folder or a glob) and their common folder, how a source over
//! files names itself, the schema check of a multi-file dataset, the mapping of string and
//! binary types to view types, and the encoder interface [`FileSink`] drives.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Int64Array};
//! use spillway_io::MemorySource;
//! use spillway_planner::source::{DataSource, ScanRequest};
//!
//! let sizes: ArrayRef = Arc::new(Int64Array::from_iter_values(0..10));
//! let source = MemorySource::from_column("n", sizes, 3)?;
//! let request = ScanRequest {
//!     projection: None,
//!     filters: &[],
//!     batch_rows: 1024,
//!     batch_bytes: 8 << 20,
//!     target_partition_bytes: 128 << 20,
//!     min_partitions: 1,
//! };
//! let parts = source.plan_scan(&request)?;
//! assert_eq!(parts.len(), 3);
//! assert_eq!(parts[0].describe(), "memory rows [0, 4)");
//! # Ok::<(), spillway_planner::Error>(())
//! ```

pub mod csv;
pub mod dataset;
mod files;
pub mod ipc;
pub mod memory;
pub mod parquet;
pub mod sink;

pub use csv::{BadRow, BadRows, CsvOptions, CsvSource, CsvWriteOptions};
pub use ipc::{IpcCompression, IpcSource, IpcWriteOptions};
pub use memory::MemorySource;
pub use parquet::{ParquetCompression, ParquetSource, ParquetWriteOptions};
pub use sink::{FileFormat, FileSink, WriteMode};
