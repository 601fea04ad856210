//! The operators, one file each, and the contract they share.
//!
//! # The contract
//!
//! - Every operator is called by the switchboard ([`run_task`]) with a [`TaskContext`]
//!   ([`context`]): the task's name, the cancel flag, the memory pool, the spill folder and
//!   the task's tally. It reserves every byte it holds beyond one batch from the context
//!   ([`TaskContext::reserve`]), spills through it, and checks [`TaskContext::check`]
//!   between batches when it loops on its own.
//! - A **streaming** operator is a function from a stream of batches ([`Batches`]) to a
//!   stream: `fn op<'a>(input: Batches<'a>, spec…) -> Batches<'a>`. It holds one batch at a
//!   time and reserves nothing (filter, project, limit, explode, map_partitions, the
//!   broadcast probe, the cross join's probe, the row index). Streaming operators fuse into
//!   one pipeline task per partition; what one reads besides its stream (a broadcast
//!   table, a cross join's held right side, a row index's counts) comes from dependencies
//!   after the input's ([`Op::tables`](crate::graph::Op::tables)). (A
//!   broadcast probe whose table fell back to buckets holds its partition, spillable, and
//!   reserves what it holds: see `join::fallback`.)
//! - A **blocking** operator has two halves, because it needs every partition: a *sink*
//!   at the end of each input partition's pipeline, `fn(stream, spec, ctx) -> Result<T>`,
//!   whose `T` (buckets, runs, states, a table) becomes the task's [`Data`]; and a
//!   *final* task over every producer's `T`, `fn(producers: &[&T], spec, ctx, emit)`, which
//!   emits finished batches to an [`Output`] (held, or written to a sink). Its module doc
//!   says what it buffers, what it reserves and when it spills.
//! - An operator never sees the graph or another operator's data: [`data`] takes the
//!   dependencies apart for it.
//!
//! # The switchboard
//!
//! [`run_task`] (below) is the only place that matches on `TaskKind`, `Op` and `Sink` at
//! run time and takes the dependencies' [`Data`] apart: each operator is called with typed
//! inputs (a stream of batches, stores, states, a table) and knows nothing of the graph.
//! A pipeline is a chain of iterators, so a partition streams through it one bounded batch
//! at a time. The cancel flag is checked before every batch is read, so a failed or
//! cancelled graph stops its tasks within one batch. A user closure's call (`apply` over
//! a batch, `map_partitions` over a partition) is never interrupted: the task stops at the
//! next batch boundary after it.
//!
//! # Adding a blocking operator
//!
//! Its spec and its `Sink`/`TaskKind` variants in `graph/specs.rs`; its file here, with a
//! `pub mod` line and one arm in [`run_task`] in this file; its lowering, a new file in
//! `lower/` with one arm in `lower/mod.rs`. With the plan node (`planner/src/logical.rs`)
//! and its builder in the facade (`src/frame.rs`): seven files, two of them new.

pub mod aggregate;
pub mod context;
pub mod data;
pub mod explode;
pub mod filter;
pub mod hash_agg;
pub mod hold;
pub mod join;
pub mod limit;
pub mod map_partitions;
pub mod output;
pub mod project;
pub mod row_index;
pub mod sort;
pub mod store;

pub use context::{Batches, TaskContext, TaskTally};
pub use data::Data;
pub use output::Output;

use std::sync::Arc;

use spillway_planner::{Error, Result};

use crate::graph::{Input, Op, Sink, TaskKind};
use data::each;

/// Runs `kind` over its dependencies' outputs (in `deps` order).
///
/// # Errors
/// The first error of the source, an operator or a user closure; [`Error::Cancelled`]
/// when the run was cancelled meanwhile.
pub fn run_task(kind: &TaskKind, deps: &[Arc<Data>], ctx: &TaskContext<'_>) -> Result<Data> {
    match kind {
        TaskKind::Pipeline { input, ops, sink } => {
            // The input tasks come first among the dependencies, the tables probed after.
            let (inputs, tables) = deps.split_at(input.tasks().len().min(deps.len()));
            let stream = open_input(input, inputs, ctx)?;
            let stream = apply_ops(stream, ops, tables, ctx)?;
            end_pipeline(stream, sink, ctx)
        }
        TaskKind::Combine(spec) => Ok(Data::States(aggregate::combine(
            &each(deps, Data::states)?,
            spec,
        )?)),
        TaskKind::Final(spec) => Ok(Data::Batches(vec![aggregate::finish(
            &each(deps, Data::states)?,
            spec,
        )?])),
        TaskKind::HashJoin {
            spec,
            bucket,
            left_count,
            sink,
        } => {
            let (left, right) = deps.split_at((*left_count).min(deps.len()));
            let (left, right) = (each(left, Data::buckets)?, each(right, Data::buckets)?);
            let mut out = Output::new(sink.as_ref(), ctx)?;
            join::join_bucket(&left, &right, spec, *bucket, ctx, &mut |b| out.emit(b))?;
            Ok(Data::Batches(out.finish()?))
        }
        TaskKind::BroadcastBuild(spec) => {
            let right = each(deps, Data::buckets)?;
            Ok(Data::Table(Arc::new(join::broadcast_build(
                &right, spec, ctx,
            )?)))
        }
        TaskKind::CountRows => Ok(Data::RowStarts(row_index::starts(deps))),
        TaskKind::SortMerge { spec, sink } => {
            let mut out = Output::new(sink.as_ref(), ctx)?;
            sort::merge(&each(deps, Data::runs)?, spec, ctx, &mut |b| out.emit(b))?;
            Ok(Data::Batches(out.finish()?))
        }
        TaskKind::GroupFinal { spec, bucket, sink } => {
            let parts = each(deps, Data::buckets)?;
            let mut out = Output::new(sink.as_ref(), ctx)?;
            hash_agg::final_bucket(&parts, spec, *bucket, ctx, &mut |b| out.emit(b))?;
            Ok(Data::Batches(out.finish()?))
        }
    }
}

