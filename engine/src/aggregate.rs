//! Partial aggregation states: the map and combine halves of a reduction.
//!
//! Each partition folds its batches into an [`Accumulator`] per aggregate (`update`); the
//! states are merged in a tree (`merge`), and the root turns its state into the answer
//! (`finish`). A state is a few numbers (min/max keep one value), so a reduction holds
//! O(aggregates) memory whatever the data size. Merging is associative, so the answer does
//! not depend on partitioning, except for rounding in float sums and moments.
//! Variance uses the pairwise update of Chan et al., stable where naive sums of squares
//! are not.
//!
//! Floats follow the rule documented in `spillway_planner::expr`: min and max in IEEE 754
//! totalOrder (Arrow's `min`/`max` kernels; a positive NaN is the largest value, so `max`
//! is NaN when any value is, and `min` skips NaN unless every value is one), sums, means
//! and moments in IEEE arithmetic (NaN propagates; an infinity makes the variance NaN).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, PrimitiveArray, downcast_primitive_array};
use arrow::compute::{SortOptions, cast, concat, sort_to_indices};
use arrow::datatypes::{
    ArrowNumericType, ArrowPrimitiveType, DataType, Float64Type, Int64Type, UInt64Type,
};
use spillway_planner::agg::AggFunc;
use spillway_planner::scalar::ScalarValue;
use spillway_planner::{Error, Result};

use crate::group::{GroupAcc, decimal, decimal_scale};

/// The partial state of one aggregate.
#[derive(Debug)]
pub enum Accumulator {
    /// An aggregate whose state is a collection (distinct values, all values, the first or
    /// last): the grouped state with a single group.
    Group(GroupAcc),
    /// Sum of signed integers (wrapping, as Arrow and Polars).
    SumInt(i64),
    /// Sum of unsigned integers (wrapping).
    SumUInt(u64),
    /// Sum of floats.
    SumFloat(f64),
    /// Exact sum of decimals, unscaled at `scale`.
    SumDecimal {
        /// The input's scale.
        scale: i8,
        /// The sum.
        sum: i128,
    },
    /// Exact sum and count of decimals.
    MeanDecimal {
        /// The input's scale.
        scale: i8,
        /// The sum.
        sum: i128,
        /// Number of values.
        count: u64,
    },
    /// Sum and count of non-null values.
    Mean {
        /// Sum of the values.
        sum: f64,
        /// Number of values.
        count: u64,
    },
    /// The smallest or largest value so far, as a one-element array (`None` before any).
    Extreme {
        /// Largest (true) or smallest (false).
        max: bool,
        /// The value.
        value: Option<ArrayRef>,
    },
    /// Number of non-null values.
    Count(u64),
    /// Count, mean and sum of squared deviations, for variance and standard deviation.
    Moments {
        /// Standard deviation (true) or variance (false).
        std: bool,
        /// Number of values.
        count: u64,
        /// Their mean.
        mean: f64,
        /// Sum of squared deviations from the mean.
        m2: f64,
    },
}

fn ctx(func: AggFunc) -> impl Fn(arrow::error::ArrowError) -> Error {
    move |e| Error::compute(func.name(), e)
}

/// `array` cast to `T`, for kernels that take one concrete type.
fn cast_to<T: ArrowPrimitiveType>(array: &dyn Array, func: AggFunc) -> Result<PrimitiveArray<T>> {
    let a = cast(array, &T::DATA_TYPE).map_err(ctx(func))?;
    a.as_any()
        .downcast_ref::<PrimitiveArray<T>>()
        .cloned()
        .ok_or_else(|| Error::Internal(format!("cast to {} gave {}", T::DATA_TYPE, a.data_type())))
}

/// The wrapping sum of the non-null values of `array`, cast to `T`.
fn sum_as<T: ArrowNumericType>(array: &dyn Array) -> Result<T::Native> {
    Ok(arrow::compute::sum(&cast_to::<T>(array, AggFunc::Sum)?).unwrap_or_default())
}

