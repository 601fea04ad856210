//! External merge sort: sorted runs per partition, then one k-way merge, within the memory
//! budget.
//!
//! - **Runs** (one task per input partition): batches are buffered under a reservation
//!   of twice their size (sorting the buffer copies it);
//!   when it cannot grow, the buffer is sorted and spilled as a run (compressed IPC), and
//!   buffering starts again. The last buffer stays in memory as a run if its memory can be
//!   held, and is spilled otherwise. The runs are parts of the spillable [`Store`], as an
//!   exchange's buckets are. With a `fetch` (top-k), a buffer is cut back to its
//!   first `fetch` sorted rows whenever it grows past twice that, so a top-k never holds
//!   more than about `2 × fetch` rows per partition and never spills. Batches are
//!   compacted as they are buffered and each sorted output batch is taken and compacted
//!   on its own ([`compact`]), so that a string-view column holds only its own strings:
//!   re-sorting a buffer concatenates pieces whose buffer lists would otherwise double at
//!   every round. Memory is charged by [`batch_bytes`].
//! - **Merge** (one task): every run, in partition order, streams through a k-way merge
//!   (a binary heap of cursors over row-format keys) one batch per run at a time. The
//!   cursors' batches and keys are reserved first, and the fan-in is what the reservation
//!   covers (at most [`MERGE_FAN_IN`], at least [`MIN_FAN_IN`]): more runs are first merged in
//!   consecutive groups into spilled runs, in as many passes as it takes.
//!
//! Keys compare in Arrow's row format (`RowConverter` with each key's direction and null
//! placement). The sort is stable: chunks are sorted stably, and the merge breaks ties by
//! run order, which is input order; so the answer is the one an in-memory stable sort
//! gives, whatever the partitioning, the threads or the memory limit.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, interleave_record_batch, take_record_batch};
use arrow::row::{RowConverter, Rows, SortField};
use spillway_planner::batch::{batch_bytes, batches_bytes, compact};
use spillway_planner::{Error, Result};

use crate::eval::evaluate;
use crate::graph::SortSpec;
use crate::ops::context::{Batches, TaskContext};
use crate::ops::store::{Part, Store};
use crate::spill::SpillFile;

/// The most runs merged at once, whatever the memory; more are merged in groups first.
pub const MERGE_FAN_IN: usize = 64;
/// The fewest runs merged at once, whatever the memory.
pub const MIN_FAN_IN: usize = 4;
/// The size below which a run's batches are not cut smaller than `batch_rows` rows.
pub const MIN_RUN_BATCH_BYTES: usize = 256 << 10;

/// The row format of the sort's keys, with each key's direction and null placement.
fn converter(spec: &SortSpec) -> Result<RowConverter> {
    RowConverter::new(
        spec.keys
            .iter()
            .zip(&spec.key_types)
            .map(|(k, t)| SortField::new_with_options(t.clone(), k.options()))
            .collect(),
    )
    .map_err(|e| Error::type_error("sort key", e.to_string()))
}

/// The sort keys of `batch`, in row format.
fn key_rows(spec: &SortSpec, converter: &RowConverter, batch: &RecordBatch) -> Result<Rows> {
    let keys = spec
        .keys
        .iter()
        .map(|k| evaluate(&k.expr, batch))
        .collect::<Result<Vec<ArrayRef>>>()?;
    converter
        .convert_columns(&keys)
        .map_err(|e| Error::compute("sort keys", e))
}

