//! External merge sort: sorted runs per partition, then one k-way merge, within the memory
//! budget.
//!
//! - **Runs** (one task per input partition): batches are buffered under a reservation;
//!   when it cannot grow, the buffer is sorted and spilled as a run (compressed IPC), and
//!   buffering starts again. The last buffer stays in memory as a run if its memory can be
//!   held, and is spilled otherwise. With a `fetch` (top-k), a buffer is cut back to its
//!   first `fetch` sorted rows whenever it grows past twice that, so a top-k never holds
//!   more than about `2 × fetch` rows per partition and never spills.
//! - **Merge** (one task): every run, in partition order, streams through a k-way merge
//!   (a binary heap of cursors over row-format keys) one batch per run at a time; more
//!   than [`MERGE_FAN_IN`] runs are first merged in consecutive groups into spilled runs.
//!
//! Keys compare in Arrow's row format (`RowConverter` with each key's direction and null
//! placement). The sort is stable: chunks are sorted stably, and the merge breaks ties by
//! run order, which is input order; so the answer is the one an in-memory stable sort
//! gives, whatever the partitioning, the threads or the memory limit.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, interleave_record_batch, take_record_batch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::row::{RowConverter, Rows, SortField};
use spillway_planner::sort::SortKey;
use spillway_planner::{Error, Result};

use crate::eval::evaluate;
use crate::memory::{MemoryPool, Reservation};
use crate::pipeline::{Batches, Data, TaskContext};
use crate::spill::SpillFile;

/// Runs merged at once; more are merged in groups first.
pub const MERGE_FAN_IN: usize = 64;

/// A sort, with what its tasks need to know.
#[derive(Debug)]
pub struct SortSpec {
    /// The keys, most significant first.
    pub keys: Vec<SortKey>,
    /// The type of each key.
    pub key_types: Vec<DataType>,
    /// The rows' schema.
    pub schema: SchemaRef,
    /// Keep only the first rows (top-k).
    pub fetch: Option<usize>,
}

impl SortSpec {
    fn converter(&self) -> Result<RowConverter> {
        RowConverter::new(
            self.keys
                .iter()
                .zip(&self.key_types)
                .map(|(k, t)| SortField::new_with_options(t.clone(), k.options()))
                .collect(),
        )
        .map_err(|e| Error::type_error("sort key", e.to_string()))
    }

    fn rows(&self, converter: &RowConverter, batch: &RecordBatch) -> Result<Rows> {
        let keys = self
            .keys
            .iter()
            .map(|k| evaluate(&k.expr, batch))
            .collect::<Result<Vec<ArrayRef>>>()?;
        converter
            .convert_columns(&keys)
            .map_err(|e| Error::compute("sort keys", e))
    }

    pub(crate) fn describe(&self) -> String {
        let keys: Vec<String> = self.keys.iter().map(ToString::to_string).collect();
        match self.fetch {
            Some(n) => format!("[{}] first {n}", keys.join(", ")),
            None => format!("[{}]", keys.join(", ")),
        }
    }
}

/// One sorted run.
#[derive(Debug)]
enum Run {
    Memory(Vec<RecordBatch>),
    File(SpillFile),
}

impl Run {
    fn read(&self) -> Result<Batches<'_>> {
        Ok(match self {
            Run::Memory(b) => Box::new(b.iter().cloned().map(Ok)),
            Run::File(f) => Box::new(f.read()?),
        })
    }
}

/// The sorted runs of one partition, and the memory they hold.
#[derive(Debug)]
pub struct Runs {
    runs: Vec<Run>,
    _held: Reservation,
    rows: usize,
}

