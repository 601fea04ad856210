//! Hash joins, within the memory budget: broadcast when the right side is small,
//! partitioned (grace) otherwise.
//!
//! A **broadcast** join (inner, left, semi or anti, right side estimated within the
//! session's `broadcast_limit`) reads the right side in parallel, builds one table in one
//! task (`broadcast_build`, its memory reserved while it is held) and fuses the probe
//! into every left partition's pipeline: the left side is never shuffled, keeps its
//! partitioning and row order, and several broadcast joins chain in one pipeline.
//!
//! A **partitioned** join:
//! Both sides are hash-partitioned on their keys into the same number of buckets
//! (`shuffle`, into the spillable [`Store`], spilled when it does not fit). One task
//! per bucket then builds a hash table from the right side's bucket and streams the left
//! side's bucket through it (`join_bucket`). When the build side outgrows its
//! reservation, both sides of the bucket are split again with another hash seed into
//! [`FANOUT`] spilled sub-buckets, joined pair by pair (recursive partitioning). Rows of
//! one key always land in the same sub-bucket, so a key whose rows alone exceed the
//! budget cannot be split: after [`MAX_DEPTH`] rounds that is
//! [`Error::ResourcesExhausted`] naming the join and the sizes.
//!
//! Null keys never match (SQL semantics). Keys are compared in Arrow's row format; the
//! table maps a key's hash to its first build row, and a chain links the rows of equal
//! keys in build order, so matches come out in build order and the answer does not depend
//! on the partitioning beyond row order.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array, new_null_array};
use arrow::compute::{concat_batches, take};
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, Rows, SortField};
use hashbrown::HashTable;
use spillway_planner::expr::Expr;
use spillway_planner::logical::JoinType;
use spillway_planner::{Error, Result};

use crate::eval::evaluate;
use crate::graph::{JoinSpec, ShuffleSpec};
use crate::group::GroupTable;
use crate::memory::Reservation;
use crate::ops::context::{Batches, TaskContext};
use crate::ops::store::Store;
use crate::spill::{SpillFile, SpillWriter};

/// Sub-buckets a bucket is split into when its build side does not fit.
pub const FANOUT: usize = 8;
/// Splitting rounds before a build side is declared unsplittable.
pub const MAX_DEPTH: u32 = 5;

const NONE: u32 = u32::MAX;

/// The row-format keys of `batch`, and which rows have a null key.
fn key_rows(
    converter: &RowConverter,
    keys: &[Expr],
    batch: &RecordBatch,
) -> Result<(Rows, Vec<bool>)> {
    let arrays = keys
        .iter()
        .map(|k| evaluate(k, batch))
        .collect::<Result<Vec<ArrayRef>>>()?;
    let mut null = vec![false; batch.num_rows()];
    for a in &arrays {
        if a.null_count() > 0 {
            for (i, n) in null.iter_mut().enumerate() {
                *n |= a.is_null(i);
            }
        }
    }
    let rows = converter
        .convert_columns(&arrays)
        .map_err(|e| Error::compute("join keys", e))?;
    Ok((rows, null))
}

fn converter(types: &[DataType]) -> Result<RowConverter> {
    RowConverter::new(types.iter().cloned().map(SortField::new).collect())
        .map_err(|e| Error::type_error("join key", e.to_string()))
}

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
        let b = b?;
        let size = b.get_array_memory_size();
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

/// The build side: one batch, and its keys hashed to chains of equal-key rows.
struct BuildTable {
    batch: RecordBatch,
    converter: RowConverter,
    rows: Rows,
    first: HashTable<u32>,
    next: Vec<u32>,
    hashes: Vec<u64>,
    state: ahash::RandomState,
}

