//! Lowering a sort: each partition sorts into runs, one task merges every run in order.

use std::sync::Arc;

use spillway_planner::logical::LogicalPlan;
use spillway_planner::{Error, Result};

use crate::graph::{Sink, SortSpec, TaskGraph, TaskKind};
use crate::lower::stream::{Stream, materialize};

/// The sort node `plan` over its lowered input.
///
/// # Errors
/// A key whose type cannot be derived (a bug in planning).
pub fn lower_sort(plan: &LogicalPlan, input: Stream, g: &mut TaskGraph) -> Result<Stream> {
    let LogicalPlan::Sort {
        input: child,
        keys,
        fetch,
    } = plan
    else {
        return Err(Error::Internal("a sort lowered from another node".into()));
    };
    let schema = child.schema();
    let key_types = keys
        .iter()
        .map(|k| k.expr.data_type(&schema))
        .collect::<Result<Vec<_>>>()?;
    let spec = Arc::new(SortSpec {
        keys: keys.clone(),
        key_types,
        schema,
        fetch: *fetch,
    });
    let producers = materialize(input, Sink::SortRuns(Arc::clone(&spec)), g);
    let merged = g.push_stage(
        "sort-merge".into(),
        format!("merge sorted runs {}", spec.describe()),
        [(producers, TaskKind::SortMerge { spec, sink: None })],
    );
    Ok(Stream::read(merged, "sort-merge"))
}
