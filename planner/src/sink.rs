//! The contract between the engine and the formats it writes: [`DataSink`] and
//! [`PartitionWriter`].
//!
//! A sink receives each output partition of a computation through its own writer, inside
//! the task that produces the partition, so a result is never gathered in memory to be
//! written: `write_parquet` of a 100-million-row group-by writes one file per hash bucket
//! as the groups are finished.

use std::fmt;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::Result;

/// Where a computation's output goes, partition by partition.
pub trait DataSink: Send + Sync + fmt::Debug {
    /// A short description for `explain`: the format and the location.
    fn name(&self) -> String;

    /// A writer for output partition `partition` (each partition is written by one task;
    /// partitions are numbered from 0 in output order).
    ///
    /// # Errors
    /// A file that cannot be created names the file.
    fn open(&self, partition: usize, schema: &SchemaRef) -> Result<Box<dyn PartitionWriter>>;
}

/// Writes the batches of one output partition.
pub trait PartitionWriter: Send {
    /// Appends a batch.
    ///
    /// # Errors
    /// A write that fails names the file.
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;

    /// Bytes the writer holds in memory between writes (a Parquet writer's open row group),
    /// which the engine reserves from the memory budget; 0 for a writer that holds nothing.
    fn buffered_bytes(&self) -> usize {
        0
    }

    /// Writes out what the writer holds, so that [`PartitionWriter::buffered_bytes`] drops
    /// (a Parquet writer closes its row group early: the file stays valid, its row groups
    /// are smaller). The engine calls it when the memory budget cannot cover the buffer.
    ///
    /// # Errors
    /// A write that fails names the file.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    /// Completes the partition (a file's footer) and returns the rows written.
    ///
    /// # Errors
    /// A write that fails names the file.
    fn finish(self: Box<Self>) -> Result<usize>;
}
