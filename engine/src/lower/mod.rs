//! Lowering: an optimized logical plan becomes a [`TaskGraph`].
//!
//! The plan is walked bottom-up as a `Stream`: a list of inputs (one per partition) and
//! the streaming operators not yet placed in a task. Filters, projections,
//! `map_partitions`, explode and broadcast probes only extend the stream, so they end up
//! fused into one task per partition. An operator that needs all partitions ends the
//! stream (`materialize`) in a sink (partial aggregate, sorted runs, a shuffle, held
//! rows), adds the stage of its final tasks, and starts a new stream reading them.
//!
//! This file is the dispatch: it lowers a node's inputs first, then hands the node and
//! its lowered inputs to the file of its family (`scan`, `join`, `sort`, `aggregate`,
//! `repartition`, `limit`, `row_index`); those files never recurse, so none imports this one.

use std::sync::Arc;

use spillway_planner::logical::{LogicalPlan, Partitioning};
use spillway_planner::sink::DataSink;
use spillway_planner::{Error, Result};

use crate::config::EngineConfig;
use crate::graph::{Op, Sink, TaskGraph, rows_written_schema};

mod aggregate;
mod join;
mod limit;
mod repartition;
mod row_index;
mod scan;
mod sort;
mod stream;

use stream::{Stream, materialize};

/// Lowers `plan` (already optimized) to a task graph.
///
/// # Errors
/// A source's metadata that cannot be read (a missing or corrupt file).
pub fn lower(plan: &LogicalPlan, config: &EngineConfig) -> Result<TaskGraph> {
    let mut graph = TaskGraph::new(plan.schema(), plan.schema());
    let stream = lower_stream(plan, config, &mut graph)?;
    graph.outputs = materialize(stream, Sink::Batches, &mut graph);
    Ok(graph)
}

