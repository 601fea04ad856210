//! Lowering: an optimized logical plan becomes a [`TaskGraph`].
//!
//! The plan is walked bottom-up as a *stream*: a list of inputs (one per partition) and the
//! streaming operators not yet placed in a task. Filters, projections, `map_partitions`
//! and local limits only extend the stream, so they end up fused into one task per
//! partition. An operator that needs all partitions ends the stream: a global limit reads
//! every partition's first `n` rows in one task; a global aggregate folds each partition
//! into partial states, merges them in a tree of `fan_in`-way combine tasks (Dask's
//! `split_every`) and finishes them in one final task.

use std::sync::Arc;

use spillway_planner::Result;
use spillway_planner::config::SessionConfig;
use spillway_planner::logical::{JoinType, LogicalPlan, Partitioning};
use spillway_planner::source::ScanRequest;

use arrow::datatypes::{Field, Schema, SchemaRef};
use spillway_planner::sink::DataSink;

use crate::graph::{AggSpec, GroupSpec, Input, Op, Piece, Sink, TaskGraph, TaskId, TaskKind};
use crate::group::GroupAcc;
use crate::join::{JoinSpec, ShuffleSpec};
use crate::sort::SortSpec;
use spillway_planner::expr::col;

/// Partitions whose streaming operators are not yet placed in tasks.
struct Stream {
    inputs: Vec<Input>,
    /// What the inputs are, for stage names: `scan` or the name of the stage they come from.
    origin: String,
    /// The same in full, for `explain`.
    origin_detail: String,
    ops: Vec<Op>,
}

impl Stream {
    /// The inputs are task outputs that pass through unchanged.
    fn passthrough(&self) -> Option<Vec<TaskId>> {
        if !self.ops.is_empty() {
            return None;
        }
        self.inputs
            .iter()
            .map(|i| match i {
                Input::Tasks(ids) if ids.len() == 1 => Some(ids[0]),
                _ => None,
            })
            .collect()
    }
}

/// Lowers `plan` (already optimized) to a task graph.
///
/// # Errors
/// A source's metadata that cannot be read (a missing or corrupt file).
pub fn lower(plan: &LogicalPlan, config: &SessionConfig) -> Result<TaskGraph> {
    let mut graph = TaskGraph {
        stages: Vec::new(),
        tasks: Vec::new(),
        outputs: Vec::new(),
        schema: plan.schema(),
        written_schema: plan.schema(),
    };
    let stream = lower_stream(plan, config, &mut graph)?;
    graph.outputs = materialize(stream, Sink::Batches, &mut graph);
    Ok(graph)
}

/// The schema of a write's result: one row per output partition, the rows it wrote.
pub fn rows_written_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "rows_written",
        arrow::datatypes::DataType::UInt64,
        false,
    )]))
}

/// Lowers `plan` to a graph whose output partitions are written to `sink`, each by the
/// task that produces it (a group-by's final tasks write their groups as they finish
/// them). The graph's result is one row per output partition: the rows it wrote.
///
/// # Errors
/// As [`lower`].
pub fn lower_to_sink(
    plan: &LogicalPlan,
    config: &SessionConfig,
    sink: Arc<dyn DataSink>,
) -> Result<TaskGraph> {
    let mut graph = TaskGraph {
        stages: Vec::new(),
        tasks: Vec::new(),
        outputs: Vec::new(),
        schema: rows_written_schema(),
        written_schema: plan.schema(),
    };
    let stream = lower_stream(plan, config, &mut graph)?;
    let finals = stream.passthrough().filter(|ids| {
        !ids.is_empty()
            && ids.iter().all(|&i| {
                matches!(
                    graph.tasks[i].kind,
                    TaskKind::GroupFinal { .. }
                        | TaskKind::SortMerge { .. }
                        | TaskKind::HashJoin { .. }
                )
            })
    });
    graph.outputs = match finals {
        Some(ids) => {
            for &i in &ids {
                if let TaskKind::GroupFinal { sink: s, .. }
                | TaskKind::SortMerge { sink: s, .. }
                | TaskKind::HashJoin { sink: s, .. } = &mut graph.tasks[i].kind
                {
                    *s = Some(Arc::clone(&sink));
                }
            }
            if let Some(stage) = ids.first().map(|&i| graph.tasks[i].stage) {
                let st = &mut graph.stages[stage];
                st.name.push_str("-write");
                st.detail.push_str(&format!(" → write {}", sink.name()));
            }
            ids
        }
        None => materialize(stream, Sink::Write(sink), &mut graph),
    };
    Ok(graph)
}

