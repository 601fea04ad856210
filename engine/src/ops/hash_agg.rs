//! Out-of-core hash aggregation: a partial table per partition, a final table per hash
//! bucket, both within the memory budget.
//!
//! - **Partial** (one task per input partition): rows fold into a [`GroupTable`] whose
//!   memory is reserved before it grows: each batch's keys are encoded first, and the
//!   table's size should they all be new groups ([`GroupTable::grown_size`]: its vectors
//!   double as they fill) is reserved before they are added, since a doubling counted
//!   after the fact holds up to twice what was reserved. When the reservation cannot
//!   grow, the table is flushed: its partial states are hashed into the buckets and the
//!   table starts again (a partial aggregate may emit a key more than once; the final
//!   merges them). Bucket batches are held under a second reservation; when that cannot
//!   grow, every bucket's batches are spilled to compressed IPC files. A table that holds
//!   more groups than 80% of the rows it folded (judged after 100 000 rows) is flushed
//!   after every batch from then on: with nearly unique keys, a big partial table costs
//!   cache misses and saves nothing.
//! - **Final** (one task per bucket): the bucket's partial states from every producer,
//!   in memory or read back from disk, merge into a table, reserved the same way. When
//!   the table cannot grow, it and the rest of the input are re-partitioned with another
//!   hash seed into [`FANOUT`] spilled sub-buckets, each merged the same way in turn
//!   (recursive partitioning). A key is one state, so a split always makes progress; only a budget
//!   too small for a table of two groups at [`MAX_DEPTH`] is
//!   [`Error::ResourcesExhausted`], naming the operator and the sizes.

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::DataType;
use spillway_planner::{Error, Result};

use crate::eval::{evaluate, evaluate_agg_input};
use crate::graph::GroupSpec;
use crate::group::{Encoded, GroupAcc, GroupTable, batch};
use crate::ops::context::{Batches, TaskContext};
use crate::ops::store::Store;
use crate::spill::{SpillFile, SpillWriter};

/// Sub-buckets one final bucket is split into when its table does not fit.
pub const FANOUT: usize = 8;
/// Re-partitioning rounds before giving up (8^8 ≈ 16.7 million sub-buckets).
pub const MAX_DEPTH: u32 = 8;

/// Rows a partial table folds before it is judged.
const PROBE_ROWS: usize = 100_000;
/// A partial table holding more groups than this share of the rows it folded does not
/// reduce its input enough to pay for a big hash table: from then on it holds one batch
/// at a time (small and cache-resident), and the final aggregation does the merging, as
/// DataFusion's and DuckDB's partial aggregations give up when they do not reduce.
const PASS_THROUGH_RATIO: f64 = 0.8;

fn accumulators(spec: &GroupSpec) -> Result<Vec<GroupAcc>> {
    spec.aggs
        .iter()
        .zip(&spec.input_types)
        .map(|(a, t)| GroupAcc::new(a.func, t))
        .collect()
}

/// Bytes a table and its states hold.
fn held(table: &GroupTable, accs: &[GroupAcc]) -> usize {
    table.memory_size() + accs.iter().map(GroupAcc::memory_size).sum::<usize>()
}

/// Bytes a table and its states may hold once `rows` are folded in: what to reserve
/// before folding them, as the table's vectors grow by doubling.
fn grown(table: &GroupTable, accs: &[GroupAcc], rows: &Encoded) -> usize {
    let groups = table.len() + rows.rows().num_rows();
    table.grown_size(rows) + accs.iter().map(|a| a.grown_size(groups)).sum::<usize>()
}

