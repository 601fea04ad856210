//! Per-group states out: the partial state columns ([`GroupAcc::state`]) and the
//! finished values ([`GroupAcc::finish`]).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, UInt64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Float64Type};
use spillway_planner::Result;

use super::stats::quantile;
use super::{GroupAcc, arrow_err, decimal, decode};

impl GroupAcc {
    /// The partial state columns of the groups `ids`, in that order.
    ///
    /// # Errors
    /// [`Error::Compute`](spillway_planner::Error::Compute) when min/max values cannot be decoded.
    pub fn state(&self, ids: &[u32]) -> Result<Vec<ArrayRef>> {
        let pick = |i: &u32| *i as usize;
        Ok(match self {
            GroupAcc::SumInt(v) => vec![Arc::new(Int64Array::from_iter_values(
                ids.iter().map(|i| v[pick(i)]),
            ))],
            GroupAcc::SumUInt(v) => vec![Arc::new(UInt64Array::from_iter_values(
                ids.iter().map(|i| v[pick(i)]),
            ))],
            GroupAcc::SumFloat(v) => vec![Arc::new(Float64Array::from_iter_values(
                ids.iter().map(|i| v[pick(i)]),
            ))],
            GroupAcc::Mean(s, c) => vec![
                Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|i| s[pick(i)]),
                )),
                Arc::new(UInt64Array::from_iter_values(
                    ids.iter().map(|i| c[pick(i)]),
                )),
            ],
            GroupAcc::Count(v) => vec![Arc::new(UInt64Array::from_iter_values(
                ids.iter().map(|i| v[pick(i)]),
            ))],
            GroupAcc::SumDecimal { scale, sums } => vec![decimal::sums_column(
                ids.iter().map(|i| sums[pick(i)]),
                *scale,
                "sum",
            )?],
            GroupAcc::MeanDecimal {
                scale,
                sums,
                counts,
            } => vec![
                decimal::sums_column(ids.iter().map(|i| sums[pick(i)]), *scale, "mean")?,
                Arc::new(UInt64Array::from_iter_values(
                    ids.iter().map(|i| counts[pick(i)]),
                )),
            ],
            GroupAcc::Extreme {
                converter, best, ..
            } => {
                vec![decode(
                    converter,
                    ids.iter().map(|&g| best[g as usize].as_ref()),
                )?]
            }
            GroupAcc::Pick {
                converter, value, ..
            } => vec![
                decode(
                    converter,
                    ids.iter()
                        .map(|&g| value[g as usize].as_ref().and_then(Option::as_ref)),
                )?,
                Arc::new(arrow::array::BooleanArray::from_iter(
                    ids.iter().map(|&g| Some(value[g as usize].is_some())),
                )),
            ],
            GroupAcc::Distinct {
                converter,
                input,
                sets,
                ..
            } => {
                let lengths = ids.iter().map(|&g| sets[g as usize].len());
                let offsets = arrow::buffer::OffsetBuffer::<i32>::from_lengths(lengths);
                let parser = converter.parser();
                let values = converter
                    .convert_rows(
                        ids.iter()
                            .flat_map(|&g| sets[g as usize].iter().map(|b| parser.parse(b))),
                    )
                    .map_err(arrow_err("n_unique"))?;
                let field = Arc::new(Field::new_list_field(input.clone(), true));
                let list =
                    arrow::array::ListArray::try_new(field, offsets, Arc::clone(&values[0]), None)
                        .map_err(arrow_err("n_unique"))?;
                vec![Arc::new(list)]
            }
            GroupAcc::Comoments { m } => (0..6)
                .map(|k| {
                    Arc::new(Float64Array::from_iter_values(
                        ids.iter().map(|&g| m[g as usize][k]),
                    )) as ArrayRef
                })
                .collect(),
            GroupAcc::Values { values: v, .. } | GroupAcc::Top { values: v, .. } => {
                let list = arrow::array::ListArray::from_iter_primitive::<Float64Type, _, _>(
                    ids.iter()
                        .map(|&g| Some(v[g as usize].iter().map(|x| Some(*x)))),
                );
                vec![Arc::new(list)]
            }
            GroupAcc::ExtremeInt { best, .. } => {
                vec![Arc::new(Int64Array::from_iter(
                    ids.iter().map(|i| best[pick(i)]),
                ))]
            }
            GroupAcc::ExtremeFloat { best, .. } => {
                vec![Arc::new(Float64Array::from_iter(
                    ids.iter().map(|i| best[pick(i)]),
                ))]
            }
            GroupAcc::Moments {
                count, mean, m2, ..
            } => vec![
                Arc::new(UInt64Array::from_iter_values(
                    ids.iter().map(|i| count[pick(i)]),
                )),
                Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|i| mean[pick(i)]),
                )),
                Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|i| m2[pick(i)]),
                )),
            ],
        })
    }

    /// The final values of groups `ids`, of type `output`.
    ///
    /// # Errors
    /// [`Error::Compute`](spillway_planner::Error::Compute) when min/max values cannot be decoded.
    pub fn finish(&self, ids: &[u32], output: &DataType) -> Result<ArrayRef> {
        let pick = |i: &u32| *i as usize;
        Ok(match self {
            GroupAcc::Mean(s, c) => Arc::new(Float64Array::from_iter(ids.iter().map(|i| {
                let n = c[pick(i)];
                (n > 0).then(|| s[pick(i)] / n as f64)
            }))),
            GroupAcc::MeanDecimal {
                scale,
                sums,
                counts,
            } => Arc::new(Float64Array::from_iter(ids.iter().map(|i| {
                let n = counts[pick(i)];
                (n > 0).then(|| decimal::mean(sums[pick(i)], n, *scale))
            }))),
            GroupAcc::Moments { std, count, m2, .. } => {
                Arc::new(Float64Array::from_iter(ids.iter().map(|i| {
                    let n = count[pick(i)];
                    (n > 1).then(|| {
                        let var = m2[pick(i)] / (n - 1) as f64;
                        if *std { var.sqrt() } else { var }
                    })
                })))
            }
            GroupAcc::Extreme { .. } | GroupAcc::Pick { .. } => {
                let mut cols = self.state(ids)?;
                cols.swap_remove(0)
            }
            GroupAcc::Comoments { m } => Arc::new(Float64Array::from_iter(ids.iter().map(|&g| {
                let [n, _, _, m2x, m2y, cxy] = m[g as usize];
                let denom = (m2x * m2y).sqrt();
                (n >= 2.0 && denom > 0.0).then(|| cxy / denom)
            }))),
            GroupAcc::Distinct { sets, .. } => Arc::new(UInt64Array::from_iter_values(
                ids.iter().map(|&g| sets[g as usize].len() as u64),
            )),
            GroupAcc::Values { q, values: v, .. } => {
                Arc::new(Float64Array::from_iter(ids.iter().map(|&g| {
                    let mut xs = v[g as usize].clone();
                    quantile(&mut xs, *q)
                })))
            }
            other => {
                let mut cols = other.state(ids)?;
                cols.swap_remove(0)
            }
        })
        .and_then(|a: ArrayRef| {
            if a.data_type() == output {
                Ok(a)
            } else {
                cast(&a, output).map_err(arrow_err("aggregate result"))
            }
        })
    }
}