fn lower_stream(plan: &LogicalPlan, config: &SessionConfig, g: &mut TaskGraph) -> Result<Stream> {
    Ok(match plan {
        LogicalPlan::Scan { source, .. } => {
            let parts = plan_scan(plan, config)?;
            Stream {
                inputs: parts.into_iter().map(Input::Scan).collect(),
                origin: "scan".into(),
                origin_detail: scan_detail(source.name(), plan),
                ops: Vec::new(),
            }
        }
        LogicalPlan::Filter { input, predicate } => {
            let mut s = lower_stream(input, config, g)?;
            s.ops.push(Op::Filter(predicate.clone()));
            s
        }
        LogicalPlan::Project {
            input,
            exprs,
            schema,
        } => {
            let mut s = lower_stream(input, config, g)?;
            s.ops.push(Op::Project {
                exprs: exprs.clone(),
                schema: Arc::clone(schema),
            });
            s
        }
        LogicalPlan::MapPartitions { input, func } => {
            let mut s = lower_stream(input, config, g)?;
            s.ops.push(Op::MapPartitions {
                func: func.clone(),
                input_schema: input.schema(),
            });
            s
        }
        LogicalPlan::Repartition { input, to } => {
            let estimate = match to {
                Partitioning::Bytes(_) => estimate_bytes(input, config)?,
                Partitioning::Count(_) => None,
            };
            let s = lower_stream(input, config, g)?;
            let before = s.inputs.len();
            let after = match *to {
                Partitioning::Count(n) => n,
                Partitioning::Bytes(b) => estimate.map_or(before, |e| e.div_ceil(b)).max(1),
            };
            let held = materialize(s, Sink::Hold(input.schema()), g);
            Stream {
                inputs: cut(&held, after).into_iter().map(Input::Pieces).collect(),
                origin: "repartition".into(),
                origin_detail: format!(
                    "repartition into {to}: {before} → {after} partitions, rows in order"
                ),
                ops: Vec::new(),
            }
        }
        LogicalPlan::Explode {
            input,
            column,
            schema,
        } => {
            let mut s = lower_stream(input, config, g)?;
            let column = schema
                .index_of(column)
                .map_err(|_| spillway_planner::Error::Internal(format!("explode lost {column}")))?;
            s.ops.push(Op::Explode {
                column,
                schema: Arc::clone(schema),
            });
            s
        }
        LogicalPlan::Limit { input, n } => {
            let mut s = lower_stream(input, config, g)?;
            // Each partition stops reading after n rows; one task then takes the first n
            // rows in partition order.
            s.ops.push(Op::Limit(*n));
            let single = s.inputs.len() <= 1;
            let ids = materialize(s, Sink::Batches, g);
            let origin = g.stages.last().map_or("empty", |st| &st.name).to_string();
            if single {
                Stream {
                    inputs: ids.into_iter().map(|i| Input::Tasks(vec![i])).collect(),
                    origin_detail: format!("read {origin}"),
                    origin,
                    ops: Vec::new(),
                }
            } else {
                Stream {
                    inputs: vec![Input::Tasks(ids)],
                    origin: "gather".into(),
                    origin_detail: "gather in partition order".into(),
                    ops: vec![Op::Limit(*n)],
                }
            }
        }
        LogicalPlan::Join {
            left,
            right,
            left_on,
            right_on,
            how,
            schema,
        } => {
            let (ls, rs) = (left.schema(), right.schema());
            let index = |s: &Schema, n: &String| {
                s.index_of(n)
                    .map_err(|_| spillway_planner::Error::Internal(format!("join key {n} lost")))
            };
            let left_key_columns = left_on
                .iter()
                .map(|n| index(&ls, n))
                .collect::<Result<Vec<_>>>()?;
            let right_key_columns = right_on
                .iter()
                .map(|n| index(&rs, n))
                .collect::<Result<Vec<_>>>()?;
            let key_types: Vec<_> = left_key_columns
                .iter()
                .map(|&i| ls.field(i).data_type().clone())
                .collect();
            let mut lstream = lower_stream(left, config, g)?;
            let rstream = lower_stream(right, config, g)?;
            let broadcast = matches!(
                how,
                JoinType::Inner | JoinType::Left | JoinType::Semi | JoinType::Anti
            ) && estimated_bytes(&rstream)
                .is_some_and(|b| b <= config.broadcast_bytes());
            let buckets = lstream
                .inputs
                .len()
                .max(rstream.inputs.len())
                .clamp(1, config.threads.max(1) * 4);
            let side = |on: &[String], schema: SchemaRef| {
                Arc::new(ShuffleSpec {
                    keys: on.iter().map(|n| col(n.as_str())).collect(),
                    key_types: key_types.clone(),
                    schema,
                    buckets,
                })
            };
            let spec = Arc::new(JoinSpec {
                how: *how,
                left: side(left_on, Arc::clone(&ls)),
                right: side(right_on, Arc::clone(&rs)),
                right_output_columns: (0..rs.fields().len())
                    .filter(|i| !right_key_columns.contains(i))
                    .collect(),
                left_key_columns,
                right_key_columns,
                schema: Arc::clone(schema),
            });
            if broadcast {
                // The right side, read in parallel, then built into one table that every
                // left partition streams through: the left side is never shuffled.
                let rows = materialize(rstream, Sink::Batches, g);
                let table = g.push_stage(
                    "broadcast-build".into(),
                    format!("build the hash table of {}", spec.describe()),
                    [(rows, TaskKind::BroadcastBuild(Arc::clone(&spec)))],
                )[0];
                lstream.ops.push(Op::Probe { spec, table });
                return Ok(lstream);
            }
            let lp = materialize(lstream, Sink::Shuffle(Arc::clone(&spec.left)), g);
            let rp = materialize(rstream, Sink::Shuffle(Arc::clone(&spec.right)), g);
            let deps: Vec<TaskId> = lp.iter().chain(&rp).copied().collect();
            let joined = g.push_stage(
                "hash-join".into(),
                format!("{}, one task per hash bucket", spec.describe()),
                (0..buckets).map(|bucket| {
                    (
                        deps.clone(),
                        TaskKind::HashJoin {
                            spec: Arc::clone(&spec),
                            bucket,
                            left_count: lp.len(),
                            sink: None,
                        },
                    )
                }),
            );
            Stream {
                inputs: joined.into_iter().map(|i| Input::Tasks(vec![i])).collect(),
                origin: "hash-join".into(),
                origin_detail: "read hash-join".into(),
                ops: Vec::new(),
            }
        }
        LogicalPlan::Sort { input, keys, fetch } => {
            let in_schema = input.schema();
            let key_types = keys
                .iter()
                .map(|k| k.expr.data_type(&in_schema))
                .collect::<Result<Vec<_>>>()?;
            let spec = Arc::new(SortSpec {
                keys: keys.clone(),
                key_types,
                schema: in_schema,
                fetch: *fetch,
            });
            let s = lower_stream(input, config, g)?;
            let producers = materialize(s, Sink::SortRuns(Arc::clone(&spec)), g);
            let merged = g.push_stage(
                "sort-merge".into(),
                format!("merge sorted runs {}", spec.describe()),
                [(
                    producers,
                    TaskKind::SortMerge {
                        spec: Arc::clone(&spec),
                        sink: None,
                    },
                )],
            );
            Stream {
                inputs: merged.into_iter().map(|i| Input::Tasks(vec![i])).collect(),
                origin: "sort-merge".into(),
                origin_detail: "read sort-merge".into(),
                ops: Vec::new(),
            }
        }
        LogicalPlan::Aggregate {
            input,
            keys,
            aggs,
            schema,
        } if !keys.is_empty() => {
            let in_schema = input.schema();
            let key_types = keys
                .iter()
                .map(|k| k.data_type(&in_schema))
                .collect::<Result<Vec<_>>>()?;
            let input_types = aggs
                .iter()
                .map(|a| a.input_type(&in_schema))
                .collect::<Result<Vec<_>>>()?;
            let mut partial: Vec<Field> = schema.fields()[..keys.len()]
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect();
            for (a, t) in aggs.iter().zip(&input_types) {
                partial.extend(GroupAcc::state_fields(a.func, t, &a.name));
            }
            let s = lower_stream(input, config, g)?;
            let buckets = s.inputs.len().clamp(1, config.threads.max(1) * 4);
            let spec = Arc::new(GroupSpec {
                keys: keys.clone(),
                key_types,
                aggs: aggs.clone(),
                input_types,
                partial_schema: Arc::new(Schema::new(partial)),
                schema: Arc::clone(schema),
                buckets,
            });
            let producers = materialize(s, Sink::GroupPartial(Arc::clone(&spec)), g);
            let finals = g.push_stage(
                "group-final".into(),
                TaskGraph::group_final_detail(&spec),
                (0..buckets).map(|bucket| {
                    (
                        producers.clone(),
                        TaskKind::GroupFinal {
                            spec: Arc::clone(&spec),
                            bucket,
                            sink: None,
                        },
                    )
                }),
            );
            Stream {
                inputs: finals.into_iter().map(|i| Input::Tasks(vec![i])).collect(),
                origin: "group-final".into(),
                origin_detail: "read group-final".into(),
                ops: Vec::new(),
            }
        }
        LogicalPlan::Aggregate {
            input,
            aggs,
            schema,
            ..
        } => {
            let in_schema = input.schema();
            let input_types = aggs
                .iter()
                .map(|a| a.input_type(&in_schema))
                .collect::<Result<Vec<_>>>()?;
            let spec = Arc::new(AggSpec {
                aggs: aggs.clone(),
                input_types,
                schema: Arc::clone(schema),
            });
            let s = lower_stream(input, config, g)?;
            let mut ids = materialize(s, Sink::Partial(Arc::clone(&spec)), g);
            let fan_in = config.fan_in.max(2);
            let mut level = 1;
            while ids.len() > fan_in {
                let groups: Vec<Vec<TaskId>> = ids.chunks(fan_in).map(<[_]>::to_vec).collect();
                ids = g.push_stage(
                    format!("combine-{level}"),
                    TaskGraph::combine_detail(&spec, fan_in),
                    groups
                        .into_iter()
                        .map(|deps| (deps, TaskKind::Combine(Arc::clone(&spec)))),
                );
                level += 1;
            }
            let done = g.push_stage(
                "aggregate".into(),
                TaskGraph::final_detail(&spec),
                [(ids, TaskKind::Final(Arc::clone(&spec)))],
            );
            Stream {
                inputs: vec![Input::Tasks(done)],
                origin: "aggregate".into(),
                origin_detail: "read aggregate".into(),
                ops: Vec::new(),
            }
        }
    })
}

