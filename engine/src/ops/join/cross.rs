//! The cross join: every pair of a left row and a right row.
//!
//! The right side is read in parallel and held, one store per right partition
//! ([`Sink::Hold`](crate::graph::Sink)): in memory while the store's share of the limit
//! allows, as a broadcast join's right side, spilled beyond it. Every left partition's
//! pipeline then streams through it ([`cross`], fused like the broadcast probe): for each
//! left batch, each right batch in turn is paired with it, a chunk of left rows at a time,
//! each chunk's rows all paired with the right batch's rows. Output batches hold about
//! `batch_rows` rows (at least one right batch's).
//!
//! Memory: the probe reserves nothing and holds a left batch, a right batch and an output
//! batch; the right side's held rows are reserved by their store. A spilled right side is
//! read from its files again for every left batch: the price of a cross join whose right
//! side does not fit, whose output is as many rows as both sides' product anyway.
//!
//! Row order: left partition by left partition, left batch by left batch; within a left
//! batch, right batch by right batch, and for each right batch each left row in order with
//! the right batch's rows in order.

use std::sync::Arc;

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::SchemaRef;
use spillway_planner::Error;

use crate::ops::context::{Batches, TaskContext};
use crate::ops::store::Store;

/// Each left batch of `input` paired with every row the `right` stores hold, as batches
/// of `schema` (the left columns, then the right's).
pub fn cross<'a, 'c: 'a>(
    input: Batches<'a>,
    right: Vec<&'a Store>,
    schema: &'a SchemaRef,
    ctx: &'a TaskContext<'c>,
) -> Batches<'a> {
    let right: Arc<[&'a Store]> = right.into();
    Box::new(input.flat_map(move |left| -> Batches<'a> {
        match left {
            Err(e) => Box::new(std::iter::once(Err(e))),
            Ok(left) if left.num_rows() == 0 => Box::new(std::iter::empty()),
            Ok(left) => with_every_right_batch(left, Arc::clone(&right), schema, ctx),
        }
    }))
}

/// `left` paired with each batch the `right` stores hold, in order.
fn with_every_right_batch<'a, 'c: 'a>(
    left: RecordBatch,
    right: Arc<[&'a Store]>,
    schema: &'a SchemaRef,
    ctx: &'a TaskContext<'c>,
) -> Batches<'a> {
    let parts: Vec<_> = right.iter().filter_map(|s| s.get(0)).collect();
    Box::new(parts.into_iter().flat_map(move |part| -> Batches<'a> {
        let batches = match part.read() {
            Ok(b) => b,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let left = left.clone();
        Box::new(batches.flat_map(move |r| -> Batches<'a> {
            match r {
                Err(e) => Box::new(std::iter::once(Err(e))),
                Ok(r) if r.num_rows() == 0 => Box::new(std::iter::empty()),
                Ok(r) => pairs(left.clone(), r, schema, ctx),
            }
        }))
    }))
}

/// Every pair of a row of `left` and a row of `right`, `batch_rows / right rows` left rows
/// (at least one) to a batch.
fn pairs<'a, 'c: 'a>(
    left: RecordBatch,
    right: RecordBatch,
    schema: &'a SchemaRef,
    ctx: &'a TaskContext<'c>,
) -> Batches<'a> {
    let (l, r) = (left.num_rows(), right.num_rows());
    let per = (ctx.batch_rows / r).max(1);
    Box::new((0..l).step_by(per).map(move |a| {
        ctx.check()?;
        let b = (a + per).min(l);
        let left_rows: UInt32Array = (a..b)
            .flat_map(|i| std::iter::repeat_n(i as u32, r))
            .collect();
        let right_rows: UInt32Array = (a..b).flat_map(|_| 0..r as u32).collect();
        let ctx = |e| Error::compute("cross join", e);
        let mut columns = Vec::with_capacity(schema.fields().len());
        for c in left.columns() {
            columns.push(take(c.as_ref(), &left_rows, None).map_err(ctx)?);
        }
        for c in right.columns() {
            columns.push(take(c.as_ref(), &right_rows, None).map_err(ctx)?);
        }
        RecordBatch::try_new(Arc::clone(schema), columns)
            .map_err(|e| Error::Internal(format!("the cross join built a bad batch: {e}")))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::hold::hold;
    use crate::testing::{TestContext, failing, keyed, keyed_schema, stream};
    use arrow::array::AsArray;
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use spillway_planner::Result;

    fn crossed() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("v", DataType::Int64, true),
            Field::new("k_right", DataType::Int64, true),
            Field::new("v_right", DataType::Int64, true),
        ]))
    }

    /// `(left v, right v)` of every output row.
    fn pairs_of(out: &[RecordBatch]) -> Vec<(i64, i64)> {
        out.iter()
            .flat_map(|b| {
                let l = b.column(1).as_primitive::<Int64Type>();
                let r = b.column(3).as_primitive::<Int64Type>();
                (0..b.num_rows())
                    .map(|i| (l.value(i), r.value(i)))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// `left` crossed with `right` held by two stores under `limit` bytes.
    fn run(
        left: Vec<RecordBatch>,
        right: Vec<RecordBatch>,
        limit: usize,
    ) -> (Vec<(i64, i64)>, u64) {
        let t = TestContext::new(limit);
        let ctx = t.ctx();
        let half = right.len() / 2;
        let (r1, r2) = (right[..half].to_vec(), right[half..].to_vec());
        let held = [
            hold(stream(r1), &keyed_schema(), &ctx).unwrap(),
            hold(stream(r2), &keyed_schema(), &ctx).unwrap(),
        ];
        let schema = crossed();
        let out: Vec<RecordBatch> = cross(stream(left), held.iter().collect(), &schema, &ctx)
            .collect::<Result<_>>()
            .unwrap();
        assert!(out.iter().all(|b| b.num_rows() <= 1024));
        (pairs_of(&out), t.spilled_bytes())
    }

    #[test]
    fn every_left_row_meets_every_right_row_in_order_held_or_spilled() {
        // Right batch by right batch (of 100 rows), each left row with the batch's rows.
        let want: Vec<(i64, i64)> = (0..20)
            .flat_map(|rb| {
                (0..30).flat_map(move |l| (rb * 100..rb * 100 + 100).map(move |r| (l, r)))
            })
            .collect();
        let (got, spilled) = run(keyed(30, 3, 30), keyed(2000, 7, 100), 1 << 30);
        assert_eq!(spilled, 0);
        assert!(got == want, "{} pairs, {} wanted", got.len(), want.len());
        // 2000 right rows take about 32 KB: past the store's share of 16 KiB.
        let (got, spilled) = run(keyed(30, 3, 30), keyed(2000, 7, 100), 16 << 10);
        assert!(spilled > 0);
        assert!(got == want, "{} pairs, {} wanted", got.len(), want.len());
    }

    #[test]
    fn an_empty_side_gives_nothing_and_an_error_passes() {
        assert!(run(vec![], keyed(10, 1, 5), 1 << 30).0.is_empty());
        assert!(run(keyed(10, 1, 5), keyed(0, 1, 5), 1 << 30).0.is_empty());
        let t = TestContext::new(1 << 30);
        let ctx = t.ctx();
        let held = hold(stream(keyed(5, 1, 5)), &keyed_schema(), &ctx).unwrap();
        let schema = crossed();
        let out: Vec<Result<RecordBatch>> =
            cross(failing(keyed(3, 1, 3)), vec![&held], &schema, &ctx).collect();
        assert!(out.last().unwrap().is_err());
        assert_eq!(out.len(), 2);
    }
}
