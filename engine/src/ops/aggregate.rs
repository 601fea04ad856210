//! Global aggregate (no keys): partial states per partition, a tree of combines, a final.
//!
//! - **Partial** (fused at the end of each partition's pipeline): every batch folds into
//!   one accumulator per aggregate; a partition's output is those states (one "row").
//! - **Combine** (a tree of `fan_in`-way tasks, Dask's `split_every`): merges states.
//! - **Final** (one task): merges the last states and finishes them into one row.
//!
//! Memory: a state is bounded by the aggregate, not the data (a sum is a number; a
//! quantile or `n_unique` keeps its distinct values, bounded by the partition's), so
//! nothing is reserved; the scheduler releases each state once its combine has read it.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use spillway_planner::{Error, Result};

use crate::aggregate::Accumulator;
use crate::eval::evaluate_agg_input;
use crate::graph::AggSpec;
use crate::ops::context::Batches;

/// Empty states, one per aggregate of `spec`.
fn accumulators(spec: &AggSpec) -> Result<Vec<Accumulator>> {
    spec.aggs
        .iter()
        .zip(&spec.input_types)
        .map(|(a, t)| Accumulator::new(a.func, t))
        .collect()
}

/// Folds a partition into partial states.
///
/// # Errors
/// The stream's or an aggregate input's error.
pub fn partial(stream: Batches<'_>, spec: &AggSpec) -> Result<Vec<Accumulator>> {
    let mut states = accumulators(spec)?;
    for batch in stream {
        let batch = batch?;
        for (state, agg) in states.iter_mut().zip(&spec.aggs) {
            let values = evaluate_agg_input(agg, &batch)?;
            state.update(values.as_ref())?;
        }
    }
    Ok(states)
}

/// Merges partial states, in order.
///
/// # Errors
/// A state that does not merge (overflow of an exact sum).
pub fn combine(parts: &[&[Accumulator]], spec: &AggSpec) -> Result<Vec<Accumulator>> {
    let mut states = accumulators(spec)?;
    for part in parts {
        for (s, p) in states.iter_mut().zip(part.iter()) {
            s.merge(p)?;
        }
    }
    Ok(states)
}

/// Merges partial states and finishes them into the one-row result.
///
/// # Errors
/// As [`combine`]; a state that cannot be finished into its output type.
pub fn finish(parts: &[&[Accumulator]], spec: &AggSpec) -> Result<RecordBatch> {
    let states = combine(parts, spec)?;
    let columns = states
        .iter()
        .zip(spec.schema.fields())
        .map(|(s, f)| Ok(Arc::clone(s.finish(f.data_type())?.as_array())))
        .collect::<Result<Vec<ArrayRef>>>()?;
    RecordBatch::try_new(Arc::clone(&spec.schema), columns)
        .map_err(|e| Error::compute("aggregate result", e))
}