/// Places a stream's pending operators into one pipeline task per input; returns the
/// tasks whose outputs hold the stream's batches (or partial states).
fn materialize(stream: Stream, sink: Sink, g: &mut TaskGraph) -> Vec<TaskId> {
    if matches!(sink, Sink::Batches)
        && let Some(ids) = stream.passthrough()
    {
        return ids;
    }
    let (name, detail) =
        TaskGraph::describe_pipeline(&stream.origin, &stream.origin_detail, &stream.ops, &sink);
    let detail = match stream.inputs.first() {
        Some(Input::Scan(p)) => format!("{detail}\n    first partition: {}", p.describe()),
        _ => detail,
    };
    let ops: Arc<[Op]> = stream.ops.into();
    let tasks: Vec<(Vec<TaskId>, TaskKind)> = stream
        .inputs
        .into_iter()
        .map(|input| {
            let mut deps = input.tasks();
            // The tables the pipeline probes, after its inputs, in the order of the ops.
            deps.extend(ops.iter().filter_map(|op| match op {
                Op::Probe { table, .. } => Some(*table),
                _ => None,
            }));
            let kind = TaskKind::Pipeline {
                input,
                ops: Arc::clone(&ops),
                sink: sink.clone(),
            };
            (deps, kind)
        })
        .collect();
    g.push_stage(name, detail, tasks)
}

