//! Kernels of the conditional family (`when/then/otherwise`, `coalesce`, `nullif`, `is_in`,
//! `is_nan`, `fill_nan`), over whole batches with Arrow's `zip`, `nullif` and Boolean
//! kernels, never row by row.
//!
//! The semantics and result types are stated once in the planner's
//! `spillway_planner::functions::conditional`; [`evaluate`] asks it for the result type.
//!
//! - `when` and `coalesce` are SQL's `CASE` and `COALESCE`: an argument is evaluated only
//!   on the rows that need it (a branch's value where its condition is the first true one,
//!   a `coalesce` argument where those before are null), then the pieces are put together
//!   with `zip`. An argument is first evaluated over the whole batch (one kernel call, the
//!   common case), and only if that fails (a division by zero, or a value its cast to the
//!   common type cannot hold, on a row the argument is not needed for) over just its rows,
//!   filtered out and scattered back. An argument that calls a closure always gets just
//!   its rows.
//! - `is_in` hashes the list once per batch: the values and the column are brought to their
//!   common type and encoded with Arrow's row format, so one hash set serves every type; a
//!   dictionary is looked up once per distinct value.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, RecordBatch, UInt32Array, new_null_array,
};
use arrow::compute::kernels::{boolean, cmp, zip::zip};
use arrow::compute::{cast, filter_record_batch, is_null, nullif, prep_null_mask_filter, take};
use arrow::datatypes::{DataType, Float16Type, Float32Type, Float64Type};
use arrow::error::ArrowError;
use arrow::row::{RowConverter, SortField};
use spillway_planner::expr::Expr;
use spillway_planner::functions::ConditionalFunction;
use spillway_planner::scalar::ScalarValue;
use spillway_planner::{Error, Result};

use super::{Value, eval};

/// `func(args)` over `batch`: `when` and `coalesce` evaluate their arguments themselves,
/// row set by row set; the others take all their arguments evaluated over the batch.
pub(super) fn evaluate(
    func: ConditionalFunction,
    expr: &Expr,
    args: &[Expr],
    batch: &RecordBatch,
) -> Result<Value> {
    let schema = batch.schema_ref();
    let types = args
        .iter()
        .map(|a| a.data_type(schema))
        .collect::<Result<Vec<_>>>()?;
    let out = func
        .return_type(args, &types)
        .map_err(|m| Error::type_error(expr, m))?;
    let ctx = |e: ArrowError| Error::compute(expr.to_string(), e);
    if let ConditionalFunction::When { .. } = func {
        return when(expr, args, batch, &out);
    }
    if let ConditionalFunction::Coalesce { .. } = func {
        return coalesce(expr, args, batch, &out);
    }
    let rows = batch.num_rows();
    let arg = |i: usize| match args.get(i) {
        Some(a) => eval(a, batch),
        None => Err(Error::Internal(format!("{expr} has too few arguments"))),
    };
    let array = match func {
        ConditionalFunction::IsNan => is_nan(&arg(0)?.into_array(rows)?).map_err(ctx)?,
        ConditionalFunction::FillNan => {
            let x = arg(0)?.cast(&out, expr)?.into_array(rows)?;
            let v = arg(1)?.cast(&out, expr)?;
            let mask = as_boolean(&is_nan(&x).map_err(ctx)?)?;
            zip(&mask, v.datum().as_ref(), &x).map_err(ctx)?
        }
        ConditionalFunction::NullIf => {
            // Compared in the common type, given back in x's own.
            let common = func
                .operand_type(args, &types)
                .map_err(|m| Error::type_error(expr, m))?;
            let x = arg(0)?.into_array(rows)?;
            let left = Value::Array(Arc::clone(&x)).cast(&common, expr)?;
            let right = arg(1)?.cast(&common, expr)?;
            let equal = cmp::eq(left.datum().as_ref(), right.datum().as_ref()).map_err(ctx)?;
            nullif(&x, &equal).map_err(ctx)?
        }
        ConditionalFunction::IsIn { .. } => {
            let common = func
                .operand_type(args, &types)
                .map_err(|m| Error::type_error(expr, m))?;
            let list = literals(args.get(1..).unwrap_or_default(), &common)?;
            is_in(&arg(0)?.into_array(rows)?, &list, &common).map_err(ctx)?
        }
        ConditionalFunction::When { .. } | ConditionalFunction::Coalesce { .. } => {
            return Err(Error::Internal(format!("{expr} is evaluated above")));
        }
    };
    Ok(Value::Array(array))
}

