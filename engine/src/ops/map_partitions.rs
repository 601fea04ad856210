//! `map_partitions`: a user closure over a whole partition.
//!
//! Gathers: the partition's batches are concatenated into one batch (the closure is defined
//! over the whole partition), so it holds one partition, unreserved: its size is the
//! plan's choice (the partitioning), not the data's. The closure's errors and panics are
//! the user's, named by the task that ran it.

use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use spillway_planner::udf::PartitionFn;
use spillway_planner::{Error, Result};

use crate::ops::context::Batches;

/// One batch: `func` over the whole input (of `input_schema`).
pub fn map_partitions<'a>(
    input: Batches<'a>,
    func: &'a PartitionFn,
    input_schema: &'a SchemaRef,
) -> Batches<'a> {
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