/// The decoded bytes a stream reads, when every input is a source partition that knows
/// it: an upper bound of what the stream's rows take (filters only shrink it).
fn estimated_bytes(stream: &Stream) -> Option<usize> {
    if stream.ops.iter().any(|op| {
        matches!(
            op,
            Op::MapPartitions { .. } | Op::Explode { .. } | Op::Probe { .. }
        )
    }) {
        return None;
    }
    stream
        .inputs
        .iter()
        .try_fold(0usize, |sum, input| match input {
            Input::Scan(p) => Some(sum + p.estimated_bytes()?),
            Input::Tasks(_) | Input::Pieces(_) => None,
        })
}

/// The partitions of a scan node, from its source's metadata (empty for another node).
///
/// # Errors
/// A source's metadata that cannot be read.
fn plan_scan(
    scan: &LogicalPlan,
    config: &SessionConfig,
) -> Result<Vec<Arc<dyn spillway_planner::source::ScanPartition>>> {
    let LogicalPlan::Scan {
        source,
        projection,
        filters,
        ..
    } = scan
    else {
        return Ok(Vec::new());
    };
    source.plan_scan(&ScanRequest {
        projection: projection.as_deref(),
        filters,
        batch_rows: config.batch_rows,
        batch_bytes: config.batch_bytes,
        target_partition_bytes: config.target_partition_bytes,
        min_partitions: config.threads,
    })
}