/// Sorts a partition's batches into runs.
///
/// # Errors
/// The source's or a key's error; [`Error::Io`] when spilling fails.
pub fn runs(stream: Batches<'_>, spec: &SortSpec, ctx: &TaskContext<'_>) -> Result<Store> {
    let converter = converter(spec)?;
    let mut buffer: Vec<RecordBatch> = Vec::new();
    let mut buffered_rows = 0usize;
    let mut buffer_mem = ctx.reserve("sort buffer");
    let mut out = Store::new(0, "sorted runs", ctx);
    for b in stream {
        let b = b?;
        if b.num_rows() == 0 {
            continue;
        }
        let b = compact(b);
        // A buffered batch is reserved twice over: sorting the buffer makes a copy of it
        // (the concatenation, then the sorted output, with the keys in between).
        let size = 2 * batch_bytes(&b);
        if buffer_mem.try_grow(size).is_err() {
            if !buffer.is_empty() {
                let sorted = sort_chunk(std::mem::take(&mut buffer), spec, &converter, ctx)?;
                out.push_file(ctx.spill_write(&spec.schema, sorted)?);
                buffered_rows = 0;
                buffer_mem.free();
            }
            // One batch is always admitted, so that progress is made.
            let _ = buffer_mem.try_grow(size);
        }
        buffered_rows += b.num_rows();
        buffer.push(b);
        if let Some(fetch) = spec.fetch
            && buffered_rows > 2 * fetch.max(ctx.batch_rows)
        {
            buffer = sort_chunk(std::mem::take(&mut buffer), spec, &converter, ctx)?;
            buffered_rows = buffer.iter().map(RecordBatch::num_rows).sum();
            let held = 2 * batches_bytes(&buffer);
            let _ = buffer_mem.try_resize(held);
        }
    }
    if !buffer.is_empty() {
        let sorted = sort_chunk(buffer, spec, &converter, ctx)?;
        buffer_mem.free();
        out.push_run(sorted, &spec.schema, ctx)?;
    }
    Ok(out)
}

/// Sorts buffered batches (stably), keeping the first `fetch` rows when given, as batches
/// of at most `batch_rows` rows.
fn sort_chunk(
    batches: Vec<RecordBatch>,
    spec: &SortSpec,
    converter: &RowConverter,
    ctx: &TaskContext<'_>,
) -> Result<Vec<RecordBatch>> {
    let all = concat_batches(&spec.schema, &batches).map_err(|e| Error::compute("sort", e))?;
    drop(batches);
    let rows = key_rows(spec, converter, &all)?;
    let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
    order.sort_by(|&a, &b| rows.row(a as usize).cmp(&rows.row(b as usize)));
    if let Some(fetch) = spec.fetch {
        order.truncate(fetch);
    }
    // Each output batch is taken on its own and compacted: a slice of one sorted batch
    // would hold all of its strings.
    order
        .chunks(run_batch_rows(&all, ctx))
        .map(|rows| {
            take_record_batch(&all, &UInt32Array::from(rows.to_vec()))
                .map(compact)
                .map_err(|e| Error::compute("sort", e))
        })
        .collect()
}

/// The rows of a batch of a run: `batch_rows`, or fewer when that many rows of `sample`'s
/// width would take more than 1/64 of the memory limit (and more than
/// [`MIN_RUN_BATCH_BYTES`]), so that a merge can hold a batch and its keys of 16 runs and
/// more in half the limit, and merges in one pass what a budget of that size sorted.
fn run_batch_rows(sample: &RecordBatch, ctx: &TaskContext<'_>) -> usize {
    let per_row = (batch_bytes(sample) / sample.num_rows().max(1)).max(1);
    let bytes = (ctx.memory.limit() / 64).max(MIN_RUN_BATCH_BYTES);
    (bytes / per_row).clamp(1, ctx.batch_rows.max(1))
}

/// A run being merged: its current batch, that batch's keys, and the next row.
struct Cursor<'a> {
    run: usize,
    source: Batches<'a>,
    batch: RecordBatch,
    rows: Rows,
    pos: usize,
    /// Where `batch` is in the merge's list of batches.
    slot: usize,
}

impl Cursor<'_> {
    fn key_cmp(&self, other: &Self) -> Ordering {
        self.rows
            .row(self.pos)
            .cmp(&other.rows.row(other.pos))
            .then(self.run.cmp(&other.run))
    }
}

impl PartialEq for Cursor<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.key_cmp(other) == Ordering::Equal
    }
}
impl Eq for Cursor<'_> {}
impl PartialOrd for Cursor<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Cursor<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key_cmp(other)
    }
}

