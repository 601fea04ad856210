//! The spillable batch store: batches held between tasks, in memory while the budget's
//! held share allows and in compressed IPC spill files beyond it.
//!
//! One store serves every operator whose output waits for a later stage: an exchange's
//! buckets (a shuffle, a partial aggregate's states, rows held for a repartition), and a
//! sort's runs. A store has numbered *parts* (a bucket, or a run), each a sequence of
//! batches, read back in the order they were added.
//!
//! - [`Store::push`] adds one batch to a part (exchange). It stays in memory while the
//!   pool's total stays within the policy's held share ([`Reservation::try_grow_held`]);
//!   otherwise every part's in-memory batches, and this one, are spilled, one file per
//!   part, and the held memory is returned. Spilling everything at once keeps the files
//!   few and large.
//! - [`Store::push_run`] adds a new part holding a whole sequence (a sorted run): in
//!   memory if it fits the held share, as one spill file otherwise.
//! - [`Store::push_file`] adds a new part that is already a spill file (a run the sort
//!   spilled itself).
//!
//! A part's spill files come before its in-memory batches in push order (a spill moves
//! every batch held so far), so reading a part gives its batches in the order they were
//! pushed; first/last aggregates and the order-keeping repartition rely on it. The memory
//! of in-memory batches is one reservation, returned when the store is dropped; spill
//! files delete themselves. A batch is compacted before it is charged ([`compact`]: a
//! string-view column cut from a bigger one holds only its own strings), and charged by
//! [`batch_bytes`], which counts a buffer its columns or slices share once.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use spillway_planner::Result;
use spillway_planner::batch::{batch_bytes, batches_bytes, compact};

use crate::memory::Reservation;
use crate::ops::context::{Batches, TaskContext};
use crate::spill::SpillFile;

/// Numbered parts of batches, in memory and spilled, and the memory they hold.
#[derive(Debug)]
pub struct Store {
    parts: Vec<Part>,
    held: Reservation,
    rows: usize,
}

/// One part's batches, spilled and in memory.
#[derive(Debug, Default)]
pub struct Part {
    files: Vec<SpillFile>,
    batches: Vec<RecordBatch>,
}

impl Part {
    /// The part's batches in push order (its spill files', then those in memory).
    ///
    /// # Errors
    /// A spill file that cannot be opened.
    pub fn read(&self) -> Result<Batches<'_>> {
        let mut readers: Vec<Batches<'_>> = Vec::with_capacity(self.files.len() + 1);
        for f in &self.files {
            readers.push(Box::new(f.read()?));
        }
        readers.push(Box::new(self.batches.iter().cloned().map(Ok)));
        Ok(Box::new(readers.into_iter().flatten()))
    }

    /// Whether any of the part's batches are in spill files.
    pub fn is_spilled(&self) -> bool {
        !self.files.is_empty()
    }

    /// Rows held, in memory and spilled.
    pub fn rows(&self) -> usize {
        self.files.iter().map(SpillFile::rows).sum::<usize>()
            + self
                .batches
                .iter()
                .map(RecordBatch::num_rows)
                .sum::<usize>()
    }

    /// The part's rows `[start, end)` in push order; spill files wholly outside the range
    /// are not opened.
    ///
    /// # Errors
    /// A spill file that cannot be opened.
    pub fn read_rows(&self, start: usize, end: usize) -> Result<Batches<'_>> {
        let mut readers: Vec<Batches<'_>> = Vec::new();
        let mut at = 0;
        for f in &self.files {
            let (first, last) = (at, at + f.rows());
            at = last;
            if last > start && first < end {
                readers.push(Box::new(slice_rows(f.read()?, first, start, end)));
            }
        }
        let in_memory = self.batches.iter().cloned().map(Ok);
        readers.push(Box::new(slice_rows(in_memory, at, start, end)));
        Ok(Box::new(readers.into_iter().flatten()))
    }
}

/// The rows `[start, end)` of a stream whose first row is row `first`.
fn slice_rows<'a>(
    batches: impl Iterator<Item = Result<RecordBatch>> + Send + 'a,
    first: usize,
    start: usize,
    end: usize,
) -> impl Iterator<Item = Result<RecordBatch>> + Send + 'a {
    let (mut at, mut batches) = (first, batches);
    std::iter::from_fn(move || {
        loop {
            if at >= end {
                return None;
            }
            let b = match batches.next()? {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
            let (lo, hi) = (at, at + b.num_rows());
            at = hi;
            let (from, to) = (lo.max(start), hi.min(end));
            if from < to {
                return Some(Ok(b.slice(from - lo, to - from)));
            }
        }
    })
}

