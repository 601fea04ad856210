//! Type coercion: the types the operands of `left op right` are cast to, and the result's.
//!
//! [`binary_types`] is the one statement of these rules: the type checker
//! ([`Expr::to_field`](crate::expr::Expr::to_field)), the engine's evaluator and the Parquet
//! row-group pruning all call it, so they cannot disagree.
//!
//! - **Same types** combine as they are; a null takes the other side's type.
//! - **Literals adapt** to the other operand when they convert to it without loss
//!   (`col("i32") + lit(1)` stays `Int32`, as in Polars; `col("date") < lit("1995-03-15")`
//!   compares dates; a nanosecond timestamp literal at a whole millisecond compares with a
//!   millisecond column in milliseconds, so the column is never widened into a unit its
//!   values may overflow).
//! - **Dates and timestamps** of different types compare: a `Date32`
//!   with a `Date64` as `Date64`, a date with a timestamp without a time zone as that
//!   timestamp (the date at midnight), two timestamps in the finer unit (they are instants,
//!   whatever time zone each is written in). A timestamp with a time zone and a date or a
//!   timestamp without one name no common instant: that is an error, as in Polars.
//! - **Numbers** widen to the narrowest type holding both ([`common_numeric`]).
//! - **Decimals** (`Decimal128`, and the other widths, read as `Decimal128`) follow SQL's
//!   exact rules, the same as DuckDB's and Arrow's kernels:
//!   - an integer becomes a decimal of scale 0 wide enough for its type (`Int32` →
//!     `Decimal128(10, 0)`; an integer literal only as wide as its digits), and a float
//!     *literal* the decimal its shortest text is (`0.05` → `Decimal128(2, 2)`), so
//!     `col("discount").gt_eq(lit(0.05))` compares exactly, never through a binary float;
//!   - comparisons, `+`, `-` and `%` cast both sides to one decimal with the larger scale
//!     and the larger number of integer digits; `+` and `-` give one more digit of
//!     precision, `%` none;
//!   - `*` keeps both sides as they are and gives precision `p1 + p2 + 1` and scale
//!     `s1 + s2` (Arrow's rule; an error at plan time if the scale passes 38);
//!   - `/` is true division in `Float64`, as for integers (DuckDB does the same);
//!   - precision is capped at 38: a value that then does not fit is an error when the plan
//!     runs, never a wrong answer. When the common type of a comparison or sum would need
//!     more than 38 digits, or the other side is a float column, both sides are compared
//!     as `Float64` instead.
//!
//! Functions that give one of several values (`when/then/otherwise`, `coalesce`, `is_in`,
//! `clip`, `fill_nan`) bring their values to one type with [`common_type`]: the type `=`
//! would compare them in, folded over the values, so they follow the same rules.

use arrow::datatypes::{DECIMAL128_MAX_PRECISION, DECIMAL128_MAX_SCALE, DataType};

use crate::expr::{BinaryOp, Expr};

/// How `left op right` is evaluated: the types its operands are cast to, and its result's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coercion {
    /// The type the left operand is cast to.
    pub left: DataType,
    /// The type the right operand is cast to.
    pub right: DataType,
    /// The result's type.
    pub output: DataType,
}

pub(crate) fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Whether `t` is a date or a timestamp (of any unit, with or without a time zone).
pub(crate) fn is_temporal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)
    )
}

fn is_decimal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Decimal32(_, _)
            | DataType::Decimal64(_, _)
            | DataType::Decimal128(_, _)
            | DataType::Decimal256(_, _)
    )
}

fn int_width(t: &DataType) -> u32 {
    t.primitive_width().unwrap_or(8) as u32 * 8
}