impl BuildTable {
    fn new(batch: RecordBatch, spec: &JoinSpec) -> Result<Self> {
        let converter = converter(&spec.right.key_types)?;
        let (rows, null) = key_rows(&converter, &spec.right.keys, &batch)?;
        let state = ahash::RandomState::with_seeds(7, 11, 13, 17);
        let n = batch.num_rows();
        let mut first: HashTable<u32> = HashTable::with_capacity(n);
        let mut next = vec![NONE; n];
        let mut last = vec![NONE; n];
        let hashes: Vec<u64> = rows.iter().map(|r| state.hash_one(r.as_ref())).collect();
        for j in 0..n {
            if null[j] {
                continue;
            }
            let bytes = rows.row(j);
            let head = first
                .find(hashes[j], |&h| rows.row(h as usize) == bytes)
                .copied();
            match head {
                // Append to the chain's end, so matches come in build order.
                Some(h) => {
                    let tail = last[h as usize];
                    next[tail as usize] = j as u32;
                    last[h as usize] = j as u32;
                }
                None => {
                    first.insert_unique(hashes[j], j as u32, |&h| hashes[h as usize]);
                    last[j] = j as u32;
                }
            }
        }
        Ok(BuildTable {
            batch,
            converter,
            rows,
            first,
            next,
            hashes,
            state,
        })
    }

    fn memory_size(&self) -> usize {
        self.rows.size() + self.next.len() * 4 + self.hashes.len() * 8 + self.first.capacity() * 5
    }
}

/// A broadcast join's hash table: the whole right side, built once and shared by every
/// task that probes it; its memory is reserved for as long as it is held.
pub struct BroadcastTable {
    table: BuildTable,
    memory: Reservation,
}

impl std::fmt::Debug for BroadcastTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastTable")
            .field("rows", &self.rows())
            .field("bytes", &self.memory.size())
            .finish()
    }
}

impl BroadcastTable {
    /// Rows in the table.
    pub fn rows(&self) -> usize {
        self.table.batch.num_rows()
    }
}

/// Builds a broadcast join's table from the right side's batches (each producer's, in
/// order).
///
/// # Errors
/// [`Error::ResourcesExhausted`] when the right side turns out too big for the memory
/// left (its size was estimated when planning).
pub fn broadcast_build(
    producers: &[&[RecordBatch]],
    spec: &JoinSpec,
    ctx: &TaskContext<'_>,
) -> Result<BroadcastTable> {
    let batches: Vec<RecordBatch> = producers.iter().flat_map(|b| b.iter().cloned()).collect();
    let mut memory = ctx.reserve("broadcast join table");
    let data: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
    let build = concat_batches(&spec.right.schema, &batches)
        .map_err(|e| Error::compute("broadcast join build side", e))?;
    drop(batches);
    let table = BuildTable::new(build, spec)?;
    let need = table.batch.get_array_memory_size() + table.memory_size();
    ctx.resize_waiting(&mut memory, need).map_err(|e| match e {
        Error::ResourcesExhausted {
            requested,
            available,
            limit,
            ..
        } => Error::ResourcesExhausted {
            consumer: format!(
                "{} broadcast join table ({data} bytes of right side; lower the session's broadcast_limit to shuffle both sides instead)",
                ctx.name
            ),
            requested,
            available,
            limit,
        },
        e => e,
    })?;
    Ok(BroadcastTable { table, memory })
}

/// Streams each left batch through a broadcast join's table (the probe fused into the left
/// side's pipeline); a batch's output rows come out together, in the left batch's row
/// order. The join keeps no unmatched right rows: it is inner, left, semi or anti.
pub fn broadcast_probe<'a, 'c: 'a>(
    input: Batches<'a>,
    table: &'a BroadcastTable,
    spec: &'a JoinSpec,
    ctx: &'a TaskContext<'c>,
) -> Batches<'a> {
    Box::new(input.flat_map(move |b| {
        let mut out = Vec::new();
        let done = b.and_then(|b| {
            probe(&b, &table.table, &mut [], spec, ctx, &mut |o| {
                out.push(Ok(o));
                Ok(())
            })
        });
        if let Err(e) = done {
            out.push(Err(e));
        }
        out
    }))
}

