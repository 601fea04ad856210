//! Lowering an equi-join: broadcast (the right side built into one table that every left
//! partition's pipeline probes) when the right side is estimated within the memory
//! policy's broadcast threshold and the join keeps no unmatched right rows; otherwise both
//! sides hash-partitioned into buckets and joined one task per bucket.
//!
//! The estimate is the right side's decoded bytes as its sources tell them before reading
//! (`Stream::estimated_bytes`); it can be wrong (a projection that adds wide columns, a
//! compressed file). So a broadcast's right side is held in the spillable store
//! ([`Sink::Hold`]), not as plain batches, and the build task falls back to a partitioned
//! join at run time when the table does not fit (see `ops::join::broadcast`).
//!
//! A cross join (no keys) holds its right side the same way and streams every left
//! partition through all of it (see `ops::join::cross`).
//!
//! Rows with a null key match nothing: each side's shuffle drops them when the join does
//! not output that side's unmatched rows, and spreads them over the buckets otherwise
//! ([`NullKeys`]).

use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use spillway_planner::expr::col;
use spillway_planner::logical::{JoinType, LogicalPlan};
use spillway_planner::{Error, Result};

use crate::config::EngineConfig;
use crate::graph::{JoinSpec, NullKeys, Op, ShuffleSpec, Sink, TaskGraph, TaskId, TaskKind};
use crate::lower::stream::{Stream, materialize};