/// The pieces of `held` (tasks holding rows in order) that make `n` partitions, in order:
/// neighbouring tasks joined when there are more tasks than partitions, each task cut into
/// pieces of equal row counts otherwise (as Dask's `repartition(npartitions=n)`).
fn cut(held: &[TaskId], n: usize) -> Vec<Vec<Piece>> {
    let m = held.len();
    if m == 0 {
        return vec![Vec::new(); n];
    }
    if n <= m {
        return (0..n)
            .map(|j| {
                held[m * j / n..m * (j + 1) / n]
                    .iter()
                    .map(|&task| Piece {
                        task,
                        index: 0,
                        of: 1,
                    })
                    .collect()
            })
            .collect();
    }
    held.iter()
        .enumerate()
        .flat_map(|(i, &task)| {
            let of = n * (i + 1) / m - n * i / m;
            (0..of).map(move |index| vec![Piece { task, index, of }])
        })
        .collect()
}

/// The decoded bytes of `plan`'s rows as far as its sources can tell without reading
/// data: filters and projections are taken to keep every byte (an upper bound for a
/// filter), a group-by its input's size, a join both sides'. `None` when a source does not
/// know.
///
/// # Errors
/// A source's metadata that cannot be read.
fn estimate_bytes(plan: &LogicalPlan, config: &SessionConfig) -> Result<Option<usize>> {
    Ok(match plan {
        LogicalPlan::Scan { .. } => plan_scan(plan, config)?
            .iter()
            .try_fold(0usize, |sum, p| Some(sum + p.estimated_bytes()?)),
        LogicalPlan::Join { left, right, .. } => {
            match (
                estimate_bytes(left, config)?,
                estimate_bytes(right, config)?,
            ) {
                (Some(l), Some(r)) => Some(l + r),
                _ => None,
            }
        }
        LogicalPlan::Aggregate { keys, .. } if keys.is_empty() => Some(0),
        other => match other.input() {
            Some(input) => estimate_bytes(input, config)?,
            None => None,
        },
    })
}

