//! Aggregate states: one accumulator family for grouped and global aggregates.
//!
//! Each aggregate keeps one state per group in vectors indexed by group id
//! ([`GroupAcc`]). A grouped aggregate maps its key rows to group ids with a hash table
//! ([`GroupTable`]: keys of any types and any number of columns, encoded with Arrow's row
//! format, whose bytes compare and hash as the keys do). A **global aggregate** (no keys)
//! is the one-group case: group 0 holds every row ([`GroupAcc::one`]); its batches fold in
//! by [`GroupAcc::update_all`], the same as `update` with `groups = [0; n]` but by Arrow's
//! vectorised kernels (`sum`, `min`, `max`) with no group index per row. The operators:
//! `ops::hash_agg` (grouped), `ops::aggregate` (global).
//!
//! Both run the same four steps, in two phases (partial states per partition, merged):
//!
//! - [`GroupAcc::update`]: fold a batch's values in, row `i` into group `groups[i]`;
//! - [`GroupAcc::state`]: the partial states of some groups as Arrow columns
//!   ([`GroupAcc::state_fields`]), so they travel between tasks as ordinary batches (a
//!   grouped partial: the key columns, then each aggregate's state columns);
//! - [`GroupAcc::merge`]: fold such state columns in, row `i` into group `groups[i]` (a
//!   global combine merges group 0's columns into group 0);
//! - [`GroupAcc::finish`]: the answers of some groups, of the aggregate's output type.
//!
//! Merging is associative, so an answer does not depend on how the rows are partitioned
//! or grouped into partial states, except for the rounding of float sums and moments.
//!
//! What each aggregate keeps and answers (floats follow the rules of
//! `spillway_planner::expr`):
//!
//! - `sum`: wrapping for integers (as Arrow and Polars), IEEE for floats; decimals exactly,
//!   as unscaled `i128` (`decimal.rs`), an error past 38 digits. `mean`: sum and count.
//!   `count`: the non-null values.
//! - `min`/`max`: integers as `i64`, floats as `f64` in IEEE totalOrder
//!   (`−NaN < −∞ < … < −0.0 < 0.0 < … < ∞ < NaN`), every other orderable type as the
//!   row-format bytes of the best value, so one implementation serves them all.
//! - `var`/`std`: count, mean and sum of squared deviations, merged pairwise (Chan et al.;
//!   `update` merges each value as a set of one, `update_all` a batch's two-pass moments).
//!   Any infinity or NaN makes them NaN, whatever the grouping (`stats.rs`).
//! - `corr`: the co-moments likewise; null under two pairs, for a constant side, or when a
//!   value is NaN or infinite.
//! - `n_unique`: the set of distinct values (row format); `median`/`quantile`: every value
//!   (exact, linear interpolation); `top_k`: the `n` largest; `first`/`last`: the first or
//!   last row in input order, a null included.
//!
//! Files: `table` (the key table), `fold` (update, merge), `one` (the one-group case and
//! its fast path), `emit` (state and finished columns), `stats` (numeric kernels),
//! `decimal` (exact decimal sums).

pub(crate) mod decimal;
mod dedupe;
mod emit;
mod fold;
mod one;
mod stats;
mod table;

pub use table::{Encoded, GroupTable};

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::row::{OwnedRow, RowConverter, SortField};
use spillway_planner::agg::AggFunc;
use spillway_planner::{Error, Result};

fn arrow_err(context: &'static str) -> impl Fn(arrow::error::ArrowError) -> Error {
    move |e| Error::compute(context, e)
}

