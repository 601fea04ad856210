//! Global aggregate (no keys): partial states per partition, a tree of combines, a final.
//!
//! The states are the grouped aggregate's ([`GroupAcc`], documented in [`crate::group`])
//! with a single group, group 0, that every row belongs to:
//!
//! - **Partial** (fused at the end of each partition's pipeline): every batch folds into
//!   one state per aggregate by [`GroupAcc::update_all`], the one-group fast path (Arrow's
//!   vectorised kernels, no group index per row); a partition's output is those states.
//! - **Combine** (a tree of `fan_in`-way tasks, Dask's `split_every`): merges states as a
//!   grouped final merges partial ones, the state columns of group 0 into group 0.
//! - **Final** (one task): merges the last states and finishes group 0 into one row.
//!
//! Memory: a state is bounded by the aggregate, not the data (a sum is a number; a
//! quantile or `n_unique` keeps its distinct values, bounded by the partition's), so
//! nothing is reserved; the scheduler releases each state once its combine has read it.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use spillway_planner::{Error, Result};

use crate::eval::evaluate_agg_input;
use crate::graph::AggSpec;
use crate::group::GroupAcc;
use crate::ops::context::Batches;

/// Empty states, one per aggregate of `spec`, each with its one group.
fn states(spec: &AggSpec) -> Result<Vec<GroupAcc>> {
    spec.aggs
        .iter()
        .zip(&spec.input_types)
        .map(|(a, t)| GroupAcc::one(a.func, t))
        .collect()
}

/// Folds a partition into partial states.
///
/// # Errors
/// The stream's or an aggregate input's error.
pub fn partial(stream: Batches<'_>, spec: &AggSpec) -> Result<Vec<GroupAcc>> {
    let mut states = states(spec)?;
    for batch in stream {
        let batch = batch?;
        for (state, agg) in states.iter_mut().zip(&spec.aggs) {
            let values = evaluate_agg_input(agg, &batch)?;
            state.update_all(values.as_ref())?;
        }
    }
    Ok(states)
}

/// Merges partial states, in order.
///
/// # Errors
/// A state that does not merge (overflow of an exact sum).
pub fn combine(parts: &[&[GroupAcc]], spec: &AggSpec) -> Result<Vec<GroupAcc>> {
    let mut states = states(spec)?;
    for part in parts {
        for (s, p) in states.iter_mut().zip(part.iter()) {
            s.merge(&p.state(&[0])?, &[0], 1)?;
        }
    }
    Ok(states)
}