/// Merges the runs of every producer, in order, and emits the sorted rows.
///
/// The merge holds one batch per run it merges at once, and that batch's keys: it
/// reserves them (`sort merge cursors`) before it opens the runs, merging as many runs at
/// once as the reservation can cover (at least [`MIN_FAN_IN`], at most
/// [`MERGE_FAN_IN`]); more runs than that are first merged in consecutive groups into
/// spilled runs, pass after pass, which keeps the order.
///
/// # Errors
/// A spill file that cannot be read or written; a key's error.
pub fn merge(
    producers: &[&Store],
    spec: &SortSpec,
    ctx: &TaskContext<'_>,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let parts: Vec<&Part> = producers.iter().flat_map(|r| r.parts()).collect();
    let mut cursors = ctx.reserve("sort merge cursors");
    let (per_cursor, run_rows) = cursor_bytes(&parts, spec, ctx)?;
    let n = fan_in(&mut cursors, per_cursor, parts.len());
    let final_rows = ctx.batch_rows.max(1);
    if parts.len() <= n {
        let sources = parts.iter().map(|r| r.read()).collect::<Result<Vec<_>>>()?;
        return k_way(sources, spec, ctx, final_rows, emit);
    }
    // Too many runs: merge consecutive groups into spilled runs, until few enough are left.
    let mut files = Vec::with_capacity(parts.len().div_ceil(n));
    for group in parts.chunks(n) {
        let sources = group.iter().map(|r| r.read()).collect::<Result<Vec<_>>>()?;
        files.push(merge_to_file(sources, spec, ctx, run_rows)?);
    }
    while files.len() > n {
        let mut next = Vec::with_capacity(files.len().div_ceil(n));
        for group in files.chunks(n) {
            next.push(merge_to_file(read_files(group)?, spec, ctx, run_rows)?);
        }
        files = next;
    }
    k_way(read_files(&files)?, spec, ctx, final_rows, emit)
}

/// Bytes a cursor over one run holds — a batch and its keys in row format for a spilled
/// run, the keys alone for a run in memory (its batches are held by the store already) —
/// and the rows of a batch of an intermediate merge's run ([`run_batch_rows`]).
/// Estimated from the first batch of the first spilled run (the runs are cut into batches
/// of the same row count), or of the first run.
fn cursor_bytes(parts: &[&Part], spec: &SortSpec, ctx: &TaskContext<'_>) -> Result<(usize, usize)> {
    let spilled = parts.iter().find(|p| p.is_spilled());
    let Some(part) = spilled.or(parts.first()) else {
        return Ok((0, ctx.batch_rows.max(1)));
    };
    let Some(batch) = next_batch(&mut part.read()?)? else {
        return Ok((0, ctx.batch_rows.max(1)));
    };
    let keys = key_rows(spec, &converter(spec)?, &batch)?.size();
    let data = if spilled.is_some() {
        batch_bytes(&batch)
    } else {
        0
    };
    Ok((keys + data, run_batch_rows(&batch, ctx)))
}

/// How many of `runs` runs to merge at once: as many as `mem` can reserve `per_cursor`
/// bytes for, at most [`MERGE_FAN_IN`], halving while the pool cannot cover them, and at
/// least [`MIN_FAN_IN`]: so few cursors, each over a batch of at most
/// [`MIN_RUN_BATCH_BYTES`] or `batch_rows` rows, are the merge's fixed overhead, held even
/// where the limit cannot cover them (reserved when it can), rather than a merge in
/// endless passes.
fn fan_in(mem: &mut crate::memory::Reservation, per_cursor: usize, runs: usize) -> usize {
    let mut n = runs.clamp(MIN_FAN_IN, MERGE_FAN_IN);
    while n > MIN_FAN_IN && mem.try_resize(n * per_cursor).is_err() {
        n /= 2;
    }
    if n == MIN_FAN_IN {
        let _ = mem.try_resize(n * per_cursor);
    }
    n
}

/// Merges `sources` into one new spill file of batches of `rows` rows.
fn merge_to_file(
    sources: Vec<Batches<'_>>,
    spec: &SortSpec,
    ctx: &TaskContext<'_>,
    rows: usize,
) -> Result<SpillFile> {
    let mut w = ctx.spill_writer(&spec.schema)?;
    k_way(sources, spec, ctx, rows, &mut |b| w.write(&b))?;
    w.finish()
}