/// Whether every value of `from` is a value of `to` (so a closure taking `to` may be fed a
/// `from` column): the same type, a wider number of the same kind, an integer into a wide
/// enough float, or one string type into another.
pub fn converts_losslessly(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    if from == to || matches!(from, Null) || (is_string(from) && is_string(to)) {
        return true;
    }
    if from.is_signed_integer() && to.is_signed_integer()
        || from.is_unsigned_integer() && to.is_unsigned_integer()
    {
        return int_width(from) <= int_width(to);
    }
    if from.is_unsigned_integer() && to.is_signed_integer() {
        return int_width(from) < int_width(to);
    }
    if from.is_integer() && to.is_floating() {
        let mantissa = if matches!(to, Float64) { 53 } else { 24 };
        return int_width(from) < mantissa;
    }
    matches!(
        (from, to),
        (Float16, Float32 | Float64) | (Float32, Float64)
    )
}

/// The common type of two numbers: the narrowest type both convert to without loss, or
/// Int64 / Float64 when there is none (a value that does not fit is then an error).
/// Decimals are combined by [`binary_types`], which knows the operator.
pub fn common_numeric(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType::*;
    if !(a.is_numeric() && b.is_numeric()) {
        return None;
    }
    if a == b {
        return Some(a.clone());
    }
    if converts_losslessly(a, b) {
        return Some(b.clone());
    }
    if converts_losslessly(b, a) {
        return Some(a.clone());
    }
    if a.is_floating() || b.is_floating() {
        return Some(Float64);
    }
    if a.is_integer() && b.is_integer() {
        // Mixed signedness: the next signed type wide enough for both, at most Int64.
        let w = int_width(a).max(int_width(b));
        return Some(match w {
            8 => Int16,
            16 => Int32,
            _ => Int64,
        });
    }
    None
}

/// A literal takes the other operand's type when it converts to it without loss
/// (`col("i32") + lit(1)` stays Int32, as in Polars; a date or timestamp literal the type
/// of a date or timestamp column, both with a time zone or both without), and a string
/// literal the type of a date or timestamp column it parses as; otherwise the normal rules
/// apply.
fn literal_adapts(lit: &Expr, lit_type: &DataType, other: &DataType) -> bool {
    let Expr::Literal(v) = lit else {
        return false;
    };
    if v.is_null() {
        return true;
    }
    if is_string(lit_type) && is_temporal(other) {
        return v.cast_to(other).is_ok();
    }
    if is_temporal(lit_type) && is_temporal(other) {
        // Never across time-zone-ness: a date names no instant in a zone.
        let zoned = |t: &DataType| matches!(t, DataType::Timestamp(_, Some(_)));
        return zoned(lit_type) == zoned(other)
            && v.cast_to(other)
                .and_then(|c| c.cast_to(lit_type))
                .is_ok_and(|back| back == *v);
    }
    let same_kind = (lit_type.is_integer() && other.is_numeric())
        || (lit_type.is_floating() && other.is_floating())
        || (is_string(lit_type) && is_string(other));
    same_kind
        && v.cast_to(other)
            .and_then(|c| c.cast_to(lit_type))
            .is_ok_and(|back| back == *v)
}

/// A dictionary's value type; any other type itself.
fn value_type(t: &DataType) -> &DataType {
    match t {
        DataType::Dictionary(_, values) => values.as_ref(),
        t => t,
    }
}

/// The type two dates or timestamps of different types are compared as (see the module
/// docs); `None` unless both are dates or timestamps.
fn common_temporal(lt: &DataType, rt: &DataType) -> Option<Result<DataType, String>> {
    use DataType::*;
    if !(is_temporal(lt) && is_temporal(rt)) {
        return None;
    }
    Some(match (lt, rt) {
        (Timestamp(u1, z1), Timestamp(u2, z2)) if z1.is_some() == z2.is_some() => {
            Ok(Timestamp((*u1).max(*u2), z1.clone()))
        }
        (Timestamp(_, Some(_)), _) | (_, Timestamp(_, Some(_))) => Err(format!(
            "cannot compare {lt} and {rt}: only one has a time zone, so they name no common \
             instant; give both a time zone (a string literal is read in the column's)"
        )),
        (Timestamp(..), _) => Ok(lt.clone()),
        (_, Timestamp(..)) => Ok(rt.clone()),
        _ => Ok(Date64),
    })
}

