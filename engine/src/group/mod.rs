//! Grouped aggregation: a hash table from key rows to group ids, and per-group states.
//!
//! Keys of any types and any number of columns are encoded with Arrow's row format
//! (`RowConverter`), whose bytes compare and hash as the keys do. Each aggregate keeps one
//! state per group in a vector indexed by group id ([`GroupAcc`]); a partial state is a set
//! of Arrow columns, so partial results travel between tasks as ordinary batches: the key
//! columns followed by each aggregate's state columns.
//!
//! `min` and `max` keep the row-format bytes of the best value, so one implementation
//! serves every orderable type (floats in total order: NaN above +∞).
//!
//! Decimals sum and average exactly, as unscaled `i128` ([`decimal`]).
//!
//! The key table ([`GroupTable`]) is in [`table`].

pub(crate) mod decimal;
mod stats;
mod table;

use stats::{TotalOrd, keep_top, merge_comoments, quantile};
pub use table::GroupTable;

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, UInt32Array, UInt64Array,
};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, SchemaRef, UInt64Type};
use arrow::row::{OwnedRow, RowConverter, SortField};
use spillway_planner::agg::AggFunc;
use spillway_planner::{Error, Result};

use crate::aggregate::merge_moments;

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
        /// Values held.
        count: usize,
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
                count: 0,
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
        use std::mem::size_of;
        match self {
            GroupAcc::SumInt(v) => v.capacity() * 8,
            GroupAcc::SumUInt(v) | GroupAcc::Count(v) => v.capacity() * 8,
            GroupAcc::SumFloat(v) => v.capacity() * 8,
            GroupAcc::Mean(s, c) => s.capacity() * 8 + c.capacity() * 8,
            GroupAcc::SumDecimal { sums, .. } => sums.capacity() * 16,
            GroupAcc::MeanDecimal { sums, counts, .. } => {
                sums.capacity() * 16 + counts.capacity() * 8
            }
            GroupAcc::ExtremeInt { best, .. } => best.capacity() * size_of::<Option<i64>>(),
            GroupAcc::ExtremeFloat { best, .. } => best.capacity() * size_of::<Option<f64>>(),
            // Approximate: a row of a few tens of bytes per group.
            GroupAcc::Extreme { best, .. } => {
                best.capacity() * (size_of::<Option<OwnedRow>>() + 32)
            }
            GroupAcc::Pick { value, .. } => {
                value.capacity() * (size_of::<Option<Option<OwnedRow>>>() + 32)
            }
            GroupAcc::Distinct { sets, bytes, .. } => {
                sets.capacity() * size_of::<HashSet<Box<[u8]>>>() + bytes * 2
            }
            GroupAcc::Values { values, count, .. } => {
                values.capacity() * size_of::<Vec<f64>>() + count * 8
            }
            GroupAcc::Comoments { m } => m.capacity() * 48,
            GroupAcc::Top { n, values } => values.capacity() * (size_of::<Vec<f64>>() + n * 8),
            GroupAcc::Moments {
                count, mean, m2, ..
            } => (count.capacity() + mean.capacity() + m2.capacity()) * 8,
        }
    }

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

    /// Folds in `array`, whose row `i` belongs to group `groups[i]` (< `n_groups`).
    ///
    /// # Errors
    /// [`Error::Compute`] when the values cannot be converted.
    pub fn update(&mut self, array: &dyn Array, groups: &[u32], n_groups: usize) -> Result<()> {
        self.resize(n_groups);
        match self {
            GroupAcc::SumInt(v) => {
                let a = values::<Int64Type>(array, AggFunc::Sum)?;
                for (x, &g) in a.iter().zip(groups) {
                    if let Some(x) = x {
                        v[g as usize] = v[g as usize].wrapping_add(x);
                    }
                }
            }
            GroupAcc::SumUInt(v) => {
                let a = values::<UInt64Type>(array, AggFunc::Sum)?;
                for (x, &g) in a.iter().zip(groups) {
                    if let Some(x) = x {
                        v[g as usize] = v[g as usize].wrapping_add(x);
                    }
                }
            }
            GroupAcc::SumFloat(v) => {
                let a = values::<Float64Type>(array, AggFunc::Sum)?;
                for (x, &g) in a.iter().zip(groups) {
                    if let Some(x) = x {
                        v[g as usize] += x;
                    }
                }
            }
            GroupAcc::SumDecimal { scale, sums } => {
                let a = decimal::decimal_values(array, *scale, "sum")?;
                decimal::add_grouped(sums, None, &a, groups, "sum")?;
            }
            GroupAcc::MeanDecimal {
                scale,
                sums,
                counts,
            } => {
                let a = decimal::decimal_values(array, *scale, "mean")?;
                decimal::add_grouped(sums, Some(counts), &a, groups, "mean")?;
            }
            GroupAcc::Mean(s, c) => {
                let a = values::<Float64Type>(array, AggFunc::Mean)?;
                for (x, &g) in a.iter().zip(groups) {
                    if let Some(x) = x {
                        s[g as usize] += x;
                        c[g as usize] += 1;
                    }
                }
            }
            GroupAcc::Count(v) => {
                for (i, &g) in groups.iter().enumerate() {
                    v[g as usize] += u64::from(array.is_valid(i));
                }
            }
            GroupAcc::Distinct {
                converter,
                sets,
                bytes,
                ..
            } => {
                let rows = converter
                    .convert_columns(&[arrow::array::make_array(array.to_data())])
                    .map_err(arrow_err("n_unique"))?;
                for (i, &g) in groups.iter().enumerate() {
                    if array.is_valid(i) {
                        let r = rows.row(i);
                        if !sets[g as usize].contains(r.as_ref()) {
                            *bytes += r.as_ref().len() + 16;
                            sets[g as usize].insert(r.as_ref().into());
                        }
                    }
                }
            }
            GroupAcc::Top { n, values: v } => {
                let a = values::<Float64Type>(array, AggFunc::TopK(*n as u32))?;
                for (x, &g) in a.iter().zip(groups) {
                    if let Some(x) = x {
                        keep_top(&mut v[g as usize], x, *n);
                    }
                }
            }
            GroupAcc::Comoments { m } => {
                let pair = array.as_struct();
                let (x, y) = (
                    pair.column(0).as_primitive::<Float64Type>(),
                    pair.column(1).as_primitive::<Float64Type>(),
                );
                for (i, &g) in groups.iter().enumerate() {
                    if x.is_valid(i) && y.is_valid(i) {
                        let s = &mut m[g as usize];
                        *s = merge_comoments(*s, [1.0, x.value(i), y.value(i), 0.0, 0.0, 0.0]);
                    }
                }
            }
            GroupAcc::Values {
                values: v, count, ..
            } => {
                let a = values::<Float64Type>(array, AggFunc::Median)?;
                for (x, &g) in a.iter().zip(groups) {
                    if let Some(x) = x {
                        v[g as usize].push(x);
                        *count += 1;
                    }
                }
            }
            GroupAcc::Pick {
                last,
                converter,
                value,
            } => {
                let rows = converter
                    .convert_columns(&[arrow::array::make_array(array.to_data())])
                    .map_err(arrow_err("first/last"))?;
                for (i, &g) in groups.iter().enumerate() {
                    let slot = &mut value[g as usize];
                    if *last || slot.is_none() {
                        *slot = Some(array.is_valid(i).then(|| rows.row(i).owned()));
                    }
                }
            }
            GroupAcc::ExtremeInt { max, best } => {
                let a = values::<Int64Type>(array, AggFunc::Max)?;
                for (x, &g) in a.iter().zip(groups) {
                    if let Some(x) = x {
                        let slot = &mut best[g as usize];
                        *slot = Some(match *slot {
                            None => x,
                            Some(cur) if *max => cur.max(x),
                            Some(cur) => cur.min(x),
                        });
                    }
                }
            }
            GroupAcc::ExtremeFloat { max, best } => {
                let a = values::<Float64Type>(array, AggFunc::Max)?;
                for (x, &g) in a.iter().zip(groups) {
                    if let Some(x) = x {
                        let slot = &mut best[g as usize];
                        *slot = Some(match *slot {
                            None => x,
                            Some(cur) if *max => cur.max_by_total(x),
                            Some(cur) => cur.min_by_total(x),
                        });
                    }
                }
            }
            GroupAcc::Extreme {
                max,
                converter,
                best,
            } => {
                let rows = converter
                    .convert_columns(&[arrow::array::make_array(array.to_data())])
                    .map_err(arrow_err("min/max"))?;
                for (i, &g) in groups.iter().enumerate() {
                    if array.is_null(i) {
                        continue;
                    }
                    let row = rows.row(i);
                    let slot = &mut best[g as usize];
                    let better = match slot {
                        None => true,
                        Some(cur) => {
                            if *max {
                                row > cur.row()
                            } else {
                                row < cur.row()
                            }
                        }
                    };
                    if better {
                        *slot = Some(row.owned());
                    }
                }
            }
            GroupAcc::Moments {
                count, mean, m2, ..
            } => {
                let a = values::<Float64Type>(array, AggFunc::Var)?;
                for (x, &g) in a.iter().zip(groups) {
                    if let Some(x) = x {
                        let g = g as usize;
                        (count[g], mean[g], m2[g]) =
                            merge_moments((count[g], mean[g], m2[g]), (1, x, 0.0));
                    }
                }
            }
        }
        Ok(())
    }

    /// Merges partial states (`state` columns as [`GroupAcc::state`] makes them) whose row
    /// `i` belongs to group `groups[i]`.
    ///
    /// # Errors
    /// [`Error::Internal`] when the columns are not this aggregate's state.
    pub fn merge(&mut self, state: &[ArrayRef], groups: &[u32], n_groups: usize) -> Result<()> {
        let bad = || Error::Internal("a partial aggregate state has the wrong columns".into());
        if matches!(
            self,
            GroupAcc::SumInt(_)
                | GroupAcc::SumUInt(_)
                | GroupAcc::SumFloat(_)
                | GroupAcc::SumDecimal { .. }
                | GroupAcc::Extreme { .. }
                | GroupAcc::ExtremeInt { .. }
                | GroupAcc::ExtremeFloat { .. }
        ) {
            return self.update(state.first().ok_or_else(bad)?, groups, n_groups);
        }
        self.resize(n_groups);
        match (self, state) {
            (GroupAcc::Mean(s, c), [sum, cnt]) => {
                let (sum, cnt) = (
                    sum.as_primitive::<Float64Type>(),
                    cnt.as_primitive::<UInt64Type>(),
                );
                for (i, &g) in groups.iter().enumerate() {
                    s[g as usize] += sum.value(i);
                    c[g as usize] += cnt.value(i);
                }
            }
            (
                GroupAcc::MeanDecimal {
                    scale,
                    sums,
                    counts,
                },
                [sum, cnt],
            ) => {
                let sum = decimal::decimal_values(sum.as_ref(), *scale, "mean")?;
                let cnt = cnt.as_primitive::<UInt64Type>();
                for (i, &g) in groups.iter().enumerate() {
                    sums[g as usize] = decimal::add(sums[g as usize], sum.value(i), "mean")?;
                    counts[g as usize] += cnt.value(i);
                }
            }
            (GroupAcc::Count(v), [cnt]) => {
                let cnt = cnt.as_primitive::<UInt64Type>();
                for (i, &g) in groups.iter().enumerate() {
                    v[g as usize] += cnt.value(i);
                }
            }
            (
                GroupAcc::Moments {
                    count, mean, m2, ..
                },
                [c, m, q],
            ) => {
                let (c, m, q) = (
                    c.as_primitive::<UInt64Type>(),
                    m.as_primitive::<Float64Type>(),
                    q.as_primitive::<Float64Type>(),
                );
                for (i, &g) in groups.iter().enumerate() {
                    let g = g as usize;
                    (count[g], mean[g], m2[g]) = merge_moments(
                        (count[g], mean[g], m2[g]),
                        (c.value(i), m.value(i), q.value(i)),
                    );
                }
            }
            (
                GroupAcc::Distinct {
                    converter,
                    sets,
                    bytes,
                    ..
                },
                [list],
            ) => {
                let list = list.as_list::<i32>();
                for (i, &g) in groups.iter().enumerate() {
                    let vals = list.value(i);
                    let rows = converter
                        .convert_columns(&[vals])
                        .map_err(arrow_err("n_unique"))?;
                    for r in rows.iter() {
                        if !sets[g as usize].contains(r.as_ref()) {
                            *bytes += r.as_ref().len() + 16;
                            sets[g as usize].insert(r.as_ref().into());
                        }
                    }
                }
            }
            (GroupAcc::Top { n, values: v }, [list]) => {
                let list = list.as_list::<i32>();
                for (i, &g) in groups.iter().enumerate() {
                    let vals = list.value(i);
                    for &x in vals.as_primitive::<Float64Type>().values().iter() {
                        keep_top(&mut v[g as usize], x, *n);
                    }
                }
            }
            (GroupAcc::Comoments { m }, cols) if cols.len() == 6 => {
                let cols: Vec<&Float64Array> = cols
                    .iter()
                    .map(|c| c.as_primitive::<Float64Type>())
                    .collect();
                for (i, &g) in groups.iter().enumerate() {
                    let other: [f64; 6] = std::array::from_fn(|k| cols[k].value(i));
                    let s = &mut m[g as usize];
                    *s = merge_comoments(*s, other);
                }
            }
            (
                GroupAcc::Values {
                    values: v, count, ..
                },
                [list],
            ) => {
                let list = list.as_list::<i32>();
                for (i, &g) in groups.iter().enumerate() {
                    let vals = list.value(i);
                    let vals = vals.as_primitive::<Float64Type>();
                    v[g as usize].extend(vals.values().iter());
                    *count += vals.len();
                }
            }
            (
                GroupAcc::Pick {
                    last,
                    converter,
                    value,
                },
                [val, seen],
            ) => {
                let seen = seen.as_boolean();
                let rows = converter
                    .convert_columns(std::slice::from_ref(val))
                    .map_err(arrow_err("first/last"))?;
                for (i, &g) in groups.iter().enumerate() {
                    let slot = &mut value[g as usize];
                    if seen.value(i) && (*last || slot.is_none()) {
                        *slot = Some(val.is_valid(i).then(|| rows.row(i).owned()));
                    }
                }
            }
            _ => return Err(bad()),
        }
        Ok(())
    }

    /// The partial state columns of the groups `ids`, in that order.
    ///
    /// # Errors
    /// [`Error::Compute`] when min/max values cannot be decoded.
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
    /// [`Error::Compute`] when min/max values cannot be decoded.
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
}
