//! The one-group case: a global aggregate is a [`GroupAcc`] with the single group 0.
//!
//! [`GroupAcc::one`] makes that state, and [`GroupAcc::update_all`] folds a whole batch
//! into group 0 with Arrow's vectorised kernels (`sum`, `min`, `max`), where the grouped
//! [`GroupAcc::update`] would run a scalar loop with a group index per row. The answers
//! are those of `update` with `groups = [0; n]`, up to the rounding of float sums (the
//! kernels add in lanes) and of moments (two passes per batch, merged pairwise).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray, downcast_primitive_array};
use arrow::compute::{SortOptions, cast, sort_to_indices};
use arrow::datatypes::{ArrowNumericType, DataType, Float64Type, Int64Type, UInt64Type};
use spillway_planner::Result;
use spillway_planner::agg::AggFunc;

use super::stats::{TotalOrd, merge_moments, moments};
use super::{GroupAcc, arrow_err, decimal, values};

impl GroupAcc {
    /// The empty state of `func` over values of `input` with one group (group 0): a global
    /// aggregate's state.
    ///
    /// # Errors
    /// [`Error::Type`](spillway_planner::Error::Type) when `func` is not defined for `input`.
    pub fn one(func: AggFunc, input: &DataType) -> Result<Self> {
        let mut acc = GroupAcc::new(func, input)?;
        acc.resize(1);
        Ok(acc)
    }

    /// Folds every row of `array` into group 0 (made if there is no group yet): the same
    /// as [`GroupAcc::update`] with `groups = [0; array.len()]`, by whole-array kernels.
    ///
    /// # Errors
    /// [`Error::Compute`](spillway_planner::Error::Compute) when the values cannot be converted, or an exact decimal sum
    /// overflows.
    pub fn update_all(&mut self, array: &dyn Array) -> Result<()> {
        let n_groups = self.groups().max(1);
        self.resize(n_groups);
        let valid = (array.len() - array.null_count()) as u64;
        match self {
            GroupAcc::SumInt(v) => v[0] = v[0].wrapping_add(sum_as::<Int64Type>(array)?),
            GroupAcc::SumUInt(v) => v[0] = v[0].wrapping_add(sum_as::<UInt64Type>(array)?),
            GroupAcc::SumFloat(v) => v[0] += sum_as::<Float64Type>(array)?,
            GroupAcc::SumDecimal { scale, sums } => {
                let a = decimal::decimal_values(array, *scale, "sum")?;
                sums[0] = decimal::add(sums[0], decimal::sum(&a, "sum")?, "sum")?;
            }
            GroupAcc::MeanDecimal {
                scale,
                sums,
                counts,
            } => {
                let a = decimal::decimal_values(array, *scale, "mean")?;
                sums[0] = decimal::add(sums[0], decimal::sum(&a, "mean")?, "mean")?;
                counts[0] += (a.len() - a.null_count()) as u64;
            }
            GroupAcc::Mean(s, c) => {
                // Counted on the cast values: a `Null`-typed column has no null buffer.
                let a = values::<Float64Type>(array, AggFunc::Mean)?;
                s[0] += arrow::compute::sum(&a).unwrap_or_default();
                c[0] += (a.len() - a.null_count()) as u64;
            }
            GroupAcc::Count(v) => v[0] += valid,
            GroupAcc::ExtremeInt { max, best } => {
                if let Some(x) = extreme_as::<Int64Type>(array, *max)? {
                    let max = *max;
                    best[0] = Some(best[0].map_or(x, |c| if max { c.max(x) } else { c.min(x) }));
                }
            }
            GroupAcc::ExtremeFloat { max, best } => {
                if let Some(x) = extreme_as::<Float64Type>(array, *max)? {
                    let max = *max;
                    best[0] = Some(best[0].map_or(x, |c| {
                        if max {
                            c.max_by_total(x)
                        } else {
                            c.min_by_total(x)
                        }
                    }));
                }
            }
            GroupAcc::Extreme { max, .. } => {
                // The batch's best value by a kernel, then one row compared as `update` does.
                if let Some(one) = extreme(array, *max)? {
                    self.update(one.as_ref(), &[0], n_groups)?;
                }
            }
            GroupAcc::Pick { last, .. } => {
                // Only the batch's first (or last) row can be picked.
                if !array.is_empty() {
                    let i = if *last { array.len() - 1 } else { 0 };
                    self.update(array.slice(i, 1).as_ref(), &[0], n_groups)?;
                }
            }
            GroupAcc::Moments {
                count, mean, m2, ..
            } => {
                let batch = moments(&values::<Float64Type>(array, AggFunc::Var)?);
                (count[0], mean[0], m2[0]) = merge_moments((count[0], mean[0], m2[0]), batch);
            }
            GroupAcc::Distinct { .. }
            | GroupAcc::Values { .. }
            | GroupAcc::Top { .. }
            | GroupAcc::Comoments { .. } => {
                // Per value whatever the grouping: a group index costs little beside them.
                self.update(array, &vec![0; array.len()], n_groups)?;
            }
        }
        Ok(())
    }
}