/// Merges partial states and finishes them into the one-row result.
///
/// # Errors
/// As [`combine`]; a state that cannot be finished into its output type.
pub fn finish(parts: &[&[GroupAcc]], spec: &AggSpec) -> Result<RecordBatch> {
    let states = combine(parts, spec)?;
    let columns = states
        .iter()
        .zip(spec.schema.fields())
        .map(|(s, f)| s.finish(&[0], f.data_type()))
        .collect::<Result<Vec<ArrayRef>>>()?;
    RecordBatch::try_new(Arc::clone(&spec.schema), columns)
        .map_err(|e| Error::compute("aggregate result", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::TaskKind;
    use crate::testing::{failing, keyed, lowered, scan_of, stream};
    use arrow::array::{Array, AsArray, Int64Array};
    use arrow::datatypes::{Float64Type, Int64Type, UInt64Type};
    use spillway_planner::agg::AggExpr;
    use spillway_planner::expr::col;
    use spillway_planner::logical::LogicalPlan;

    /// The spec of `sum(v), count(v), mean(v), min(v), max(v), var(v), n_unique(k)` over
    /// the `(k, v)` batches of [`keyed`].
    fn spec() -> Arc<AggSpec> {
        let aggs: Vec<AggExpr> = vec![
            col("v").sum(),
            col("v").count(),
            col("v").mean(),
            col("v").min(),
            col("v").max(),
            col("v").var(),
            col("k").n_unique(),
        ];
        let plan = LogicalPlan::aggregate(scan_of(keyed(1, 1, 1)), aggs).unwrap();
        lowered(plan)
            .tasks
            .iter()
            .find_map(|t| match &t.kind {
                TaskKind::Final(spec) => Some(Arc::clone(spec)),
                _ => None,
            })
            .unwrap()
    }

    /// Each partition folded into partial states, combined `fan_in` at a time in a tree
    /// as the lowering builds it, and finished.
    fn aggregate(parts: Vec<Vec<RecordBatch>>, fan_in: usize) -> RecordBatch {
        let spec = spec();
        let mut level: Vec<Vec<GroupAcc>> = parts
            .into_iter()
            .map(|p| partial(stream(p), &spec).unwrap())
            .collect();
        while level.len() > fan_in {
            level = level
                .chunks(fan_in)
                .map(|c| {
                    let refs: Vec<&[GroupAcc]> = c.iter().map(Vec::as_slice).collect();
                    combine(&refs, &spec).unwrap()
                })
                .collect();
        }
        let refs: Vec<&[GroupAcc]> = level.iter().map(Vec::as_slice).collect();
        finish(&refs, &spec).unwrap()
    }

    /// The row as `(sum, count, mean, min, max, var, n_unique)`.
    type Row = (
        i64,
        u64,
        Option<f64>,
        Option<i64>,
        Option<i64>,
        Option<f64>,
        u64,
    );

    fn row(b: &RecordBatch) -> Row {
        assert_eq!(b.num_rows(), 1);
        let int = |i: usize| {
            let c = b.column(i).as_primitive::<Int64Type>();
            c.is_valid(0).then(|| c.value(0))
        };
        let float = |i: usize| {
            let c = b.column(i).as_primitive::<Float64Type>();
            c.is_valid(0).then(|| c.value(0))
        };
        let count = |i: usize| b.column(i).as_primitive::<UInt64Type>().value(0);
        (
            int(0).unwrap(),
            count(1),
            float(2),
            int(3),
            int(4),
            float(5),
            count(6),
        )
    }

    /// The answer over `0..n`, keys `i % keys`.
    fn expected(n: i64, keys: i64) -> Row {
        let mean = (n - 1) as f64 / 2.0;
        let var = (0..n).map(|i| (i as f64 - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        (
            n * (n - 1) / 2,
            n as u64,
            Some(mean),
            Some(0),
            Some(n - 1),
            Some(var),
            keys.min(n) as u64,
        )
    }

    fn close(got: Row, want: Row) {
        let near = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
            _ => a == b,
        };
        assert!(
            near(got.2, want.2) && near(got.5, want.5),
            "{got:?} vs {want:?}"
        );
        assert_eq!(
            (got.0, got.1, got.3, got.4, got.6),
            (want.0, want.1, want.3, want.4, want.6)
        );
    }

    #[test]
    fn empty_input_counts_zero_and_sums_to_zero() {
        for parts in [vec![], vec![vec![]], vec![vec![], vec![]]] {
            let b = aggregate(parts, 2);
            assert_eq!(row(&b), (0, 0, None, None, None, None, 0));
            assert_eq!(b.schema(), spec().schema);
        }
        // Batches of no rows are no different.
        let b = aggregate(
            vec![keyed(10, 3, 10).iter().map(|b| b.slice(0, 0)).collect()],
            2,
        );
        assert_eq!(row(&b), (0, 0, None, None, None, None, 0));
    }

    #[test]
    fn one_batch() {
        close(
            row(&aggregate(vec![keyed(1000, 7, 1000)], 2)),
            expected(1000, 7),
        );
    }

    #[test]
    fn many_partitions_merge_through_combines_to_the_same_answer() {
        let want = expected(10_000, 13);
        for fan_in in [2, 3, 16] {
            let many: Vec<Vec<RecordBatch>> = keyed(10_000, 13, 170)
                .chunks(3)
                .map(<[_]>::to_vec)
                .collect();
            assert!(many.len() > fan_in, "no combine level");
            close(row(&aggregate(many, fan_in)), want);
        }
    }

    #[test]
    fn nulls_are_skipped() {
        // v = 0..100 with every third value null; k all null.
        let schema = crate::testing::keyed_schema();
        let v: Int64Array = (0..100).map(|i| (i % 3 != 0).then_some(i)).collect();
        let k = Int64Array::new_null(100);
        let b = RecordBatch::try_new(schema, vec![Arc::new(k), Arc::new(v)]).unwrap();
        let parts = vec![vec![b.slice(0, 40)], vec![b.slice(40, 60)]];
        let got = row(&aggregate(parts, 2));
        let xs: Vec<f64> = (0..100).filter(|i| i % 3 != 0).map(|i| i as f64).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
        let sum = (0..100).filter(|i| i % 3 != 0).sum::<i64>();
        close(got, (sum, 66, Some(mean), Some(1), Some(98), Some(var), 0));
        // All null: count 0, sum 0, the rest null.
        let parts = vec![vec![b.slice(0, 1)], vec![b.slice(99, 1)]];
        assert_eq!(row(&aggregate(parts, 2)), (0, 0, None, None, None, None, 0));
    }

    #[test]
    fn an_input_error_is_returned() {
        let err = partial(failing(keyed(10, 2, 5)), &spec()).unwrap_err();
        assert!(err.to_string().contains("disk gone"), "{err}");
    }
}