fn read_files(files: &[SpillFile]) -> Result<Vec<Batches<'_>>> {
    files
        .iter()
        .map(|f| f.read().map(|r| Box::new(r) as Batches<'_>))
        .collect()
}

/// Merges `sources` (each sorted) into batches of `step` rows given to `emit`.
fn k_way<'a>(
    sources: Vec<Batches<'a>>,
    spec: &SortSpec,
    ctx: &TaskContext<'_>,
    step: usize,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let converter = converter(spec)?;
    let mut batches: Vec<RecordBatch> = Vec::new();
    let mut heap: BinaryHeap<Reverse<Cursor<'a>>> = BinaryHeap::new();
    for (run, mut source) in sources.into_iter().enumerate() {
        if let Some(batch) = next_batch(&mut source)? {
            let rows = key_rows(spec, &converter, &batch)?;
            batches.push(batch.clone());
            heap.push(Reverse(Cursor {
                run,
                source,
                batch,
                rows,
                pos: 0,
                slot: batches.len() - 1,
            }));
        }
    }
    let limit = spec.fetch.unwrap_or(usize::MAX);
    let mut emitted = 0usize;
    let mut picks: Vec<(usize, usize)> = Vec::with_capacity(step);
    while emitted + picks.len() < limit {
        let Some(Reverse(mut c)) = heap.pop() else {
            break;
        };
        picks.push((c.slot, c.pos));
        c.pos += 1;
        if c.pos == c.batch.num_rows() {
            ctx.check()?;
            match next_batch(&mut c.source)? {
                Some(batch) => {
                    c.rows = key_rows(spec, &converter, &batch)?;
                    c.pos = 0;
                    batches.push(batch.clone());
                    c.slot = batches.len() - 1;
                    c.batch = batch;
                    heap.push(Reverse(c));
                }
                None => drop(c),
            }
        } else {
            heap.push(Reverse(c));
        }
        if picks.len() == step {
            emitted += picks.len();
            flush(&mut batches, &mut picks, &mut heap, emit)?;
        }
    }
    if !picks.is_empty() {
        flush(&mut batches, &mut picks, &mut heap, emit)?;
    }
    Ok(())
}

fn next_batch(source: &mut Batches<'_>) -> Result<Option<RecordBatch>> {
    for b in source.by_ref() {
        let b = b?;
        if b.num_rows() > 0 {
            return Ok(Some(b));
        }
    }
    Ok(None)
}