/// One aggregate's states, one per group.
#[derive(Debug)]
pub enum GroupAcc {
    /// Wrapping sum of signed integers.
    SumInt(Vec<i64>),
    /// Wrapping sum of unsigned integers.
    SumUInt(Vec<u64>),
    /// Sum of floats.
    SumFloat(Vec<f64>),
    /// Exact sum of decimals, unscaled at the input's scale.
    SumDecimal {
        /// The input's scale.
        scale: i8,
        /// One per group.
        sums: Vec<i128>,
    },
    /// Sum and count of the non-null values.
    Mean(Vec<f64>, Vec<u64>),
    /// Exact sum and count of the non-null decimal values.
    MeanDecimal {
        /// The input's scale.
        scale: i8,
        /// One per group.
        sums: Vec<i128>,
        /// One per group.
        counts: Vec<u64>,
    },
    /// Number of non-null values.
    Count(Vec<u64>),
    /// The best integer so far (signed integers, and unsigned ones up to 32 bits).
    ExtremeInt {
        /// `max` or `min`.
        max: bool,
        /// One per group.
        best: Vec<Option<i64>>,
    },
    /// The best float so far, in total order (NaN above +∞).
    ExtremeFloat {
        /// `max` or `min`.
        max: bool,
        /// One per group.
        best: Vec<Option<f64>>,
    },
    /// The best value so far of any other type, as row-format bytes.
    Extreme {
        /// `max` or `min`.
        max: bool,
        /// Encodes the input type's values.
        converter: RowConverter,
        /// One per group; `None` until a non-null value is seen.
        best: Vec<Option<OwnedRow>>,
    },
    /// The distinct non-null values seen, as row-format bytes.
    Distinct {
        /// Encodes the input type's values.
        converter: RowConverter,
        /// The input type.
        input: DataType,
        /// One set per group.
        sets: Vec<HashSet<Box<[u8]>>>,
        /// Bytes of values held.
        bytes: usize,
    },
    /// Every non-null value, for an exact median or quantile.
    Values {
        /// The quantile; `None` for the median.
        q: Option<f64>,
        /// One list per group.
        values: Vec<Vec<f64>>,
        /// Values the lists have room for (`Vec` grows a list by doubling, so this is up
        /// to twice the values held: what the allocator really gave).
        allocated: usize,
    },
    /// The first or the last value seen.
    Pick {
        /// `last` or `first`.
        last: bool,
        /// Encodes the input type's values.
        converter: RowConverter,
        /// One per group: `None` until a row is seen; `Some(None)` for a null value.
        value: Vec<Option<Option<OwnedRow>>>,
    },
    /// The `n` largest values so far, largest first.
    Top {
        /// How many.
        n: usize,
        /// One list per group.
        values: Vec<Vec<f64>>,
    },
    /// Count, means, sums of squared deviations and co-deviation of `(x, y)` pairs.
    Comoments {
        /// Per group: pairs, mean x, mean y, m2 x, m2 y, c xy.
        m: Vec<[f64; 6]>,
    },
    /// Count, mean and sum of squared deviations (Welford / Chan).
    Moments {
        /// `std` or `var`.
        std: bool,
        /// Per group.
        count: Vec<u64>,
        /// Per group.
        mean: Vec<f64>,
        /// Per group.
        m2: Vec<f64>,
    },
}

fn values<T: arrow::datatypes::ArrowPrimitiveType>(
    array: &dyn Array,
    func: AggFunc,
) -> Result<arrow::array::PrimitiveArray<T>> {
    let a = cast(array, &T::DATA_TYPE).map_err(|e| Error::compute(func.name(), e))?;
    Ok(a.as_primitive::<T>().clone())
}