fn primitive_extreme<T: arrow::datatypes::ArrowNumericType>(
    array: &arrow::array::PrimitiveArray<T>,
    max: bool,
) -> ArrayRef {
    let v = if max {
        arrow::compute::max(array)
    } else {
        arrow::compute::min(array)
    };
    let out = arrow::array::PrimitiveArray::<T>::from_iter(std::iter::once(v))
        .with_data_type(array.data_type().clone());
    Arc::new(out)
}

/// The smallest or largest non-null value of `array`, as a one-element array.
fn extreme(array: &dyn Array, max: bool) -> Result<Option<ArrayRef>> {
    if array.len() == array.null_count() {
        return Ok(None);
    }
    let one = |v: ArrayRef| Ok(Some(v));
    downcast_primitive_array!(
        array => one(primitive_extreme(array, max)),
        _ => {
            // Strings, booleans and the rest: a top-1 sort, nulls last.
            let opts = SortOptions { descending: max, nulls_first: false };
            let idx = sort_to_indices(array, Some(opts), Some(1))
                .map_err(|e| Error::compute(if max { "max" } else { "min" }, e))?;
            one(array.slice(idx.value(0) as usize, 1))
        }
    )
}

/// Count, mean and m2 of the non-null values of one batch (two passes: stable).
fn moments(values: &Float64Array) -> (u64, f64, f64) {
    let n = (values.len() - values.null_count()) as u64;
    if n == 0 {
        return (0, 0.0, 0.0);
    }
    let mean = values.iter().flatten().sum::<f64>() / n as f64;
    let m2 = values
        .iter()
        .flatten()
        .map(|x| (x - mean) * (x - mean))
        .sum();
    (n, mean, m2)
}

/// Chan et al.: the moments of two disjoint sets of values combined.
pub(crate) fn merge_moments(a: (u64, f64, f64), b: (u64, f64, f64)) -> (u64, f64, f64) {
    let (na, ma, m2a) = a;
    let (nb, mb, m2b) = b;
    if na == 0 {
        return b;
    }
    if nb == 0 {
        return a;
    }
    let n = na + nb;
    let delta = mb - ma;
    let mean = ma + delta * nb as f64 / n as f64;
    let m2 = m2a + m2b + delta * delta * (na as f64) * (nb as f64) / n as f64;
    (n, mean, m2)
}

impl Accumulator {
    /// An empty state for `func` over values of `input`.
    ///
    /// # Errors
    /// [`Error::Type`] when `func` is not defined for `input`.
    pub fn new(func: AggFunc, input: &DataType) -> Result<Self> {
        let out = func
            .output_type(input)
            .map_err(|m| Error::type_error(func.name(), m))?;
        Ok(match func {
            AggFunc::CountDistinct
            | AggFunc::First
            | AggFunc::Last
            | AggFunc::Median
            | AggFunc::Quantile(_)
            | AggFunc::Corr
            | AggFunc::TopK(_) => {
                let mut g = GroupAcc::new(func, input)?;
                g.resize(1);
                Accumulator::Group(g)
            }
            AggFunc::Sum => match out {
                DataType::UInt64 => Accumulator::SumUInt(0),
                DataType::Float64 => Accumulator::SumFloat(0.0),
                DataType::Decimal128(_, scale) => Accumulator::SumDecimal { scale, sum: 0 },
                _ => Accumulator::SumInt(0),
            },
            AggFunc::Mean => match decimal_scale(input) {
                Some(scale) => Accumulator::MeanDecimal {
                    scale,
                    sum: 0,
                    count: 0,
                },
                None => Accumulator::Mean { sum: 0.0, count: 0 },
            },
            AggFunc::Min | AggFunc::Max => Accumulator::Extreme {
                max: func == AggFunc::Max,
                value: None,
            },
            AggFunc::Count => Accumulator::Count(0),
            AggFunc::Std | AggFunc::Var => Accumulator::Moments {
                std: func == AggFunc::Std,
                count: 0,
                mean: 0.0,
                m2: 0.0,
            },
        })
    }

