//! The interface between [`FileSink`](crate::FileSink) and the format it writes.

use arrow::array::RecordBatch;

/// One format's writer of one file (its errors are messages; the sink names the file).
pub(crate) trait Encoder: Send {
    /// Appends a batch.
    fn write(&mut self, batch: &RecordBatch) -> Result<(), String>;
    /// Bytes held in memory between writes (see `PartitionWriter::buffered_bytes`).
    fn buffered_bytes(&self) -> usize {
        0
    }
    /// Writes out what is held in memory (see `PartitionWriter::flush`).
    fn flush(&mut self) -> Result<(), String> {
        Ok(())
    }
    /// Writes the footer and flushes.
    fn finish(self: Box<Self>) -> Result<(), String>;
}
