//! Row-group pruning: dropping the row groups whose statistics prove that no row matches.
//!
//! Each filter is evaluated over a file's row-group statistics (min, max, null count, NaN
//! count, read with the parquet crate's `StatisticsConverter`) to a "may match" flag per
//! row group; a row group is read when every filter may match it. Pruning must never drop a
//! row group holding a matching row, so whatever cannot be decided counts as "may match":
//! missing statistics, a cast that fails, an expression form not listed below. `c` is a
//! column itself: a function of a column (`abs(c) > 3`, `round(c, -1) = 10`), whose min and
//! max are not the function of the column's min and max unless the function is monotonic,
//! is not pushed into the scan and stays a filter above it.
//!
//! | filter      | a row group may match when                 |
//! |-------------|--------------------------------------------|
//! | `c = v`     | `min <= v && v <= max`                     |
//! | `c != v`    | `!(min == v && max == v)`                  |
//! | `c < v`     | `min < v`                                  |
//! | `c <= v`    | `min <= v`                                 |
//! | `c > v`     | `max > v`                                  |
//! | `c >= v`    | `max >= v`                                 |
//! | `v op c`    | as `c op' v`, with `op` flipped (`<` ↔ `>`) |
//! | `is_null`   | `null_count > 0`                           |
//! | `is_not_null` | `null_count < row_count`                 |
//! | `a and b`   | both may match                             |
//! | `a or b`    | either may match                           |
//!
//! The statistics and the literal are compared as the engine compares column and literal:
//! both are cast to the type the planner's [`binary_types`] gives the pair, and compared
//! with Arrow's kernels. Those casts are monotonic, so `min` and `max` stay bounds. This
//! holds for dates (a date literal, or a string literal read as a date) and decimals (a
//! decimal column against an integer, decimal or float literal is compared as one decimal,
//! the literal converted exactly, or as `Float64` past 38 digits).
//!
//! Floating-point statistics leave NaN out, while Arrow's order puts NaN above (and
//! negative NaN below) every number, so a row group that may hold NaN (the NaN count is
//! not known to be 0) is kept for every comparison but `= v` with `v` not NaN.

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::compute::cast;
use arrow::compute::kernels::cmp;
use arrow::datatypes::{DataType, Float64Type, Schema};
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::file::metadata::RowGroupMetaData;
use spillway_planner::expr::{BinaryOp, Expr, binary_types};
use spillway_planner::scalar::ScalarValue;
use spillway_planner::source::FilterPushdown;

/// How a Parquet source uses `filter`: [`FilterPushdown::Inexact`] when row-group
/// statistics can decide it (see the module docs), else [`FilterPushdown::Unsupported`].
pub(crate) fn pushdown(schema: &Schema, filter: &Expr) -> FilterPushdown {
    if supported(schema, filter) {
        FilterPushdown::Inexact
    } else {
        FilterPushdown::Unsupported
    }
}

fn supported(schema: &Schema, filter: &Expr) -> bool {
    match filter {
        Expr::Binary {
            left,
            op: BinaryOp::And | BinaryOp::Or,
            right,
        } => supported(schema, left) && supported(schema, right),
        Expr::Binary { left, op, right } => {
            Comparison::new(left, *op, right).is_some_and(|c| c.operand_type(schema).is_some())
        }
        Expr::IsNull(e) | Expr::IsNotNull(e) => {
            matches!(e.as_ref(), Expr::Column(name) if schema.column_with_name(name).is_some())
        }
        _ => false,
    }
}

/// For each row group of the file, whether a row of it may match all `filters`.
pub(crate) fn row_groups_may_match(reader: &ArrowReaderMetadata, filters: &[Expr]) -> Vec<bool> {
    let stats = Stats {
        schema: reader.schema(),
        metadata: reader.metadata(),
    };
    let mut keep = vec![true; stats.row_groups().len()];
    for filter in filters {
        for (k, may) in keep.iter_mut().zip(stats.may_match(filter)) {
            *k &= may;
        }
    }
    keep
}

/// `column op value`, with the column on the left.
struct Comparison<'a> {
    column: &'a Expr,
    name: &'a str,
    op: BinaryOp,
    literal: &'a Expr,
    value: &'a ScalarValue,
}

impl<'a> Comparison<'a> {
    /// The comparison `left op right`, when it is between a column and a literal.
    fn new(left: &'a Expr, op: BinaryOp, right: &'a Expr) -> Option<Self> {
        if !op.is_comparison() {
            return None;
        }
        match (left, right) {
            (Expr::Column(name), Expr::Literal(value)) => Some(Self {
                column: left,
                name,
                op,
                literal: right,
                value,
            }),
            (Expr::Literal(value), Expr::Column(name)) => Some(Self {
                column: right,
                name,
                op: op.swap(),
                literal: left,
                value,
            }),
            _ => None,
        }
    }

    /// The type the engine compares both sides as; `None` when they do not combine.
    fn operand_type(&self, schema: &Schema) -> Option<DataType> {
        let (_, field) = schema.column_with_name(self.name)?;
        let types = binary_types(
            self.column,
            field.data_type(),
            self.op,
            self.literal,
            self.value.data_type(),
        )
        .ok()?;
        // Comparisons cast both sides to one type.
        (types.left == types.right).then_some(types.left)
    }
}

/// The statistics of one file.
struct Stats<'a> {
    schema: &'a Schema,
    metadata: &'a parquet::file::metadata::ParquetMetaData,
}