impl GroupAcc {
    /// Empty states for `func` over values of `input`.
    ///
    /// # Errors
    /// [`Error::Type`] when `func` is not defined for `input`.
    pub fn new(func: AggFunc, input: &DataType) -> Result<Self> {
        let out = func
            .output_type(input)
            .map_err(|m| Error::type_error(func.name(), m))?;
        Ok(match func {
            AggFunc::Sum => match out {
                DataType::UInt64 => GroupAcc::SumUInt(Vec::new()),
                DataType::Float64 => GroupAcc::SumFloat(Vec::new()),
                DataType::Decimal128(_, scale) => GroupAcc::SumDecimal {
                    scale,
                    sums: Vec::new(),
                },
                _ => GroupAcc::SumInt(Vec::new()),
            },
            AggFunc::Mean => match decimal_scale(input) {
                Some(scale) => GroupAcc::MeanDecimal {
                    scale,
                    sums: Vec::new(),
                    counts: Vec::new(),
                },
                None => GroupAcc::Mean(Vec::new(), Vec::new()),
            },
            AggFunc::Count => GroupAcc::Count(Vec::new()),
            AggFunc::Min | AggFunc::Max if Self::int_extreme(input) => GroupAcc::ExtremeInt {
                max: func == AggFunc::Max,
                best: Vec::new(),
            },
            AggFunc::Min | AggFunc::Max if input.is_floating() => GroupAcc::ExtremeFloat {
                max: func == AggFunc::Max,
                best: Vec::new(),
            },
            AggFunc::Min | AggFunc::Max => GroupAcc::Extreme {
                max: func == AggFunc::Max,
                converter: RowConverter::new(vec![SortField::new(input.clone())])
                    .map_err(arrow_err("min/max"))?,
                best: Vec::new(),
            },
            AggFunc::CountDistinct => GroupAcc::Distinct {
                converter: RowConverter::new(vec![SortField::new(input.clone())])
                    .map_err(arrow_err("n_unique"))?,
                input: input.clone(),
                sets: Vec::new(),
                bytes: 0,
            },
            AggFunc::Median | AggFunc::Quantile(_) => GroupAcc::Values {
                q: match func {
                    AggFunc::Quantile(m) => Some(f64::from(m) / 1e6),
                    _ => None,
                },
                values: Vec::new(),
                allocated: 0,
            },
            AggFunc::First | AggFunc::Last => GroupAcc::Pick {
                last: func == AggFunc::Last,
                converter: RowConverter::new(vec![SortField::new(input.clone())])
                    .map_err(arrow_err("first/last"))?,
                value: Vec::new(),
            },
            AggFunc::Corr => GroupAcc::Comoments { m: Vec::new() },
            AggFunc::TopK(n) => GroupAcc::Top {
                n: n as usize,
                values: Vec::new(),
            },
            AggFunc::Std | AggFunc::Var => GroupAcc::Moments {
                std: func == AggFunc::Std,
                count: Vec::new(),
                mean: Vec::new(),
                m2: Vec::new(),
            },
        })
    }

    /// Whether min/max of `input` is kept as an `i64`.
    fn int_extreme(input: &DataType) -> bool {
        use DataType::*;
        matches!(
            input,
            Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32
        )
    }

