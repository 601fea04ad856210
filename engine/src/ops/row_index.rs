//! Row index: the rows numbered in order across partitions (`with_row_index`).
//!
//! A partition's first number is the count of the rows of every partition before it, which
//! no partition knows until those have been read. So, with several partitions, lowering
//! holds each partition's rows in the spillable store ([`Sink::Hold`](crate::graph::Sink)),
//! one task counts what they hold ([`starts`], nothing read but the counts), and each
//! partition is then read back from its store and numbered ([`row_index`], streaming).
//! A stream of one partition is numbered as it streams, with nothing held.
//!
//! Memory: the held rows, as a repartition holds them (in memory within the store's share
//! of the limit, spilled beyond it); the numbering itself reserves nothing and holds one
//! batch at a time.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt64Array};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use spillway_planner::Error;

use crate::ops::context::Batches;
use crate::ops::data::Data;

/// The number of the first row of each dependency's rows: the sum of the rows of the
/// dependencies before it.
pub fn starts(deps: &[Arc<Data>]) -> Vec<u64> {
    let mut next = 0_u64;
    deps.iter()
        .map(|d| {
            let start = next;
            next = next.saturating_add(d.rows() as u64);
            start
        })
        .collect()
}

/// Each batch with a first column numbering its rows, the stream's first row numbered
/// `offset + before`.
///
/// # Errors
/// (In the stream.) A number past `u64::MAX`, as [`Error::Compute`].
pub fn row_index<'a>(
    input: Batches<'a>,
    offset: u64,
    before: u64,
    schema: &'a SchemaRef,
) -> Batches<'a> {
    let mut next = offset.checked_add(before);
    Box::new(input.map(move |b| {
        let b = b?;
        let rows = b.num_rows() as u64;
        let first = next.ok_or_else(overflow)?;
        let end = first.checked_add(rows).ok_or_else(overflow)?;
        next = Some(end);
        let index: ArrayRef = Arc::new(UInt64Array::from_iter_values(first..end));
        let mut columns = vec![index];
        columns.extend(b.columns().iter().cloned());
        RecordBatch::try_new(Arc::clone(schema), columns)
            .map_err(|e| Error::Internal(format!("row index built a bad batch: {e}")))
    }))
}

fn overflow() -> Error {
    Error::compute(
        "with_row_index",
        ArrowError::ComputeError("the row index passes u64::MAX".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{failing, keyed, keyed_schema, stream};
    use arrow::array::AsArray;
    use arrow::datatypes::{DataType, Field, Schema, UInt64Type};
    use spillway_planner::Result;

    fn indexed() -> SchemaRef {
        let mut fields = vec![Field::new("i", DataType::UInt64, false)];
        fields.extend(keyed_schema().fields().iter().map(|f| f.as_ref().clone()));
        Arc::new(Schema::new(fields))
    }

    #[test]
    fn rows_are_numbered_on_from_the_partitions_before() {
        let schema = indexed();
        let out: Vec<RecordBatch> = row_index(stream(keyed(25, 5, 10)), 100, 7, &schema)
            .collect::<Result<_>>()
            .unwrap();
        let index: Vec<u64> = out
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<UInt64Type>().values().to_vec())
            .collect();
        assert_eq!(index, (107..132).collect::<Vec<u64>>());
        assert_eq!(out[0].num_columns(), 3);
    }

    #[test]
    fn a_number_past_u64_max_is_an_error_and_an_input_error_passes() {
        let schema = indexed();
        let mut out = row_index(stream(keyed(25, 5, 10)), u64::MAX - 3, 0, &schema);
        let err = out.next().unwrap().unwrap_err();
        assert!(err.to_string().contains("u64::MAX"), "{err}");
        let out: Vec<Result<RecordBatch>> =
            row_index(failing(keyed(5, 5, 10)), 0, 0, &schema).collect();
        assert!(out.iter().any(|b| b.is_err()));
    }

    #[test]
    fn starts_add_up_the_rows_before() {
        let deps: Vec<Arc<Data>> = [3, 0, 5]
            .iter()
            .map(|&n| Arc::new(Data::Batches(keyed(n, 1, 1))))
            .collect();
        assert_eq!(starts(&deps), [0, 3, 3]);
    }
}
