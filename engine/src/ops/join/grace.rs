//! The partitioned (grace) hash join, within the memory budget.
//!
//! Both sides are hash-partitioned on their keys into the same number of buckets
//! ([`shuffle`], into the spillable [`Store`], spilled when it does not fit). One task per
//! bucket then builds a hash table (`BuildTable`) from the right side's bucket and
//! streams the left side's bucket through it ([`join_bucket`]). When the build side
//! outgrows its reservation, both sides of the bucket are split again with another hash
//! seed into [`FANOUT`] spilled sub-buckets, joined pair by pair (recursive partitioning).
//! Rows of one key always land in the same sub-bucket, so a key whose rows alone exceed the
//! budget cannot be split: after [`MAX_DEPTH`] rounds that is
//! [`Error::ResourcesExhausted`] naming the join and the sizes (after waiting, by the
//! memory policy's waiting rule, for memory other running tasks hold). Every join type is
//! supported: unmatched build rows are emitted after the probe (right and full joins).

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::concat_batches;
use spillway_planner::batch::{batch_bytes, compact};
use spillway_planner::{Error, Result};

use crate::eval::evaluate;
use crate::graph::{JoinSpec, ShuffleSpec};
use crate::group::GroupTable;
use crate::ops::context::{Batches, TaskContext};
use crate::ops::join::table::{BuildTable, probe, right_only};
use crate::ops::store::Store;
use crate::spill::{SpillFile, SpillWriter};

/// Sub-buckets a bucket is split into when its build side does not fit.
pub const FANOUT: usize = 8;
/// Splitting rounds before a build side is declared unsplittable.
pub const MAX_DEPTH: u32 = 5;

/// Hash-partitions a side's batches into its spec's buckets.
///
/// # Errors
/// A key's error; [`Error::Io`] when spilling fails.
pub fn shuffle(stream: Batches<'_>, spec: &ShuffleSpec, ctx: &TaskContext<'_>) -> Result<Store> {
    let mut out = Store::new(spec.buckets, "buckets", ctx);
    for b in stream {
        let b = b?;
        for (bucket, piece) in split(&b, spec, 0, spec.buckets)? {
            out.push(bucket, piece, &spec.schema, ctx)?;
        }
    }
    Ok(out)
}

/// The rows of `batch` by the partition (of `n`, hash seeded with `seed`) of their keys.
fn split(
    batch: &RecordBatch,
    spec: &ShuffleSpec,
    seed: u64,
    n: usize,
) -> Result<Vec<(usize, RecordBatch)>> {
    let keys = spec
        .keys
        .iter()
        .map(|k| evaluate(k, batch))
        .collect::<Result<Vec<ArrayRef>>>()?;
    let targets = GroupTable::partition(&spec.key_types, &keys, seed, n)?;
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (i, t) in targets.into_iter().enumerate() {
        rows[t].push(i as u32);
    }
    rows.into_iter()
        .enumerate()
        .filter(|(_, r)| !r.is_empty())
        .map(|(t, r)| {
            let piece = arrow::compute::take_record_batch(batch, &UInt32Array::from(r))
                .map_err(|e| Error::compute("join shuffle", e))?;
            Ok((t, piece))
        })
        .collect()
}

/// Joins bucket `bucket` of the left side's producers with the same bucket of the right
/// side's.
///
/// # Errors
/// [`Error::ResourcesExhausted`] for a build side that cannot be split to fit;
/// [`Error::Io`] when spilling fails.
pub fn join_bucket(
    left: &[&Store],
    right: &[&Store],
    spec: &JoinSpec,
    bucket: usize,
    ctx: &TaskContext<'_>,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let left = side(left, bucket)?;
    let right = side(right, bucket)?;
    join(
        Box::new(left.into_iter().flatten()),
        Box::new(right.into_iter().flatten()),
        spec,
        ctx,
        0,
        emit,
    )
}

/// Bucket `bucket` of each producer's output.
fn side<'a>(producers: &[&'a Store], bucket: usize) -> Result<Vec<Batches<'a>>> {
    let mut out = Vec::new();
    for b in producers {
        if let Some(b) = b.get(bucket) {
            out.push(b.read()?);
        }
    }
    Ok(out)
}