/// The join node `plan` over its lowered sides.
///
/// # Errors
/// A key that is not in its side's schema (a bug in planning).
pub fn lower_join(
    plan: &LogicalPlan,
    mut left: Stream,
    right: Stream,
    config: &EngineConfig,
    g: &mut TaskGraph,
) -> Result<Stream> {
    if let LogicalPlan::Join {
        how: JoinType::Cross,
        right: rplan,
        schema,
        ..
    } = plan
    {
        return Ok(lower_cross(
            left,
            right,
            rplan.schema(),
            Arc::clone(schema),
            g,
        ));
    }
    let spec = join_spec(plan, &left, &right, config)?;
    let broadcast = matches!(
        spec.how,
        JoinType::Inner | JoinType::Left | JoinType::Semi | JoinType::Anti
    ) && right
        .estimated_bytes()
        .is_some_and(|b| b <= config.broadcast_bytes());
    if broadcast {
        // The right side, read in parallel, then built into one table that every left
        // partition streams through: the left side is never shuffled.
        let rows = materialize(right, Sink::Hold(Arc::clone(&spec.right.schema)), g);
        let table = g.push_stage(
            "broadcast-build".into(),
            format!(
                "build the hash table of {} (hash-partitioned and spilled if it does not fit)",
                spec.describe()
            ),
            [(rows, TaskKind::BroadcastBuild(Arc::clone(&spec)))],
        )[0];
        left.push(Op::Probe { spec, table });
        return Ok(left);
    }
    let lp = materialize(left, Sink::Shuffle(Arc::clone(&spec.left)), g);
    let rp = materialize(right, Sink::Shuffle(Arc::clone(&spec.right)), g);
    let deps: Vec<TaskId> = lp.iter().chain(&rp).copied().collect();
    let joined = g.push_stage(
        "hash-join".into(),
        format!("{}, one task per hash bucket", spec.describe()),
        (0..spec.left.buckets).map(|bucket| {
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
    Ok(Stream::read(joined, "hash-join"))
}

/// A cross join: the right side held (in memory within the store's share, as a broadcast
/// join's right side, spilled beyond it), and every left partition's pipeline streaming
/// through all of it.
fn lower_cross(
    mut left: Stream,
    right: Stream,
    right_schema: SchemaRef,
    schema: SchemaRef,
    g: &mut TaskGraph,
) -> Stream {
    let right = materialize(right, Sink::Hold(right_schema), g);
    left.push(Op::Cross { schema, right });
    left
}

/// The join's spec: key columns and types, both sides' partitioning, the output.
fn join_spec(
    plan: &LogicalPlan,
    left: &Stream,
    right: &Stream,
    config: &EngineConfig,
) -> Result<Arc<JoinSpec>> {
    let LogicalPlan::Join {
        left: lplan,
        right: rplan,
        left_on,
        right_on,
        how,
        schema,
    } = plan
    else {
        return Err(Error::Internal("a join lowered from another node".into()));
    };
    let (ls, rs) = (lplan.schema(), rplan.schema());
    let index = |s: &Schema, n: &String| {
        s.index_of(n)
            .map_err(|_| Error::Internal(format!("join key {n} lost")))
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
    let buckets = left
        .partitions()
        .max(right.partitions())
        .clamp(1, config.threads * 4);
    let side = |on: &[String], schema: SchemaRef, unmatched_kept: bool| {
        Arc::new(ShuffleSpec {
            keys: on.iter().map(|n| col(n.as_str())).collect(),
            key_types: key_types.clone(),
            schema,
            buckets,
            null_keys: NullKeys::keep_if(unmatched_kept),
        })
    };
    let left_unmatched = matches!(how, JoinType::Left | JoinType::Full | JoinType::Anti);
    Ok(Arc::new(JoinSpec {
        how: *how,
        left: side(left_on, Arc::clone(&ls), left_unmatched),
        right: side(right_on, Arc::clone(&rs), how.keeps_unmatched_right()),
        right_output_columns: (0..rs.fields().len())
            .filter(|i| !right_key_columns.contains(i))
            .collect(),
        left_key_columns,
        right_key_columns,
        schema: Arc::clone(schema),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Batches, keyed, keyed_schema};

    /// A scan of 100 `(k, v)` rows in two partitions, each estimating its bytes at
    /// `estimate`.
    fn scan(estimate: Option<usize>) -> Arc<LogicalPlan> {
        let source = Batches::estimated(keyed_schema(), keyed(100, 10, 50), estimate);
        Arc::new(LogicalPlan::scan(source))
    }

    /// A `how` join whose right side's partitions estimate `estimate` bytes each, lowered
    /// under a memory limit of 1 MiB (a broadcast share of 128 KiB).
    fn lowered(how: JoinType, estimate: Option<usize>) -> TaskGraph {
        let keys = || vec!["k".to_string()];
        let plan = LogicalPlan::join(scan(None), scan(estimate), keys(), keys(), how).unwrap();
        let config = EngineConfig {
            memory_limit: 1 << 20,
            ..EngineConfig::default()
        };
        crate::lower::lower(&plan, &config).unwrap()
    }

    fn stages(g: &TaskGraph) -> Vec<&str> {
        g.stages.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn a_right_side_estimated_within_the_share_is_held_and_broadcast() {
        let g = lowered(JoinType::Inner, Some(60 << 10));
        assert_eq!(
            stages(&g),
            ["scan-hold", "broadcast-build", "scan-broadcast-join"]
        );
        // The build reads the right side from the spillable store.
        let build = g
            .tasks
            .iter()
            .find(|t| matches!(t.kind, TaskKind::BroadcastBuild(_)))
            .unwrap();
        for &d in &build.deps {
            assert!(matches!(
                &g.tasks[d].kind,
                TaskKind::Pipeline {
                    sink: Sink::Hold(_),
                    ..
                }
            ));
        }
        assert!(g.to_string().contains("spilled if it does not fit"), "{g}");
        // Beyond the share, unknown, or a join that keeps unmatched right rows: shuffled.
        for (how, estimate) in [
            (JoinType::Inner, Some(70 << 10)),
            (JoinType::Semi, None),
            (JoinType::Full, Some(0)),
        ] {
            let g = lowered(how, estimate);
            assert_eq!(stages(&g), ["scan-shuffle", "scan-shuffle", "hash-join"]);
        }
    }

    #[test]
    fn null_keys_are_dropped_unless_the_side_is_kept_unmatched() {
        use NullKeys::{Drop, Spread};
        for (how, left, right) in [
            (JoinType::Inner, Drop, Drop),
            (JoinType::Left, Spread, Drop),
            (JoinType::Right, Drop, Spread),
            (JoinType::Full, Spread, Spread),
            (JoinType::Semi, Drop, Drop),
            (JoinType::Anti, Spread, Drop),
        ] {
            let g = lowered(how, None);
            let spec = g
                .tasks
                .iter()
                .find_map(|t| match &t.kind {
                    TaskKind::HashJoin { spec, .. } => Some(Arc::clone(spec)),
                    _ => None,
                })
                .unwrap();
            assert_eq!(
                (spec.left.null_keys, spec.right.null_keys),
                (left, right),
                "{how}"
            );
        }
    }
}
