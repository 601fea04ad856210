//! Evaluates expressions over a batch, with Arrow's kernels.
//!
//! Types follow [`binary_types`], the planner's one statement of the coercion rules, so
//! evaluation cannot disagree with type checking. Casts are strict (a value that does not
//! fit is an error, not a null) and integer division by zero is an error.
//!
//! Built-in functions ([`Expr::Function`]) go to their family's file, with one match arm
//! per family in `eval_function`: `eval/math/` for `abs`, `round`, `sqrt`, ...,
//! `eval/strings.rs` for `len_chars`, `like`, `slice`, ..., `eval/conditional.rs` for
//! `when`, `coalesce`, `is_in`, ..., `eval/temporal/` for `year`, `truncate`,
//! `add_months`, `to_date`, `strftime`, ... The
//! family's planner file (`spillway_planner::functions`) gives the result types the
//! kernels produce.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Datum, RecordBatch, new_null_array};
use arrow::compute::kernels::{boolean, cmp, numeric};
use arrow::compute::{CastOptions, cast_with_options, is_not_null, is_null};
use arrow::datatypes::{DECIMAL128_MAX_PRECISION, DataType, Decimal128Type, Schema};
use spillway_planner::agg::{AggExpr, pair_fields};
use spillway_planner::expr::{BinaryOp, Expr, binary_types};
use spillway_planner::functions::Function;
use spillway_planner::scalar::ScalarValue;
use spillway_planner::{Error, Result};

mod conditional;
mod math;
mod strings;
mod temporal;

/// A column or a scalar: literals stay scalars so kernels broadcast them without copying.
enum Value {
    Array(ArrayRef),
    Scalar(ArrayRef),
}

impl Value {
    fn data_type(&self) -> &DataType {
        match self {
            Value::Array(a) | Value::Scalar(a) => a.data_type(),
        }
    }

    fn cast(self, to: &DataType, context: &Expr) -> Result<Value> {
        if self.data_type() == to {
            return Ok(self);
        }
        let opts = CastOptions {
            safe: false,
            ..Default::default()
        };
        let go = |a: &ArrayRef| {
            cast_with_options(a, to, &opts).map_err(|e| Error::compute(context.to_string(), e))
        };
        Ok(match self {
            Value::Array(a) => Value::Array(go(&a)?),
            // A literal casts as the planner casts it (a float into a decimal exactly).
            Value::Scalar(a) => {
                let v = ScalarValue::try_from_array(a)?.cast_to(to)?;
                Value::Scalar(Arc::clone(v.as_array()))
            }
        })
    }

    fn datum(&self) -> Box<dyn Datum + '_> {
        match self {
            Value::Array(a) => Box::new(a),
            Value::Scalar(a) => Box::new(arrow::array::Scalar::new(a)),
        }
    }

    fn into_array(self, len: usize) -> Result<ArrayRef> {
        Ok(match self {
            Value::Array(a) => a,
            Value::Scalar(a) if a.is_null(0) => new_null_array(a.data_type(), len),
            Value::Scalar(a) => {
                let indices = arrow::array::UInt32Array::from(vec![0u32; len]);
                arrow::compute::take(&a, &indices, None)
                    .map_err(|e| Error::compute("broadcast of a literal", e))?
            }
        })
    }
}

/// Evaluates `expr` over `batch`, giving one value per row.
///
/// # Errors
/// [`Error::Compute`] naming the expression (division by zero, a cast that does not fit),
/// or the user closure's own error.
pub fn evaluate(expr: &Expr, batch: &RecordBatch) -> Result<ArrayRef> {
    eval(expr, batch)?.into_array(batch.num_rows())
}

/// The values an aggregate folds in: its input, or for a two-input function (`corr`) the
/// pair as a struct of two `Float64` columns.
///
/// # Errors
/// As [`evaluate`], or a cast of an input to `Float64` that fails.
pub fn evaluate_agg_input(agg: &AggExpr, batch: &RecordBatch) -> Result<ArrayRef> {
    let x = evaluate(&agg.input, batch)?;
    let Some(second) = &agg.second else {
        return Ok(x);
    };
    let y = evaluate(second, batch)?;
    let f64s = |a: &ArrayRef| {
        arrow::compute::cast(a, &DataType::Float64).map_err(|e| Error::compute(agg.to_string(), e))
    };
    let pair = arrow::array::StructArray::try_new(pair_fields(), vec![f64s(&x)?, f64s(&y)?], None)
        .map_err(|e| Error::compute(agg.to_string(), e))?;
    Ok(Arc::new(pair))
}

