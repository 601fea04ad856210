//! The partitioned (grace) hash join, within the memory budget.
//!
//! Both sides are hash-partitioned on their keys into the same number of buckets
//! ([`shuffle`], into the spillable [`Store`], spilled when it does not fit). One task per
//! bucket then builds a hash table (`BuildTable`) from the right side's bucket and
//! streams the left side's bucket through it ([`join_bucket`]). When the build side
//! outgrows its reservation, both sides of the bucket are split again with another hash
//! seed into [`FANOUT`] spilled sub-buckets, joined pair by pair (recursive partitioning).
//! Rows of one key always land in the same sub-bucket, so a key whose rows alone exceed the
//! budget cannot be split: when the build rows that do not fit all have one key (or still
//! several after [`MAX_DEPTH`] rounds), the join waits, by the memory policy's waiting
//! rule, for memory other running tasks hold, and then fails with
//! [`Error::ResourcesExhausted`] naming the key, its rows and its bytes (counted over the
//! whole bucket). Every join type is supported: unmatched build rows are emitted after the
//! probe (right and full joins).
//!
//! Rows with a null key match nothing, so they are never held in a table: the shuffle
//! drops them, or spreads them round-robin over the buckets when the join outputs them
//! unmatched ([`NullKeys`]); a build row with a null key is emitted at once as an
//! unmatched right row (right and full joins) or dropped, and a probe row with one streams
//! through as unmatched. So a million null keys weigh like a million keys, not like one.

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::concat_batches;
use spillway_planner::batch::{batch_bytes, compact};
use spillway_planner::{Error, Result};

use crate::graph::{JoinSpec, NullKeys, ShuffleSpec};
use crate::group::GroupTable;
use crate::ops::context::{Batches, TaskContext};
use crate::ops::join::table::{
    BuildTable, OneKey, all_right_only, compact_build, compacted, key_arrays, null_flags, probe,
    right_only, single_key, split_null_keys,
};
use crate::ops::store::Store;
use crate::spill::{SpillFile, SpillWriter};

/// Sub-buckets a bucket is split into when its build side does not fit.
pub const FANOUT: usize = 8;
/// Splitting rounds after which a build side that still does not fit is declared
/// unsplittable, even with several keys (one key is declared so at once: no split cuts it).
pub const MAX_DEPTH: u32 = 8;

/// Hash-partitions a side's batches into its spec's buckets.
///
/// # Errors
/// A key's error; [`Error::Io`] when spilling fails.
pub fn shuffle(stream: Batches<'_>, spec: &ShuffleSpec, ctx: &TaskContext<'_>) -> Result<Store> {
    partition(stream, spec, 0, spec.buckets, ctx)
}

/// Hash-partitions a side's batches into `n` buckets of a store, the hash seeded with
/// `seed`.
///
/// # Errors
/// As [`shuffle`].
pub(super) fn partition(
    stream: impl Iterator<Item = Result<RecordBatch>>,
    spec: &ShuffleSpec,
    seed: u64,
    n: usize,
    ctx: &TaskContext<'_>,
) -> Result<Store> {
    let mut out = Store::new(n, "buckets", ctx);
    for b in stream {
        let b = b?;
        for (bucket, piece) in split(&b, spec, seed, n)? {
            out.push(bucket, piece, &spec.schema, ctx)?;
        }
    }
    Ok(out)
}