impl<'a> Stats<'a> {
    fn row_groups(&self) -> &'a [RowGroupMetaData] {
        self.metadata.row_groups()
    }

    /// Per row group, whether a row may match `filter`; all `true` when undecidable.
    fn may_match(&self, filter: &Expr) -> Vec<bool> {
        self.try_may_match(filter)
            .filter(|may| may.len() == self.row_groups().len())
            .unwrap_or_else(|| vec![true; self.row_groups().len()])
    }

    fn try_may_match(&self, filter: &Expr) -> Option<Vec<bool>> {
        match filter {
            Expr::Binary {
                left,
                op: op @ (BinaryOp::And | BinaryOp::Or),
                right,
            } => {
                let (l, r) = (self.may_match(left), self.may_match(right));
                let both = l.into_iter().zip(r);
                Some(if *op == BinaryOp::And {
                    both.map(|(a, b)| a && b).collect()
                } else {
                    both.map(|(a, b)| a || b).collect()
                })
            }
            Expr::Binary { left, op, right } => self.compare(&Comparison::new(left, *op, right)?),
            Expr::IsNull(e) => {
                let nulls = self.null_counts(e)?;
                Some(
                    (0..nulls.len())
                        .map(|i| nulls.is_null(i) || nulls.value(i) > 0)
                        .collect(),
                )
            }
            Expr::IsNotNull(e) => {
                let nulls = self.null_counts(e)?;
                Some(
                    self.row_groups()
                        .iter()
                        .enumerate()
                        .map(|(i, rg)| {
                            i >= nulls.len()
                                || nulls.is_null(i)
                                || i64::try_from(nulls.value(i)).is_ok_and(|n| n < rg.num_rows())
                        })
                        .collect(),
                )
            }
            _ => None,
        }
    }

    fn converter(&self, name: &str) -> Option<StatisticsConverter<'a>> {
        let file = self.metadata.file_metadata();
        let converter =
            StatisticsConverter::try_new(name, self.schema, file.schema_descr()).ok()?;
        Some(converter.with_column_orders(file.column_orders().map(Vec::as_slice)))
    }

    /// Null counts of a column, null where unknown.
    fn null_counts(&self, column: &Expr) -> Option<arrow::array::UInt64Array> {
        let Expr::Column(name) = column else {
            return None;
        };
        self.converter(name)?
            .with_missing_null_counts_as_zero(false)
            .row_group_null_counts(self.row_groups())
            .ok()
    }

    fn compare(&self, c: &Comparison<'_>) -> Option<Vec<bool>> {
        let operand = c.operand_type(self.schema)?;
        let value = c.value.cast_to(&operand).ok()?;
        if value.is_null() {
            return None;
        }
        let converter = self.converter(c.name)?;
        let min = cast(&converter.row_group_mins(self.row_groups()).ok()?, &operand).ok()?;
        let max = cast(
            &converter.row_group_maxes(self.row_groups()).ok()?,
            &operand,
        )
        .ok()?;
        let v = value.to_datum();
        let may: Vec<bool> = match c.op {
            BinaryOp::Eq => {
                let (a, b) = (cmp::lt_eq(&min, &v).ok()?, cmp::gt_eq(&max, &v).ok()?);
                (0..min.len())
                    .map(|i| !known_false(&a, i) && !known_false(&b, i))
                    .collect()
            }
            BinaryOp::NotEq => {
                let (a, b) = (cmp::eq(&min, &v).ok()?, cmp::eq(&max, &v).ok()?);
                (0..min.len())
                    .map(|i| !(known_true(&a, i) && known_true(&b, i)))
                    .collect()
            }
            BinaryOp::Lt => not_false(&cmp::lt(&min, &v).ok()?),
            BinaryOp::LtEq => not_false(&cmp::lt_eq(&min, &v).ok()?),
            BinaryOp::Gt => not_false(&cmp::gt(&max, &v).ok()?),
            BinaryOp::GtEq => not_false(&cmp::gt_eq(&max, &v).ok()?),
            _ => return None,
        };
        if !converter.arrow_field().data_type().is_floating() {
            return Some(may);
        }
        // NaN is left out of the statistics: keep the row groups that may hold it unless
        // NaN cannot match (`= v` with `v` a number).
        let nan_cannot_match = c.op == BinaryOp::Eq && !is_nan(value.as_array());
        let nans = converter.row_group_nan_counts(self.row_groups()).ok()?;
        Some(
            may.into_iter()
                .enumerate()
                .map(|(i, may)| {
                    let nan_free = i < nans.len() && nans.is_valid(i) && nans.value(i) == 0;
                    may || !(nan_free || nan_cannot_match)
                })
                .collect(),
        )
    }
}

fn known_true(a: &BooleanArray, i: usize) -> bool {
    a.is_valid(i) && a.value(i)
}

fn known_false(a: &BooleanArray, i: usize) -> bool {
    a.is_valid(i) && !a.value(i)
}

fn not_false(a: &BooleanArray) -> Vec<bool> {
    (0..a.len()).map(|i| !known_false(a, i)).collect()
}

/// Whether a one-element numeric array holds NaN (true when that cannot be told).
fn is_nan(value: &ArrayRef) -> bool {
    cast(value, &DataType::Float64)
        .ok()
        .and_then(|a| {
            a.as_primitive_opt::<Float64Type>()
                .and_then(|f| f.iter().next().flatten())
                .map(f64::is_nan)
        })
        .unwrap_or(true)
}
