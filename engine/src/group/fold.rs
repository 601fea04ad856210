//! Folding values and partial states into per-group states: [`GroupAcc::update`] and
//! [`GroupAcc::merge`].

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, PrimitiveArray};
use arrow::datatypes::{ArrowPrimitiveType, Float64Type, Int64Type, UInt64Type};
use arrow::row::RowConverter;
use spillway_planner::agg::AggFunc;
use spillway_planner::{Error, Result};

use super::stats::{TotalOrd, keep_top, merge_comoments, merge_moments};
use super::{GroupAcc, arrow_err, decimal, values};

/// Calls `f(group, value)` for each non-null value of `a`, row `i` in `groups[i]`.
fn each_value<T: ArrowPrimitiveType>(
    a: &PrimitiveArray<T>,
    groups: &[u32],
    mut f: impl FnMut(usize, T::Native),
) {
    for (x, &g) in a.iter().zip(groups) {
        if let Some(x) = x {
            f(g as usize, x);
        }
    }
}

/// `array` in the row format of `converter`.
fn rows_of(
    converter: &RowConverter,
    array: &dyn Array,
    context: &'static str,
) -> Result<arrow::row::Rows> {
    converter
        .convert_columns(&[arrow::array::make_array(array.to_data())])
        .map_err(arrow_err(context))
}

impl GroupAcc {
    /// Folds in `array`, whose row `i` belongs to group `groups[i]` (< `n_groups`).
    ///
    /// When every row belongs to one group, [`GroupAcc::update_all`] does the same faster.
    ///
    /// # Errors
    /// [`Error::Compute`] when the values cannot be converted.
    pub fn update(&mut self, array: &dyn Array, groups: &[u32], n_groups: usize) -> Result<()> {
        self.resize(n_groups);
        match self {
            GroupAcc::SumInt(v) => {
                let a = values::<Int64Type>(array, AggFunc::Sum)?;
                each_value(&a, groups, |g, x| v[g] = v[g].wrapping_add(x));
            }
            GroupAcc::SumUInt(v) => {
                let a = values::<UInt64Type>(array, AggFunc::Sum)?;
                each_value(&a, groups, |g, x| v[g] = v[g].wrapping_add(x));
            }
            GroupAcc::SumFloat(v) => {
                let a = values::<Float64Type>(array, AggFunc::Sum)?;
                each_value(&a, groups, |g, x| v[g] += x);
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
                each_value(&a, groups, |g, x| {
                    s[g] += x;
                    c[g] += 1;
                });
            }
            GroupAcc::Count(v) => {
                for (i, &g) in groups.iter().enumerate() {
                    v[g as usize] += u64::from(array.is_valid(i));
                }
            }
            GroupAcc::Top { n, values: v } => {
                let a = values::<Float64Type>(array, AggFunc::TopK(*n as u32))?;
                each_value(&a, groups, |g, x| keep_top(&mut v[g], x, *n));
            }
            GroupAcc::Values {
                values: v,
                allocated,
                ..
            } => {
                let a = values::<Float64Type>(array, AggFunc::Median)?;
                each_value(&a, groups, |g, x| {
                    let list = &mut v[g];
                    let before = list.capacity();
                    list.push(x);
                    *allocated += list.capacity() - before;
                });
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
            GroupAcc::ExtremeInt { max, best } => {
                let a = values::<Int64Type>(array, AggFunc::Max)?;
                let max = *max;
                each_value(&a, groups, |g, x| {
                    best[g] = Some(match best[g] {
                        None => x,
                        Some(cur) if max => cur.max(x),
                        Some(cur) => cur.min(x),
                    });
                });
            }
            GroupAcc::ExtremeFloat { max, best } => {
                let a = values::<Float64Type>(array, AggFunc::Max)?;
                let max = *max;
                each_value(&a, groups, |g, x| {
                    best[g] = Some(match best[g] {
                        None => x,
                        Some(cur) if max => cur.max_by_total(x),
                        Some(cur) => cur.min_by_total(x),
                    });
                });
            }
            GroupAcc::Moments {
                count, mean, m2, ..
            } => {
                let a = values::<Float64Type>(array, AggFunc::Var)?;
                each_value(&a, groups, |g, x| {
                    (count[g], mean[g], m2[g]) =
                        merge_moments((count[g], mean[g], m2[g]), (1, x, 0.0));
                });
            }
            GroupAcc::Extreme { .. } | GroupAcc::Distinct { .. } | GroupAcc::Pick { .. } => {
                self.update_rows(array, groups)?;
            }
        }
        Ok(())
    }

    /// [`GroupAcc::update`] for the states kept in the row format (min/max of other
    /// types, `n_unique`, first/last).
    fn update_rows(&mut self, array: &dyn Array, groups: &[u32]) -> Result<()> {
        match self {
            GroupAcc::Extreme {
                max,
                converter,
                best,
            } => {
                let rows = rows_of(converter, array, "min/max")?;
                for (i, &g) in groups.iter().enumerate() {
                    if array.is_null(i) {
                        continue;
                    }
                    let row = rows.row(i);
                    let slot = &mut best[g as usize];
                    let better = match slot {
                        None => true,
                        Some(cur) if *max => row > cur.row(),
                        Some(cur) => row < cur.row(),
                    };
                    if better {
                        *slot = Some(row.owned());
                    }
                }
            }
            GroupAcc::Distinct {
                converter,
                sets,
                bytes,
                ..
            } => {
                let rows = rows_of(converter, array, "n_unique")?;
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
            GroupAcc::Pick {
                last,
                converter,
                value,
            } => {
                let rows = rows_of(converter, array, "first/last")?;
                for (i, &g) in groups.iter().enumerate() {
                    let slot = &mut value[g as usize];
                    if *last || slot.is_none() {
                        *slot = Some(array.is_valid(i).then(|| rows.row(i).owned()));
                    }
                }
            }
            _ => {
                return Err(Error::Internal(
                    "a state not kept in the row format was folded as rows".into(),
                ));
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
                    values: v,
                    allocated,
                    ..
                },
                [list],
            ) => {
                let list = list.as_list::<i32>();
                for (i, &g) in groups.iter().enumerate() {
                    let vals = list.value(i);
                    let vals = vals.as_primitive::<Float64Type>();
                    let held = &mut v[g as usize];
                    let before = held.capacity();
                    held.extend(vals.values().iter());
                    *allocated += held.capacity() - before;
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
}