    /// The partial state's columns, for `func` over `input` named after `name`.
    pub fn state_fields(func: AggFunc, input: &DataType, name: &str) -> Vec<Field> {
        let f = |suffix: &str, t: DataType| Field::new(format!("{name}#{suffix}"), t, true);
        match func {
            AggFunc::Sum => vec![f("sum", func.output_type(input).unwrap_or(DataType::Int64))],
            AggFunc::Mean => match decimal_scale(input) {
                Some(s) => vec![
                    f("sum", DataType::Decimal128(38, s)),
                    f("count", DataType::UInt64),
                ],
                None => vec![f("sum", DataType::Float64), f("count", DataType::UInt64)],
            },
            AggFunc::Count => vec![f("count", DataType::UInt64)],
            AggFunc::Min | AggFunc::Max if Self::int_extreme(input) => {
                vec![f("value", DataType::Int64)]
            }
            AggFunc::Min | AggFunc::Max if input.is_floating() => {
                vec![f("value", DataType::Float64)]
            }
            AggFunc::Min | AggFunc::Max => vec![f("value", input.clone())],
            AggFunc::CountDistinct => vec![f(
                "values",
                DataType::List(Arc::new(Field::new_list_field(input.clone(), true))),
            )],
            AggFunc::Median | AggFunc::Quantile(_) | AggFunc::TopK(_) => vec![f(
                "values",
                DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true))),
            )],
            AggFunc::First | AggFunc::Last => {
                vec![f("value", input.clone()), f("seen", DataType::Boolean)]
            }
            AggFunc::Corr => ["n", "mean_x", "mean_y", "m2_x", "m2_y", "c_xy"]
                .iter()
                .map(|s| f(s, DataType::Float64))
                .collect(),
            AggFunc::Std | AggFunc::Var => vec![
                f("count", DataType::UInt64),
                f("mean", DataType::Float64),
                f("m2", DataType::Float64),
            ],
        }
    }

    /// Bytes the states hold (approximate for min/max of variable-width values).
    pub fn memory_size(&self) -> usize {
        let (slots, bytes) = self.slots();
        slots * bytes + self.values_size()
    }

    /// Bytes the states may hold once there are `groups` groups: the per-group vectors
    /// grown as `Vec` grows them (values still to be added to distinct sets and value
    /// lists are counted as they come).
    pub fn grown_size(&self, groups: usize) -> usize {
        let (slots, bytes) = self.slots();
        grown_capacity(slots, groups) * bytes + self.values_size()
    }

    /// The per-group slots allocated, and the bytes of one.
    fn slots(&self) -> (usize, usize) {
        use std::mem::size_of;
        match self {
            GroupAcc::SumInt(v) => (v.capacity(), 8),
            GroupAcc::SumUInt(v) | GroupAcc::Count(v) => (v.capacity(), 8),
            GroupAcc::SumFloat(v) => (v.capacity(), 8),
            GroupAcc::Mean(s, _) => (s.capacity(), 16),
            GroupAcc::SumDecimal { sums, .. } => (sums.capacity(), 16),
            GroupAcc::MeanDecimal { sums, .. } => (sums.capacity(), 24),
            GroupAcc::ExtremeInt { best, .. } => (best.capacity(), size_of::<Option<i64>>()),
            GroupAcc::ExtremeFloat { best, .. } => (best.capacity(), size_of::<Option<f64>>()),
            // Approximate: a row of a few tens of bytes per group.
            GroupAcc::Extreme { best, .. } => (best.capacity(), size_of::<Option<OwnedRow>>() + 32),
            GroupAcc::Pick { value, .. } => {
                (value.capacity(), size_of::<Option<Option<OwnedRow>>>() + 32)
            }
            GroupAcc::Distinct { sets, .. } => (sets.capacity(), size_of::<HashSet<Box<[u8]>>>()),
            GroupAcc::Values { values, .. } => (values.capacity(), size_of::<Vec<f64>>()),
            GroupAcc::Comoments { m } => (m.capacity(), 48),
            GroupAcc::Top { n, values } => (values.capacity(), size_of::<Vec<f64>>() + n * 8),
            GroupAcc::Moments { count, .. } => (count.capacity(), 24),
        }
    }

    /// Bytes group `g`'s state takes beyond its fixed-width slot: its value list or its
    /// distinct set; what a state batch holding it grows by.
    pub fn group_bytes(&self, g: usize) -> usize {
        match self {
            GroupAcc::Values { values, .. } | GroupAcc::Top { values, .. } => {
                values.get(g).map_or(0, |v| v.len() * 8)
            }
            GroupAcc::Distinct { sets, .. } => sets
                .get(g)
                .map_or(0, |s| s.iter().map(|v| v.len() + 8).sum()),
            _ => 0,
        }
    }

    /// Bytes of values held outside the per-group slots.
    fn values_size(&self) -> usize {
        match self {
            GroupAcc::Distinct { bytes, .. } => bytes * 2,
            GroupAcc::Values { allocated, .. } => allocated * 8,
            _ => 0,
        }
    }

    /// The number of groups the states are kept for.
    pub fn groups(&self) -> usize {
        match self {
            GroupAcc::SumInt(v) => v.len(),
            GroupAcc::SumUInt(v) | GroupAcc::Count(v) => v.len(),
            GroupAcc::SumFloat(v) | GroupAcc::Mean(v, _) => v.len(),
            GroupAcc::SumDecimal { sums, .. } | GroupAcc::MeanDecimal { sums, .. } => sums.len(),
            GroupAcc::ExtremeInt { best, .. } => best.len(),
            GroupAcc::ExtremeFloat { best, .. } => best.len(),
            GroupAcc::Extreme { best, .. } => best.len(),
            GroupAcc::Pick { value, .. } => value.len(),
            GroupAcc::Distinct { sets, .. } => sets.len(),
            GroupAcc::Values { values, .. } | GroupAcc::Top { values, .. } => values.len(),
            GroupAcc::Comoments { m } => m.len(),
            GroupAcc::Moments { count, .. } => count.len(),
        }
    }

    /// Keeps states for `n` groups: new groups start empty, groups past `n` are dropped.
    pub(crate) fn resize(&mut self, n: usize) {
        match self {
            GroupAcc::SumInt(v) => v.resize(n, 0),
            GroupAcc::SumUInt(v) => v.resize(n, 0),
            GroupAcc::SumFloat(v) => v.resize(n, 0.0),
            GroupAcc::Mean(s, c) => {
                s.resize(n, 0.0);
                c.resize(n, 0);
            }
            GroupAcc::SumDecimal { sums, .. } => sums.resize(n, 0),
            GroupAcc::MeanDecimal { sums, counts, .. } => {
                sums.resize(n, 0);
                counts.resize(n, 0);
            }
            GroupAcc::Count(v) => v.resize(n, 0),
            GroupAcc::Extreme { best, .. } => best.resize(n, None),
            GroupAcc::ExtremeInt { best, .. } => best.resize(n, None),
            GroupAcc::Distinct { sets, .. } => sets.resize_with(n, HashSet::new),
            GroupAcc::Values { values, .. } => values.resize_with(n, Vec::new),
            GroupAcc::Pick { value, .. } => value.resize(n, None),
            GroupAcc::Comoments { m } => m.resize(n, [0.0; 6]),
            GroupAcc::Top { values, .. } => values.resize_with(n, Vec::new),
            GroupAcc::ExtremeFloat { best, .. } => best.resize(n, None),
            GroupAcc::Moments {
                count, mean, m2, ..
            } => {
                count.resize(n, 0);
                mean.resize(n, 0.0);
                m2.resize(n, 0.0);
            }
        }
    }
}

