//! Project: computes the output columns (derived columns, `apply` closures, renames).
//!
//! Streaming: one batch in, one batch out with the same row count, nothing reserved.

use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use spillway_planner::expr::Expr;
use spillway_planner::{Error, Result};

use crate::eval::evaluate;
use crate::ops::context::Batches;

/// Each batch's `exprs`, as a batch of `schema`.
pub fn project<'a>(input: Batches<'a>, exprs: &'a [Expr], schema: &'a SchemaRef) -> Batches<'a> {
    Box::new(input.map(move |b| {
        let b = b?;
        let columns = exprs
            .iter()
            .map(|e| evaluate(e, &b))
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
        RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options).map_err(|e| {
            let list: Vec<String> = exprs.iter().map(ToString::to_string).collect();
            Error::Internal(format!(
                "projection [{}] built a bad batch: {e}",
                list.join(", ")
            ))
        })
    }))
}
