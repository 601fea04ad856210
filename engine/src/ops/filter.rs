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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{failing, keyed, pairs, stream};
    use spillway_planner::expr::{col, lit};

    fn run(
        input: Vec<arrow::array::RecordBatch>,
    ) -> spillway_planner::Result<Vec<arrow::array::RecordBatch>> {
        let predicate = col("k").eq(lit(1_i64));
        filter(stream(input), &predicate).collect()
    }

    #[test]
    fn keeps_the_rows_where_the_predicate_holds() {
        assert!(run(Vec::new()).unwrap().is_empty());
        let one = run(keyed(10, 3, 10)).unwrap();
        assert_eq!(
            pairs(&one),
            vec![(Some(1), Some(1)), (Some(1), Some(4)), (Some(1), Some(7))]
        );
        let many = run(keyed(10, 3, 2)).unwrap();
        assert_eq!(many.len(), 5, "one batch out per batch in");
        assert_eq!(pairs(&many), pairs(&one));
        let err = filter(failing(keyed(4, 2, 2)), &col("k").eq(lit(1_i64)))
            .collect::<spillway_planner::Result<Vec<_>>>()
            .unwrap_err();
        assert!(err.to_string().contains("disk gone"), "{err}");
    }
}
