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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{failing, stream};
    use arrow::array::{Int64Array, ListArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    fn lists() -> (SchemaRef, RecordBatch) {
        let item = Arc::new(Field::new("item", DataType::Int64, true));
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("l", DataType::List(item), true),
        ]));
        let l = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1), Some(2)]),
            Some(vec![]),
            None,
            Some(vec![Some(3)]),
        ]);
        let id = Int64Array::from(vec![10, 11, 12, 13]);
        let b = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(id), Arc::new(l)]).unwrap();
        (schema, b)
    }

    #[test]
    fn one_row_per_element_and_a_null_for_an_empty_or_null_list() {
        let (in_schema, b) = lists();
        let out_schema: SchemaRef = Arc::new(Schema::new(vec![
            in_schema.field(0).clone(),
            Field::new("l", DataType::Int64, true),
        ]));
        assert!(explode(stream(Vec::new()), 1, &out_schema).next().is_none());
        for input in [vec![b.clone()], vec![b.slice(0, 2), b.slice(2, 2)]] {
            let out: Vec<_> = explode(stream(input), 1, &out_schema)
                .map(Result::unwrap)
                .collect();
            let rows: Vec<(i64, Option<i64>)> = out
                .iter()
                .flat_map(|b| {
                    let id = b.column(0).as_primitive::<Int64Type>().clone();
                    let v = b.column(1).as_primitive::<Int64Type>().clone();
                    (0..b.num_rows())
                        .map(move |i| (id.value(i), (!v.is_null(i)).then(|| v.value(i))))
                        .collect::<Vec<_>>()
                })
                .collect();
            assert_eq!(
                rows,
                vec![
                    (10, Some(1)),
                    (10, Some(2)),
                    (11, None),
                    (12, None),
                    (13, Some(3))
                ]
            );
        }
        let err = explode(failing(vec![b]), 1, &out_schema).find_map(Result::err);
        assert!(err.unwrap().to_string().contains("disk gone"));
    }
}