/// Which rows of a batch an argument is evaluated on.
struct Rows {
    mask: BooleanArray,
    count: usize,
}

impl Rows {
    fn all(n: usize) -> Rows {
        Rows {
            mask: BooleanArray::from(vec![true; n]),
            count: n,
        }
    }

    /// The rows where `mask` is true (a null counts as false).
    fn new(mask: &BooleanArray) -> Rows {
        let mask = if mask.null_count() > 0 {
            prep_null_mask_filter(mask)
        } else {
            mask.clone()
        };
        let count = mask.true_count();
        Rows { mask, count }
    }
}

/// SQL's `CASE`: each condition on the rows no branch before took, each value on the rows
/// of its branch, the `otherwise` value on the rest; then one `zip` per branch.
fn when(expr: &Expr, args: &[Expr], batch: &RecordBatch, out: &DataType) -> Result<Value> {
    let ctx = |e: ArrowError| Error::compute(expr.to_string(), e);
    let n = batch.num_rows();
    let (otherwise, branches) = args
        .split_last()
        .ok_or_else(|| Error::Internal(format!("{expr} has no arguments")))?;
    let mut left = Rows::all(n);
    let mut taken = Vec::with_capacity(branches.len() / 2);
    for pair in branches.chunks(2) {
        let [value, condition] = pair else {
            return Err(Error::Internal(format!("{expr}: a branch without a value")));
        };
        if left.count == 0 {
            break;
        }
        let holds = eval_on(condition, batch, &left, &DataType::Boolean, expr)?.into_array(n)?;
        let holds = Rows::new(&boolean::and(&left.mask, &as_boolean(&holds)?).map_err(ctx)?);
        let v = eval_on(value, batch, &holds, out, expr)?;
        left = Rows::new(&boolean::and_not(&left.mask, &holds.mask).map_err(ctx)?);
        taken.push((holds, v));
    }
    let mut result = eval_on(otherwise, batch, &left, out, expr)?;
    for (rows, v) in taken.into_iter().rev() {
        if rows.count > 0 {
            let picked =
                zip(&rows.mask, v.datum().as_ref(), result.datum().as_ref()).map_err(ctx)?;
            result = Value::Array(picked);
        }
    }
    Ok(Value::Array(result.into_array(n)?))
}

/// SQL's `COALESCE`: each argument on the rows where all those before it are null.
fn coalesce(expr: &Expr, args: &[Expr], batch: &RecordBatch, out: &DataType) -> Result<Value> {
    let ctx = |e: ArrowError| Error::compute(expr.to_string(), e);
    let n = batch.num_rows();
    let (first, rest) = args
        .split_first()
        .ok_or_else(|| Error::Internal(format!("{expr} has no arguments")))?;
    let mut result = eval_on(first, batch, &Rows::all(n), out, expr)?;
    for arg in rest {
        let null = match &result {
            Value::Scalar(a) if a.logical_null_count() == 0 => break,
            Value::Scalar(_) => Rows::all(n),
            Value::Array(a) => Rows::new(&is_null(a).map_err(ctx)?),
        };
        if null.count == 0 {
            break;
        }
        let v = eval_on(arg, batch, &null, out, expr)?;
        let filled = zip(&null.mask, v.datum().as_ref(), result.datum().as_ref()).map_err(ctx)?;
        result = Value::Array(filled);
    }
    Ok(result)
}