    /// Folds a batch's values in.
    ///
    /// # Errors
    /// [`Error::Compute`] if the values cannot be converted.
    pub fn update(&mut self, array: &dyn Array) -> Result<()> {
        match self {
            Accumulator::Group(g) => g.update(array, &vec![0; array.len()], 1)?,
            Accumulator::SumInt(s) => *s = s.wrapping_add(sum_as::<Int64Type>(array)?),
            Accumulator::SumUInt(s) => *s = s.wrapping_add(sum_as::<UInt64Type>(array)?),
            Accumulator::SumFloat(s) => *s += sum_as::<Float64Type>(array)?,
            Accumulator::SumDecimal { scale, sum } => {
                let values = decimal::decimal_values(array, *scale, "sum")?;
                *sum = decimal::add(*sum, decimal::sum(&values, "sum")?, "sum")?;
            }
            Accumulator::MeanDecimal { scale, sum, count } => {
                let values = decimal::decimal_values(array, *scale, "mean")?;
                *sum = decimal::add(*sum, decimal::sum(&values, "mean")?, "mean")?;
                *count += (array.len() - array.null_count()) as u64;
            }
            Accumulator::Mean { sum, count } => {
                *sum += sum_as::<Float64Type>(array)?;
                *count += (array.len() - array.null_count()) as u64;
            }
            Accumulator::Extreme { max, value } => {
                if let Some(v) = extreme(array, *max)? {
                    let merged = match value.take() {
                        None => v,
                        Some(old) => {
                            let both = concat(&[old.as_ref(), v.as_ref()])
                                .map_err(|e| Error::compute("min/max", e))?;
                            extreme(both.as_ref(), *max)?.ok_or_else(|| {
                                Error::Internal("min/max of two values gave none".into())
                            })?
                        }
                    };
                    *value = Some(merged);
                }
            }
            Accumulator::Count(c) => *c += (array.len() - array.null_count()) as u64,
            Accumulator::Moments {
                count, mean, m2, ..
            } => {
                let batch = moments(&cast_to::<Float64Type>(array, AggFunc::Var)?);
                (*count, *mean, *m2) = merge_moments((*count, *mean, *m2), batch);
            }
        }
        Ok(())
    }

    /// Merges another partition's state of the same aggregate into this one.
    ///
    /// # Errors
    /// [`Error::Internal`] when the states are of different aggregates (a bug).
    pub fn merge(&mut self, other: &Accumulator) -> Result<()> {
        match (self, other) {
            (Accumulator::Group(a), Accumulator::Group(b)) => a.merge(&b.state(&[0])?, &[0], 1)?,
            (Accumulator::SumInt(a), Accumulator::SumInt(b)) => *a = a.wrapping_add(*b),
            (Accumulator::SumUInt(a), Accumulator::SumUInt(b)) => *a = a.wrapping_add(*b),
            (Accumulator::SumFloat(a), Accumulator::SumFloat(b)) => *a += b,
            (Accumulator::SumDecimal { sum, .. }, Accumulator::SumDecimal { sum: b, .. }) => {
                *sum = decimal::add(*sum, *b, "sum")?;
            }
            (
                Accumulator::MeanDecimal { sum, count, .. },
                Accumulator::MeanDecimal {
                    sum: s, count: c, ..
                },
            ) => {
                *sum = decimal::add(*sum, *s, "mean")?;
                *count += c;
            }
            (Accumulator::Mean { sum, count }, Accumulator::Mean { sum: s, count: c }) => {
                *sum += s;
                *count += c;
            }
            (acc @ Accumulator::Extreme { .. }, Accumulator::Extreme { value: Some(v), .. }) => {
                acc.update(v.as_ref())?;
            }
            (Accumulator::Extreme { .. }, Accumulator::Extreme { value: None, .. }) => {}
            (Accumulator::Count(a), Accumulator::Count(b)) => *a += b,
            (
                Accumulator::Moments {
                    count, mean, m2, ..
                },
                Accumulator::Moments {
                    count: c,
                    mean: m,
                    m2: q,
                    ..
                },
            ) => {
                (*count, *mean, *m2) = merge_moments((*count, *mean, *m2), (*c, *m, *q));
            }
            (a, b) => {
                return Err(Error::Internal(format!("cannot merge {a:?} with {b:?}")));
            }
        }
        Ok(())
    }