/// Evaluates a Boolean predicate; nulls count as false when filtering.
///
/// # Errors
/// As [`evaluate`], or an internal error when the result is not Boolean.
pub fn evaluate_predicate(expr: &Expr, batch: &RecordBatch) -> Result<BooleanArray> {
    let a = evaluate(expr, batch)?;
    let a = if a.data_type() == &DataType::Null {
        Arc::new(BooleanArray::new_null(a.len())) as ArrayRef
    } else {
        a
    };
    a.as_any()
        .downcast_ref::<BooleanArray>()
        .cloned()
        .ok_or_else(|| Error::Internal(format!("predicate {expr} gave {}", a.data_type())))
}

fn eval(expr: &Expr, batch: &RecordBatch) -> Result<Value> {
    let schema: &Schema = batch.schema_ref();
    let ctx = |e: arrow::error::ArrowError| Error::compute(expr.to_string(), e);
    Ok(match expr {
        Expr::Column(name) => {
            let i = schema.index_of(name).map_err(|_| Error::ColumnNotFound {
                name: name.clone(),
                available: schema.fields().iter().map(|f| f.name().clone()).collect(),
            })?;
            Value::Array(Arc::clone(batch.column(i)))
        }
        Expr::Literal(v) => Value::Scalar(Arc::clone(v.as_array())),
        Expr::Alias { expr, .. } => eval(expr, batch)?,
        Expr::Cast { expr: inner, to } => eval(inner, batch)?.cast(to, expr)?,
        Expr::Binary { left, op, right } => {
            let lt = left.data_type(schema)?;
            let rt = right.data_type(schema)?;
            let types =
                binary_types(left, &lt, *op, right, &rt).map_err(|m| Error::type_error(expr, m))?;
            let l = eval(left, batch)?.cast(&types.left, expr)?;
            let r = eval(right, batch)?.cast(&types.right, expr)?;
            if matches!(op, BinaryOp::And | BinaryOp::Or) {
                let n = batch.num_rows();
                let (la, ra) = (l.into_array(n)?, r.into_array(n)?);
                let (la, ra) = (as_bool(&la, expr)?, as_bool(&ra, expr)?);
                let out = if *op == BinaryOp::And {
                    boolean::and_kleene(&la, &ra)
                } else {
                    boolean::or_kleene(&la, &ra)
                };
                return Ok(Value::Array(Arc::new(out.map_err(ctx)?)));
            }
            let both_scalar = matches!((&l, &r), (Value::Scalar(_), Value::Scalar(_)));
            let (ld, rd) = (l.datum(), r.datum());
            let (ld, rd) = (ld.as_ref(), rd.as_ref());
            let out: ArrayRef = match op {
                BinaryOp::Add => within_precision(numeric::add(ld, rd).map_err(ctx)?, expr)?,
                BinaryOp::Sub => within_precision(numeric::sub(ld, rd).map_err(ctx)?, expr)?,
                BinaryOp::Mul => within_precision(numeric::mul(ld, rd).map_err(ctx)?, expr)?,
                BinaryOp::Div => numeric::div(ld, rd).map_err(ctx)?,
                BinaryOp::Rem => numeric::rem(ld, rd).map_err(ctx)?,
                BinaryOp::Eq => Arc::new(cmp::eq(ld, rd).map_err(ctx)?),
                BinaryOp::NotEq => Arc::new(cmp::neq(ld, rd).map_err(ctx)?),
                BinaryOp::Lt => Arc::new(cmp::lt(ld, rd).map_err(ctx)?),
                BinaryOp::LtEq => Arc::new(cmp::lt_eq(ld, rd).map_err(ctx)?),
                BinaryOp::Gt => Arc::new(cmp::gt(ld, rd).map_err(ctx)?),
                BinaryOp::GtEq => Arc::new(cmp::gt_eq(ld, rd).map_err(ctx)?),
                BinaryOp::And | BinaryOp::Or => {
                    return Err(Error::Internal("logic operators are handled above".into()));
                }
            };
            if both_scalar {
                Value::Scalar(out)
            } else {
                Value::Array(out)
            }
        }
        Expr::Not(inner) => {
            let a = eval(inner, batch)?.into_array(batch.num_rows())?;
            Value::Array(Arc::new(boolean::not(&as_bool(&a, expr)?).map_err(ctx)?))
        }
        Expr::Negative(inner) => {
            let v = eval(inner, batch)?.into_array(batch.num_rows())?;
            Value::Array(numeric::neg(&v).map_err(ctx)?)
        }
        Expr::IsNull(inner) => {
            let a = eval(inner, batch)?.into_array(batch.num_rows())?;
            Value::Array(Arc::new(is_null(&a).map_err(ctx)?))
        }
        Expr::IsNotNull(inner) => {
            let a = eval(inner, batch)?.into_array(batch.num_rows())?;
            Value::Array(Arc::new(is_not_null(&a).map_err(ctx)?))
        }
        Expr::Apply { expr: inner, func } => {
            let a = eval(inner, batch)?
                .cast(func.input_type(), expr)?
                .into_array(batch.num_rows())?;
            Value::Array(func.call(a.as_ref())?)
        }
        Expr::Function { func, args } => eval_function(expr, *func, args, batch)?,
    })
}