/// The wrapping sum of the non-null values of `array`, cast to `T` (0 over none).
fn sum_as<T: ArrowNumericType>(array: &dyn Array) -> Result<T::Native> {
    Ok(arrow::compute::sum(&values::<T>(array, AggFunc::Sum)?).unwrap_or_default())
}

/// The smallest or largest non-null value of `array`, found in its own type and cast to `T`
/// (exact for the types kept as `T`, and order-preserving).
fn extreme_as<T: ArrowNumericType>(array: &dyn Array, max: bool) -> Result<Option<T::Native>> {
    let Some(one) = extreme(array, max)? else {
        return Ok(None);
    };
    let one = cast(&one, &T::DATA_TYPE).map_err(arrow_err("min/max"))?;
    Ok(Some(one.as_primitive::<T>().value(0)))
}

/// The smallest or largest non-null value of `array` as a one-element array, `None` when
/// there is none. Primitives by Arrow's `min`/`max` kernels (floats in IEEE totalOrder,
/// as the row format orders them); other types by a top-1 sort, nulls last.
fn extreme(array: &dyn Array, max: bool) -> Result<Option<ArrayRef>> {
    if array.len() == array.logical_null_count() {
        return Ok(None);
    }
    downcast_primitive_array!(
        array => Ok(Some(primitive_extreme(array, max))),
        _ => {
            let opts = SortOptions { descending: max, nulls_first: false };
            let idx = sort_to_indices(array, Some(opts), Some(1)).map_err(arrow_err("min/max"))?;
            Ok(Some(array.slice(idx.value(0) as usize, 1)))
        }
    )
}

