//! File pruning over hive columns: each filter is evaluated once over the files' folder
//! values (one row per file), with the engine's comparison rules (both sides cast to the
//! type [`binary_types`] gives, SQL's three-valued `and` / `or`). A file is kept unless
//! some filter is false or null for its values, since every row of the file has them;
//! a filter whose form is not handled here keeps every file.

use arrow::array::{Array, ArrayRef, BooleanArray};
use arrow::compute::kernels::{boolean, cmp};
use arrow::compute::{cast, is_not_null, is_null};
use arrow::datatypes::Schema;
use spillway_planner::expr::{BinaryOp, Expr, binary_types};

/// For each of `files` files, whether a row of it may match every filter.
pub(super) fn files_may_match(
    schema: &Schema,
    values: &[ArrayRef],
    files: usize,
    filters: &[&Expr],
) -> Vec<bool> {
    let mut keep = vec![true; files];
    for filter in filters {
        if let Some(result) = eval(schema, values, filter) {
            for (k, i) in keep.iter_mut().zip(0..files) {
                *k &= result.is_valid(i) && result.value(i);
            }
        }
    }
    keep
}

/// `filter` over the files' values, or `None` when its form is not handled.
fn eval(schema: &Schema, values: &[ArrayRef], filter: &Expr) -> Option<BooleanArray> {
    let column = |name: &str| schema.index_of(name).ok().map(|i| &values[i]);
    match filter {
        Expr::Binary {
            left,
            op: op @ (BinaryOp::And | BinaryOp::Or),
            right,
        } => {
            let (l, r) = (eval(schema, values, left), eval(schema, values, right));
            match (op, l, r) {
                (BinaryOp::And, Some(l), Some(r)) => boolean::and_kleene(&l, &r).ok(),
                // `a and b` with one side unknown: the known side still bounds it.
                (BinaryOp::And, Some(x), None) | (BinaryOp::And, None, Some(x)) => Some(x),
                (BinaryOp::Or, Some(l), Some(r)) => boolean::or_kleene(&l, &r).ok(),
                _ => None,
            }
        }
        Expr::Binary { left, op, right } if op.is_comparison() => {
            let (name, op, lit_expr, col_expr, literal) = match (left.as_ref(), right.as_ref()) {
                (Expr::Column(n), Expr::Literal(v)) => (n, *op, right, left, v),
                (Expr::Literal(v), Expr::Column(n)) => (n, op.swap(), left, right, v),
                _ => return None,
            };
            let array = column(name)?;
            let coercion = binary_types(
                col_expr,
                array.data_type(),
                op,
                lit_expr,
                literal.data_type(),
            )
            .ok()?;
            let lhs = cast(array, &coercion.left).ok()?;
            let rhs = arrow::array::Scalar::new(cast(literal.as_array(), &coercion.right).ok()?);
            match op {
                BinaryOp::Eq => cmp::eq(&lhs, &rhs),
                BinaryOp::NotEq => cmp::neq(&lhs, &rhs),
                BinaryOp::Lt => cmp::lt(&lhs, &rhs),
                BinaryOp::LtEq => cmp::lt_eq(&lhs, &rhs),
                BinaryOp::Gt => cmp::gt(&lhs, &rhs),
                BinaryOp::GtEq => cmp::gt_eq(&lhs, &rhs),
                _ => return None,
            }
            .ok()
        }
        Expr::IsNull(e) => match e.as_ref() {
            Expr::Column(n) => is_null(column(n)?.as_ref()).ok(),
            _ => None,
        },
        Expr::IsNotNull(e) => match e.as_ref() {
            Expr::Column(n) => is_not_null(column(n)?.as_ref()).ok(),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringViewArray};
    use arrow::datatypes::{DataType, Field};
    use spillway_planner::expr::{col, lit};

    use super::*;

    fn keep(filter: Expr) -> Vec<bool> {
        let schema = Schema::new(vec![
            Field::new("y", DataType::Int64, true),
            Field::new("c", DataType::Utf8View, true),
        ]);
        let values: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![Some(2023), Some(2024), None])),
            Arc::new(StringViewArray::from(vec![Some("a"), None, Some("b")])),
        ];
        files_may_match(&schema, &values, 3, &[&filter])
    }

    #[test]
    fn comparisons_and_null_tests_decide_per_file() {
        assert_eq!(keep(col("y").eq(lit(2024_i64))), [false, true, false]);
        assert_eq!(keep(lit(2024_i64).gt(col("y"))), [true, false, false]);
        assert_eq!(keep(col("y").gt_eq(lit(2023.5))), [false, true, false]);
        assert_eq!(keep(col("y").is_null()), [false, false, true]);
        assert_eq!(keep(col("c").is_not_null()), [true, false, true]);
        assert_eq!(keep(col("c").neq(lit("a"))), [false, false, true]);
    }

    #[test]
    fn and_or_are_three_valued_and_unknown_forms_keep_everything() {
        assert_eq!(
            keep(col("y").eq(lit(2023_i64)).or(col("c").eq(lit("b")))),
            [true, false, true]
        );
        assert_eq!(
            keep(col("y").lt(lit(2030_i64)).and(col("c").eq(lit("a")))),
            [true, false, false]
        );
        assert_eq!(
            keep(col("y").cast(DataType::Utf8).eq(lit("x"))),
            [true, true, true]
        );
    }
}