/// The partial-state batches of groups `ids` (keys, then each aggregate's state columns),
/// built one at a time as the iterator is read, so that a table being flushed is never
/// copied whole: each of at most `batch_rows` groups, and, where states hold value lists
/// or distinct sets (a median's values), of at most [`state_batch_bytes`] of them (one
/// group at least), so that a batch of 8 192 groups of a thousand values each is never
/// built at once.
fn states<'a>(
    table: &'a GroupTable,
    accs: &'a [GroupAcc],
    ids: &'a [u32],
    spec: &'a GroupSpec,
    ctx: &TaskContext<'_>,
) -> impl Iterator<Item = Result<RecordBatch>> + 'a {
    let (rows, max_bytes) = (ctx.batch_rows.max(1), state_batch_bytes(ctx));
    let mut chunks: Vec<&'a [u32]> = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, &g) in ids.iter().enumerate() {
        let size: usize = accs.iter().map(|a| a.group_bytes(g as usize)).sum();
        if i > start && (i - start == rows || bytes + size > max_bytes) {
            chunks.push(&ids[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < ids.len() {
        chunks.push(&ids[start..]);
    }
    chunks.into_iter().map(move |chunk| {
        let mut columns = table.key_columns(chunk)?;
        for acc in accs {
            columns.extend(acc.state(chunk)?);
        }
        batch(&spec.partial_schema, columns, "partial group_by")
    })
}

/// The most value-list bytes in one state batch: 1/16 of the memory limit, and not below
/// 256 KiB (as a sort's runs are cut).
fn state_batch_bytes(ctx: &TaskContext<'_>) -> usize {
    (ctx.memory.limit() / 16).max(256 << 10)
}

/// Folds a partition into partial states, hashed into the spec's buckets.
///
/// # Errors
/// The source's or an expression's error; [`Error::Io`] when spilling fails.
pub fn partial(stream: Batches<'_>, spec: &GroupSpec, ctx: &TaskContext<'_>) -> Result<Store> {
    let mut table = GroupTable::new(&spec.key_types)?;
    let mut accs = accumulators(spec)?;
    let mut table_mem = ctx.reserve("hash table");
    let mut out = Store::new(spec.buckets, "buckets", ctx);
    // Rows folded into the table since it was last emptied, and whether the table has
    // proved not to reduce them (then it is flushed after every batch).
    let (mut rows_in, mut pass_through) = (0usize, false);
    for b in stream {
        let b = b?;
        rows_in += b.num_rows();
        let keys = spec
            .keys
            .iter()
            .zip(&spec.key_types)
            .map(|(k, t)| evaluate(k, &b).and_then(|a| decoded(a, t)))
            .collect::<Result<Vec<_>>>()?;
        // Reserve before the table grows; a table that cannot grow is flushed first.
        let rows = table.encode(&keys)?;
        if table_mem.try_resize(grown(&table, &accs, &rows)).is_err() && !table.is_empty() {
            flush(&mut table, &mut accs, &mut out, spec, ctx)?;
            table_mem.free();
            rows_in = b.num_rows();
            // One batch's table is bounded by the batch: held whether or not it fits.
            let _ = table_mem.try_resize(grown(&table, &accs, &rows));
        }
        let ids = table.intern_rows(&rows);
        drop(rows);
        for (acc, agg) in accs.iter_mut().zip(&spec.aggs) {
            let values = evaluate_agg_input(agg, &b)?;
            acc.update(values.as_ref(), &ids, table.len())?;
        }
        if !pass_through && rows_in >= PROBE_ROWS {
            pass_through = table.len() as f64 > PASS_THROUGH_RATIO * rows_in as f64;
        }
        if pass_through || table_mem.try_resize(held(&table, &accs)).is_err() {
            flush(&mut table, &mut accs, &mut out, spec, ctx)?;
            table_mem.free();
            rows_in = 0;
        }
    }
    flush(&mut table, &mut accs, &mut out, spec, ctx)?;
    Ok(out)
}

/// Moves a partial table's states into the buckets, spilling them all if they do not fit,
/// and empties the table.
fn flush(
    table: &mut GroupTable,
    accs: &mut Vec<GroupAcc>,
    out: &mut Store,
    spec: &GroupSpec,
    ctx: &TaskContext<'_>,
) -> Result<()> {
    if table.is_empty() {
        return Ok(());
    }
    let mut per_bucket: Vec<Vec<u32>> = vec![Vec::new(); spec.buckets];
    for (g, b) in table.buckets(spec.buckets).into_iter().enumerate() {
        per_bucket[b].push(g as u32);
    }
    for (b, ids) in per_bucket.iter().enumerate() {
        if ids.is_empty() {
            continue;
        }
        for part in states(table, accs, ids, spec, ctx) {
            out.push(b, part?, &spec.partial_schema, ctx)?;
        }
    }
    table.clear();
    *accs = accumulators(spec)?;
    Ok(())
}

/// Merges bucket `bucket` of every producer's partial states and finishes its groups.
///
/// # Errors
/// [`Error::ResourcesExhausted`] when the budget cannot hold even a split table;
/// [`Error::Io`] when spilling fails.
pub fn final_bucket(
    producers: &[&Store],
    spec: &GroupSpec,
    bucket: usize,
    ctx: &TaskContext<'_>,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let mut inputs: Vec<Batches<'_>> = Vec::with_capacity(producers.len());
    for out in producers {
        if let Some(b) = out.get(bucket) {
            inputs.push(b.read()?);
        }
    }
    merge(Box::new(inputs.into_iter().flatten()), spec, ctx, 0, emit)
}

/// Merges partial states into a table and emits the finished groups, splitting the input
/// into spilled sub-buckets when the table outgrows its memory.
fn merge(
    mut input: Batches<'_>,
    spec: &GroupSpec,
    ctx: &TaskContext<'_>,
    depth: u32,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let nkeys = spec.keys.len();
    let widths: Vec<usize> = spec
        .aggs
        .iter()
        .zip(&spec.input_types)
        .map(|(a, t)| GroupAcc::state_fields(a.func, t, &a.name).len())
        .collect();
    let mut table = GroupTable::new(&spec.key_types)?;
    let mut accs = accumulators(spec)?;
    let mut mem = ctx.reserve("hash table");
    let split = loop {
        let Some(b) = input.next() else { break false };
        ctx.check()?;
        let b = b?;
        // Reserve before the table grows; a table that cannot grow is split first, this
        // batch going with the rest of the input.
        let rows = table.encode(&b.columns()[..nkeys])?;
        if depth < MAX_DEPTH
            && !table.is_empty()
            && mem.try_resize(grown(&table, &accs, &rows)).is_err()
        {
            input = Box::new(std::iter::once(Ok(b)).chain(input));
            break true;
        }
        let ids = table.intern_rows(&rows);
        drop(rows);
        let mut at = nkeys;
        for (acc, w) in accs.iter_mut().zip(&widths) {
            acc.merge(&b.columns()[at..at + w], &ids, table.len())?;
            at += w;
        }
        let need = held(&table, &accs);
        if mem.try_resize(need).is_err() && table.len() > 1 {
            if depth >= MAX_DEPTH && ctx.resize_waiting(&mut mem, need).is_ok() {
                continue;
            }
            if depth >= MAX_DEPTH {
                return Err(Error::ResourcesExhausted {
                    consumer: format!("{} hash table", ctx.name),
                    requested: need,
                    available: ctx.memory.available(),
                    limit: ctx.memory.limit(),
                });
            }
            break true;
        }
    };
    if split {
        // Split: this table's states and the rest of the input, by another hash.
        let all: Vec<u32> = (0..table.len() as u32).collect();
        let mut writers: Vec<Option<SpillWriter>> = (0..FANOUT).map(|_| None).collect();
        for part in states(&table, &accs, &all, spec, ctx) {
            scatter(&part?, spec, depth + 1, &mut writers, ctx)?;
        }
        drop((table, accs));
        mem.free();
        for b in input {
            ctx.check()?;
            scatter(&b?, spec, depth + 1, &mut writers, ctx)?;
        }
        let files = writers
            .into_iter()
            .flatten()
            .map(SpillWriter::finish)
            .collect::<Result<Vec<SpillFile>>>()?;
        for f in files {
            merge(Box::new(f.read()?), spec, ctx, depth + 1, emit)?;
            // Each sub-bucket's file goes as soon as it is merged.
            drop(f);
        }
        return Ok(());
    }
    let all: Vec<u32> = (0..table.len() as u32).collect();
    for ids in all.chunks(ctx.batch_rows.max(1)) {
        ctx.check()?;
        let mut columns = table.key_columns(ids)?;
        for (acc, field) in accs.iter().zip(&spec.schema.fields()[nkeys..]) {
            columns.push(acc.finish(ids, field.data_type())?);
        }
        emit(batch(&spec.schema, columns, "group_by")?)?;
    }
    Ok(())
}

/// Appends the rows of a partial-state batch to the sub-bucket files their keys hash to.
fn scatter(
    part: &RecordBatch,
    spec: &GroupSpec,
    seed: u32,
    writers: &mut [Option<SpillWriter>],
    ctx: &TaskContext<'_>,
) -> Result<()> {
    let keys: Vec<ArrayRef> = part.columns()[..spec.keys.len()].to_vec();
    let targets = GroupTable::partition(&spec.key_types, &keys, u64::from(seed), writers.len())?;
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); writers.len()];
    for (i, t) in targets.into_iter().enumerate() {
        rows[t].push(i as u32);
    }
    for (w, idx) in writers.iter_mut().zip(rows) {
        if idx.is_empty() {
            continue;
        }
        let idx = UInt32Array::from(idx);
        let columns = part
            .columns()
            .iter()
            .map(|c| take(c.as_ref(), &idx, None).map_err(|e| Error::compute("group_by spill", e)))
            .collect::<Result<Vec<_>>>()?;
        let piece = batch(&spec.partial_schema, columns, "group_by spill")?;
        if w.is_none() {
            *w = Some(ctx.spill_writer(&spec.partial_schema)?);
        }
        if let Some(w) = w {
            w.write(&piece)?;
        }
    }
    Ok(())
}

