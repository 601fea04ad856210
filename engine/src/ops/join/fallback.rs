//! The broadcast join's fallback, for a right side that turns out too big for memory.
//!
//! Lowering broadcasts a right side *estimated* within the memory policy's broadcast share,
//! and estimates can be wrong (a projection that adds wide columns, a compressed file).
//! When the build task ([`super::broadcast_build`]) finds that the table does not fit, it
//! does not fail: it hash-partitions the right side ([`partition_right`], seed [`SEED`])
//! into the spillable store's buckets, about as many as make one bucket's table fit the
//! broadcast share (at least [`FANOUT`], at most [`MAX_BUCKETS`]), and hands those on
//! instead of a table.
//!
//! Every left partition's probe then sees buckets ([`probe_buckets`]). The join types a
//! broadcast runs (inner, left, semi, anti) need, for each left row, only the right rows of
//! its own key, so the probe reads its whole left partition into buckets of the same hash
//! (in a store: in memory within the held share, spilled beyond it) and joins them bucket
//! by bucket with the grace join's own machinery (`grace::join_sides`), which splits a
//! bucket further when its table still does not fit. The probe stops being a streaming
//! operator then: it holds its left partition (spillable) and one bucket's joined rows
//! at a time (`Spool`: in memory within the held share, the rest in a spill file). Rows
//! come out bucket by bucket, so the left partition's row order is not kept (joins
//! promise none). The memory reserved is returned when the probe's stream is dropped.

use std::collections::VecDeque;

use arrow::array::RecordBatch;
use spillway_planner::Result;

use crate::graph::JoinSpec;
use crate::memory::Reservation;
use crate::ops::context::{Batches, TaskContext};
use crate::ops::join::grace::{self, FANOUT, MAX_DEPTH};
use crate::ops::store::Store;
use crate::spill::SpillWriter;

/// The hash seed of the fallback's buckets: neither the shuffles' (0) nor any of the grace
/// join's splits' (1 to [`MAX_DEPTH`]), so a bucket split further is cut anew.
pub const SEED: u64 = MAX_DEPTH as u64 + 1;

/// The most buckets: every left partition's probe holds one part of its store per bucket.
pub const MAX_BUCKETS: usize = 64;

/// How many buckets a right side of about `bytes` is cut into: enough for one bucket's
/// table (about twice its rows' bytes) to fit the policy's broadcast share.
pub fn buckets_for(bytes: usize, ctx: &TaskContext<'_>) -> usize {
    let pool = ctx.memory;
    let share = pool.policy().broadcast_bytes(pool.limit(), usize::MAX);
    (2 * bytes)
        .div_ceil(share.max(1))
        .clamp(FANOUT, MAX_BUCKETS)
}

/// The right side's rows hash-partitioned into the buckets a right side of about `bytes`
/// needs ([`buckets_for`]).
///
/// # Errors
/// The stream's error; an I/O error when spilling fails.
pub fn partition_right(
    right: impl Iterator<Item = Result<RecordBatch>>,
    bytes: usize,
    spec: &JoinSpec,
    ctx: &TaskContext<'_>,
) -> Result<Store> {
    let n = buckets_for(bytes, ctx);
    let checked = right.map(|b| ctx.check().and(b));
    grace::partition(checked, &spec.right, SEED, n, ctx)
}

/// Joins a left partition with the right side's buckets, bucket by bucket (see the module
/// doc).
pub fn probe_buckets<'a>(
    input: Batches<'a>,
    right: &'a Store,
    spec: &'a JoinSpec,
    ctx: &'a TaskContext<'_>,
) -> Batches<'a> {
    Box::new(BucketProbe {
        input: Some(input),
        right,
        left: None,
        next: 0,
        out: None,
        spec,
        ctx,
        failed: false,
    })
}

