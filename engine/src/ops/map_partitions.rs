//! `map_partitions`: a user closure over a whole partition.
//!
//! Gathers: the partition's batches are concatenated into one batch (the closure is defined
//! over the whole partition), so it holds one partition, unreserved: its size is the
//! plan's choice (the partitioning), not the data's. Each batch is compacted before the
//! concatenation, which would otherwise list a string-view column's source buffers once
//! per slice of it. The closure's errors and panics are the user's, named by the task that
//! ran it.

use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use spillway_planner::batch::compact;
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
        Some(
            input
                .map(|b| b.map(compact))
                .collect::<Result<Vec<_>>>()
                .and_then(|batches| {
                    let whole = concat_batches(input_schema, &batches)
                        .map_err(|e| Error::compute("map_partitions input", e))?;
                    func.call(whole)
                }),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{failing, keyed, keyed_schema, pairs, stream};
    use arrow::array::RecordBatch;

    /// A closure that returns its partition's first `n` rows, as one batch.
    fn head(n: usize) -> PartitionFn {
        PartitionFn::new(keyed_schema(), move |b: RecordBatch| {
            Ok::<_, String>(b.slice(0, n.min(b.num_rows())))
        })
    }

    #[test]
    fn the_closure_sees_the_whole_partition_once() {
        let schema = keyed_schema();
        let f = head(3);
        let out: Vec<_> = map_partitions(stream(keyed(10, 10, 2)), &f, &schema)
            .map(Result::unwrap)
            .collect();
        assert_eq!(out.len(), 1);
        assert_eq!(
            pairs(&out),
            (0..3).map(|i| (Some(i), Some(i))).collect::<Vec<_>>()
        );
        let empty: Vec<_> = map_partitions(stream(Vec::new()), &f, &schema)
            .map(Result::unwrap)
            .collect();
        assert_eq!(empty.iter().map(RecordBatch::num_rows).sum::<usize>(), 0);
        let err = map_partitions(failing(keyed(4, 4, 2)), &f, &schema).find_map(Result::err);
        assert!(err.unwrap().to_string().contains("disk gone"));
    }

    #[test]
    fn a_closure_error_or_panic_is_an_error() {
        let schema = keyed_schema();
        let fails = PartitionFn::new(keyed_schema(), |_b: RecordBatch| {
            Err::<RecordBatch, _>("no good".to_string())
        });
        let err = map_partitions(stream(keyed(4, 4, 2)), &fails, &schema).find_map(Result::err);
        assert!(err.unwrap().to_string().contains("no good"));
        let panics = PartitionFn::new(
            keyed_schema(),
            |_b: RecordBatch| -> Result<RecordBatch, String> { panic!("boom in a partition") },
        );
        let err = map_partitions(stream(keyed(4, 4, 2)), &panics, &schema).find_map(Result::err);
        assert!(err.unwrap().to_string().contains("boom in a partition"));
    }
}