/// `arg` cast to `out` on the rows `rows` of `batch`: any value (or a null scalar) on the
/// other rows, which the caller does not look at.
fn eval_on(
    arg: &Expr,
    batch: &RecordBatch,
    rows: &Rows,
    out: &DataType,
    expr: &Expr,
) -> Result<Value> {
    if rows.count == 0 {
        return Ok(Value::Scalar(new_null_array(out, 1)));
    }
    let whole = || eval(arg, batch)?.cast(out, expr);
    if rows.count == batch.num_rows() {
        return whole();
    }
    if !arg.has_user_code()
        && let Ok(v) = whole()
    {
        return Ok(v);
    }
    // Only the rows: an error there is the argument's own.
    let ctx = |e: ArrowError| Error::compute(expr.to_string(), e);
    let schema = batch.schema_ref();
    let columns = arg
        .columns()
        .iter()
        .map(|c| schema.index_of(c))
        .collect::<std::result::Result<Vec<_>, _>>();
    let some = match columns {
        Ok(columns) => batch.project(&columns).map_err(ctx)?,
        // An unknown column: let the evaluation say which.
        Err(_) => batch.clone(),
    };
    let some = filter_record_batch(&some, &rows.mask).map_err(ctx)?;
    let values = eval(arg, &some)?.cast(out, expr)?.into_array(rows.count)?;
    // Row i of the batch is row k of `values` when it is the k-th row taken.
    let mut k = 0_u32;
    let indices: UInt32Array = rows
        .mask
        .values()
        .iter()
        .map(|taken| {
            taken.then(|| {
                k += 1;
                k - 1
            })
        })
        .collect();
    Ok(Value::Array(take(&values, &indices, None).map_err(ctx)?))
}

fn as_boolean(a: &ArrayRef) -> Result<BooleanArray> {
    match a.data_type() {
        DataType::Null => Ok(BooleanArray::new_null(a.len())),
        _ => a.as_boolean_opt().cloned().ok_or_else(|| {
            Error::Internal(format!("a condition gave {}, not Boolean", a.data_type()))
        }),
    }
}

/// Whether each float is NaN; nulls stay null.
fn is_nan(x: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let nan: BooleanArray = match x.data_type() {
        DataType::Null => BooleanArray::new_null(x.len()),
        DataType::Float16 => {
            BooleanArray::from_unary(x.as_primitive::<Float16Type>(), |v| v.is_nan())
        }
        DataType::Float32 => BooleanArray::from_unary(x.as_primitive::<Float32Type>(), f32::is_nan),
        DataType::Float64 => BooleanArray::from_unary(x.as_primitive::<Float64Type>(), f64::is_nan),
        t => {
            return Err(ArrowError::InvalidArgumentError(format!(
                "is_nan does not take {t}"
            )));
        }
    };
    Ok(Arc::new(nan))
}

/// The literal arguments `args` as one array of type `to`, each cast as the planner casts
/// literals (a float into a decimal exactly).
fn literals(args: &[Expr], to: &DataType) -> Result<ArrayRef> {
    let values = args
        .iter()
        .map(|a| match a {
            Expr::Literal(v) => v.cast_to(to),
            other => Err(Error::Internal(format!(
                "is_in value {other} is no literal"
            ))),
        })
        .collect::<Result<Vec<ScalarValue>>>()?;
    if values.is_empty() {
        return Ok(new_null_array(to, 0));
    }
    let arrays: Vec<&dyn Array> = values.iter().map(|v| v.as_array().as_ref()).collect();
    arrow::compute::concat(&arrays).map_err(|e| Error::compute("an is_in list", e))
}