/// The capacity a `Vec` of capacity `cap` has once it holds `n` elements, pushed one at a
/// time or resized to `n`: at most doubled until `n` fit (an upper bound on how `Vec`
/// grows), so that memory can be reserved before it is allocated.
pub(crate) fn grown_capacity(cap: usize, n: usize) -> usize {
    let mut c = cap;
    while c < n {
        c = (c * 2).max(8);
    }
    c
}

/// The scale of a decimal type, whose sums and means are kept exactly.
pub(crate) fn decimal_scale(t: &DataType) -> Option<i8> {
    match t {
        DataType::Decimal32(_, s)
        | DataType::Decimal64(_, s)
        | DataType::Decimal128(_, s)
        | DataType::Decimal256(_, s) => Some(*s),
        _ => None,
    }
}

/// Decodes optional row-format values of one column; `None` becomes null.
fn decode<'a>(
    converter: &RowConverter,
    rows: impl Iterator<Item = Option<&'a OwnedRow>>,
) -> Result<ArrayRef> {
    let rows: Vec<Option<&OwnedRow>> = rows.collect();
    // Decode the present values, then spread them over the groups with nulls between.
    let decoded = converter
        .convert_rows(rows.iter().flatten().map(|r| r.row()))
        .map_err(arrow_err("aggregate values"))?;
    let mut slot = Vec::with_capacity(rows.len());
    let mut j = 0u32;
    for r in &rows {
        slot.push(r.map(|_| {
            j += 1;
            j - 1
        }));
    }
    take(decoded[0].as_ref(), &UInt32Array::from(slot), None).map_err(arrow_err("aggregate values"))
}