/// `scan <source> columns [..] filters [..]`.
fn scan_detail(source: String, plan: &LogicalPlan) -> String {
    let mut d = format!("scan {source}");
    if let LogicalPlan::Scan {
        projection: Some(_),
        schema,
        ..
    } = plan
    {
        let cols: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        d += &format!(" columns [{}]", cols.join(", "));
    }
    if let LogicalPlan::Scan { filters, .. } = plan
        && !filters.is_empty()
    {
        let list: Vec<String> = filters.iter().map(ToString::to_string).collect();
        d += &format!(" pruning with [{}]", list.join(", "));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{ExecOptions, execute};
    use crate::testing::Batches;
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    use spillway_planner::expr::{col, lit};

    fn config(fan_in: usize) -> SessionConfig {
        SessionConfig {
            fan_in,
            ..SessionConfig::default()
        }
    }

    #[test]
    fn streaming_operators_fuse_into_one_stage() {
        let scan = Arc::new(LogicalPlan::scan(Batches::numbers(100, 5)));
        let f = Arc::new(LogicalPlan::filter(scan, col("x").gt(lit(3))).unwrap());
        let p = LogicalPlan::project(f, vec![(col("x") * lit(2)).alias("y")]).unwrap();
        let g = lower(&p, &config(8)).unwrap();
        assert_eq!(g.stages.len(), 1);
        assert_eq!(g.stages[0].name, "scan-filter-project");
        assert_eq!(g.outputs, vec![0, 1, 2, 3, 4]);
        assert!(g.to_string().contains("1 stage, 5 tasks"), "{g}");
    }

    #[test]
    fn reductions_become_a_tree_of_fan_in_combines() {
        let scan = Arc::new(LogicalPlan::scan(Batches::numbers(100, 10)));
        let a = LogicalPlan::aggregate(scan, vec![col("x").sum()]).unwrap();
        let g = lower(&a, &config(3)).unwrap();
        let sizes: Vec<usize> = g.stages.iter().map(|s| s.tasks.len()).collect();
        // 10 partials → 4 combines of ≤3 → 2 → final (2 ≤ fan-in).
        assert_eq!(sizes, vec![10, 4, 2, 1]);
        for t in &g.tasks {
            assert!(t.deps.len() <= 3);
            assert!(t.deps.iter().all(|&d| g.tasks[d].stage < t.stage));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let opts = ExecOptions {
            synchronous: false,
            max_in_flight: 2,
            ..ExecOptions::default()
        };
        let out = execute(Arc::new(g), &pool, opts).unwrap();
        assert_eq!(out[0].column(0).as_primitive::<Int64Type>().value(0), 4950);
    }

    #[test]
    fn a_global_limit_gathers_only_when_there_are_several_partitions() {
        let one = Arc::new(LogicalPlan::scan(Batches::numbers(100, 1)));
        let g = lower(&LogicalPlan::limit(one, 5), &config(8)).unwrap();
        assert_eq!(g.stages.len(), 1);
        let many = Arc::new(LogicalPlan::scan(Batches::numbers(100, 4)));
        let g = lower(&LogicalPlan::limit(many, 5), &config(8)).unwrap();
        let names: Vec<&str> = g.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["scan-limit", "gather-limit"]);
        assert_eq!(g.tasks[4].deps, vec![0, 1, 2, 3]);
    }
}