/// The state of [`probe_buckets`].
struct BucketProbe<'a, 'c> {
    /// The left partition, until it is read into `left`.
    input: Option<Batches<'a>>,
    right: &'a Store,
    /// The left partition in the right side's buckets.
    left: Option<Store>,
    /// The next bucket to join.
    next: usize,
    /// The joined rows of the last bucket joined, being handed on.
    out: Option<Spool>,
    spec: &'a JoinSpec,
    ctx: &'a TaskContext<'c>,
    failed: bool,
}

impl BucketProbe<'_, '_> {
    /// Reads the left partition into buckets, or joins the next bucket into `out`; `false`
    /// when every bucket is done.
    fn step(&mut self) -> Result<bool> {
        if let Some(input) = self.input.take() {
            let n = self.right.len();
            self.left = Some(grace::partition(input, &self.spec.left, SEED, n, self.ctx)?);
            return Ok(true);
        }
        let bucket = self.next;
        let Some(left) = self.left.as_ref().and_then(|l| l.get(bucket)) else {
            return Ok(false);
        };
        self.next += 1;
        if left.rows() == 0 {
            // No left rows: nothing to output in an inner, left, semi or anti join.
            return Ok(true);
        }
        let right: Batches<'_> = match self.right.get(bucket) {
            Some(part) => part.read()?,
            None => Box::new(std::iter::empty()),
        };
        let mut out = Spool::new(self.ctx);
        grace::join_sides(left.read()?, right, self.spec, self.ctx, &mut |b| {
            out.push(b, self.spec, self.ctx)
        })?;
        out.finish()?;
        self.out = Some(out);
        Ok(true)
    }
}

impl Iterator for BucketProbe<'_, '_> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        loop {
            if self.failed {
                return None;
            }
            if let Some(b) = self.out.as_mut().and_then(Spool::next) {
                return Some(b);
            }
            self.out = None;
            match self.step() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// One bucket's joined rows, held until handed on: in memory within the held share, the
/// rest (in order, after them) in one spill file, read back one batch at a time.
struct Spool {
    batches: VecDeque<RecordBatch>,
    held: Reservation,
    writer: Option<SpillWriter>,
    spilled: Option<Batches<'static>>,
}

impl Spool {
    fn new(ctx: &TaskContext<'_>) -> Self {
        Spool {
            batches: VecDeque::new(),
            held: ctx.reserve("broadcast join output"),
            writer: None,
            spilled: None,
        }
    }

    fn push(&mut self, batch: RecordBatch, spec: &JoinSpec, ctx: &TaskContext<'_>) -> Result<()> {
        let batch = spillway_planner::batch::compact(batch);
        if self.writer.is_none()
            && self
                .held
                .try_grow_held(spillway_planner::batch::batch_bytes(&batch))
                .is_ok()
        {
            self.batches.push_back(batch);
            return Ok(());
        }
        let writer = match &mut self.writer {
            Some(w) => w,
            slot => slot.insert(ctx.spill_writer(&spec.schema)?),
        };
        writer.write(&batch)
    }

    /// Ends the writing; the spilled rows are read after those in memory.
    fn finish(&mut self) -> Result<()> {
        if let Some(w) = self.writer.take() {
            self.spilled = Some(Box::new(w.finish()?.into_read()?));
        }
        Ok(())
    }

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        if let Some(b) = self.batches.pop_front() {
            self.held.shrink(spillway_planner::batch::batch_bytes(&b));
            return Some(Ok(b));
        }
        self.spilled.as_mut()?.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestContext;

    #[test]
    fn a_bucket_aims_at_half_the_broadcast_share() {
        // The broadcast share of 1 MiB is 128 KiB: a bucket of 64 KiB.
        let t = TestContext::new(1 << 20);
        let ctx = t.ctx();
        assert_eq!(buckets_for(0, &ctx), FANOUT);
        assert_eq!(buckets_for(1 << 20, &ctx), 16);
        assert_eq!(buckets_for(1 << 30, &ctx), MAX_BUCKETS);
    }
}