fn join(
    left: Batches<'_>,
    mut right: Batches<'_>,
    spec: &JoinSpec,
    ctx: &TaskContext<'_>,
    depth: u32,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let mut build: Vec<RecordBatch> = Vec::new();
    let mut mem = ctx.reserve("join build side");
    while let Some(b) = right.next() {
        ctx.check()?;
        // Compacted: a build batch cut from a bigger one holds only its own strings.
        let b = compact(b?);
        let size = batch_bytes(&b);
        // The first batch is always taken, so that a split makes progress.
        if mem.try_grow(size).is_err() && !build.is_empty() {
            if depth >= MAX_DEPTH {
                // Split as far as it goes: what is left is the memory others hold now.
                let need = mem.size() + size;
                if ctx.resize_waiting(&mut mem, need).is_ok() {
                    build.push(b);
                    continue;
                }
                return Err(Error::ResourcesExhausted {
                    consumer: format!(
                        "{} join build side (still too big after {MAX_DEPTH} hash splits: one key's rows alone exceed the limit)",
                        ctx.name
                    ),
                    requested: need,
                    available: ctx.memory.available(),
                    limit: ctx.memory.limit(),
                });
            }
            build.push(b);
            drop(mem);
            return grace(left, build, right, spec, ctx, depth, emit);
        }
        build.push(b);
    }
    let build = concat_batches(&spec.right.schema, &build)
        .map_err(|e| Error::compute("join build side", e))?;
    let table = BuildTable::new(build, spec)?;
    // The table is about as big again as the build batch.
    let _ = mem.try_grow(table.memory_size());
    let mut matched = vec![false; table.batch.num_rows()];
    for l in left {
        ctx.check()?;
        probe(&l?, &table, &mut matched, spec, ctx, emit)?;
    }
    if spec.how.keeps_unmatched_right() {
        let unmatched: Vec<u32> = (0..matched.len() as u32)
            .filter(|&j| !matched[j as usize])
            .collect();
        for chunk in unmatched.chunks(ctx.batch_rows.max(1)) {
            ctx.check()?;
            emit(right_only(&table.batch, chunk, spec)?)?;
        }
    }
    Ok(())
}