/// Builds the output batch from the picked rows, then keeps only the batches that live
/// cursors still read.
fn flush(
    batches: &mut Vec<RecordBatch>,
    picks: &mut Vec<(usize, usize)>,
    heap: &mut BinaryHeap<Reverse<Cursor<'_>>>,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    let out = interleave_record_batch(&refs, picks).map_err(|e| Error::compute("sort merge", e))?;
    picks.clear();
    let mut cursors: Vec<Reverse<Cursor<'_>>> = std::mem::take(heap).into_vec();
    batches.clear();
    for Reverse(c) in &mut cursors {
        batches.push(c.batch.clone());
        c.slot = batches.len() - 1;
    }
    *heap = cursors.into_iter().collect();
    emit(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::TaskKind;
    use crate::testing::{TestContext, failing, keyed, lowered, scan_of, stream};
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    use spillway_planner::expr::col;
    use spillway_planner::logical::LogicalPlan;

    /// The spec of a sort on `v` descending (optionally its first `fetch` rows).
    fn spec(fetch: Option<usize>) -> Arc<SortSpec> {
        let plan = LogicalPlan::sort(scan_of(keyed(1, 1, 1)), vec![col("v").desc()], fetch);
        let g = lowered(plan.unwrap());
        g.tasks
            .iter()
            .find_map(|t| match &t.kind {
                TaskKind::SortMerge { spec, .. } => Some(Arc::clone(spec)),
                _ => None,
            })
            .unwrap()
    }

    /// Sorts each partition into runs, merges them all, and returns column `v`.
    fn sort(parts: Vec<Vec<RecordBatch>>, fetch: Option<usize>, t: &TestContext) -> Vec<i64> {
        let spec = spec(fetch);
        let ctx = t.ctx();
        let runs: Vec<Store> = parts
            .into_iter()
            .map(|p| runs(stream(p), &spec, &ctx).unwrap())
            .collect();
        let mut out = Vec::new();
        let refs: Vec<&Store> = runs.iter().collect();
        merge(&refs, &spec, &ctx, &mut |b| {
            assert!(b.num_rows() <= ctx.batch_rows);
            out.extend(b.column(1).as_primitive::<Int64Type>().values().iter());
            Ok(())
        })
        .unwrap();
        out
    }

    use std::sync::Arc;

    #[test]
    fn empty_input_sorts_to_nothing() {
        let t = TestContext::new(1 << 30);
        assert!(sort(vec![vec![], vec![]], None, &t).is_empty());
        assert!(sort(vec![], None, &t).is_empty());
    }

    #[test]
    fn one_batch_and_many_partitions_sort_alike() {
        let t = TestContext::new(1 << 30);
        let want: Vec<i64> = (0..5000).rev().collect();
        assert_eq!(sort(vec![keyed(5000, 7, 5000)], None, &t), want);
        let many: Vec<Vec<RecordBatch>> =
            keyed(5000, 7, 300).chunks(3).map(<[_]>::to_vec).collect();
        assert_eq!(sort(many, None, &t), want);
        assert_eq!(t.spilled_bytes(), 0);
    }

    #[test]
    fn a_tiny_budget_spills_runs_and_gives_the_same_answer() {
        let t = TestContext::new(16 << 10);
        let many: Vec<Vec<RecordBatch>> =
            keyed(20_000, 7, 500).chunks(8).map(<[_]>::to_vec).collect();
        let want: Vec<i64> = (0..20_000).rev().collect();
        assert_eq!(sort(many, None, &t), want);
        assert!(t.spilled_bytes() > 0, "nothing spilled under 16 KiB");
        assert_eq!(
            t.memory.used(),
            0,
            "the sort kept memory reserved after it ended"
        );
    }

    #[test]
    fn more_runs_than_the_memory_can_merge_at_once_merge_in_passes() {
        // 48 KiB: a cursor over a spilled run (250 rows of two Int64 and their keys) takes
        // about 6 KiB, so a few runs are merged at a time, not all of them.
        let mut t = TestContext::new(48 << 10);
        t.batch_rows = 250;
        let parts: Vec<Vec<RecordBatch>> =
            keyed(20_000, 7, 250).chunks(2).map(<[_]>::to_vec).collect();
        let spec = spec(None);
        let ctx = t.ctx();
        let stores: Vec<Store> = parts
            .into_iter()
            .map(|p| runs(stream(p), &spec, &ctx).unwrap())
            .collect();
        let run_count: usize = stores.iter().map(Store::len).sum();
        assert!(run_count > 16, "{run_count} runs");
        let files_before = t
            .tally
            .spill
            .files
            .load(std::sync::atomic::Ordering::Relaxed);
        let refs: Vec<&Store> = stores.iter().collect();
        let mut out: Vec<i64> = Vec::new();
        merge(&refs, &spec, &ctx, &mut |b| {
            out.extend(b.column(1).as_primitive::<Int64Type>().values().iter());
            Ok(())
        })
        .unwrap();
        assert_eq!(out, (0..20_000).rev().collect::<Vec<i64>>());
        let merged = t
            .tally
            .spill
            .files
            .load(std::sync::atomic::Ordering::Relaxed)
            - files_before;
        assert!(
            merged >= run_count / 8,
            "{merged} files merged in passes of {run_count} runs"
        );
        // The cursors were reserved, and given back.
        assert!(t.tally.memory.peak() > 0);
        drop(stores);
        assert_eq!(t.memory.used(), 0);
    }

    #[test]
    fn top_k_keeps_only_the_first_rows() {
        let t = TestContext::new(1 << 30);
        let many: Vec<Vec<RecordBatch>> = keyed(10_000, 7, 100)
            .chunks(10)
            .map(<[_]>::to_vec)
            .collect();
        assert_eq!(sort(many, Some(3), &t), vec![9999, 9998, 9997]);
    }

    #[test]
    fn an_input_error_is_returned() {
        let t = TestContext::new(1 << 30);
        let err = runs(failing(keyed(10, 2, 5)), &spec(None), &t.ctx()).unwrap_err();
        assert!(err.to_string().contains("disk gone"), "{err}");
    }
}
