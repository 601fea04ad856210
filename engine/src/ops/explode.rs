//! Explode: one row per element of a list column.
//!
//! Streaming: one batch in, one batch out (its rows multiplied by the lists' lengths),
//! nothing reserved. An empty or null list gives one row with a null element, as Polars
//! and pandas do.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use arrow::datatypes::SchemaRef;
use spillway_planner::{Error, Result};

use crate::ops::context::Batches;

/// Each batch exploded on list column `column` (by index), as batches of `schema`.
pub fn explode<'a>(input: Batches<'a>, column: usize, schema: &'a SchemaRef) -> Batches<'a> {
    Box::new(input.map(move |b| explode_batch(&b?, column, schema)))
}

fn explode_batch(batch: &RecordBatch, column: usize, schema: &SchemaRef) -> Result<RecordBatch> {
    let list = batch.column(column).as_list::<i32>();
    let offsets = list.value_offsets();
    let (mut rows, mut elems): (Vec<u32>, Vec<Option<u32>>) = (Vec::new(), Vec::new());
    for i in 0..list.len() {
        let (a, b) = (offsets[i] as u32, offsets[i + 1] as u32);
        if list.is_null(i) || a == b {
            rows.push(i as u32);
            elems.push(None);
        } else {
            for e in a..b {
                rows.push(i as u32);
                elems.push(Some(e));
            }
        }
    }
    let (rows, elems) = (UInt32Array::from(rows), UInt32Array::from(elems));
    let ctx = |e| Error::compute("explode", e);
    let columns = batch
        .columns()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i == column {
                arrow::compute::take(list.values().as_ref(), &elems, None).map_err(ctx)
            } else {
                arrow::compute::take(c.as_ref(), &rows, None).map_err(ctx)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns)
        .map_err(|e| Error::Internal(format!("explode built a bad batch: {e}")))
}