fn primitive_extreme<T: ArrowNumericType>(array: &PrimitiveArray<T>, max: bool) -> ArrayRef {
    let v = if max {
        arrow::compute::max(array)
    } else {
        arrow::compute::min(array)
    };
    Arc::new(PrimitiveArray::<T>::from_iter([v]).with_data_type(array.data_type().clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        BooleanArray, Decimal128Array, Float32Array, Float64Array, Int32Array, StringViewArray,
        StructArray,
    };
    use spillway_planner::Error;

    /// Every aggregate of one input.
    const FUNCS: [AggFunc; 13] = [
        AggFunc::Sum,
        AggFunc::Mean,
        AggFunc::Min,
        AggFunc::Max,
        AggFunc::Count,
        AggFunc::Std,
        AggFunc::Var,
        AggFunc::CountDistinct,
        AggFunc::First,
        AggFunc::Last,
        AggFunc::Median,
        AggFunc::Quantile(250_000),
        AggFunc::TopK(2),
    ];

    /// `func` over `parts`, each folded into its own one-group state (`update_all` when
    /// `fast`, else `update` with every row in group 0) and merged into a root as the
    /// global aggregate's combine does.
    fn run(func: AggFunc, parts: &[ArrayRef], fast: bool) -> Result<ArrayRef> {
        let t = parts[0].data_type().clone();
        let mut root = GroupAcc::one(func, &t)?;
        for p in parts {
            let mut acc = GroupAcc::one(func, &t)?;
            if fast {
                acc.update_all(p.as_ref())?;
            } else {
                acc.update(p.as_ref(), &vec![0; p.len()], 1)?;
            }
            root.merge(&acc.state(&[0])?, &[0], 1)?;
        }
        root.finish(&[0], &func.output_type(&t).unwrap())
    }

    /// Equal answers: bit for bit, except that computed floats (not picked ones) may
    /// differ by rounding and NaN by its sign.
    fn same(func: AggFunc, got: &ArrayRef, want: &ArrayRef) -> bool {
        let picks = matches!(
            func,
            AggFunc::Min | AggFunc::Max | AggFunc::First | AggFunc::Last
        );
        if picks || got.data_type() != &DataType::Float64 {
            return got.to_data() == want.to_data();
        }
        let (g, w) = (
            got.as_primitive::<Float64Type>(),
            want.as_primitive::<Float64Type>(),
        );
        g.len() == w.len()
            && g.iter().zip(w).all(|(g, w)| match (g, w) {
                (Some(g), Some(w)) if g.is_nan() || w.is_nan() => g.is_nan() && w.is_nan(),
                (Some(g), Some(w)) => g == w || (g - w).abs() <= 1e-12 * g.abs().max(w.abs()),
                (g, w) => g == w,
            })
    }

    /// The fast path and the grouped path agree, split in parts or whole.
    fn agree(func: AggFunc, whole: &ArrayRef) {
        let cut = whole.len().min(2);
        let parts = [
            whole.slice(0, cut),
            whole.slice(cut, 0),
            whole.slice(cut, whole.len() - cut),
        ];
        let want = run(func, std::slice::from_ref(whole), false).unwrap();
        for fast in [true, false] {
            let got = run(func, &parts, fast).unwrap();
            assert!(
                same(func, &got, &want),
                "{func:?} fast={fast}: {got:?} vs {want:?}"
            );
        }
        let got = run(func, std::slice::from_ref(whole), true).unwrap();
        assert!(
            same(func, &got, &want),
            "{func:?} whole: {got:?} vs {want:?}"
        );
    }

    fn f64s(got: &ArrayRef) -> Vec<Option<u64>> {
        got.as_primitive::<Float64Type>()
            .iter()
            .map(|x| x.map(f64::to_bits))
            .collect()
    }

    #[test]
    fn the_fast_path_gives_the_grouped_answers() {
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![
            Some(3),
            None,
            Some(-7),
            Some(10),
            Some(2),
            None,
            Some(5),
            Some(3),
        ]));
        for f in FUNCS {
            agree(f, &ints);
        }
        let run_i = |f| run(f, &[ints.slice(0, 3), ints.slice(3, 5)], true).unwrap();
        assert_eq!(run_i(AggFunc::Sum).as_primitive::<Int64Type>().value(0), 16);
        assert_eq!(
            run_i(AggFunc::Min)
                .as_primitive::<arrow::datatypes::Int32Type>()
                .value(0),
            -7
        );
        assert_eq!(
            run_i(AggFunc::Count).as_primitive::<UInt64Type>().value(0),
            6
        );
        assert_eq!(
            run_i(AggFunc::CountDistinct)
                .as_primitive::<UInt64Type>()
                .value(0),
            5
        );
        // First and last keep a null first or last value.
        assert!(run_i(AggFunc::Last).is_valid(0));
        let nulls_at_ends: ArrayRef = Arc::new(Int32Array::from(vec![None, Some(1), None]));
        for f in [AggFunc::First, AggFunc::Last] {
            agree(f, &nulls_at_ends);
            assert!(
                run(
                    f,
                    &[nulls_at_ends.slice(0, 2), nulls_at_ends.slice(2, 1)],
                    true
                )
                .unwrap()
                .is_null(0)
            );
        }
        let strings: ArrayRef = Arc::new(StringViewArray::from(vec![
            Some("pear"),
            None,
            Some("apple"),
            Some(""),
            Some("zoo"),
        ]));
        let bools: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)]));
        for f in [
            AggFunc::Min,
            AggFunc::Max,
            AggFunc::Count,
            AggFunc::First,
            AggFunc::Last,
        ] {
            agree(f, &strings);
            agree(f, &bools);
        }
        let pairs: ArrayRef = Arc::new(StructArray::new(
            spillway_planner::agg::pair_fields(),
            vec![
                Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 5.0])),
                Arc::new(Float64Array::from(vec![
                    Some(2.0),
                    None,
                    Some(6.5),
                    Some(9.0),
                ])),
            ],
            None,
        ));
        agree(AggFunc::Corr, &pairs);
    }

    #[test]
    fn floats_min_max_in_total_order_and_moments_agree_on_specials() {
        let specials = [
            f64::NAN,
            -f64::NAN,
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.5,
        ];
        // Every rotation of the specials, so each comes first, last and alone in a part.
        for r in 0..specials.len() {
            let mut xs = specials.to_vec();
            xs.rotate_left(r);
            let a: ArrayRef = Arc::new(Float64Array::from(xs.clone()));
            for f in [
                AggFunc::Min,
                AggFunc::Max,
                AggFunc::Sum,
                AggFunc::Var,
                AggFunc::Median,
            ] {
                agree(f, &a);
            }
            let min = run(AggFunc::Min, &[a.slice(0, 3), a.slice(3, 4)], true).unwrap();
            assert_eq!(f64s(&min), [Some((-f64::NAN).to_bits())]);
            let max = run(AggFunc::Max, &[a.slice(0, 3), a.slice(3, 4)], true).unwrap();
            assert_eq!(f64s(&max), [Some(f64::NAN.to_bits())]);
            let f32s: ArrayRef =
                Arc::new(Float32Array::from_iter_values(xs.iter().map(|&x| x as f32)));
            for f in [AggFunc::Min, AggFunc::Max] {
                agree(f, &f32s);
            }
        }
        // -0.0 is below 0.0, so min picks it and max the other, whatever comes first.
        for zs in [[0.0, -0.0], [-0.0, 0.0]] {
            let a: ArrayRef = Arc::new(Float64Array::from(zs.to_vec()));
            let bits = |f| f64s(&run(f, &[a.slice(0, 1), a.slice(1, 1)], true).unwrap());
            assert_eq!(bits(AggFunc::Min), [Some((-0.0f64).to_bits())]);
            assert_eq!(bits(AggFunc::Max), [Some(0.0f64.to_bits())]);
        }
    }

    #[test]
    fn an_infinity_makes_the_variance_nan_however_the_values_are_split() {
        for xs in [
            vec![1.0, f64::INFINITY],
            vec![f64::INFINITY, 1.0],
            vec![1.0, 2.0, f64::NEG_INFINITY],
            vec![f64::INFINITY, f64::INFINITY],
        ] {
            let a: ArrayRef = Arc::new(Float64Array::from(xs.clone()));
            for cut in 0..=xs.len() {
                for fast in [true, false] {
                    let parts = [a.slice(0, cut), a.slice(cut, xs.len() - cut)];
                    for f in [AggFunc::Var, AggFunc::Std] {
                        let got = run(f, &parts, fast).unwrap();
                        let got = got.as_primitive::<Float64Type>().value(0);
                        assert!(got.is_nan(), "{f:?} of {xs:?} cut at {cut}: {got}");
                    }
                }
            }
        }
        // corr over an infinity is null, as over a NaN, wherever the pair falls.
        for x in [f64::INFINITY, f64::NAN] {
            let pairs: ArrayRef = Arc::new(StructArray::new(
                spillway_planner::agg::pair_fields(),
                vec![
                    Arc::new(Float64Array::from(vec![1.0, 2.0, x, 4.0, 3.0])),
                    Arc::new(Float64Array::from(vec![2.0, 1.0, 5.0, 7.0, 3.0])),
                ],
                None,
            ));
            for cut in 0..=5 {
                for fast in [true, false] {
                    let parts = [pairs.slice(0, cut), pairs.slice(cut, 5 - cut)];
                    let got = run(AggFunc::Corr, &parts, fast).unwrap();
                    assert!(got.is_null(0), "corr with {x} cut at {cut}: {got:?}");
                }
            }
        }
        // One infinity alone is one value: no variance.
        let one: ArrayRef = Arc::new(Float64Array::from(vec![f64::INFINITY]));
        assert!(run(AggFunc::Var, &[one], true).unwrap().is_null(0));
    }

    #[test]
    fn empty_input_gives_the_neutral_answers() {
        let empty: ArrayRef = Arc::new(Int32Array::from(Vec::<i32>::new()));
        let all_null: ArrayRef = Arc::new(Int32Array::from(vec![None, None]));
        for a in [&empty, &all_null] {
            for f in FUNCS {
                agree(f, a);
            }
            let sum = run(AggFunc::Sum, std::slice::from_ref(a), true).unwrap();
            assert_eq!(sum.as_primitive::<Int64Type>().value(0), 0);
            for f in [AggFunc::Mean, AggFunc::Std, AggFunc::Min, AggFunc::Median] {
                assert!(
                    run(f, std::slice::from_ref(a), true).unwrap().is_null(0),
                    "{f:?}"
                );
            }
        }
        // The mean of a column of nulls typed `Null` is null, not 0 (its array has no
        // null buffer).
        let nulls: ArrayRef = Arc::new(arrow::array::NullArray::new(3));
        assert!(run(AggFunc::Mean, &[nulls], true).unwrap().is_null(0));
    }

    #[test]
    fn decimals_sum_exactly_and_keep_their_type() {
        let arr: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(5), None, Some(-7), Some(1010), None])
                .with_precision_and_scale(15, 2)
                .unwrap(),
        );
        for f in [
            AggFunc::Sum,
            AggFunc::Mean,
            AggFunc::Min,
            AggFunc::Max,
            AggFunc::Count,
        ] {
            agree(f, &arr);
        }
        let parts = [arr.slice(0, 2), arr.slice(2, 0), arr.slice(2, 3)];
        let sum = run(AggFunc::Sum, &parts, true).unwrap();
        assert_eq!(sum.data_type(), &DataType::Decimal128(38, 2));
        assert_eq!(
            sum.as_primitive::<arrow::datatypes::Decimal128Type>()
                .value(0),
            1008
        );
        let mean = run(AggFunc::Mean, &parts, true).unwrap();
        assert_eq!(mean.as_primitive::<Float64Type>().value(0), 3.36);
        let max = run(AggFunc::Max, &parts, true).unwrap();
        assert_eq!(max.data_type(), &DataType::Decimal128(15, 2));
        // A sum past 38 digits is an error, not a wrapped value: past i128 while adding,
        // or past 38 digits at the end.
        for digit in [6, 9] {
            let big: ArrayRef = Arc::new(
                Decimal128Array::from(vec![10i128.pow(37) * digit; 2])
                    .with_precision_and_scale(38, 0)
                    .unwrap(),
            );
            for fast in [true, false] {
                let got = run(AggFunc::Sum, std::slice::from_ref(&big), fast);
                assert!(matches!(got, Err(Error::Compute { .. })), "{got:?}");
            }
        }
    }
}