    /// The answer, of type `output` (the aggregate's output type).
    ///
    /// # Errors
    /// [`Error::Internal`] if `output` does not match the state (a bug).
    pub fn finish(&self, output: &DataType) -> Result<ScalarValue> {
        let v = match self {
            Accumulator::Group(g) => ScalarValue::try_from_array(g.finish(&[0], output)?)?,
            Accumulator::SumInt(s) => ScalarValue::from(*s),
            Accumulator::SumUInt(s) => ScalarValue::from(*s),
            Accumulator::SumFloat(s) => ScalarValue::from(*s),
            Accumulator::SumDecimal { scale, sum } => {
                ScalarValue::try_from_array(decimal::sums_column([*sum], *scale, "sum")?)?
            }
            Accumulator::MeanDecimal { count: 0, .. } => ScalarValue::null(output),
            Accumulator::MeanDecimal { scale, sum, count } => {
                ScalarValue::from(decimal::mean(*sum, *count, *scale))
            }
            Accumulator::Mean { count: 0, .. } => ScalarValue::null(output),
            Accumulator::Mean { sum, count } => ScalarValue::from(sum / *count as f64),
            Accumulator::Extreme { value: None, .. } => ScalarValue::null(output),
            Accumulator::Extreme { value: Some(v), .. } => {
                ScalarValue::try_from_array(Arc::clone(v))?
            }
            Accumulator::Count(c) => ScalarValue::from(*c),
            Accumulator::Moments { count, .. } if *count < 2 => ScalarValue::null(output),
            Accumulator::Moments { std, count, m2, .. } => {
                let var = m2 / (*count - 1) as f64;
                ScalarValue::from(if *std { var.sqrt() } else { var })
            }
        };
        if v.data_type() != output {
            return Err(Error::Internal(format!(
                "{self:?} finished as {} but {output} was planned",
                v.data_type()
            )));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, StringViewArray};

    const FUNCS: [AggFunc; 7] = [
        AggFunc::Sum,
        AggFunc::Mean,
        AggFunc::Min,
        AggFunc::Max,
        AggFunc::Count,
        AggFunc::Std,
        AggFunc::Var,
    ];

    fn run(func: AggFunc, parts: &[ArrayRef]) -> ScalarValue {
        let t = parts[0].data_type().clone();
        let mut root = Accumulator::new(func, &t).unwrap();
        for p in parts {
            let mut acc = Accumulator::new(func, &t).unwrap();
            acc.update(p.as_ref()).unwrap();
            root.merge(&acc).unwrap();
        }
        root.finish(&func.output_type(&t).unwrap()).unwrap()
    }

    #[test]
    fn split_and_merged_equals_whole() {
        let whole: Vec<Option<i32>> =
            vec![Some(3), None, Some(-7), Some(10), Some(2), None, Some(5)];
        let arr: ArrayRef = Arc::new(Int32Array::from(whole.clone()));
        let parts: Vec<ArrayRef> = vec![arr.slice(0, 2), arr.slice(2, 0), arr.slice(2, 5)];
        for f in FUNCS {
            let a = run(f, &[Arc::clone(&arr)]);
            let b = run(f, &parts);
            match (
                a.to_value::<Option<f64>>().unwrap(),
                b.to_value::<Option<f64>>().unwrap(),
            ) {
                (Some(x), Some(y)) => assert!((x - y).abs() < 1e-9, "{f:?}: {x} vs {y}"),
                (x, y) => assert_eq!(x, y, "{f:?}"),
            }
        }
        assert_eq!(run(AggFunc::Sum, &parts).to_value::<i64>().unwrap(), 13);
        assert_eq!(run(AggFunc::Min, &parts).to_value::<i32>().unwrap(), -7);
        assert_eq!(run(AggFunc::Count, &parts).to_value::<u64>().unwrap(), 5);
        let var = run(AggFunc::Var, &parts).to_value::<f64>().unwrap();
        // values 3, -7, 10, 2, 5: mean 2.6, sum of squares of deviations 153.2, ddof 1
        assert!((var - 153.2 / 4.0).abs() < 1e-9, "{var}");
    }

    #[test]
    fn empty_input_and_strings() {
        let empty: ArrayRef = Arc::new(Int32Array::from(Vec::<i32>::new()));
        assert_eq!(
            run(AggFunc::Sum, &[Arc::clone(&empty)])
                .to_value::<i64>()
                .unwrap(),
            0
        );
        assert!(run(AggFunc::Mean, &[Arc::clone(&empty)]).is_null());
        assert!(run(AggFunc::Std, &[empty]).is_null());
        let s: ArrayRef = Arc::new(StringViewArray::from(vec![
            Some("pear"),
            None,
            Some("apple"),
        ]));
        let parts = [s.slice(0, 2), s.slice(2, 1)];
        assert_eq!(
            run(AggFunc::Max, &parts).to_value::<String>().unwrap(),
            "pear"
        );
        assert_eq!(
            run(AggFunc::Min, &parts).to_value::<String>().unwrap(),
            "apple"
        );
    }

    #[test]
    fn decimals_sum_exactly_and_keep_their_type() {
        let arr: ArrayRef = Arc::new(
            arrow::array::Decimal128Array::from(vec![Some(5), None, Some(-7), Some(1010), None])
                .with_precision_and_scale(15, 2)
                .unwrap(),
        );
        let parts = [arr.slice(0, 2), arr.slice(2, 0), arr.slice(2, 3)];
        let sum = run(AggFunc::Sum, &parts);
        assert_eq!(sum, ScalarValue::decimal128(1008, 38, 2).unwrap());
        assert_eq!(run(AggFunc::Mean, &parts).to_value::<f64>().unwrap(), 3.36);
        assert_eq!(
            run(AggFunc::Min, &parts),
            ScalarValue::decimal128(-7, 15, 2).unwrap()
        );
        assert_eq!(
            run(AggFunc::Max, &parts),
            ScalarValue::decimal128(1010, 15, 2).unwrap()
        );
        assert_eq!(run(AggFunc::Count, &parts).to_value::<u64>().unwrap(), 3);
        let empty = arr.slice(1, 1);
        assert_eq!(
            run(AggFunc::Sum, std::slice::from_ref(&empty)),
            ScalarValue::decimal128(0, 38, 2).unwrap()
        );
        assert!(run(AggFunc::Mean, std::slice::from_ref(&empty)).is_null());
        assert!(run(AggFunc::Max, &[empty]).is_null());
        // A sum past 38 digits is an error, not a wrapped value.
        // (past i128 while adding, or past 38 digits at the end).
        for digit in [6, 9] {
            let big: ArrayRef = Arc::new(
                arrow::array::Decimal128Array::from(vec![10i128.pow(37) * digit; 2])
                    .with_precision_and_scale(38, 0)
                    .unwrap(),
            );
            let mut acc = Accumulator::new(AggFunc::Sum, big.data_type()).unwrap();
            let out = AggFunc::Sum.output_type(big.data_type()).unwrap();
            let got = acc.update(big.as_ref()).and_then(|()| acc.finish(&out));
            assert!(matches!(got, Err(Error::Compute { .. })), "{got:?}");
        }
    }
}
