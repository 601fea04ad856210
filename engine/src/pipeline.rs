//! Running one task: a fused pipeline over a partition's batches, or a merge of partial
//! aggregate states.
//!
//! A pipeline is a chain of iterators, so a partition streams through it one bounded
//! batch at a time; only `map_partitions` (which is defined over the whole partition)
//! gathers its input. The cancel flag is checked before every batch is read, so a failed
//! graph stops its other tasks within one batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::hash_agg::{self, Buckets};
use crate::join::{self, BroadcastTable, JoinSpec};
use crate::memory::{MemoryPool, Reservation, Tally};
use crate::sort::{self, Runs};
use crate::spill::{SpillDir, SpillFile, SpillStats, SpillWriter};

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::compute::{concat_batches, filter_record_batch};
use spillway_planner::{Error, Result};

use crate::aggregate::Accumulator;
use crate::eval::{evaluate, evaluate_predicate};
use crate::graph::{AggSpec, Input, Op, Piece, Sink, TaskKind};
use crate::lower::rows_written_schema;
use arrow::datatypes::SchemaRef;
use spillway_planner::sink::{DataSink, PartitionWriter};

/// What a task produces.
#[derive(Debug)]
pub enum Data {
    /// Batches, in order.
    Batches(Vec<RecordBatch>),
    /// One partial state per aggregate.
    States(Vec<Accumulator>),
    /// Per-group partial states, hashed into buckets, in memory or spilled.
    Buckets(Buckets),
    /// Sorted runs, in memory or spilled.
    Runs(Runs),
    /// A broadcast join's hash table.
    Table(Arc<BroadcastTable>),
}

impl Data {
    /// Rows held (1 per partial aggregate state).
    pub fn rows(&self) -> usize {
        match self {
            Data::Batches(b) => b.iter().map(RecordBatch::num_rows).sum(),
            Data::States(_) => 1,
            Data::Buckets(b) => b.rows(),
            Data::Runs(r) => r.rows(),
            Data::Table(t) => t.rows(),
        }
    }
}

/// What a running task may use besides its inputs.
#[derive(Debug)]
pub struct TaskContext<'a> {
    /// The task's name, `stage[partition]`, for the consumers it reserves memory as.
    pub name: String,
    /// Raised when another task failed.
    pub cancel: &'a AtomicBool,
    /// The memory budget.
    pub memory: &'a Arc<MemoryPool>,
    /// The run's spill folder.
    pub spill: &'a Arc<SpillDir>,
    /// Largest number of rows in one output batch.
    pub batch_rows: usize,
    /// The task's place in its stage: the output partition it writes.
    pub partition: usize,
    /// The schema of what a writing task writes (the graph's result before the write).
    pub output_schema: &'a SchemaRef,
    /// What the task holds and spills, for `explain_analyze`.
    pub tally: &'a TaskTally,
    /// The run's tasks running now, and those of them waiting for memory.
    pub activity: &'a Activity,
}

/// How many of a run's tasks are running, and how many of those wait for memory: a task
/// waits for memory only while another task is running that is not waiting itself, so
/// waiting tasks never wait on each other.
#[derive(Debug, Default)]
pub struct Activity {
    running: AtomicUsize,
    waiting: AtomicUsize,
}

impl Activity {
    /// Runs `f` counted as running.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let _running = Counted::new(&self.running);
        f()
    }

    /// Whether a task other than the waiting ones is running.
    fn others_at_work(&self) -> bool {
        self.running.load(Ordering::SeqCst) > self.waiting.load(Ordering::SeqCst)
    }
}

/// One in a counter while alive (also through a panic).
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Counted(counter)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Memory and spill counted for one task.
#[derive(Debug, Default)]
pub struct TaskTally {
    /// Bytes its reservations held.
    pub memory: Arc<Tally>,
    /// What it spilled.
    pub spill: Arc<SpillStats>,
}