impl Store {
    /// `n` empty parts, their memory held by the task of `ctx` as `what`.
    pub fn new(n: usize, what: &str, ctx: &TaskContext<'_>) -> Self {
        Store {
            parts: (0..n).map(|_| Part::default()).collect(),
            held: ctx.reserve(what),
            rows: 0,
        }
    }

    /// Rows added to all parts.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// How many parts.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Whether there are no parts.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Part `i` (`None` past the end).
    pub fn get(&self, i: usize) -> Option<&Part> {
        self.parts.get(i)
    }

    /// Every part, in order.
    pub fn parts(&self) -> impl Iterator<Item = &Part> {
        self.parts.iter()
    }

    /// Adds `batch` to part `i`; when its memory cannot be held, every part's batches (and
    /// this one) are spilled.
    ///
    /// # Errors
    /// [`spillway_planner::Error::Io`] when spilling fails.
    pub fn push(
        &mut self,
        i: usize,
        batch: RecordBatch,
        schema: &SchemaRef,
        ctx: &TaskContext<'_>,
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.rows += batch.num_rows();
        let batch = compact(batch);
        if self.held.try_grow_held(batch_bytes(&batch)).is_ok() {
            self.parts[i].batches.push(batch);
            return Ok(());
        }
        self.spill_all(schema, ctx)?;
        let file = ctx.spill_write(schema, [batch])?;
        self.parts[i].files.push(file);
        Ok(())
    }

    /// Adds a new part holding `batches` (a sorted run): in memory when it fits the held
    /// share (a buffer its batches share charged once), as one spill file otherwise.
    ///
    /// # Errors
    /// [`spillway_planner::Error::Io`] when spilling fails.
    pub fn push_run(
        &mut self,
        batches: Vec<RecordBatch>,
        schema: &SchemaRef,
        ctx: &TaskContext<'_>,
    ) -> Result<()> {
        self.rows += batches.iter().map(RecordBatch::num_rows).sum::<usize>();
        let batches: Vec<RecordBatch> = batches.into_iter().map(compact).collect();
        let size = batches_bytes(&batches);
        let part = if self.held.try_grow_held(size).is_ok() {
            Part {
                files: Vec::new(),
                batches,
            }
        } else {
            Part {
                files: vec![ctx.spill_write(schema, batches)?],
                batches: Vec::new(),
            }
        };
        self.parts.push(part);
        Ok(())
    }

    /// Adds a new part that is already a spill file.
    pub fn push_file(&mut self, file: SpillFile) {
        self.rows += file.rows();
        self.parts.push(Part {
            files: vec![file],
            batches: Vec::new(),
        });
    }

    /// Writes every part's in-memory batches to its own spill file and frees them.
    fn spill_all(&mut self, schema: &SchemaRef, ctx: &TaskContext<'_>) -> Result<()> {
        for part in &mut self.parts {
            if !part.batches.is_empty() {
                let batches = std::mem::take(&mut part.batches);
                part.files.push(ctx.spill_write(schema, batches)?);
            }
        }
        self.held.free();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestContext, keyed, keyed_schema};

    fn values(stream: Batches<'_>) -> Vec<i64> {
        use arrow::array::AsArray;
        use arrow::datatypes::Int64Type;
        stream
            .flat_map(|b| {
                b.unwrap()
                    .column(1)
                    .as_primitive::<Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect()
    }

    #[test]
    fn buckets_keep_push_order_in_memory_and_spilled() {
        for (limit, spills) in [(1 << 30, false), (8 << 10, true)] {
            let t = TestContext::new(limit);
            let ctx = t.ctx();
            let mut b = Store::new(2, "buckets", &ctx);
            for (i, batch) in keyed(2000, 1, 100).into_iter().enumerate() {
                b.push(i % 2, batch, &keyed_schema(), &ctx).unwrap();
            }
            // An empty batch changes nothing.
            let empty = keyed(1, 1, 1)[0].slice(0, 0);
            b.push(0, empty, &keyed_schema(), &ctx).unwrap();
            assert_eq!(b.rows(), 2000);
            assert_eq!(t.spilled_bytes() > 0, spills, "limit {limit}");
            let even: Vec<i64> = (0..2000).filter(|i| (i / 100) % 2 == 0).collect();
            assert_eq!(values(b.get(0).unwrap().read().unwrap()), even);
            assert_eq!(b.get(0).unwrap().rows(), 1000);
            // Rows 150..450 of bucket 0 are its 2nd batch's second half, the 3rd and 4th
            // batches, and the first half of the 5th.
            let cut = values(b.get(0).unwrap().read_rows(150, 450).unwrap());
            assert_eq!(cut, even[150..450].to_vec());
            assert!(b.get(2).is_none());
            drop(b);
            assert_eq!(t.memory.used(), 0);
        }
    }
}