/// Splits both sides of a bucket into sub-buckets by another hash and joins each pair.
fn grace(
    left: Batches<'_>,
    build: Vec<RecordBatch>,
    right: Batches<'_>,
    spec: &JoinSpec,
    ctx: &TaskContext<'_>,
    depth: u32,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let seed = u64::from(depth) + 1;
    let scatter = |batches: &mut dyn Iterator<Item = Result<RecordBatch>>,
                   side: &ShuffleSpec|
     -> Result<Vec<Option<SpillFile>>> {
        let mut writers: Vec<Option<SpillWriter>> = (0..FANOUT).map(|_| None).collect();
        for b in batches {
            ctx.check()?;
            for (t, piece) in split(&b?, side, seed, FANOUT)? {
                let w = match &mut writers[t] {
                    Some(w) => w,
                    slot => slot.insert(ctx.spill_writer(&side.schema)?),
                };
                w.write(&piece)?;
            }
        }
        writers
            .into_iter()
            .map(|w| w.map(SpillWriter::finish).transpose())
            .collect()
    };
    let mut right_all = build.into_iter().map(Ok).chain(right);
    let right_files = scatter(&mut right_all, &spec.right)?;
    drop(right_all);
    let mut left_all = left;
    let left_files = scatter(&mut left_all, &spec.left)?;
    for (l, r) in left_files.into_iter().zip(right_files) {
        let l_batches: Batches<'_> = match &l {
            Some(f) => Box::new(f.read()?),
            None => Box::new(std::iter::empty()),
        };
        let r_batches: Batches<'_> = match &r {
            Some(f) => Box::new(f.read()?),
            None => Box::new(std::iter::empty()),
        };
        join(l_batches, r_batches, spec, ctx, depth + 1, emit)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::TaskKind;
    use crate::testing::{TestContext, failing, keyed, lowered, pairs, scan_of, stream};
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    use spillway_planner::logical::JoinType;
    use spillway_planner::logical::LogicalPlan;
    use std::sync::Arc;

    /// The spec of an inner join of `(k, v)` with `(k, v)` on `k`.
    fn spec() -> Arc<JoinSpec> {
        let side = || scan_of(keyed(4, 2, 2));
        let plan = LogicalPlan::join(
            side(),
            side(),
            vec!["k".into()],
            vec!["k".into()],
            JoinType::Inner,
        );
        let g = lowered(plan.unwrap());
        g.tasks
            .iter()
            .find_map(|t| match &t.kind {
                TaskKind::HashJoin { spec, .. } => Some(Arc::clone(spec)),
                _ => None,
            })
            .unwrap()
    }

    /// Shuffles both sides' partitions and joins every bucket; returns the output batches.
    fn join_all(
        left: Vec<Vec<RecordBatch>>,
        right: Vec<Vec<RecordBatch>>,
        t: &TestContext,
    ) -> Result<Vec<RecordBatch>> {
        let spec = spec();
        let ctx = t.ctx();
        let shuffle_all = |parts: Vec<Vec<RecordBatch>>, side: &ShuffleSpec| {
            parts
                .into_iter()
                .map(|p| shuffle(stream(p), side, &ctx))
                .collect::<Result<Vec<Store>>>()
        };
        let (l, r) = (
            shuffle_all(left, &spec.left)?,
            shuffle_all(right, &spec.right)?,
        );
        let (l, r): (Vec<&Store>, Vec<&Store>) = (l.iter().collect(), r.iter().collect());
        let mut out = Vec::new();
        for bucket in 0..spec.left.buckets {
            join_bucket(&l, &r, &spec, bucket, &ctx, &mut |b| {
                out.push(b);
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// Left `keyed(rows, keys, per)` in `parts`-batch partitions, right one row per key.
    fn check(rows: i64, keys: i64, per: usize, t: &TestContext) {
        let left: Vec<Vec<RecordBatch>> = keyed(rows, keys, per)
            .chunks(3)
            .map(<[_]>::to_vec)
            .collect();
        let right = vec![keyed(keys, keys, 7)];
        let out = join_all(left, right, t).unwrap();
        let want: Vec<_> = {
            let mut w: Vec<_> = (0..rows).map(|i| (Some(i % keys), Some(i))).collect();
            w.sort();
            w
        };
        assert_eq!(pairs(&out), want);
        for b in &out {
            // The right row's `v` is its key.
            assert_eq!(
                b.column(0).as_primitive::<Int64Type>(),
                b.column(2).as_primitive::<Int64Type>()
            );
        }
    }

    #[test]
    fn empty_sides_join_to_nothing() {
        let t = TestContext::new(1 << 30);
        assert!(
            join_all(vec![vec![]], vec![keyed(5, 5, 5)], &t)
                .unwrap()
                .is_empty()
        );
        assert!(
            join_all(vec![keyed(5, 5, 5)], vec![vec![]], &t)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn one_batch_and_many_partitions_agree() {
        let t = TestContext::new(1 << 30);
        check(500, 50, 500, &t);
        check(500, 50, 20, &t);
        assert_eq!(t.spilled_bytes(), 0);
    }

    #[test]
    fn a_tiny_budget_spills_and_splits_buckets_with_the_same_answer() {
        let t = TestContext::new(64 << 10);
        check(30_000, 3_000, 1000, &t);
        assert!(t.spilled_bytes() > 0, "nothing spilled under 64 KiB");
        assert_eq!(
            t.memory.used(),
            0,
            "memory still reserved after the join ended"
        );
    }

    #[test]
    fn an_input_error_is_returned() {
        let t = TestContext::new(1 << 30);
        let err = shuffle(failing(keyed(10, 2, 5)), &spec().left, &t.ctx()).unwrap_err();
        assert!(err.to_string().contains("disk gone"), "{err}");
    }
}
