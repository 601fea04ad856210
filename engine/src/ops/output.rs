//! Where a task's finished batches go: held as its output, or written to a sink.
//!
//! A writer's buffer (a Parquet writer's open row group, up to its row-group size) is
//! reserved as `sink buffer` after every write; when the budget cannot cover it, the
//! writer flushes early (smaller row groups, the same data) rather than hold memory the
//! pool does not know about. A writing task's output is one row: the count of rows written
//! (schema [`rows_written_schema`]).

use std::sync::Arc;

use arrow::array::RecordBatch;
use spillway_planner::sink::{DataSink, PartitionWriter};
use spillway_planner::{Error, Result};

use crate::graph::rows_written_schema;
use crate::memory::Reservation;
use crate::ops::context::TaskContext;

/// A task's finished batches, held or written.
pub struct Output {
    held: Vec<RecordBatch>,
    writer: Option<Box<dyn PartitionWriter>>,
    buffer: Reservation,
}

impl Output {
    /// Holds the batches (`sink` `None`) or writes them as the task's output partition.
    ///
    /// # Errors
    /// The sink's error opening the partition's writer.
    pub fn new(sink: Option<&Arc<dyn DataSink>>, ctx: &TaskContext<'_>) -> Result<Self> {
        let writer = match sink {
            Some(s) => Some(s.open(ctx.partition, ctx.output_schema)?),
            None => None,
        };
        Ok(Output {
            held: Vec::new(),
            writer,
            buffer: ctx.reserve("sink buffer"),
        })
    }

    /// Takes one finished batch.
    ///
    /// # Errors
    /// The sink's write error.
    pub fn emit(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        match &mut self.writer {
            Some(w) => {
                w.write(&batch)?;
                if self.buffer.try_resize(w.buffered_bytes()).is_err() {
                    w.flush()?;
                    // What a flushed writer keeps (empty page buffers) is small; if even
                    // that is not free, the reservation keeps what it had.
                    let _ = self.buffer.try_resize(w.buffered_bytes());
                }
                Ok(())
            }
            None => {
                self.held.push(batch);
                Ok(())
            }
        }
    }

    /// The held batches, or the one-row count of rows written.
    ///
    /// # Errors
    /// The sink's error finishing the partition.
    pub fn finish(self) -> Result<Vec<RecordBatch>> {
        match self.writer {
            None => Ok(self.held),
            Some(w) => {
                let rows = w.finish()?;
                let count = arrow::array::UInt64Array::from(vec![rows as u64]);
                let batch = RecordBatch::try_new(rows_written_schema(), vec![Arc::new(count)])
                    .map_err(|e| Error::compute("rows written", e))?;
                Ok(vec![batch])
            }
        }
    }
}