/// SQL's `x IN list`, `list` already of type `common`: true if found; null if `x` is null,
/// or if not found and the list holds a null; false otherwise.
fn is_in(x: &ArrayRef, list: &ArrayRef, common: &DataType) -> Result<ArrayRef, ArrowError> {
    if let Some(dict) = x.as_any_dictionary_opt() {
        // Once per distinct value, then spread by the keys (a null key gives a null).
        let found = is_in(dict.values(), list, common)?;
        return take(&found, dict.keys(), None);
    }
    if x.data_type() == &DataType::Null || common == &DataType::Null {
        return Ok(new_null_array(&DataType::Boolean, x.len()));
    }
    let x = cast(x, common)?;
    let rows = RowConverter::new(vec![SortField::new(common.clone())])?;
    let listed = rows.convert_columns(&[Arc::clone(list)])?;
    let set: HashSet<&[u8]> = (0..list.len())
        .filter(|&i| list.is_valid(i))
        .map(|i| listed.row(i).data())
        .collect();
    let list_has_null = list.null_count() > 0;
    let keys = rows.convert_columns(&[Arc::clone(&x)])?;
    let found: BooleanArray = (0..x.len())
        .map(|i| {
            if x.is_null(i) {
                None
            } else if set.contains(keys.row(i).data()) {
                Some(true)
            } else if list_has_null {
                None
            } else {
                Some(false)
            }
        })
        .collect();
    Ok(Arc::new(found))
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        DictionaryArray, Float32Array, Float64Array, Int64Array, LargeStringArray, StringArray,
        StringViewArray,
    };
    use arrow::datatypes::{Field, Int32Type, Int64Type, Schema};
    use spillway_planner::expr::{col, lit, null};
    use spillway_planner::functions::{coalesce, when};
    use spillway_planner::scalar::date;

    use super::*;
    use crate::eval::evaluate as eval_expr;

    /// `x` Int64 with a null and a zero, `y` Int64, `f` Float64 with NaN, `s` strings.
    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "x",
                Arc::new(Int64Array::from(vec![Some(3), None, Some(0), Some(-2)])) as ArrayRef,
            ),
            ("y", Arc::new(Int64Array::from(vec![10, 20, 30, 40]))),
            (
                "f",
                Arc::new(Float64Array::from(vec![
                    Some(1.5),
                    Some(f64::NAN),
                    None,
                    Some(-0.0),
                ])),
            ),
            (
                "s",
                Arc::new(StringViewArray::from(vec![
                    Some("MAIL"),
                    Some("SHIP"),
                    None,
                    Some("AIR"),
                ])),
            ),
        ])
        .unwrap()
    }

    fn run(e: &Expr, b: &RecordBatch) -> ArrayRef {
        let out = eval_expr(e, b).unwrap_or_else(|err| panic!("{e}: {err}"));
        assert_eq!(
            out.data_type(),
            &e.data_type(b.schema_ref()).unwrap(),
            "{e}"
        );
        assert_eq!(out.len(), b.num_rows(), "{e}");
        out
    }

    fn i64s(a: &ArrayRef) -> Vec<Option<i64>> {
        a.as_primitive::<Int64Type>().iter().collect()
    }

    fn bools(a: &ArrayRef) -> Vec<Option<bool>> {
        a.as_boolean().iter().collect()
    }

    fn strings(a: &ArrayRef) -> Vec<Option<String>> {
        let a = cast(a, &DataType::Utf8).unwrap();
        a.as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_owned))
            .collect()
    }

    #[test]
    fn when_takes_the_first_true_branch_and_null_conditions_are_false() {
        let b = batch();
        let e = when(col("x").gt(0))
            .then(col("y"))
            .when(col("x").lt(1))
            .then(lit(-1))
            .otherwise(lit(99));
        // x is null in row 1: both conditions are null, so the otherwise value.
        assert_eq!(i64s(&run(&e, &b)), [Some(10), Some(99), Some(-1), Some(-1)]);
        let e = Expr::from(when(col("x").gt(0)).then(col("y")));
        assert_eq!(i64s(&run(&e, &b)), [Some(10), None, None, None]);
        // Literal conditions and values stay literals until the zip.
        let e = when(lit(false))
            .then(1)
            .when(lit(true))
            .then(2)
            .otherwise(3);
        let out = run(&e, &b);
        assert_eq!(out.as_primitive::<Int32Type>().values(), &[2, 2, 2, 2]);
        let e = Expr::from(when(null(&DataType::Boolean)).then(lit("a")));
        assert_eq!(run(&e, &b).null_count(), 4);
        // A common type: Int64 and a float literal give Float64; strings of two kinds.
        let e = when(col("x").gt(0)).then(col("x")).otherwise(0.5);
        let out = run(&e, &b);
        let got: Vec<_> = out.as_primitive::<Float64Type>().iter().collect();
        assert_eq!(got, [Some(3.0), Some(0.5), Some(0.5), Some(0.5)]);
        let e = when(col("s").eq(lit("SHIP")))
            .then(lit("boat"))
            .otherwise(col("s"));
        assert_eq!(
            strings(&run(&e, &b)),
            [
                Some("MAIL".into()),
                Some("boat".into()),
                None,
                Some("AIR".into())
            ]
        );
        let empty = b.slice(0, 0);
        assert_eq!(run(&e, &empty).len(), 0);
    }

    #[test]
    fn a_branch_is_evaluated_only_on_its_own_rows() {
        let b = batch();
        // y % x fails where x is 0, a row the branch does not take.
        let e = when(col("x").eq(0)).then(0).otherwise(col("y") % col("x"));
        assert_eq!(i64s(&run(&e, &b)), [Some(1), None, Some(0), Some(0)]);
        // Nor does a later condition see the rows an earlier one took.
        let e = when(col("x").eq(0))
            .then(lit(0))
            .when((col("y") % col("x")).eq(0))
            .then(lit(1))
            .otherwise(lit(2));
        let out = run(&e, &b);
        let got: Vec<_> = out.as_primitive::<Int32Type>().iter().collect();
        assert_eq!(got, [Some(2), Some(2), Some(0), Some(1)]);
        // A closure sees only its branch's rows.
        let e = when(col("x").gt(0))
            .then(col("x").apply(|x: i64| {
                assert!(x > 0, "saw {x}");
                x * 2
            }))
            .otherwise(0);
        assert_eq!(i64s(&run(&e, &b)), [Some(6), Some(0), Some(0), Some(0)]);
        // An error on a row the branch takes is the branch's error, naming the expression.
        let e = when(col("x").lt_eq(0))
            .then(col("y") % col("x"))
            .otherwise(0);
        let err = eval_expr(&e, &b).unwrap_err().to_string();
        assert!(err.contains("(y % x)"), "{err}");
        // A closure of no column gets its branch's rows too.
        let e = when(col("x").gt(0))
            .then(lit(2_i64).apply(|v: i64| v * 3))
            .otherwise(0);
        assert_eq!(i64s(&run(&e, &b)), [Some(6), Some(0), Some(0), Some(0)]);
        // A literal-only branch and an unknown column.
        let e = when(col("x").gt(0)).then(lit(2) * lit(3)).otherwise(0);
        let out = run(&e, &b);
        assert_eq!(out.as_primitive::<Int32Type>().values(), &[6, 0, 0, 0]);
        let e = when(col("x").gt(0))
            .then(col("nope") % col("x"))
            .otherwise(0);
        assert!(matches!(
            eval_expr(&e, &b),
            Err(Error::ColumnNotFound { .. })
        ));
    }

    #[test]
    fn coalesce_gives_the_first_non_null_and_evaluates_lazily() {
        let b = batch();
        let e = coalesce([col("x"), lit(7)]);
        assert_eq!(i64s(&run(&e, &b)), [Some(3), Some(7), Some(0), Some(-2)]);
        assert_eq!(
            i64s(&run(&col("x").fill_null(col("y")), &b)),
            [Some(3), Some(20), Some(0), Some(-2)]
        );
        // y % (y - 10) would fail at row 0, where x is not null.
        let e = coalesce([col("x"), col("y") % (col("y") - lit(10))]);
        assert_eq!(i64s(&run(&e, &b)), [Some(3), Some(0), Some(0), Some(-2)]);
        // Where it is needed, its error is coalesce's.
        let e = coalesce([col("x"), col("y") % (col("y") - lit(20))]);
        let err = eval_expr(&e, &b).unwrap_err().to_string();
        assert!(err.contains("(y % (y - 20))"), "{err}");
        let e = coalesce([
            null(&DataType::Null),
            col("x"),
            null(&DataType::Int64),
            lit(1),
        ]);
        assert_eq!(i64s(&run(&e, &b)), [Some(3), Some(1), Some(0), Some(-2)]);
        // u is cast to Int64 only where x is null: u64::MAX in row 0 is no error.
        let b2 = RecordBatch::try_from_iter([
            (
                "x",
                Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef,
            ),
            (
                "u",
                Arc::new(arrow::array::UInt64Array::from(vec![u64::MAX, 2])),
            ),
        ])
        .unwrap();
        assert_eq!(
            i64s(&run(&coalesce([col("x"), col("u")]), &b2)),
            [Some(1), Some(2)]
        );
        let e = when(col("x").is_null()).then(col("u")).otherwise(col("x"));
        assert_eq!(i64s(&run(&e, &b2)), [Some(1), Some(2)]);
        let e = coalesce([lit(5), col("x")]);
        assert_eq!(i64s(&run(&e, &b)), [Some(5); 4]);
        let e = coalesce([col("f"), col("x")]);
        let out = run(&e, &b);
        let got: Vec<_> = out.as_primitive::<Float64Type>().iter().collect();
        assert!(got[1].unwrap().is_nan());
        assert_eq!(got[2], Some(0.0));
    }

    #[test]
    fn nullif_compares_as_eq_does() {
        let b = batch();
        assert_eq!(
            i64s(&run(&col("x").nullif(0), &b)),
            [Some(3), None, None, Some(-2)]
        );
        assert_eq!(
            i64s(&run(&col("y").nullif(col("x")), &b)),
            [Some(10), Some(20), Some(30), Some(40)]
        );
        assert_eq!(
            i64s(&run(&col("y").nullif(null(&DataType::Null)), &b)),
            [Some(10), Some(20), Some(30), Some(40)]
        );
        // NaN equals NaN, as for eq; -0.0 is not 0.0.
        let out = run(&col("f").nullif(f64::NAN), &b);
        assert_eq!(out.null_count(), 2);
        let out = run(&col("f").nullif(0.0), &b);
        assert_eq!(out.null_count(), 1);
        // Compared in Float64, given back as Int64.
        assert_eq!(
            i64s(&run(&col("x").nullif(3.0), &b)),
            [None, None, Some(0), Some(-2)]
        );
        let out = run(&col("s").nullif("AIR"), &b);
        assert_eq!(
            strings(&out),
            [Some("MAIL".into()), Some("SHIP".into()), None, None]
        );
    }

    #[test]
    fn is_in_follows_sqls_null_rules() {
        let b = batch();
        let x = |e: Expr| bools(&run(&e, &b));
        assert_eq!(
            x(col("x").is_in([3, 0])),
            [Some(true), None, Some(true), Some(false)]
        );
        assert_eq!(
            x(col("x").is_in([Some(3), None])),
            [Some(true), None, None, None]
        );
        assert_eq!(
            x(!col("x").is_in([3])),
            [Some(false), None, Some(true), Some(true)]
        );
        assert_eq!(
            x(!col("x").is_in([Some(3), None])),
            [Some(false), None, None, None]
        );
        assert_eq!(
            x(col("x").is_in(Vec::<i64>::new())),
            [Some(false), None, Some(false), Some(false)]
        );
        assert_eq!(
            x(col("x").is_in([2.5, 3.0])),
            [Some(true), None, Some(false), Some(false)]
        );
        assert_eq!(
            x(col("f").is_in([f64::NAN, 0.0])),
            [Some(false), Some(true), None, Some(false)]
        );
        assert_eq!(
            x(col("s").is_in(["SHIP", "AIR"])),
            [Some(false), Some(true), None, Some(true)]
        );
        assert_eq!(x(lit(3).is_in([1, 3])), [Some(true); 4]);
        assert_eq!(x(null(&DataType::Int64).is_in([1])), [None; 4]);
        let b = RecordBatch::try_from_iter([
            (
                "b",
                Arc::new(arrow::array::BooleanArray::from(vec![
                    Some(true),
                    None,
                    Some(false),
                ])) as ArrayRef,
            ),
            (
                "d",
                Arc::new(arrow::array::Date32Array::from(vec![
                    Some(10_471),
                    Some(0),
                    None,
                ])),
            ),
            ("g", Arc::new(Float32Array::from(vec![0.1_f32, 0.5, 2.0]))),
        ])
        .unwrap();
        let x = |e: Expr| bools(&run(&e, &b));
        assert_eq!(x(col("b").is_in([true])), [Some(true), None, Some(false)]);
        let day = date(1998, 9, 2).unwrap();
        assert_eq!(x(col("d").is_in([day])), [Some(true), Some(false), None]);
        assert_eq!(
            x(col("d").is_in(["1970-01-01"])),
            [Some(false), Some(true), None]
        );
        // 0.1 is no Float32 value: the Float32 column is compared in Float64.
        assert_eq!(
            x(col("g").is_in([0.1, 0.5])),
            [Some(false), Some(true), Some(false)]
        );
    }

    #[test]
    fn is_in_works_on_every_string_type_and_dictionaries() {
        let words = vec![Some("a"), None, Some("日本"), Some("b"), Some("a")];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(words.clone())),
            Arc::new(LargeStringArray::from(words.clone())),
            Arc::new(StringViewArray::from(words.clone())),
            Arc::new(
                words
                    .iter()
                    .copied()
                    .collect::<DictionaryArray<Int32Type>>(),
            ),
            Arc::new(
                words
                    .iter()
                    .copied()
                    .collect::<DictionaryArray<arrow::datatypes::Int8Type>>(),
            ),
        ];
        for s in arrays {
            let t = s.data_type().clone();
            let b = RecordBatch::try_new(
                Arc::new(Schema::new(vec![Field::new("s", t.clone(), true)])),
                vec![s],
            )
            .unwrap();
            let out = bools(&run(&col("s").is_in(["a", "日本"]), &b));
            assert_eq!(
                out,
                [Some(true), None, Some(true), Some(false), Some(true)],
                "{t}"
            );
            let out = bools(&run(&col("s").is_in([Some("a"), None]), &b));
            assert_eq!(out, [Some(true), None, None, None, Some(true)], "{t}");
            let out = strings(&run(&col("s").fill_null("?"), &b));
            assert_eq!(out[1].as_deref(), Some("?"), "{t}");
            let is_b = col("s").is_in(["b"]);
            let out = strings(&run(&when(is_b).then(lit("B")).otherwise(col("s")), &b));
            assert_eq!(out[3].as_deref(), Some("B"), "{t}");
            let out = run(&col("s").nullif("a"), &b);
            assert_eq!(out.data_type(), &t);
            assert_eq!(out.null_count(), 3, "{t}");
        }
    }

    #[test]
    fn is_nan_and_fill_nan() {
        let b = batch();
        assert_eq!(
            bools(&run(&col("f").is_nan(), &b)),
            [Some(false), Some(true), None, Some(false)]
        );
        let out = run(&col("f").fill_nan(0), &b);
        let got: Vec<_> = out.as_primitive::<Float64Type>().iter().collect();
        assert_eq!(got, [Some(1.5), Some(0.0), None, Some(-0.0)]);
        let out = run(&col("f").fill_nan(null(&DataType::Null)), &b);
        assert_eq!(out.null_count(), 2);
        let out = run(&col("f").fill_nan(col("y")), &b);
        assert_eq!(out.as_primitive::<Float64Type>().value(1), 20.0);
        let h: ArrayRef = cast(
            &(Arc::new(Float32Array::from(vec![f32::NAN, 1.0])) as ArrayRef),
            &DataType::Float16,
        )
        .unwrap();
        let b = RecordBatch::try_from_iter([("h", h)]).unwrap();
        assert_eq!(
            bools(&run(&col("h").is_nan(), &b)),
            [Some(true), Some(false)]
        );
        let out = run(&col("h").fill_nan(2), &b);
        assert_eq!(out.data_type(), &DataType::Float16);
        assert_eq!(run(&lit(f64::NAN).is_nan(), &b).len(), 2);
    }
}
