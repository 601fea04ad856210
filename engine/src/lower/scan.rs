//! Lowering a scan: a source's partitions become a stream's inputs, read inside the tasks;
//! and the size estimates other lowerings decide by (repartition, broadcast).

use spillway_planner::Result;
use spillway_planner::logical::{JoinType, LogicalPlan};
use spillway_planner::source::{ScanPartition, ScanRequest};
use std::sync::Arc;

use crate::config::EngineConfig;
use crate::graph::Input;
use crate::lower::stream::Stream;

/// The stream of a scan node's partitions.
///
/// # Errors
/// A source's metadata that cannot be read.
pub fn lower_scan(scan: &LogicalPlan, config: &EngineConfig) -> Result<Stream> {
    let parts = plan_scan(scan, config)?;
    Ok(Stream::new(
        parts.into_iter().map(Input::Scan).collect(),
        "scan",
        scan_detail(scan),
    ))
}

/// The partitions of a scan node, from its source's metadata (empty for another node).
///
/// # Errors
/// A source's metadata that cannot be read.
fn plan_scan(scan: &LogicalPlan, config: &EngineConfig) -> Result<Vec<Arc<dyn ScanPartition>>> {
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

/// The decoded bytes of `plan`'s rows as far as its sources can tell without reading
/// data: filters and projections are taken to keep every byte (an upper bound for a
/// filter), a group-by its input's size, a join both sides'. `None` when a source does not
/// know.
///
/// # Errors
/// A source's metadata that cannot be read.
pub fn estimate_bytes(plan: &LogicalPlan, config: &EngineConfig) -> Result<Option<usize>> {
    Ok(match plan {
        LogicalPlan::Scan { .. } => plan_scan(plan, config)?
            .iter()
            .try_fold(0usize, |sum, p| Some(sum + p.estimated_bytes()?)),
        // A cross join's rows are every pair: its sides' bytes say nothing of them.
        LogicalPlan::Join {
            how: JoinType::Cross,
            ..
        } => None,
        LogicalPlan::Join { .. } | LogicalPlan::Union { .. } => {
            let mut sum = Some(0usize);
            for child in plan.children() {
                sum = match (sum, estimate_bytes(child, config)?) {
                    (Some(s), Some(b)) => Some(s + b),
                    _ => None,
                };
            }
            sum
        }
        LogicalPlan::Aggregate { keys, .. } if keys.is_empty() => Some(0),
        other => match other.input() {
            Some(input) => estimate_bytes(input, config)?,
            None => None,
        },
    })
}

/// `scan <source> columns [..] pruning with [..]`.
fn scan_detail(plan: &LogicalPlan) -> String {
    let LogicalPlan::Scan {
        source,
        projection,
        schema,
        filters,
    } = plan
    else {
        return String::new();
    };
    let mut d = format!("scan {}", source.name());
    if projection.is_some() {
        let cols: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        d += &format!(" columns [{}]", cols.join(", "));
    }
    if !filters.is_empty() {
        let list: Vec<String> = filters.iter().map(ToString::to_string).collect();
        d += &format!(" pruning with [{}]", list.join(", "));
    }
    d
}