impl TaskContext<'_> {
    /// A reservation named after the task and `what`, counted in the task's tally.
    pub fn reserve(&self, what: &str) -> Reservation {
        self.memory
            .reserve_tallied(format!("{} {what}", self.name), &self.tally.memory)
    }

    /// A new spill file, counted in the task's tally.
    ///
    /// # Errors
    /// As [`SpillDir::writer`].
    pub fn spill_writer(&self, schema: &SchemaRef) -> Result<SpillWriter> {
        self.spill.writer_tallied(schema, Some(&self.tally.spill))
    }

    /// Batches written to a new spill file, counted in the task's tally.
    ///
    /// # Errors
    /// As [`SpillDir::write`].
    pub fn spill_write(
        &self,
        schema: &SchemaRef,
        batches: impl IntoIterator<Item = RecordBatch>,
    ) -> Result<SpillFile> {
        self.spill
            .write_tallied(schema, batches, Some(&self.tally.spill))
    }

    /// Resizes `mem` to `bytes`, waiting for other tasks to give memory back when the
    /// pool is short: for an operator that has split its input as far as it can, whose
    /// last resort is the memory that other running tasks hold now. Gives up, with the
    /// last [`Error::ResourcesExhausted`], when `bytes` exceed the whole limit, when no
    /// other task is at work (those that wait do not give back), or after
    /// [`TaskContext::PATIENCE`].
    ///
    /// # Errors
    /// As above, and [`Error::Cancelled`] when another task fails meanwhile.
    pub fn resize_waiting(&self, mem: &mut Reservation, bytes: usize) -> Result<()> {
        let deadline = std::time::Instant::now() + Self::PATIENCE;
        let _waiting = Counted::new(&self.activity.waiting);
        loop {
            let err = match mem.try_resize(bytes) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if bytes > self.memory.limit()
                || !self.activity.others_at_work()
                || std::time::Instant::now() >= deadline
            {
                return Err(err);
            }
            self.check()?;
            self.memory.wait_for(
                bytes.saturating_sub(mem.size()),
                std::time::Duration::from_millis(50),
            );
        }
    }

    /// How long [`TaskContext::resize_waiting`] waits for memory before giving up.
    pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

    /// [`Error::Cancelled`] when another task has failed.
    pub fn check(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

pub(crate) type Batches<'a> = Box<dyn Iterator<Item = Result<RecordBatch>> + Send + 'a>;

/// Runs `kind` over its dependencies' outputs (in `deps` order).
///
/// # Errors
/// The first error of the source, an operator or a user closure; [`Error::Cancelled`]
/// when the run was cancelled meanwhile.
pub fn run_task(kind: &TaskKind, deps: &[Arc<Data>], ctx: &TaskContext<'_>) -> Result<Data> {
    match kind {
        TaskKind::Pipeline { input, ops, sink } => {
            // The input tasks come first among the dependencies, the tables probed after.
            let (inputs, mut tables) = deps.split_at(input.tasks().len().min(deps.len()));
            let source: Batches<'_> = match input {
                Input::Scan(partition) => partition.open()?,
                Input::Tasks(_) => Box::new(dep_batches(inputs)?.into_iter().map(Ok)),
                Input::Pieces(pieces) => pieces_of(inputs, pieces)?,
            };
            let checked = source.map(|b| ctx.check().and(b));
            let mut stream: Batches<'_> = Box::new(checked);
            for op in ops.iter() {
                stream = match op {
                    Op::Probe { spec, .. } => {
                        let Some((Data::Table(table), rest)) =
                            tables.split_first().map(|(t, rest)| (t.as_ref(), rest))
                        else {
                            return Err(Error::Internal(
                                "a broadcast join's probe lost its table".into(),
                            ));
                        };
                        tables = rest;
                        probe_op(stream, table, spec, ctx)
                    }
                    op => apply_op(stream, op),
                };
            }
            match sink {
                Sink::Batches => Ok(Data::Batches(
                    stream
                        .filter(|b| b.as_ref().map_or(true, |b| b.num_rows() > 0))
                        .collect::<Result<_>>()?,
                )),
                Sink::Partial(spec) => Ok(Data::States(partial(stream, spec)?)),
                Sink::GroupPartial(spec) => {
                    Ok(Data::Buckets(hash_agg::partial(stream, spec, ctx)?))
                }
                Sink::SortRuns(spec) => Ok(Data::Runs(sort::runs(stream, spec, ctx)?)),
                Sink::Shuffle(spec) => Ok(Data::Buckets(join::shuffle(stream, spec, ctx)?)),
                Sink::Hold(schema) => {
                    let mut held = Buckets::new(1, ctx);
                    for b in stream {
                        held.push(0, b?, schema, ctx)?;
                    }
                    Ok(Data::Buckets(held))
                }
                Sink::Write(sink) => {
                    let mut out = Output::new(Some(sink), ctx)?;
                    for b in stream {
                        out.emit(b?)?;
                    }
                    out.finish()
                }
            }
        }
        TaskKind::Combine(spec) => Ok(Data::States(merge_states(deps, spec)?)),
        TaskKind::HashJoin {
            spec,
            bucket,
            left_count,
            sink,
        } => {
            let mut out = Output::new(sink.as_ref(), ctx)?;
            join::join_bucket(deps, *left_count, spec, *bucket, ctx, &mut |b| out.emit(b))?;
            out.finish()
        }
        TaskKind::BroadcastBuild(spec) => Ok(Data::Table(Arc::new(join::broadcast_build(
            deps, spec, ctx,
        )?))),
        TaskKind::SortMerge { spec, sink } => {
            let mut out = Output::new(sink.as_ref(), ctx)?;
            sort::merge(deps, spec, ctx, &mut |b| out.emit(b))?;
            out.finish()
        }
        TaskKind::GroupFinal { spec, bucket, sink } => {
            let mut out = Output::new(sink.as_ref(), ctx)?;
            hash_agg::final_bucket(deps, spec, *bucket, ctx, &mut |b| out.emit(b))?;
            out.finish()
        }
        TaskKind::Final(spec) => {
            let states = merge_states(deps, spec)?;
            let columns = states
                .iter()
                .zip(spec.schema.fields())
                .map(|(s, f)| Ok(Arc::clone(s.finish(f.data_type())?.as_array())))
                .collect::<Result<Vec<ArrayRef>>>()?;
            let batch = RecordBatch::try_new(Arc::clone(&spec.schema), columns)
                .map_err(|e| Error::compute("aggregate result", e))?;
            Ok(Data::Batches(vec![batch]))
        }
    }
}

