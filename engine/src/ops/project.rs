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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{failing, keyed, pairs, stream};
    use arrow::datatypes::{DataType, Field, Schema};
    use spillway_planner::expr::{col, lit};

    #[test]
    fn computes_each_batchs_columns() {
        let exprs = vec![col("v"), (col("k") * lit(10_i64)).alias("k10")];
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("v", DataType::Int64, true),
            Field::new("k10", DataType::Int64, true),
        ]));
        assert!(
            project(stream(Vec::new()), &exprs, &schema)
                .next()
                .is_none()
        );
        for per in [9, 2] {
            let out: Vec<_> = project(stream(keyed(9, 3, per)), &exprs, &schema)
                .map(Result::unwrap)
                .collect();
            let want: Vec<_> = (0..9).map(|i| (Some(i), Some(i % 3 * 10))).collect();
            assert_eq!(pairs(&out), want);
        }
        let err = project(failing(keyed(2, 2, 2)), &exprs, &schema).find_map(Result::err);
        assert!(err.unwrap().to_string().contains("disk gone"));
    }

    #[test]
    fn a_panicking_closure_is_an_error_naming_the_value() {
        let exprs = vec![col("v").apply(|v: i64| -> i64 {
            assert!(v != 5, "five");
            v
        })];
        let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, true)]));
        let err = project(stream(keyed(9, 3, 4)), &exprs, &schema)
            .find_map(Result::err)
            .unwrap();
        assert!(err.to_string().contains("five"), "{err}");
    }
}