impl Runs {
    /// Rows in all runs.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

/// Sorts a partition's batches into runs.
///
/// # Errors
/// The source's or a key's error; [`Error::Io`] when spilling fails.
pub(crate) fn runs(stream: Batches<'_>, spec: &SortSpec, ctx: &TaskContext<'_>) -> Result<Runs> {
    let converter = spec.converter()?;
    let mut buffer: Vec<RecordBatch> = Vec::new();
    let mut buffered_rows = 0usize;
    let mut buffer_mem = ctx.reserve("sort buffer");
    let mut out = Runs {
        runs: Vec::new(),
        _held: ctx.reserve("sorted runs"),
        rows: 0,
    };
    for b in stream {
        let b = b?;
        if b.num_rows() == 0 {
            continue;
        }
        let size = b.get_array_memory_size();
        if buffer_mem.try_grow(size).is_err() {
            if !buffer.is_empty() {
                let sorted = sort_chunk(std::mem::take(&mut buffer), spec, &converter, ctx)?;
                out.rows += sorted.iter().map(RecordBatch::num_rows).sum::<usize>();
                out.runs
                    .push(Run::File(ctx.spill_write(&spec.schema, sorted)?));
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
            let held: usize = buffer.iter().map(RecordBatch::get_array_memory_size).sum();
            let _ = buffer_mem.try_resize(held);
        }
    }
    if !buffer.is_empty() {
        let sorted = sort_chunk(buffer, spec, &converter, ctx)?;
        out.rows += sorted.iter().map(RecordBatch::num_rows).sum::<usize>();
        buffer_mem.free();
        let size: usize = sorted.iter().map(RecordBatch::get_array_memory_size).sum();
        if out
            ._held
            .try_grow_held(size, MemoryPool::HELD_SHARE)
            .is_ok()
        {
            out.runs.push(Run::Memory(sorted));
        } else {
            out.runs
                .push(Run::File(ctx.spill_write(&spec.schema, sorted)?));
        }
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
    let rows = spec.rows(converter, &all)?;
    let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
    order.sort_by(|&a, &b| rows.row(a as usize).cmp(&rows.row(b as usize)));
    if let Some(fetch) = spec.fetch {
        order.truncate(fetch);
    }
    let sorted = take_record_batch(&all, &UInt32Array::from(order))
        .map_err(|e| Error::compute("sort", e))?;
    let step = ctx.batch_rows.max(1);
    Ok((0..sorted.num_rows())
        .step_by(step)
        .map(|at| sorted.slice(at, step.min(sorted.num_rows() - at)))
        .collect())
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

/// Merges the runs of every dependency, in order, and emits the sorted rows.
///
/// # Errors
/// A spill file that cannot be read or written; a key's error.
pub(crate) fn merge(
    deps: &[Arc<Data>],
    spec: &SortSpec,
    ctx: &TaskContext<'_>,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let mut all: Vec<&Run> = Vec::new();
    for d in deps {
        let Data::Runs(r) = d.as_ref() else {
            return Err(Error::Internal("a sort merge was given other data".into()));
        };
        all.extend(r.runs.iter());
    }
    // Too many runs: merge consecutive groups into spilled runs first (order-preserving).
    let mut merged: Vec<SpillFile> = Vec::new();
    if all.len() > MERGE_FAN_IN {
        for group in all.chunks(MERGE_FAN_IN) {
            let sources = group.iter().map(|r| r.read()).collect::<Result<Vec<_>>>()?;
            let mut w = ctx.spill_writer(&spec.schema)?;
            k_way(sources, spec, ctx, &mut |b| w.write(&b))?;
            merged.push(w.finish()?);
        }
        let sources = merged
            .iter()
            .map(|f| f.read().map(|r| Box::new(r) as Batches<'_>))
            .collect::<Result<Vec<_>>>()?;
        return k_way(sources, spec, ctx, emit);
    }
    let sources = all.iter().map(|r| r.read()).collect::<Result<Vec<_>>>()?;
    k_way(sources, spec, ctx, emit)
}

fn k_way<'a>(
    sources: Vec<Batches<'a>>,
    spec: &SortSpec,
    ctx: &TaskContext<'_>,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let converter = spec.converter()?;
    let mut batches: Vec<RecordBatch> = Vec::new();
    let mut heap: BinaryHeap<Reverse<Cursor<'a>>> = BinaryHeap::new();
    for (run, mut source) in sources.into_iter().enumerate() {
        if let Some(batch) = next_batch(&mut source)? {
            let rows = spec.rows(&converter, &batch)?;
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
    let step = ctx.batch_rows.max(1);
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
                    c.rows = spec.rows(&converter, &batch)?;
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