/// Streams one left batch through the table and emits its output rows; marks the build
/// rows it matches in `matched` (when that is not empty).
fn probe(
    left: &RecordBatch,
    table: &BuildTable,
    matched: &mut [bool],
    spec: &JoinSpec,
    ctx: &TaskContext<'_>,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let (rows, null) = key_rows(&table.converter, &spec.left.keys, left)?;
    let mut li: Vec<u32> = Vec::new();
    let mut ri: Vec<Option<u32>> = Vec::new();
    let step = ctx.batch_rows.max(1);
    for (i, &is_null) in null.iter().enumerate() {
        let mut head = NONE;
        if !is_null {
            let bytes = rows.row(i);
            let hash = table.state.hash_one(bytes.as_ref());
            if let Some(&h) = table
                .first
                .find(hash, |&h| table.rows.row(h as usize) == bytes)
            {
                head = h;
            }
        }
        match spec.how {
            JoinType::Semi | JoinType::Anti => {
                if (head != NONE) == (spec.how == JoinType::Semi) {
                    li.push(i as u32);
                }
            }
            _ => {
                let mut j = head;
                while j != NONE {
                    li.push(i as u32);
                    ri.push(Some(j));
                    if let Some(m) = matched.get_mut(j as usize) {
                        *m = true;
                    }
                    j = table.next[j as usize];
                }
                if head == NONE && matches!(spec.how, JoinType::Left | JoinType::Full) {
                    li.push(i as u32);
                    ri.push(None);
                }
            }
        }
        if li.len() >= step {
            emit(pairs(left, &table.batch, &li, &ri, spec)?)?;
            li.clear();
            ri.clear();
        }
    }
    if !li.is_empty() {
        emit(pairs(left, &table.batch, &li, &ri, spec)?)?;
    }
    Ok(())
}

fn take_col(a: &ArrayRef, idx: &UInt32Array) -> Result<ArrayRef> {
    take(a.as_ref(), idx, None).map_err(|e| Error::compute("join output", e))
}

/// Output rows from left rows `li` paired with build rows `ri` (`None`: no match).
fn pairs(
    left: &RecordBatch,
    build: &RecordBatch,
    li: &[u32],
    ri: &[Option<u32>],
    spec: &JoinSpec,
) -> Result<RecordBatch> {
    let lidx = UInt32Array::from(li.to_vec());
    let mut columns = left
        .columns()
        .iter()
        .map(|c| take_col(c, &lidx))
        .collect::<Result<Vec<_>>>()?;
    if spec.how.has_right_columns() {
        let ridx = UInt32Array::from(ri.to_vec());
        for &c in &spec.right_output_columns {
            columns.push(take_col(build.column(c), &ridx)?);
        }
    }
    RecordBatch::try_new(Arc::clone(&spec.schema), columns)
        .map_err(|e| Error::Internal(format!("join built a bad batch: {e}")))
}

/// Output rows for build rows that matched nothing: left columns null, keys coalesced.
fn right_only(build: &RecordBatch, rows: &[u32], spec: &JoinSpec) -> Result<RecordBatch> {
    let idx = UInt32Array::from(rows.to_vec());
    let mut columns = Vec::with_capacity(spec.schema.fields().len());
    for (i, f) in spec.left.schema.fields().iter().enumerate() {
        match spec.left_key_columns.iter().position(|&k| k == i) {
            Some(k) => columns.push(take_col(build.column(spec.right_key_columns[k]), &idx)?),
            None => columns.push(new_null_array(f.data_type(), rows.len())),
        }
    }
    for &c in &spec.right_output_columns {
        columns.push(take_col(build.column(c), &idx)?);
    }
    RecordBatch::try_new(Arc::clone(&spec.schema), columns)
        .map_err(|e| Error::Internal(format!("join built a bad batch: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::TaskKind;
    use crate::testing::{TestContext, failing, keyed, lowered, pairs, scan_of, stream};
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    use spillway_planner::logical::LogicalPlan;

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