/// A built-in function: its arguments, then its family's kernels.
fn eval_function(expr: &Expr, func: Function, args: &[Expr], batch: &RecordBatch) -> Result<Value> {
    let values = || {
        args.iter()
            .map(|a| eval(a, batch))
            .collect::<Result<Vec<_>>>()
    };
    let rows = batch.num_rows();
    match func {
        Function::Math(f) => math::evaluate(f, expr, args, values()?, rows),
        Function::String(f) => strings::evaluate(f, expr, args, values()?, rows),
        // CASE and COALESCE evaluate an argument only on the rows that need it.
        Function::Conditional(f) => conditional::evaluate(f, expr, args, batch),
        Function::Temporal(f) => temporal::evaluate(f, expr, args, values()?, rows),
    }
}

/// What a family's kernels start from: the arguments' types, the result's (checked again
/// as when the plan was built), and whether every argument is a scalar (then so is the
/// result).
fn signature(
    func: Function,
    expr: &Expr,
    args: &[Expr],
    values: &[Value],
) -> Result<(Vec<DataType>, DataType, bool)> {
    let types: Vec<DataType> = values.iter().map(|v| v.data_type().clone()).collect();
    let out = func
        .return_type(args, &types)
        .map_err(|m| Error::type_error(expr, m))?;
    let scalar = values.iter().all(|v| matches!(v, Value::Scalar(_)));
    Ok((types, out, scalar))
}

/// `a`, or an error if it is a decimal of 38 digits holding a value with more. Arrow's
/// decimal kernels check that a result fits an `i128`, not its precision: a sum whose
/// precision the planner capped at 38 can pass it (an integer, or a decimal of fewer
/// digits, always holds its planned type's values).
fn within_precision(a: ArrayRef, expr: &Expr) -> Result<ArrayRef> {
    if let DataType::Decimal128(p, _) = a.data_type()
        && *p == DECIMAL128_MAX_PRECISION
        && let Some(d) = a.as_primitive_opt::<Decimal128Type>()
    {
        d.validate_decimal_precision(*p)
            .map_err(|e| Error::compute(expr.to_string(), e))?;
    }
    Ok(a)
}

