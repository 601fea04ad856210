//! Exchange buckets: a producer's output hashed into one bucket per consumer, held in
//! memory while the budget allows and spilled to compressed IPC files when it does not.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use spillway_planner::Result;

use crate::memory::Reservation;
use crate::ops::context::{Batches, TaskContext};
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
        if self.held.try_grow_held(size).is_ok() {
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
            let mut b = Buckets::new(2, &ctx);
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