/// Lowers `plan` to a graph whose output partitions are written to `sink`, each by the
/// task that produces it (a group-by's final tasks write their groups as they finish
/// them). The graph's result is one row per output partition: the rows it wrote.
///
/// # Errors
/// As [`lower`].
pub fn lower_to_sink(
    plan: &LogicalPlan,
    config: &EngineConfig,
    sink: Arc<dyn DataSink>,
) -> Result<TaskGraph> {
    let mut graph = TaskGraph::new(rows_written_schema(), plan.schema());
    let stream = lower_stream(plan, config, &mut graph)?;
    // A blocking operator's final tasks that pass through unchanged write their own
    // output; anything else gets a writing pipeline.
    // They must be one stage's, whose partitions are numbered from 0: a union's inputs
    // may be final tasks of several stages, each numbered from 0.
    let finals = stream.passthrough().filter(|ids| {
        !ids.is_empty()
            && ids.iter().all(|&i| {
                graph.tasks[i].kind.can_write() && graph.tasks[i].stage == graph.tasks[ids[0]].stage
            })
    });
    graph.outputs = match finals {
        Some(ids) => {
            for &i in &ids {
                graph.tasks[i].kind.write_to(Arc::clone(&sink));
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

/// The stream of `plan`'s rows: its inputs lowered first, then the node by its family.
fn lower_stream(plan: &LogicalPlan, config: &EngineConfig, g: &mut TaskGraph) -> Result<Stream> {
    let streaming = |op: Op, g: &mut TaskGraph| -> Result<Stream> {
        let input = plan
            .input()
            .ok_or_else(|| Error::Internal("a streaming node lost its input".into()))?;
        let mut s = lower_stream(input, config, g)?;
        s.push(op);
        Ok(s)
    };
    match plan {
        LogicalPlan::Scan { .. } => scan::lower_scan(plan, config),
        LogicalPlan::Filter { predicate, .. } => streaming(Op::Filter(predicate.clone()), g),
        LogicalPlan::Project { exprs, schema, .. } => streaming(
            Op::Project {
                exprs: exprs.clone(),
                schema: Arc::clone(schema),
            },
            g,
        ),
        LogicalPlan::MapPartitions { input, func } => streaming(
            Op::MapPartitions {
                func: func.clone(),
                input_schema: input.schema(),
            },
            g,
        ),
        LogicalPlan::Explode { column, schema, .. } => {
            let column = schema
                .index_of(column)
                .map_err(|_| Error::Internal(format!("explode lost {column}")))?;
            let schema = Arc::clone(schema);
            streaming(Op::Explode { column, schema }, g)
        }
        LogicalPlan::Limit { input, n } => {
            let s = lower_stream(input, config, g)?;
            Ok(limit::lower_limit(s, *n, g))
        }
        LogicalPlan::Repartition { input, to } => {
            let estimate = match to {
                Partitioning::Bytes(_) => scan::estimate_bytes(input, config)?,
                Partitioning::Count(_) => None,
            };
            let s = lower_stream(input, config, g)?;
            Ok(repartition::lower_repartition(
                s,
                input.schema(),
                to,
                estimate,
                g,
            ))
        }
        LogicalPlan::RowIndex {
            input,
            offset,
            schema,
            ..
        } => {
            let s = lower_stream(input, config, g)?;
            Ok(row_index::lower_row_index(
                s,
                input.schema(),
                Arc::clone(schema),
                *offset,
                g,
            ))
        }
        // The inputs' partitions side by side, each with its own pending work.
        LogicalPlan::Union { inputs, .. } => {
            let mut streams = inputs.iter().map(|i| lower_stream(i, config, g));
            let mut s = streams
                .next()
                .ok_or_else(|| Error::Internal("a union without inputs".into()))??;
            for other in streams {
                s.append(other?);
            }
            Ok(s)
        }
        LogicalPlan::Join { left, right, .. } => {
            let l = lower_stream(left, config, g)?;
            let r = lower_stream(right, config, g)?;
            join::lower_join(plan, l, r, config, g)
        }
        LogicalPlan::Sort { input, .. } => {
            let s = lower_stream(input, config, g)?;
            sort::lower_sort(plan, s, g)
        }
        LogicalPlan::Aggregate { input, .. } => {
            let s = lower_stream(input, config, g)?;
            aggregate::lower_aggregate(plan, s, config, g)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{RunEnv, execute};
    use crate::testing::Batches;
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    use spillway_planner::expr::{col, lit};

    fn config(fan_in: usize) -> EngineConfig {
        EngineConfig {
            fan_in,
            ..EngineConfig::default()
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
        let config = EngineConfig {
            threads: 2,
            ..config(3)
        };
        let out = execute(Arc::new(g), &pool, &config, RunEnv::unlimited()).unwrap();
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

    #[test]
    fn a_union_keeps_each_inputs_pipeline_and_numbers_partitions_on() {
        let scan = |parts| Arc::new(LogicalPlan::scan(Batches::numbers(100, parts)));
        let f = Arc::new(LogicalPlan::filter(scan(3), col("x").gt(lit(3))).unwrap());
        let u = Arc::new(LogicalPlan::union(vec![f, scan(2), scan(2)]).unwrap());
        let p = LogicalPlan::project(u, vec![(col("x") * lit(2)).alias("y")]).unwrap();
        let g = lower(&p, &config(8)).unwrap();
        let names: Vec<&str> = g.stages.iter().map(|s| s.name.as_str()).collect();
        // The two plain scans make one stage.
        assert_eq!(names, ["scan-filter-project", "scan-project"]);
        let partitions: Vec<usize> = g.outputs.iter().map(|&t| g.tasks[t].partition).collect();
        assert_eq!(partitions, [0, 1, 2, 3, 4, 5, 6]);
        let places: Vec<usize> = g.outputs.iter().map(|&t| g.tasks[t].place).collect();
        assert_eq!(places, [0, 1, 2, 0, 1, 2, 3]);
    }
}