/// For `left op right`: the types both operands are cast to, and the result type.
/// This is the one place the coercion rules live (see the module docs); the engine
/// evaluates with it too.
///
/// # Errors
/// A message saying why the types do not go together.
pub fn binary_types(
    left: &Expr,
    lt: &DataType,
    op: BinaryOp,
    right: &Expr,
    rt: &DataType,
) -> Result<Coercion, String> {
    use DataType::*;
    // A dictionary compares and computes as its values (the engine casts it to them).
    let (lt, rt) = (value_type(lt), value_type(rt));
    if (is_decimal(lt) || is_decimal(rt))
        && let Some(c) = decimal_types(left, lt, op, right, rt)?
    {
        return Ok(c);
    }
    let operand = if lt == rt {
        lt.clone()
    } else if matches!(lt, Null) {
        rt.clone()
    } else if matches!(rt, Null) || literal_adapts(right, rt, lt) {
        lt.clone()
    } else if literal_adapts(left, lt, rt) {
        rt.clone()
    } else if let Some(t) = common_temporal(lt, rt) {
        t?
    } else if is_string(lt) && is_string(rt) {
        Utf8View
    } else if let Some(t) = common_numeric(lt, rt) {
        t
    } else {
        return Err(format!("{op} cannot combine {lt} and {rt}"));
    };
    let result = match op {
        BinaryOp::And | BinaryOp::Or => {
            if !matches!(operand, Boolean | Null) {
                return Err(format!("{op} needs Booleans, got {lt} and {rt}"));
            }
            Boolean
        }
        o if o.is_comparison() => Boolean,
        BinaryOp::Div if !operand.is_numeric() && !matches!(operand, Null) => {
            return Err(format!("{op} needs numbers, got {lt} and {rt}"));
        }
        BinaryOp::Div if !operand.is_floating() => Float64,
        _ => {
            if !(operand.is_numeric() || matches!(operand, Null)) {
                return Err(format!("{op} needs numbers, got {lt} and {rt}"));
            }
            operand.clone()
        }
    };
    let operand = if op == BinaryOp::Div {
        result.clone()
    } else {
        operand
    };
    Ok(Coercion {
        left: operand.clone(),
        right: operand,
        output: result,
    })
}

/// The one type the values `items` (expressions and their types) are all cast to, for the
/// functions that give one of several values: `when/then/otherwise`'s branches,
/// `coalesce`'s arguments, `is_in`'s column and list, `clip`'s value and bounds. It is the
/// type [`binary_types`] compares two of them in, folded over the items, expressions
/// first and then literals, so that a literal adapts to the expressions' type when it
/// converts to it without loss (`when(c).then(col("i32")).otherwise(lit(0))` is `Int32`)
/// and literals alone widen to hold each other (`lit(1)` and `lit(2.5)` are `Float64`). A
/// null takes the others' type; a dictionary counts as its value type.
///
/// ```
/// use spillway_planner::coerce::common_type;
/// use spillway_planner::expr::{col, lit, null};
/// use arrow::datatypes::DataType::*;
///
/// let (x, zero, half, none) = (col("x"), lit(0), lit(0.5), null(&Null));
/// assert_eq!(common_type(&[(&x, &Int32), (&zero, &Int32)]), Ok(Int32));
/// assert_eq!(common_type(&[(&zero, &Int32), (&x, &Int8)]), Ok(Int8));
/// assert_eq!(common_type(&[(&x, &Int8), (&half, &Float64)]), Ok(Float64));
/// assert_eq!(common_type(&[(&none, &Null), (&x, &Utf8View)]), Ok(Utf8View));
/// // The string does not go with the Int8 before it.
/// assert_eq!(common_type(&[(&x, &Int8), (&lit("a"), &Utf8)]), Err((1, Int8)));
/// ```
///
/// # Errors
/// The index in `items` of the first one that does not combine with those before it (in
/// the order above), and the type those had in common.
pub fn common_type(items: &[(&Expr, &DataType)]) -> Result<DataType, (usize, DataType)> {
    let is_literal = |e: &Expr| matches!(e, Expr::Literal(_));
    let expressions = items
        .iter()
        .enumerate()
        .filter(|(_, (e, _))| !is_literal(e));
    let literals = items.iter().enumerate().filter(|(_, (e, _))| is_literal(e));
    // What the items so far have become: no longer a literal, whatever they were.
    let so_far = Expr::Column(String::new());
    let mut common: Option<DataType> = None;
    for (i, (e, t)) in expressions.chain(literals) {
        let t = value_type(t);
        common = Some(match common {
            None => t.clone(),
            Some(c) => match binary_types(&so_far, &c, BinaryOp::Eq, e, t) {
                Ok(both) => both.left,
                Err(_) => return Err((i, c)),
            },
        });
    }
    Ok(common.unwrap_or(DataType::Null))
}

