//! Filter: keeps the rows where a predicate is true (null counts as false).
//!
//! Streaming: one batch in, one batch out, nothing reserved; the batch's memory is what
//! the pipeline already holds.

use arrow::compute::filter_record_batch;
use spillway_planner::Error;
use spillway_planner::expr::Expr;

use crate::eval::evaluate_predicate;
use crate::ops::context::Batches;

/// The rows of each batch where `predicate` holds.
pub fn filter<'a>(input: Batches<'a>, predicate: &'a Expr) -> Batches<'a> {
    Box::new(input.map(move |b| {
        let b = b?;
        let mask = evaluate_predicate(predicate, &b)?;
        filter_record_batch(&b, &mask).map_err(|e| Error::compute(format!("filter {predicate}"), e))
    }))
}