fn as_bool(a: &ArrayRef, expr: &Expr) -> Result<BooleanArray> {
    if a.data_type() == &DataType::Null {
        return Ok(BooleanArray::new_null(a.len()));
    }
    a.as_any()
        .downcast_ref::<BooleanArray>()
        .cloned()
        .ok_or_else(|| Error::type_error(expr, format!("needs Booleans, got {}", a.data_type())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Decimal128Array, Float64Array, Int32Array, StringViewArray};
    use arrow::datatypes::{Decimal128Type, Field, Float64Type};
    use spillway_planner::expr::{col, lit, null};

    fn batch() -> RecordBatch {
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("a", DataType::Int32, true),
                Field::new("s", DataType::Utf8View, true),
            ])),
            vec![
                Arc::new(Int32Array::from(vec![Some(1), None, Some(4)])),
                Arc::new(StringViewArray::from(vec![Some("x"), Some("y"), None])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn arithmetic_comparison_and_logic() {
        let b = batch();
        let out = evaluate(&(col("a") / lit(2)), &b).unwrap();
        let out = out.as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            vec![Some(0.5), None, Some(2.0)]
        );
        let p = evaluate_predicate(&col("a").gt(lit(1)).or(col("s").eq(lit("y"))), &b).unwrap();
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            vec![Some(false), Some(true), Some(true)]
        );
        let n = evaluate(&lit(3i64), &b).unwrap();
        assert_eq!(n.len(), 3);
    }

    #[test]
    fn closures_and_errors() {
        let b = batch();
        let out = evaluate(&col("a").apply(|a: i64| a * 10), &b).unwrap();
        assert_eq!(out.data_type(), &DataType::Int64);
        assert_eq!(out.null_count(), 1);
        let e = evaluate(&(col("a") % lit(0)), &b).unwrap_err();
        assert!(e.to_string().contains("(a % 0)"), "{e}");
    }

    #[test]
    fn integer_overflow_is_an_error_naming_the_expression_never_a_wrapped_value() {
        let b = RecordBatch::try_from_iter([
            (
                "x",
                Arc::new(arrow::array::Int64Array::from(vec![i64::MAX, i64::MIN])) as ArrayRef,
            ),
            ("n", Arc::new(Int32Array::from(vec![i32::MAX, 0]))),
            (
                "u",
                Arc::new(arrow::array::UInt8Array::from(vec![0_u8, 255])),
            ),
        ])
        .unwrap();
        let cases = [
            col("x") + lit(1),
            col("x") - lit(1),
            col("x") * lit(2),
            col("x") * lit(-1),
            -col("x"),
            // An Int32 column and an integer literal stay Int32, and overflow there.
            col("n") + lit(1),
            col("n") * col("n"),
            col("u") - lit(1),
            col("u") + lit(1),
            // Literals alone, too.
            lit(i64::MAX) + lit(1_i64),
            -lit(i64::MIN),
        ];
        for e in cases {
            match evaluate(&e, &b) {
                Err(Error::Compute { context, source }) => {
                    assert_eq!(context, e.to_string());
                    assert!(source.to_string().contains("Overflow"), "{e}: {source}");
                }
                other => panic!("{e}: {other:?}"),
            }
        }
        // The remainder of i64::MIN by -1 exists (0); / is true division in Float64.
        let out = evaluate(&(col("x") % lit(-1)), &b).unwrap();
        assert_eq!(
            out.as_primitive::<arrow::datatypes::Int64Type>().values(),
            &[0, 0]
        );
        let out = evaluate(&(col("x") / lit(-1)), &b).unwrap();
        assert_eq!(
            out.as_primitive::<Float64Type>().value(1),
            9.223_372_036_854_776e18
        );
        let out = evaluate(&(col("n") / lit(0)), &b).unwrap();
        assert_eq!(out.as_primitive::<Float64Type>().value(0), f64::INFINITY);
    }

    #[test]
    fn a_decimal_sum_past_38_digits_is_an_error_not_a_value_its_type_cannot_hold() {
        let nines = 10_i128.pow(38) - 1;
        let d = Decimal128Array::from(vec![Some(nines), None, Some(-nines)])
            .with_precision_and_scale(38, 0)
            .unwrap();
        let b = RecordBatch::try_from_iter([("d", Arc::new(d) as ArrayRef)]).unwrap();
        for e in [col("d") + lit(1), col("d") - lit(-1), lit(-1) + col("d")] {
            let err = evaluate(&e, &b).unwrap_err();
            assert!(matches!(&err, Error::Compute { context, .. } if *context == e.to_string()));
            assert!(err.to_string().contains("precision 38"), "{err}");
        }
        // Within the 38 digits all is well.
        let out = evaluate(&(col("d") - lit(1)), &b.slice(0, 2)).unwrap();
        assert_eq!(out.as_primitive::<Decimal128Type>().value(0), nines - 1);
    }

    fn decimal_batch() -> RecordBatch {
        let d = |v: Vec<Option<i128>>, p, s| -> ArrayRef {
            Arc::new(
                Decimal128Array::from(v)
                    .with_precision_and_scale(p, s)
                    .unwrap(),
            )
        };
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("price", DataType::Decimal128(15, 2), true),
                Field::new("rate", DataType::Decimal128(12, 4), true),
                Field::new("n", DataType::Int64, true),
                Field::new("x", DataType::Float64, true),
                Field::new("day", DataType::Date32, true),
            ])),
            vec![
                d(vec![Some(12345), Some(-5), None, Some(7)], 15, 2),
                d(vec![Some(500), Some(700), Some(1), None], 12, 4),
                Arc::new(arrow::array::Int64Array::from(vec![
                    Some(3),
                    None,
                    Some(-2),
                    Some(0),
                ])),
                Arc::new(Float64Array::from(vec![
                    Some(0.5),
                    Some(1.0),
                    None,
                    Some(2.0),
                ])),
                Arc::new(arrow::array::Date32Array::from(vec![
                    Some(9000),
                    Some(9500),
                    None,
                    Some(10_000),
                ])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn decimal_results_have_the_planned_types() {
        let b = decimal_batch();
        let operands = [
            col("price"),
            col("rate"),
            col("n"),
            col("x"),
            lit(1),
            lit(0.05),
            lit(-3i64),
            null(&DataType::Null),
        ];
        let ops = [
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Rem,
            BinaryOp::Lt,
            BinaryOp::Eq,
        ];
        for l in &operands[..2] {
            for r in &operands {
                for op in ops {
                    for (a, c) in [(l, r), (r, l)] {
                        let e = Expr::Binary {
                            left: Box::new(a.clone()),
                            op,
                            right: Box::new(c.clone()),
                        };
                        let planned = e.data_type(b.schema_ref()).unwrap();
                        let got = evaluate(&e, &b);
                        // Only a division by zero (n is 0 in the last row) may fail.
                        let Ok(got) = got else {
                            assert!(matches!(op, BinaryOp::Rem), "{e}: {got:?}");
                            continue;
                        };
                        assert_eq!(got.data_type(), &planned, "{e}");
                    }
                }
            }
        }
    }

    #[test]
    fn decimals_compute_exactly() {
        let b = decimal_batch();
        let dec = |e: Expr| {
            let a = evaluate(&e, &b).unwrap();
            let t = a.data_type().clone();
            let v: Vec<Option<i128>> = a.as_primitive::<Decimal128Type>().iter().collect();
            (t, v)
        };
        // 1 - rate: 1.0000 - 0.0500 = 0.9500.
        assert_eq!(
            dec(lit(1) - col("rate")),
            (
                DataType::Decimal128(13, 4),
                vec![Some(9500), Some(9300), Some(9999), None]
            )
        );
        // price * (1 - rate): 123.45 * 0.95 = 117.277500.
        assert_eq!(
            dec(col("price") * (lit(1) - col("rate"))).1,
            vec![Some(117_277_500), Some(-46_500), None, None]
        );
        // A float literal compares as the decimal it reads as: 0.05 = 0.0500 exactly.
        let p = evaluate_predicate(&col("rate").between(lit(0.05), lit(0.07)), &b).unwrap();
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            vec![Some(true), Some(true), Some(false), None]
        );
        let p = evaluate_predicate(&col("price").lt(lit(123.451)), &b).unwrap();
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            vec![Some(true), Some(true), None, Some(true)]
        );
        // Division and float columns go through Float64.
        let q = evaluate(&(col("price") / lit(2)), &b).unwrap();
        assert_eq!(q.as_primitive::<Float64Type>().value(0), 61.725);
        // Dates compare with date literals and with date strings.
        let day = ScalarValue::date32(9500);
        let p = evaluate_predicate(&col("day").lt_eq(lit(day)), &b).unwrap();
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            vec![Some(true), Some(true), None, Some(false)]
        );
        let p = evaluate_predicate(&col("day").gt(lit("1996-01-04")), &b).unwrap();
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            vec![Some(false), Some(true), None, Some(true)]
        );
        let neg = evaluate(&-col("price"), &b).unwrap();
        assert_eq!(neg.as_primitive::<Decimal128Type>().value(0), -12345);
    }
}