/// Precision and scale of the decimal that holds every value of `e` (of type `t`) exactly;
/// `None` when there is none (a float column, a string) or for a null.
fn exact_decimal(e: &Expr, t: &DataType) -> Option<(u8, i8)> {
    use DataType::*;
    if let Expr::Literal(v) = e {
        return match v.exact_decimal_type()? {
            Decimal128(p, s) => Some((p, s)),
            _ => None,
        };
    }
    match t {
        Decimal32(p, s) | Decimal64(p, s) | Decimal128(p, s) => Some((*p, *s)),
        Decimal256(p, s) if *p <= DECIMAL128_MAX_PRECISION => Some((*p, *s)),
        Int8 | UInt8 => Some((3, 0)),
        Int16 | UInt16 => Some((5, 0)),
        Int32 | UInt32 => Some((10, 0)),
        Int64 => Some((19, 0)),
        UInt64 => Some((20, 0)),
        _ => None,
    }
}

/// The rules when either side is a decimal: `Ok(None)` to fall through to the general
/// rules (both sides null, say), which never happens for a decimal and a number.
fn decimal_types(
    left: &Expr,
    lt: &DataType,
    op: BinaryOp,
    right: &Expr,
    rt: &DataType,
) -> Result<Option<Coercion>, String> {
    use DataType::*;
    let is_null =
        |e: &Expr, t: &DataType| matches!(t, Null) || matches!(e, Expr::Literal(v) if v.is_null());
    let (l_null, r_null) = (is_null(left, lt), is_null(right, rt));
    let (l, r) = (exact_decimal(left, lt), exact_decimal(right, rt));
    // A null takes the other side's decimal type.
    let (l, r) = match (l, r) {
        (None, Some(r)) if l_null => (Some(r), Some(r)),
        (Some(l), None) if r_null => (Some(l), Some(l)),
        other => other,
    };
    let float = || {
        let output = match op {
            o if o.is_comparison() => Boolean,
            _ => Float64,
        };
        Ok(Some(Coercion {
            left: Float64,
            right: Float64,
            output,
        }))
    };
    if matches!(op, BinaryOp::And | BinaryOp::Or) {
        return Err(format!("{op} needs Booleans, got {lt} and {rt}"));
    }
    let (Some((p1, s1)), Some((p2, s2))) = (l, r) else {
        // A decimal and a float (or a number no decimal holds) meet as Float64.
        let numeric = |t: &DataType| t.is_numeric() || matches!(t, Null);
        if numeric(lt) && numeric(rt) {
            return float();
        }
        return Err(format!("{op} cannot combine {lt} and {rt}"));
    };
    if op == BinaryOp::Div {
        return float();
    }
    if op == BinaryOp::Mul {
        let scale = i16::from(s1) + i16::from(s2);
        if scale > i16::from(DECIMAL128_MAX_SCALE) {
            return Err(format!(
                "the product of {lt} and {rt} would have scale {scale}, over the maximum of \
                 {DECIMAL128_MAX_SCALE}; cast an operand to a smaller scale first"
            ));
        }
        let precision = (p1 + p2 + 1).min(DECIMAL128_MAX_PRECISION);
        return Ok(Some(Coercion {
            left: Decimal128(p1, s1),
            right: Decimal128(p2, s2),
            output: Decimal128(precision, scale as i8),
        }));
    }
    // One decimal for both: the larger scale and the larger number of integer digits.
    let scale = s1.max(s2);
    let digits = (i16::from(p1) - i16::from(s1)).max(i16::from(p2) - i16::from(s2));
    let precision = digits + i16::from(scale);
    if precision > i16::from(DECIMAL128_MAX_PRECISION) {
        return float();
    }
    let precision = precision.max(1) as u8;
    let operand = Decimal128(precision, scale);
    let output = match op {
        o if o.is_comparison() => Boolean,
        BinaryOp::Add | BinaryOp::Sub => {
            Decimal128((precision + 1).min(DECIMAL128_MAX_PRECISION), scale)
        }
        _ => operand.clone(),
    };
    Ok(Some(Coercion {
        left: operand.clone(),
        right: operand,
        output,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, lit, null};
    use crate::scalar::{ScalarValue, date};

    fn types(l: Expr, lt: DataType, op: BinaryOp, r: Expr, rt: DataType) -> Coercion {
        binary_types(&l, &lt, op, &r, &rt).unwrap()
    }

    #[test]
    fn decimals_follow_the_sql_rules() {
        let d = |p, s| DataType::Decimal128(p, s);
        // 1 - discount: the literal is Decimal128(1, 0), the difference one digit wider.
        let c = types(lit(1), DataType::Int32, BinaryOp::Sub, col("d"), d(15, 2));
        assert_eq!((c.left, c.output), (d(15, 2), d(16, 2)));
        // price * (1 - discount): precision p1 + p2 + 1, scale s1 + s2, operands untouched.
        let c = types(col("p"), d(15, 2), BinaryOp::Mul, col("q"), d(16, 2));
        assert_eq!((c.left, c.right, c.output), (d(15, 2), d(16, 2), d(32, 4)));
        let c = types(col("p"), d(32, 4), BinaryOp::Mul, col("q"), d(16, 2));
        assert_eq!(c.output, d(38, 6));
        // A float literal is its shortest decimal: 0.05 compares exactly at scale 2, and a
        // literal with more digits widens the column's side.
        let c = types(
            col("d"),
            d(15, 2),
            BinaryOp::GtEq,
            lit(0.05),
            DataType::Float64,
        );
        assert_eq!(
            (c.left, c.right, c.output),
            (d(15, 2), d(15, 2), DataType::Boolean)
        );
        let c = types(
            col("d"),
            d(15, 2),
            BinaryOp::Lt,
            lit(0.055),
            DataType::Float64,
        );
        assert_eq!(c.left, d(16, 3));
        // Integer columns are decimals of scale 0; floats columns and division go to Float64.
        let c = types(col("i"), DataType::Int64, BinaryOp::Add, col("d"), d(15, 2));
        assert_eq!(c.output, d(22, 2));
        let c = types(
            col("f"),
            DataType::Float32,
            BinaryOp::Add,
            col("d"),
            d(15, 2),
        );
        assert_eq!((c.left, c.output), (DataType::Float64, DataType::Float64));
        let c = types(col("d"), d(15, 2), BinaryOp::Div, lit(3), DataType::Int32);
        assert_eq!(c.output, DataType::Float64);
        // Null takes the decimal's type; a type with no decimal meaning is an error.
        let c = types(
            col("d"),
            d(15, 2),
            BinaryOp::Add,
            null(&DataType::Null),
            DataType::Null,
        );
        assert_eq!((c.right, c.output), (d(15, 2), d(16, 2)));
        assert!(
            binary_types(
                &col("d"),
                &d(15, 2),
                BinaryOp::Add,
                &col("s"),
                &DataType::Utf8View
            )
            .is_err()
        );
        assert!(binary_types(&col("a"), &d(38, 20), BinaryOp::Mul, &col("b"), &d(38, 20)).is_err());
        // Past 38 digits a comparison falls back to Float64 instead of failing.
        let c = types(
            col("d"),
            d(38, 0),
            BinaryOp::Lt,
            lit(0.5),
            DataType::Float64,
        );
        assert_eq!(c.left, DataType::Float64);
    }

    #[test]
    fn dates_and_timestamps_compare_across_types_units_and_time_zones() {
        use DataType::*;
        use arrow::datatypes::TimeUnit::*;
        let ts = |u, z: Option<&str>| Timestamp(u, z.map(Into::into));
        let cmp = |lt: DataType, rt: DataType| {
            binary_types(&col("a"), &lt, BinaryOp::Lt, &col("b"), &rt).map(|c| {
                assert_eq!(c.left, c.right);
                assert_eq!(c.output, Boolean);
                c.left
            })
        };
        assert_eq!(cmp(Date32, Date64), Ok(Date64));
        assert_eq!(cmp(Date64, Date32), Ok(Date64));
        assert_eq!(cmp(Date32, ts(Second, None)), Ok(ts(Second, None)));
        assert_eq!(cmp(ts(Nanosecond, None), Date64), Ok(ts(Nanosecond, None)));
        assert_eq!(
            cmp(ts(Millisecond, None), ts(Microsecond, None)),
            Ok(ts(Microsecond, None))
        );
        // Two zones are two spellings of instants: the left one's zone, the finer unit.
        assert_eq!(
            cmp(
                ts(Second, Some("Europe/Paris")),
                ts(Nanosecond, Some("UTC"))
            ),
            Ok(ts(Nanosecond, Some("Europe/Paris")))
        );
        for (l, r) in [
            (ts(Second, Some("UTC")), ts(Second, None)),
            (Date32, ts(Microsecond, Some("+02:00"))),
        ] {
            let e = cmp(l.clone(), r.clone()).unwrap_err();
            assert!(e.contains("only one has a time zone"), "{e}");
            assert!(cmp(r, l).is_err());
        }
        // A literal that converts exactly takes the column's type: no widening to overflow.
        let lit_types = |l: ScalarValue, rt: DataType| {
            let t = l.data_type().clone();
            binary_types(&lit(l), &t, BinaryOp::Lt, &col("b"), &rt).map(|c| c.left)
        };
        let ns = |v| ScalarValue::timestamp(v, Nanosecond, Some("UTC")).unwrap();
        let paris_ms = ts(Millisecond, Some("Europe/Paris"));
        assert_eq!(
            lit_types(ns(5_000_000), paris_ms.clone()),
            Ok(paris_ms.clone())
        );
        assert_eq!(
            lit_types(ns(5_000_001), paris_ms),
            Ok(ts(Nanosecond, Some("UTC")))
        );
        let day = date(1994, 1, 1).unwrap();
        assert_eq!(lit_types(day.clone(), Date64), Ok(Date64));
        assert_eq!(
            lit_types(day.clone(), ts(Second, None)),
            Ok(ts(Second, None))
        );
        assert!(lit_types(day, ts(Second, Some("UTC"))).is_err());
        // Arithmetic on dates stays refused, and dates never meet numbers.
        let add = binary_types(&col("a"), &Date32, BinaryOp::Sub, &col("b"), &Date64);
        assert!(add.unwrap_err().contains("needs numbers"));
        assert!(cmp(Date32, Int32).is_err());
    }

    #[test]
    fn dates_compare_with_dates_and_date_strings() {
        let day = date(1995, 3, 15).unwrap();
        let c = types(
            col("d"),
            DataType::Date32,
            BinaryOp::Lt,
            lit(day),
            DataType::Date32,
        );
        assert_eq!((c.left, c.output), (DataType::Date32, DataType::Boolean));
        let c = types(
            col("d"),
            DataType::Date32,
            BinaryOp::Lt,
            lit("1995-03-15"),
            DataType::Utf8,
        );
        assert_eq!(c.right, DataType::Date32);
        let bad = ScalarValue::from("not a date".to_string());
        assert!(
            binary_types(
                &col("d"),
                &DataType::Date32,
                BinaryOp::Lt,
                &lit(bad),
                &DataType::Utf8
            )
            .is_err()
        );
        assert!(
            binary_types(
                &col("d"),
                &DataType::Date32,
                BinaryOp::Add,
                &lit(1),
                &DataType::Int32
            )
            .is_err()
        );
    }
}