/// A dictionary-encoded key as its values, the type the group table keys on.
fn decoded(keys: ArrayRef, key_type: &DataType) -> Result<ArrayRef> {
    if matches!(keys.data_type(), DataType::Dictionary(..)) {
        arrow::compute::cast(&keys, key_type).map_err(|e| Error::compute("group_by keys", e))
    } else {
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::TaskKind;
    use crate::testing::{TestContext, failing, keyed, lowered, pairs, scan_of, stream};
    use spillway_planner::expr::col;
    use spillway_planner::logical::LogicalPlan;
    use std::sync::Arc;

    /// The spec of `sum(v) by k`.
    fn spec() -> Arc<GroupSpec> {
        let plan = LogicalPlan::group_by(
            scan_of(keyed(8, 4, 2)),
            vec![col("k")],
            vec![col("v").sum().alias("v")],
        );
        let g = lowered(plan.unwrap());
        g.tasks
            .iter()
            .find_map(|t| match &t.kind {
                TaskKind::GroupFinal { spec, .. } => Some(Arc::clone(spec)),
                _ => None,
            })
            .unwrap()
    }

    /// Partial aggregates of each partition, then every final bucket: `(k, sum(v))` rows.
    fn sum_by_key(
        parts: Vec<Vec<RecordBatch>>,
        t: &TestContext,
    ) -> Vec<(Option<i64>, Option<i64>)> {
        let spec = spec();
        let ctx = t.ctx();
        let partials: Vec<Store> = parts
            .into_iter()
            .map(|p| partial(stream(p), &spec, &ctx).unwrap())
            .collect();
        let refs: Vec<&Store> = partials.iter().collect();
        let mut out = Vec::new();
        for bucket in 0..spec.buckets {
            final_bucket(&refs, &spec, bucket, &ctx, &mut |b| {
                out.push(b);
                Ok(())
            })
            .unwrap();
        }
        pairs(&out)
    }

    /// `(k, sum of v)` for `keyed(rows, keys, _)`.
    fn expected(rows: i64, keys: i64) -> Vec<(Option<i64>, Option<i64>)> {
        (0..keys.min(rows))
            .map(|k| (Some(k), Some((k..rows).step_by(keys as usize).sum())))
            .collect()
    }

    #[test]
    fn empty_input_has_no_groups() {
        let t = TestContext::new(1 << 30);
        assert!(sum_by_key(vec![vec![], vec![]], &t).is_empty());
    }

    #[test]
    fn one_batch_and_many_partitions_agree() {
        let t = TestContext::new(1 << 30);
        assert_eq!(
            sum_by_key(vec![keyed(1000, 7, 1000)], &t),
            expected(1000, 7)
        );
        let many: Vec<Vec<RecordBatch>> = keyed(1000, 7, 30).chunks(4).map(<[_]>::to_vec).collect();
        assert_eq!(sum_by_key(many, &t), expected(1000, 7));
        assert_eq!(t.spilled_bytes(), 0);
    }

    #[test]
    fn a_tiny_budget_flushes_spills_and_splits_with_the_same_answer() {
        let t = TestContext::new(48 << 10);
        let many: Vec<Vec<RecordBatch>> = keyed(40_000, 5_000, 1000)
            .chunks(10)
            .map(<[_]>::to_vec)
            .collect();
        assert_eq!(sum_by_key(many, &t), expected(40_000, 5_000));
        assert!(t.spilled_bytes() > 0, "nothing spilled under 48 KiB");
        assert_eq!(
            t.memory.used(),
            0,
            "memory still reserved after the aggregate ended"
        );
    }

    #[test]
    fn state_batches_of_value_lists_are_cut_by_bytes() {
        // median(v) by k: 4 groups of 100 000 values each, 800 KB of values per group;
        // flushed under a 4 MiB limit, no state batch may hold more than 256 KiB of values
        // beyond its first group, whatever batch_rows allows.
        let plan = LogicalPlan::group_by(
            scan_of(keyed(8, 4, 2)),
            vec![col("k")],
            vec![col("v").median().alias("m")],
        );
        let g = lowered(plan.unwrap());
        let spec = g
            .tasks
            .iter()
            .find_map(|t| match &t.kind {
                TaskKind::GroupFinal { spec, .. } => Some(Arc::clone(spec)),
                _ => None,
            })
            .unwrap();
        let t = TestContext::new(4 << 20);
        let ctx = t.ctx();
        let store = partial(stream(keyed(400_000, 4, 50_000)), &spec, &ctx).unwrap();
        let (mut values, mut biggest) = (0, 0);
        for part in store.parts() {
            for b in part.read().unwrap() {
                let b = b.unwrap();
                let list = b
                    .column(1)
                    .as_any()
                    .downcast_ref::<arrow::array::ListArray>();
                let n = list.map_or(0, |l| l.values().len());
                values += n;
                if b.num_rows() > 1 {
                    biggest = biggest.max(n * 8);
                }
            }
        }
        assert_eq!(values, 400_000, "every value is in some state batch");
        assert!(
            biggest <= 256 << 10,
            "a batch of several groups held {biggest} bytes"
        );
    }

    #[test]
    fn an_input_error_is_returned() {
        let t = TestContext::new(1 << 30);
        let err = partial(failing(keyed(10, 2, 5)), &spec(), &t.ctx()).unwrap_err();
        assert!(err.to_string().contains("disk gone"), "{err}");
    }
}