/// Where a task's finished batches go: held as its output, or written to a sink (then the
/// output is the count of rows written).
///
/// A writer's buffer (a Parquet writer's open row group, up to its row-group size) is
/// reserved as `sink buffer` after every write; when the budget cannot cover it, the
/// writer flushes early (smaller row groups, the same data) rather than hold memory the
/// pool does not know about.
pub(crate) struct Output {
    held: Vec<RecordBatch>,
    writer: Option<Box<dyn PartitionWriter>>,
    buffer: Reservation,
}

impl Output {
    fn new(sink: Option<&Arc<dyn DataSink>>, ctx: &TaskContext<'_>) -> Result<Self> {
        let writer = match sink {
            Some(s) => Some(s.open(ctx.partition, ctx.output_schema)?),
            None => None,
        };
        Ok(Output {
            held: Vec::new(),
            writer,
            buffer: ctx.reserve("sink buffer"),
        })
    }

    /// Takes one finished batch.
    ///
    /// # Errors
    /// The sink's write error.
    pub(crate) fn emit(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        match &mut self.writer {
            Some(w) => {
                w.write(&batch)?;
                if self.buffer.try_resize(w.buffered_bytes()).is_err() {
                    w.flush()?;
                    // What a flushed writer keeps (empty page buffers) is small; if even
                    // that is not free, the reservation keeps what it had.
                    let _ = self.buffer.try_resize(w.buffered_bytes());
                }
                Ok(())
            }
            None => {
                self.held.push(batch);
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<Data> {
        match self.writer {
            None => Ok(Data::Batches(self.held)),
            Some(w) => {
                let rows = w.finish()?;
                let count = arrow::array::UInt64Array::from(vec![rows as u64]);
                let batch = RecordBatch::try_new(rows_written_schema(), vec![Arc::new(count)])
                    .map_err(|e| Error::compute("rows written", e))?;
                Ok(Data::Batches(vec![batch]))
            }
        }
    }
}

/// The rows of each piece, in order, from the held rows of the tasks they cut.
fn pieces_of<'a>(deps: &'a [Arc<Data>], pieces: &[Piece]) -> Result<Batches<'a>> {
    let mut readers: Vec<Batches<'a>> = Vec::with_capacity(pieces.len());
    for (d, p) in deps.iter().zip(pieces) {
        let Data::Buckets(b) = d.as_ref() else {
            return Err(Error::Internal("a repartition was given other data".into()));
        };
        let Some(held) = b.get(0) else { continue };
        let rows = held.rows();
        let (start, end) = (rows * p.index / p.of, rows * (p.index + 1) / p.of);
        readers.push(held.read_rows(start, end)?);
    }
    Ok(Box::new(readers.into_iter().flatten()))
}

fn dep_batches(deps: &[Arc<Data>]) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for d in deps {
        match d.as_ref() {
            Data::Batches(b) => out.extend(b.iter().cloned()),
            Data::States(_) | Data::Buckets(_) | Data::Runs(_) | Data::Table(_) => {
                return Err(Error::Internal(
                    "a pipeline was given aggregate states".into(),
                ));
            }
        }
    }
    Ok(out)
}