/// The batches a pipeline reads, checked against the cancel flag before each one.
fn open_input<'a>(
    input: &'a Input,
    inputs: &'a [Arc<Data>],
    ctx: &'a TaskContext<'_>,
) -> Result<Batches<'a>> {
    let source: Batches<'a> = match input {
        Input::Scan(partition) => partition.open()?,
        Input::Tasks(_) => {
            let batches = each(inputs, Data::batches)?;
            Box::new(batches.into_iter().flatten().cloned().map(Ok))
        }
        Input::Pieces(pieces) => hold::pieces(&each(inputs, Data::buckets)?, pieces)?,
    };
    Ok(Box::new(source.map(|b| ctx.check().and(b))))
}

/// The stream through each streaming operator in turn; `tables` are what the operators
/// read besides the stream ([`Op::tables`]), in the order of the operators.
fn apply_ops<'a>(
    mut stream: Batches<'a>,
    ops: &'a [Op],
    tables: &'a [Arc<Data>],
    ctx: &'a TaskContext<'_>,
) -> Result<Batches<'a>> {
    let mut tables = tables.iter();
    for op in ops {
        stream = match op {
            Op::Filter(predicate) => filter::filter(stream, predicate),
            Op::Project { exprs, schema } => project::project(stream, exprs, schema),
            Op::MapPartitions { func, input_schema } => {
                map_partitions::map_partitions(stream, func, input_schema)
            }
            Op::Limit(n) => limit::limit(stream, *n),
            Op::Explode { column, schema } => explode::explode(stream, *column, schema),
            Op::Probe { spec, .. } => {
                let table = tables.next().ok_or_else(|| {
                    Error::Internal("a broadcast join's probe lost its table".into())
                })?;
                join::broadcast_probe(stream, table.table()?, spec, ctx)
            }
            Op::Cross { schema, right } => {
                let held: Vec<&Arc<Data>> = tables.by_ref().take(right.len()).collect();
                if held.len() != right.len() {
                    return Err(Error::Internal("a cross join lost its right side".into()));
                }
                let held = held
                    .into_iter()
                    .map(|d| d.buckets())
                    .collect::<Result<Vec<_>>>()?;
                join::cross(stream, held, schema, ctx)
            }
            Op::RowIndex {
                schema,
                offset,
                starts,
            } => {
                let before = match starts {
                    None => 0,
                    Some(_) => {
                        let starts = tables.next().ok_or_else(|| {
                            Error::Internal("a row index lost its row counts".into())
                        })?;
                        starts
                            .row_starts()?
                            .get(ctx.place)
                            .copied()
                            .ok_or_else(|| {
                                Error::Internal(format!("no row count for partition {}", ctx.place))
                            })?
                    }
                };
                row_index::row_index(stream, *offset, before, schema)
            }
        };
    }
    Ok(stream)
}

/// What the pipeline's last step makes of its batches.
fn end_pipeline(stream: Batches<'_>, sink: &Sink, ctx: &TaskContext<'_>) -> Result<Data> {
    Ok(match sink {
        Sink::Batches => Data::Batches(
            stream
                .filter(|b| b.as_ref().map_or(true, |b| b.num_rows() > 0))
                .collect::<Result<_>>()?,
        ),
        Sink::Partial(spec) => Data::States(aggregate::partial(stream, spec)?),
        Sink::GroupPartial(spec) => Data::Buckets(hash_agg::partial(stream, spec, ctx)?),
        Sink::SortRuns(spec) => Data::Runs(sort::runs(stream, spec, ctx)?),
        Sink::Shuffle(spec) => Data::Buckets(join::shuffle(stream, spec, ctx)?),
        Sink::Hold(schema) => Data::Buckets(hold::hold(stream, schema, ctx)?),
        Sink::Write(sink) => {
            let mut out = Output::new(Some(sink), ctx)?;
            for b in stream {
                out.emit(b?)?;
            }
            Data::Batches(out.finish()?)
        }
    })
}
