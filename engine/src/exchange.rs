//! Exchange buckets: a producer's output hashed into one bucket per consumer, held in
//! memory while the budget allows and spilled to compressed IPC files when it does not.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use spillway_planner::Result;

use crate::memory::{MemoryPool, Reservation};
use crate::pipeline::{Batches, TaskContext};
use crate::spill::SpillFile;

/// A producer's buckets, and the memory their in-memory batches hold.
#[derive(Debug)]
pub struct Buckets {
    buckets: Vec<Bucket>,
    held: Reservation,
    rows: usize,
}

/// One bucket's batches, in memory and spilled.
#[derive(Debug, Default)]
pub struct Bucket {
    batches: Vec<RecordBatch>,
    files: Vec<SpillFile>,
}

impl Bucket {
    /// The bucket's batches in the order they were pushed: each spill file's, then those
    /// in memory (a spill moves every batch held so far to a file, so the files come
    /// first). First/last aggregates rely on this order.
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
}

impl Bucket {
    /// Rows held, in memory and spilled.
    pub fn rows(&self) -> usize {
        self.files.iter().map(SpillFile::rows).sum::<usize>()
            + self
                .batches
                .iter()
                .map(RecordBatch::num_rows)
                .sum::<usize>()
    }

    /// The bucket's rows `[start, end)` in push order; spill files wholly outside the range
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

impl Buckets {
    /// `n` empty buckets, their memory held by the task named in `ctx`.
    pub fn new(n: usize, ctx: &TaskContext<'_>) -> Self {
        Buckets {
            buckets: (0..n).map(|_| Bucket::default()).collect(),
            held: ctx.reserve("buckets"),
            rows: 0,
        }
    }

    /// Rows pushed into all buckets.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Bucket `i` (an empty bucket past the end).
    pub fn get(&self, i: usize) -> Option<&Bucket> {
        self.buckets.get(i)
    }

    /// Adds `batch` to bucket `b`; when its memory cannot be held, every bucket's batches
    /// (and this one) are spilled.
    ///
    /// # Errors
    /// [`spillway_planner::Error::Io`] when spilling fails.
    pub fn push(
        &mut self,
        b: usize,
        batch: RecordBatch,
        schema: &SchemaRef,
        ctx: &TaskContext<'_>,
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.rows += batch.num_rows();
        let size = batch.get_array_memory_size();
        if self
            .held
            .try_grow_held(size, MemoryPool::HELD_SHARE)
            .is_ok()
        {
            self.buckets[b].batches.push(batch);
            return Ok(());
        }
        self.spill_all(schema, ctx)?;
        let file = ctx.spill_write(schema, [batch])?;
        self.buckets[b].files.push(file);
        Ok(())
    }

    /// Writes every bucket's in-memory batches to its own spill file and frees them.
    fn spill_all(&mut self, schema: &SchemaRef, ctx: &TaskContext<'_>) -> Result<()> {
        for bucket in &mut self.buckets {
            if !bucket.batches.is_empty() {
                let batches = std::mem::take(&mut bucket.batches);
                bucket.files.push(ctx.spill_write(schema, batches)?);
            }
        }
        self.held.free();
        Ok(())
    }
}
