//! The contract between the planner and the formats: [`DataSource`] and [`ScanPartition`].
//!
//! A source knows its schema and its partitions without reading data (a Parquet dataset
//! reads footers only). When a plan is lowered, the source is asked for the partitions of
//! one scan, given the columns the plan needs and the filters pushed down to it; each
//! partition is then read, inside a task, as a stream of bounded-size Arrow batches.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::expr::Expr;
use crate::{Error, Result};

/// A stream of batches from one partition.
pub type BatchStream = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

/// How far a source can apply a filter itself (a three-way answer, as in DataFusion).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterPushdown {
    /// The source returns exactly the matching rows; the filter can be dropped above it.
    Exact,
    /// The source skips data that cannot match (row groups, files) but may return rows
    /// that do not match; the filter stays above it.
    Inexact,
    /// The source cannot use the filter.
    Unsupported,
}

/// What one scan of a source should produce.
#[derive(Clone, Debug)]
pub struct ScanRequest<'a> {
    /// Indices into the source schema of the columns to read, in output order; `None` for all.
    pub projection: Option<&'a [usize]>,
    /// Filters the source agreed to use ([`FilterPushdown::Exact`] or `Inexact`), over the
    /// source's full schema.
    pub filters: &'a [Expr],
    /// The largest number of rows in one batch.
    pub batch_rows: usize,
    /// The decoded bytes one batch should stay near, where the source knows how wide its
    /// rows are before reading them (a Parquet partition divides it by its row groups'
    /// uncompressed bytes per row of the projected columns): never more than `batch_rows`
    /// rows, and at least one row, however wide.
    pub batch_bytes: usize,
    /// The size a partition should aim at, in bytes of decoded data, where the source can
    /// choose (a Parquet partition groups row groups up to this size).
    pub target_partition_bytes: usize,
    /// The fewest partitions worth having, so that every worker has one (the session's
    /// thread count), where the source can cut finer than `target_partition_bytes`.
    pub min_partitions: usize,
}

impl ScanRequest<'_> {
    /// Checks the request against a source of `columns` columns.
    ///
    /// # Errors
    /// [`Error::Config`] for `batch_rows` or `batch_bytes` 0; [`Error::Internal`] for a
    /// projection index out of range (the planner built a bad request).
    pub fn check(&self, columns: usize) -> Result<()> {
        if self.batch_rows == 0 {
            return Err(Error::Config("batch_rows must be at least 1".into()));
        }
        if self.batch_bytes == 0 {
            return Err(Error::Config("batch_bytes must be at least 1".into()));
        }
        if let Some(bad) = self
            .projection
            .and_then(|p| p.iter().find(|&&i| i >= columns))
        {
            return Err(Error::Internal(format!(
                "scan projection index {bad} is out of range for {columns} columns"
            )));
        }
        Ok(())
    }
}

/// A table that can be read partition by partition.
pub trait DataSource: Send + Sync + fmt::Debug {
    /// A short description for `explain`: the format and the location.
    fn name(&self) -> String;

    /// The schema of every batch the source produces (before projection).
    fn schema(&self) -> SchemaRef;

    /// How the source would use `filter` (over its full schema).
    fn filter_pushdown(&self, filter: &Expr) -> FilterPushdown {
        let _ = filter;
        FilterPushdown::Unsupported
    }

    /// The partitions of one scan, after pruning with the request's filters. Reads metadata
    /// only.
    ///
    /// # Errors
    /// Metadata that cannot be read (a missing or corrupt file) names the file.
    fn plan_scan(&self, request: &ScanRequest<'_>) -> Result<Vec<Arc<dyn ScanPartition>>>;

    /// What identifies the data this source reads, for a resumable write: a text that
    /// changes when the data may have changed (each file's path, length and modification
    /// time; a hash of in-memory batches) and the options that change what is read.
    ///
    /// # Errors
    /// [`Error::Plan`] when the source cannot tell whether its data changed (the default):
    /// a write reading it cannot resume. A file that cannot be looked at names it.
    fn fingerprint(&self) -> Result<String> {
        Err(Error::Plan(format!(
            "{} cannot tell whether its data changed, so a write reading it cannot resume",
            self.name()
        )))
    }
}

/// One partition of a scan, read inside one task.
pub trait ScanPartition: Send + Sync + fmt::Debug {
    /// What the partition covers, e.g. `part-0.parquet row groups [0, 1]`.
    fn describe(&self) -> String;

    /// Rows in the partition, when known before reading.
    fn estimated_rows(&self) -> Option<usize>;

    /// Bytes of decoded data (about what its batches take as Arrow arrays, not its size on
    /// disk), when known before reading. Lowering decides a join's broadcast by it, so a
    /// source should rather overestimate; an underestimate costs a fallback at run time.
    fn estimated_bytes(&self) -> Option<usize>;

    /// Reads the partition as batches of at most the request's `batch_rows` rows (and,
    /// where the source can tell, of about its `batch_bytes`).
    ///
    /// # Errors
    /// A file that cannot be opened or decoded names the file.
    fn open(&self) -> Result<BatchStream>;
}