/// The rows of `batch` by the partition (of `n`, hash seeded with `seed`) of their keys;
/// rows with a null key are dropped or spread round-robin, as the side's spec says.
fn split(
    batch: &RecordBatch,
    spec: &ShuffleSpec,
    seed: u64,
    n: usize,
) -> Result<Vec<(usize, RecordBatch)>> {
    let keys: Vec<ArrayRef> = key_arrays(&spec.keys, batch)?;
    let targets = GroupTable::partition(&spec.key_types, &keys, seed, n)?;
    let null = null_flags(&keys, batch.num_rows());
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (i, t) in targets.into_iter().enumerate() {
        match (null[i], spec.null_keys) {
            (false, _) => rows[t].push(i as u32),
            (true, NullKeys::Drop) => {}
            (true, NullKeys::Spread) => rows[i % n].push(i as u32),
        }
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

/// Joins `left` with `right` (rows that may match: of one bucket), splitting both further
/// when the right side's table does not fit.
///
/// # Errors
/// As [`join_bucket`].
pub(super) fn join_sides(
    left: Batches<'_>,
    right: Batches<'_>,
    spec: &JoinSpec,
    ctx: &TaskContext<'_>,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    join(left, right, spec, ctx, 0, emit)
}

/// Bucket `bucket` of each producer's output.
pub(super) fn side<'a>(producers: &[&'a Store], bucket: usize) -> Result<Vec<Batches<'a>>> {
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
    // The key of every row of `build`, once it has been seen not to fit.
    let mut one_key: Option<OneKey> = None;
    while let Some(b) = right.next() {
        ctx.check()?;
        let (b, null) = split_null_keys(&spec.right.keys, b?)?;
        if let Some(null) = null
            && spec.how.keeps_unmatched_right()
        {
            all_right_only(&null, spec, ctx, emit)?;
        }
        if b.num_rows() == 0 {
            continue;
        }
        // Copied alone when it is charged far beyond its rows, and its strings compacted.
        let b = compact(compacted(b)?);
        let size = batch_bytes(&b);
        // The first batch is always taken, so that a split makes progress.
        if mem.try_grow(size).is_err() && !build.is_empty() {
            build.push(b);
            // Once every row is known to have one key, only new rows need a look.
            one_key = match one_key.take() {
                Some(key) if key.has_only(&build[build.len() - 1], spec)? => Some(key),
                Some(_) => None,
                None => single_key(&build, spec)?,
            };
            if depth < MAX_DEPTH && one_key.is_none() {
                drop(mem);
                return grace(left, build, right, spec, ctx, depth, emit);
            }
            // No split can help: hold the rows compactly, and wait for the memory others
            // hold now.
            let need = compact_build(&mut build, spec)?;
            if ctx.resize_waiting(&mut mem, need).is_ok() {
                continue;
            }
            return Err(too_big(build, right, need, spec, ctx));
        }
        if let Some(key) = &one_key
            && !key.has_only(&b, spec)?
        {
            one_key = None;
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

/// The error for a build side that no split can make fit: the key of its rows with the
/// rows and bytes that key has in the whole bucket (those read, `build`, and the rest), or,
/// with several keys after [`MAX_DEPTH`] splits, the bytes read.
fn too_big(
    build: Vec<RecordBatch>,
    rest: Batches<'_>,
    need: usize,
    spec: &JoinSpec,
    ctx: &TaskContext<'_>,
) -> Error {
    let (consumer, requested) = match key_size(build, rest, spec) {
        Ok(Some((key, rows, bytes))) => (
            format!(
                "{} join build side (the {rows} rows of one key, {key}, cannot be split across buckets)",
                ctx.name
            ),
            bytes,
        ),
        Ok(None) => (
            format!(
                "{} join build side (still several keys after {MAX_DEPTH} hash splits)",
                ctx.name
            ),
            need,
        ),
        Err(e) => return e,
    };
    Error::ResourcesExhausted {
        consumer,
        requested,
        available: ctx.memory.available(),
        limit: ctx.memory.limit(),
    }
}

/// When every row of `build` has one key: that key, as text, and its rows and bytes in
/// `build` and `rest` (read through, one batch at a time).
fn key_size(
    build: Vec<RecordBatch>,
    rest: Batches<'_>,
    spec: &JoinSpec,
) -> Result<Option<(String, usize, usize)>> {
    let Some(key) = single_key(&build, spec)? else {
        return Ok(None);
    };
    let (mut rows, mut bytes) = (0, 0);
    for b in build.into_iter().map(Ok).chain(rest) {
        let b = key.rows_of(&b?, spec)?;
        rows += b.num_rows();
        bytes += b
            .columns()
            .iter()
            .map(|c| c.to_data().get_slice_memory_size().unwrap_or(0))
            .sum::<usize>();
    }
    Ok(Some((key.to_string(), rows, bytes)))
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
    use crate::testing::{TestContext, failing, join_spec, keyed, keyed_with_nulls, pairs, stream};
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    use spillway_planner::logical::JoinType;
    use std::sync::Arc;

    /// The spec of an inner join of `(k, v)` with `(k, v)` on `k`.
    fn spec() -> Arc<JoinSpec> {
        join_spec(JoinType::Inner)
    }

    /// Shuffles both sides' partitions and joins every bucket; returns the output batches.
    fn join_all(
        left: Vec<Vec<RecordBatch>>,
        right: Vec<Vec<RecordBatch>>,
        t: &TestContext,
    ) -> Result<Vec<RecordBatch>> {
        join_all_as(&spec(), left, right, t)
    }

    /// As [`join_all`], for the join `spec`.
    fn join_all_as(
        spec: &JoinSpec,
        left: Vec<Vec<RecordBatch>>,
        right: Vec<Vec<RecordBatch>>,
        t: &TestContext,
    ) -> Result<Vec<RecordBatch>> {
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
            join_bucket(&l, &r, spec, bucket, &ctx, &mut |b| {
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

    fn rows(out: &[RecordBatch]) -> usize {
        out.iter().map(RecordBatch::num_rows).sum()
    }

    #[test]
    fn null_keys_are_never_held_whatever_the_join() {
        // 8 000 right rows, 6 000 of them with a null key (96 KB of them alone, more than
        // the limit); the others have the keys 0, 4, .. 996, 2 rows each.
        let left = || vec![keyed(2_000, 500, 100)];
        let right = || vec![keyed_with_nulls(8_000, 4_000, 500)];
        let count = |how| {
            let t = TestContext::new(64 << 10);
            let out = join_all_as(&join_spec(how), left(), right(), &t)
                .unwrap_or_else(|e| panic!("{how}: {e}"));
            assert_eq!(t.memory.used(), 0);
            rows(&out)
        };
        // Left keys 0..500 (4 rows each); 125 of them are right keys (2 rows each).
        let inner = 125 * 4 * 2;
        assert_eq!(count(JoinType::Inner), inner);
        assert_eq!(count(JoinType::Left), inner + 375 * 4);
        assert_eq!(count(JoinType::Right), inner + 6_000 + 875 * 2);
        assert_eq!(count(JoinType::Full), inner + 375 * 4 + 6_000 + 875 * 2);
        assert_eq!(count(JoinType::Semi), 125 * 4);
        assert_eq!(count(JoinType::Anti), 375 * 4);
    }

    #[test]
    fn shuffles_drop_or_spread_null_keys() {
        let t = TestContext::new(1 << 30);
        let ctx = t.ctx();
        let rows_per_bucket = |side: &ShuffleSpec| {
            let store = shuffle(stream(keyed_with_nulls(400, 1, 100)), side, &ctx).unwrap();
            store.parts().map(|p| p.rows()).collect::<Vec<_>>()
        };
        // Inner: the 300 null keys are gone; the 100 rows of key 0 are in one bucket.
        let inner = join_spec(JoinType::Inner);
        let kept = rows_per_bucket(&inner.right);
        assert_eq!(kept.iter().sum::<usize>(), 100);
        assert!(kept.contains(&100), "{kept:?}");
        // Full: every row kept, the null keys spread over every bucket.
        let full = join_spec(JoinType::Full);
        let spread = rows_per_bucket(&full.left);
        assert_eq!(spread.iter().sum::<usize>(), 400);
        assert!(spread.iter().all(|&n| n >= 100), "{spread:?}");
    }

    #[test]
    fn a_key_too_big_for_memory_is_named_with_its_rows_and_bytes() {
        let t = TestContext::new(16 << 10);
        let err = join_all(vec![keyed(10, 1, 10)], vec![keyed(50_000, 1, 1_000)], &t).unwrap_err();
        match &err {
            Error::ResourcesExhausted {
                consumer,
                requested,
                limit,
                ..
            } => {
                assert!(
                    consumer.contains("the 50000 rows of one key, k = 0, cannot be split"),
                    "{consumer}"
                );
                // Two Int64 columns.
                assert_eq!(*requested, 50_000 * 16);
                assert_eq!(*limit, 16 << 10);
            }
            other => panic!("wrong error: {other}"),
        }
        assert_eq!(t.memory.used(), 0);
    }
}