/// Streams each batch through a broadcast join's table; a batch's output rows come out
/// together, in the left batch's row order.
fn probe_op<'a, 'c: 'a>(
    input: Batches<'a>,
    table: &'a Arc<BroadcastTable>,
    spec: &'a Arc<JoinSpec>,
    ctx: &'a TaskContext<'c>,
) -> Batches<'a> {
    Box::new(input.flat_map(move |b| {
        let mut out = Vec::new();
        let done = b.and_then(|b| {
            join::broadcast_probe(&b, table, spec, ctx, &mut |o| {
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

fn apply_op<'a>(input: Batches<'a>, op: &'a Op) -> Batches<'a> {
    match op {
        Op::Filter(predicate) => Box::new(input.map(move |b| {
            let b = b?;
            let mask = evaluate_predicate(predicate, &b)?;
            filter_record_batch(&b, &mask)
                .map_err(|e| Error::compute(format!("filter {predicate}"), e))
        })),
        Op::Project { exprs, schema } => Box::new(input.map(move |b| {
            let b = b?;
            let columns = exprs
                .iter()
                .map(|e| evaluate(e, &b))
                .collect::<Result<Vec<_>>>()?;
            let options = RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
            RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)
                .map_err(|e| Error::Internal(format!("projection {op} built a bad batch: {e}")))
        })),
        Op::MapPartitions { func, input_schema } => {
            let mut input = Some(input);
            Box::new(std::iter::from_fn(move || {
                let input = input.take()?;
                Some(input.collect::<Result<Vec<_>>>().and_then(|batches| {
                    let whole = concat_batches(input_schema, &batches)
                        .map_err(|e| Error::compute("map_partitions input", e))?;
                    func.call(whole)
                }))
            }))
        }
        Op::Explode { column, schema } => {
            Box::new(input.map(move |b| explode(&b?, *column, schema)))
        }
        Op::Probe { .. } => Box::new(std::iter::once(Err(Error::Internal(
            "a broadcast join's probe ran without its table".into(),
        )))),
        Op::Limit(n) => {
            let mut left = *n;
            let mut input = input;
            Box::new(std::iter::from_fn(move || {
                if left == 0 {
                    return None;
                }
                Some(input.next()?.map(|b| {
                    let take = left.min(b.num_rows());
                    left -= take;
                    b.slice(0, take)
                }))
            }))
        }
    }
}

/// One row per element of list column `column`; an empty or null list gives one row with a
/// null element.
fn explode(batch: &RecordBatch, column: usize, schema: &SchemaRef) -> Result<RecordBatch> {
    use arrow::array::{Array, AsArray, UInt32Array};
    let list = batch.column(column).as_list::<i32>();
    let offsets = list.value_offsets();
    let (mut rows, mut elems): (Vec<u32>, Vec<Option<u32>>) = (Vec::new(), Vec::new());
    for i in 0..list.len() {
        let (a, b) = (offsets[i] as u32, offsets[i + 1] as u32);
        if list.is_null(i) || a == b {
            rows.push(i as u32);
            elems.push(None);
        } else {
            for e in a..b {
                rows.push(i as u32);
                elems.push(Some(e));
            }
        }
    }
    let (rows, elems) = (UInt32Array::from(rows), UInt32Array::from(elems));
    let ctx = |e| Error::compute("explode", e);
    let columns = batch
        .columns()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i == column {
                arrow::compute::take(list.values().as_ref(), &elems, None).map_err(ctx)
            } else {
                arrow::compute::take(c.as_ref(), &rows, None).map_err(ctx)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns)
        .map_err(|e| Error::Internal(format!("explode built a bad batch: {e}")))
}

/// Empty states, one per aggregate of `spec`.
fn accumulators(spec: &AggSpec) -> Result<Vec<Accumulator>> {
    spec.aggs
        .iter()
        .zip(&spec.input_types)
        .map(|(a, t)| Accumulator::new(a.func, t))
        .collect()
}

fn partial(stream: Batches<'_>, spec: &AggSpec) -> Result<Vec<Accumulator>> {
    let mut states = accumulators(spec)?;
    for batch in stream {
        let batch = batch?;
        for (state, agg) in states.iter_mut().zip(&spec.aggs) {
            let values = crate::eval::evaluate_agg_input(agg, &batch)?;
            state.update(values.as_ref())?;
        }
    }
    Ok(states)
}

fn merge_states(deps: &[Arc<Data>], spec: &AggSpec) -> Result<Vec<Accumulator>> {
    let mut states = accumulators(spec)?;
    for d in deps {
        let Data::States(part) = d.as_ref() else {
            return Err(Error::Internal("a combine task was given batches".into()));
        };
        for (s, p) in states.iter_mut().zip(part) {
            s.merge(p)?;
        }
    }
    Ok(states)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryPool;
    use crate::spill::SpillDir;
    use arrow::datatypes::Schema;

    fn with_ctx<T>(
        pool: &Arc<MemoryPool>,
        activity: &Activity,
        f: impl FnOnce(&TaskContext<'_>) -> T,
    ) -> T {
        let cancel = AtomicBool::new(false);
        let spill = SpillDir::new(spillway_planner::config::system_temp_dir());
        let schema: SchemaRef = Arc::new(Schema::empty());
        let tally = TaskTally::default();
        let ctx = TaskContext {
            name: "t[0]".into(),
            cancel: &cancel,
            memory: pool,
            spill: &spill,
            batch_rows: 1024,
            partition: 0,
            output_schema: &schema,
            tally: &tally,
            activity,
        };
        f(&ctx)
    }

    #[test]
    fn a_task_waits_for_memory_only_while_another_task_works() {
        let pool = MemoryPool::new(100);
        let activity = Activity::default();
        let mut other = pool.reserve("other");
        other.try_grow(80).unwrap();
        // Alone: nobody will give memory back, so the answer is at once an error.
        let started = std::time::Instant::now();
        let err = activity.run(|| {
            with_ctx(&pool, &activity, |ctx| {
                let mut mem = ctx.reserve("table");
                ctx.resize_waiting(&mut mem, 50)
            })
        });
        assert!(
            matches!(err, Err(Error::ResourcesExhausted { .. })),
            "{err:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // With another task at work that lets go, the wait ends in the memory.
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel();
            s.spawn(|| {
                activity.run(move || {
                    tx.send(()).unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    drop(other);
                })
            });
            rx.recv().unwrap();
            let got = activity.run(|| {
                with_ctx(&pool, &activity, |ctx| {
                    let mut mem = ctx.reserve("table");
                    ctx.resize_waiting(&mut mem, 50).map(|()| mem.size())
                })
            });
            assert_eq!(got.unwrap(), 50);
        });
        // Beyond the whole limit there is nothing to wait for.
        let err = with_ctx(&pool, &activity, |ctx| {
            let mut mem = ctx.reserve("table");
            ctx.resize_waiting(&mut mem, 101)
        });
        assert!(err.is_err());
    }
}