/// Builds a batch of `schema` from columns, naming the operator on error.
pub(crate) fn batch(schema: &SchemaRef, columns: Vec<ArrayRef>, what: &str) -> Result<RecordBatch> {
    RecordBatch::try_new(Arc::clone(schema), columns)
        .map_err(|e| Error::Internal(format!("{what} built a bad batch: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Float64Array;
    use arrow::datatypes::Float64Type;

    #[test]
    fn partial_states_merge_to_the_answer() {
        let values: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(1.0),
            Some(2.0),
            None,
            Some(4.0),
            Some(8.0),
        ]));
        let groups = [0, 1, 0, 0, 1];
        for (func, want) in [
            (AggFunc::Sum, vec![Some(5.0), Some(10.0)]),
            (AggFunc::Mean, vec![Some(2.5), Some(5.0)]),
            (AggFunc::Min, vec![Some(1.0), Some(2.0)]),
            (AggFunc::Max, vec![Some(4.0), Some(8.0)]),
            (AggFunc::Var, vec![Some(4.5), Some(18.0)]),
        ] {
            // Two partial tables over halves of the rows, merged into a third.
            let mut a = GroupAcc::new(func, &DataType::Float64).unwrap();
            a.update(values.slice(0, 3).as_ref(), &groups[..3], 2)
                .unwrap();
            let mut b = GroupAcc::new(func, &DataType::Float64).unwrap();
            b.update(values.slice(3, 2).as_ref(), &groups[3..], 2)
                .unwrap();
            let mut total = GroupAcc::new(func, &DataType::Float64).unwrap();
            total.merge(&a.state(&[0, 1]).unwrap(), &[0, 1], 2).unwrap();
            total.merge(&b.state(&[1, 0]).unwrap(), &[1, 0], 2).unwrap();
            let out = total.finish(&[0, 1], &DataType::Float64).unwrap();
            let got: Vec<Option<f64>> = out.as_primitive::<Float64Type>().iter().collect();
            assert_eq!(got, want, "{func:?}");
        }
    }

    #[test]
    fn decimal_states_merge_exactly() {
        let t = DataType::Decimal128(15, 2);
        let values: ArrayRef = Arc::new(
            arrow::array::Decimal128Array::from(vec![Some(1), Some(250), None, Some(-4), Some(3)])
                .with_precision_and_scale(15, 2)
                .unwrap(),
        );
        let groups = [0, 1, 0, 0, 1];
        let run = |func: AggFunc| {
            let mut a = GroupAcc::new(func, &t).unwrap();
            a.update(values.slice(0, 3).as_ref(), &groups[..3], 2)
                .unwrap();
            let mut b = GroupAcc::new(func, &t).unwrap();
            b.update(values.slice(3, 2).as_ref(), &groups[3..], 2)
                .unwrap();
            let mut total = GroupAcc::new(func, &t).unwrap();
            total.merge(&a.state(&[0, 1]).unwrap(), &[0, 1], 2).unwrap();
            total.merge(&b.state(&[1, 0]).unwrap(), &[1, 0], 2).unwrap();
            total
                .finish(&[0, 1], &func.output_type(&t).unwrap())
                .unwrap()
        };
        let sum = run(AggFunc::Sum);
        assert_eq!(sum.data_type(), &DataType::Decimal128(38, 2));
        let sum: Vec<Option<i128>> = sum
            .as_primitive::<arrow::datatypes::Decimal128Type>()
            .iter()
            .collect();
        assert_eq!(sum, vec![Some(-3), Some(253)]);
        let mean: Vec<Option<f64>> = run(AggFunc::Mean)
            .as_primitive::<Float64Type>()
            .iter()
            .collect();
        assert_eq!(mean, vec![Some(-0.015), Some(1.265)]);
        for (func, want) in [(AggFunc::Min, [-4, 3]), (AggFunc::Max, [1, 250])] {
            let out = run(func);
            assert_eq!(out.data_type(), &t);
            let got: Vec<i128> = out
                .as_primitive::<arrow::datatypes::Decimal128Type>()
                .values()
                .to_vec();
            assert_eq!(got, want, "{func:?}");
        }
    }

    #[test]
    fn the_states_size_for_more_groups_is_known_before_they_grow() {
        for func in [AggFunc::Sum, AggFunc::Mean, AggFunc::Var, AggFunc::Max] {
            let mut acc = GroupAcc::new(func, &DataType::Float64).unwrap();
            let mut groups = 0usize;
            for step in 1..30usize {
                let n = groups + step * step * 10;
                let bound = acc.grown_size(n);
                let values: ArrayRef = Arc::new(Float64Array::from_iter_values(
                    (groups..n).map(|i| i as f64),
                ));
                let ids: Vec<u32> = (groups as u32..n as u32).collect();
                acc.update(values.as_ref(), &ids, n).unwrap();
                assert!(acc.memory_size() <= bound, "{func:?} at {n} groups");
                groups = n;
            }
        }
    }
}
