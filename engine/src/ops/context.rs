//! What a running task may use besides its inputs: the [`TaskContext`].
//!
//! Every operator receives one. It names the task (for the memory consumers it reserves
//! as and for errors), carries the run's cancel flag, memory pool, spill folder and
//! activity (for the waiting rule), and tallies what the task held and spilled for
//! `explain_analyze`. Tests build one with `crate::testing::TestContext`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use spillway_planner::{Error, Result};

use crate::memory::{Activity, MemoryPool, Reservation, Tally};
use crate::spill::{SpillDir, SpillFile, SpillStats, SpillWriter};

/// A stream of batches: a partition being read, or the output of the operators so far.
pub type Batches<'a> = Box<dyn Iterator<Item = Result<RecordBatch>> + Send + 'a>;

/// What a running task may use besides its inputs.
#[derive(Debug)]
pub struct TaskContext<'a> {
    /// The task's name, `stage[partition]`, for the consumers it reserves memory as.
    pub name: String,
    /// Raised when another task failed or the run was cancelled from outside.
    pub cancel: &'a AtomicBool,
    /// The memory budget.
    pub memory: &'a Arc<MemoryPool>,
    /// The run's spill folder.
    pub spill: &'a Arc<SpillDir>,
    /// Largest number of rows in one output batch.
    pub batch_rows: usize,
    /// The output partition the task writes (its place among the partitions of its stream).
    pub partition: usize,
    /// The task's place in its stage, from 0: which of its stage's inputs it reads.
    pub place: usize,
    /// The schema of what a writing task writes (the graph's result before the write).
    pub output_schema: &'a SchemaRef,
    /// What the task holds and spills, for `explain_analyze`.
    pub tally: &'a TaskTally,
    /// The run's tasks running now, and those of them waiting for memory.
    pub activity: &'a Activity,
}

/// Memory and spill counted for one task.
#[derive(Debug, Default)]
pub struct TaskTally {
    /// Bytes its reservations held.
    pub memory: Arc<Tally>,
    /// What it spilled.
    pub spill: Arc<SpillStats>,
}

impl TaskContext<'_> {
    /// A reservation named after the task and `what`, counted in the task's tally.
    pub fn reserve(&self, what: &str) -> Reservation {
        self.memory
            .reserve_tallied(format!("{} {what}", self.name), &self.tally.memory)
    }

    /// A new spill file, counted in the task's tally.
    ///
    /// # Errors
    /// As [`SpillDir::writer`].
    pub fn spill_writer(&self, schema: &SchemaRef) -> Result<SpillWriter> {
        self.spill.writer_tallied(schema, Some(&self.tally.spill))
    }

    /// Batches written to a new spill file, counted in the task's tally.
    ///
    /// # Errors
    /// As [`SpillDir::write`].
    pub fn spill_write(
        &self,
        schema: &SchemaRef,
        batches: impl IntoIterator<Item = RecordBatch>,
    ) -> Result<SpillFile> {
        self.spill
            .write_tallied(schema, batches, Some(&self.tally.spill))
    }

    /// Resizes `mem` to `bytes`, waiting for other tasks of the run to give memory back
    /// by the pool's waiting rule ([`MemoryPool::resize_waiting`]): for an operator that has
    /// split its input as far as it can.
    ///
    /// # Errors
    /// As [`MemoryPool::resize_waiting`]; [`Error::Cancelled`] when the run is cancelled
    /// meanwhile.
    pub fn resize_waiting(&self, mem: &mut Reservation, bytes: usize) -> Result<()> {
        self.memory
            .resize_waiting(mem, bytes, self.activity, || self.check())
    }

    /// [`Error::Cancelled`] when the run has been cancelled (another task failed, or the
    /// caller cancelled it). Operators call it at least once per batch of their own loops,
    /// never per row: a cancelled run stops at its tasks' next batch boundary.
    pub fn check(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}
