//! Expressions: what a column of the output is computed from.
//!
//! Built with [`col`], [`lit`], operators (`+ - * / %`, `!`, unary `-`) and methods
//! (`eq`, `lt`, `and`, `is_null`, `cast`, `alias`, `apply`, ...), and built-in functions
//! ([`Expr::Function`], one [`functions`](crate::functions) family per file: `abs`, `round`,
//! `sqrt`, ...). Types are resolved against a
//! schema with [`Expr::to_field`] when a plan node is built, so a wrong column name or type
//! fails before anything runs. [`binary_types`] (in [`coerce`](crate::coerce)) holds the
//! coercion rules, shared by the type checker and the engine so they cannot disagree.
//!
//! # Floats: NaN, infinities and signed zeros
//!
//! Arithmetic is IEEE 754: NaN propagates, `∞ − ∞` is NaN. Comparisons (`eq`, `lt`, ...)
//! and the reductions `min` and `max` order floats by IEEE 754 *totalOrder*, as Arrow's
//! kernels (and so sorts, group-by and joins) do:
//! `−NaN < −∞ < … < −0.0 < 0.0 < … < ∞ < NaN`. So `NaN == NaN` is true, `-0.0 == 0.0` is false,
//! `NaN > x` is true for every other `x`, and a NaN produced by arithmetic may carry the
//! sign bit (on x86-64 `∞ − ∞` does) and so sort below `−∞`. This differs from Rust's `>`
//! on `f64` (where every comparison with NaN is false), which is what closures passed to
//! `apply` see. `sum`, `mean`, `std` and `var` are IEEE arithmetic: NaN when any value is
//! NaN (or, for sums and means, both infinities occur; for `std` and `var`, any value is
//! infinite), ±∞ when an infinity dominates. `count` counts NaN: it is a value, not a null.

use std::fmt;
use std::ops;

use arrow::compute::can_cast_types;
use arrow::datatypes::{DataType, Field, Schema};

use crate::agg::{AggExpr, AggFunc};
pub use crate::coerce::{Coercion, binary_types, common_numeric, converts_losslessly};
use crate::functions::Function;
use crate::scalar::ScalarValue;
use crate::udf::{ApplyArg, ApplyOut, ElementFn};
use crate::{Error, Result};

/// A lazy computation over the columns of one row.
#[derive(Clone, Debug)]
pub enum Expr {
    /// A column of the input, by name.
    Column(String),
    /// A constant.
    Literal(ScalarValue),
    /// `left op right`.
    Binary {
        /// Left operand.
        left: Box<Expr>,
        /// The operator.
        op: BinaryOp,
        /// Right operand.
        right: Box<Expr>,
    },
    /// Boolean negation.
    Not(Box<Expr>),
    /// Arithmetic negation.
    Negative(Box<Expr>),
    /// True where the value is null.
    IsNull(Box<Expr>),
    /// True where the value is not null.
    IsNotNull(Box<Expr>),
    /// Conversion to another type (an error, not a null, when a value does not fit).
    Cast {
        /// The value.
        expr: Box<Expr>,
        /// The type to convert to.
        to: DataType,
    },
    /// The same value under another name.
    Alias {
        /// The value.
        expr: Box<Expr>,
        /// The output column's name.
        name: String,
    },
    /// A Rust closure applied to each value.
    Apply {
        /// The closure's input.
        expr: Box<Expr>,
        /// The closure.
        func: ElementFn,
    },
    /// A built-in function (`abs(x)`, `round(x, 2)`, `pow(x, y)`, ...), built with the
    /// methods of its family (see [`functions`](crate::functions)).
    Function {
        /// Which function.
        func: Function,
        /// Its arguments, as many as the function takes.
        args: Vec<Expr>,
    },
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`: true division; integers give `Float64`, as in pandas and Polars.
    Div,
    /// `%`
    Rem,
    /// `==`
    Eq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// Logical and (SQL's three-valued logic).
    And,
    /// Logical or (SQL's three-valued logic).
    Or,
}

impl BinaryOp {
    /// Whether the operator is `+ - * / %`.
    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            Self::Add | Self::Sub | Self::Mul | Self::Div | Self::Rem
        )
    }

    /// Whether the operator is a comparison.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            Self::Eq | Self::NotEq | Self::Lt | Self::LtEq | Self::Gt | Self::GtEq
        )
    }

    /// `a op b` == `b op.swap() a`, for comparisons.
    pub fn swap(self) -> Self {
        match self {
            Self::Lt => Self::Gt,
            Self::LtEq => Self::GtEq,
            Self::Gt => Self::Lt,
            Self::GtEq => Self::LtEq,
            other => other,
        }
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Rem => "%",
            Self::Eq => "=",
            Self::NotEq => "!=",
            Self::Lt => "<",
            Self::LtEq => "<=",
            Self::Gt => ">",
            Self::GtEq => ">=",
            Self::And => "AND",
            Self::Or => "OR",
        })
    }
}

/// A column by name.
pub fn col(name: impl Into<String>) -> Expr {
    Expr::Column(name.into())
}

/// A constant: `lit(3)`, `lit(2.5)`, `lit("x")`, `lit(true)`, a date: `lit(NaiveDate)` or
/// `lit(date(1994, 1, 1)?)` (see [`date`](crate::scalar::date)).
///
/// ```
/// use chrono::NaiveDate;
/// use spillway_planner::expr::lit;
/// let day = NaiveDate::from_ymd_opt(1994, 1, 1).unwrap();
/// assert_eq!(lit(day).to_string(), "1994-01-01");
/// ```
pub fn lit(value: impl Into<ScalarValue>) -> Expr {
    Expr::Literal(value.into())
}

/// A typed null constant.
pub fn null(data_type: &DataType) -> Expr {
    Expr::Literal(ScalarValue::null(data_type))
}

/// Boolean negation, the same as `!expr`.
pub fn not(expr: Expr) -> Expr {
    Expr::Not(Box::new(expr))
}

impl Expr {
    fn binary(self, op: BinaryOp, right: impl Into<Expr>) -> Expr {
        Expr::Binary {
            left: Box::new(self),
            op,
            right: Box::new(right.into()),
        }
    }

    /// `self == other`.
    pub fn eq(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::Eq, other)
    }
    /// `self != other`.
    pub fn neq(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::NotEq, other)
    }
    /// `self < other`.
    pub fn lt(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::Lt, other)
    }
    /// `self <= other`.
    pub fn lt_eq(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::LtEq, other)
    }
    /// `self > other`.
    pub fn gt(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::Gt, other)
    }
    /// `self >= other`.
    pub fn gt_eq(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::GtEq, other)
    }
    /// `low <= self AND self <= high`, SQL's `BETWEEN` (both ends included).
    ///
    /// ```
    /// use spillway_planner::expr::{col, lit};
    /// let mid_discount = col("l_discount").between(lit(0.05), lit(0.07));
    /// ```
    pub fn between(self, low: impl Into<Expr>, high: impl Into<Expr>) -> Expr {
        self.clone().gt_eq(low).and(self.lt_eq(high))
    }
    /// `self AND other`, with SQL's three-valued logic.
    pub fn and(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::And, other)
    }
    /// `self OR other`, with SQL's three-valued logic.
    pub fn or(self, other: impl Into<Expr>) -> Expr {
        self.binary(BinaryOp::Or, other)
    }
    /// True where `self` is null.
    pub fn is_null(self) -> Expr {
        Expr::IsNull(Box::new(self))
    }
    /// True where `self` is not null.
    pub fn is_not_null(self) -> Expr {
        Expr::IsNotNull(Box::new(self))
    }
    /// Converts to `to`; a value that does not fit is an error when the plan runs.
    pub fn cast(self, to: DataType) -> Expr {
        Expr::Cast {
            expr: Box::new(self),
            to,
        }
    }
    /// Names the output column.
    pub fn alias(self, name: impl Into<String>) -> Expr {
        Expr::Alias {
            expr: Box::new(self),
            name: name.into(),
        }
    }

    /// Applies a Rust closure to each value. The closure's argument type is the input type
    /// (the column is cast to it if it is a wider numeric type) and its return type the
    /// output type: `col("n").apply(|n: i64| n as f64 / 2.0)` is a `Float64` column.
    /// Take `Option<T>` to see nulls; return `Result<T, E>` to fail with an error.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let half = col("n").apply(|n: i64| n as f64 / 2.0);
    /// ```
    pub fn apply<A, R, F>(self, f: F) -> Expr
    where
        A: ApplyArg,
        R: ApplyOut,
        F: Fn(A) -> R + Send + Sync + 'static,
    {
        Expr::Apply {
            expr: Box::new(self),
            func: ElementFn::new(f),
        }
    }

    fn agg(self, func: AggFunc) -> AggExpr {
        AggExpr::new(func, self)
    }
    /// Sum of the non-null values (0 when there are none).
    pub fn sum(self) -> AggExpr {
        self.agg(AggFunc::Sum)
    }
    /// Mean of the non-null values (null when there are none).
    pub fn mean(self) -> AggExpr {
        self.agg(AggFunc::Mean)
    }
    /// Smallest non-null value (floats in IEEE 754 totalOrder: see the module doc).
    pub fn min(self) -> AggExpr {
        self.agg(AggFunc::Min)
    }
    /// Largest non-null value (floats in IEEE 754 totalOrder: see the module doc).
    pub fn max(self) -> AggExpr {
        self.agg(AggFunc::Max)
    }
    /// Number of non-null values.
    pub fn count(self) -> AggExpr {
        self.agg(AggFunc::Count)
    }
    /// Sample standard deviation (ddof = 1, as pandas).
    pub fn std(self) -> AggExpr {
        self.agg(AggFunc::Std)
    }
    /// Sample variance (ddof = 1, as pandas).
    pub fn var(self) -> AggExpr {
        self.agg(AggFunc::Var)
    }
    /// Pearson correlation with `other` over the rows where both are non-null.
    pub fn corr(self, other: Expr) -> AggExpr {
        AggExpr::corr(self, other)
    }
    /// The `n` largest non-null values, largest first, as a list (see
    /// [`LogicalPlan::explode`](crate::logical::LogicalPlan::explode)).
    pub fn top_k(self, n: u32) -> AggExpr {
        self.agg(AggFunc::TopK(n))
    }
    /// Number of distinct non-null values.
    pub fn n_unique(self) -> AggExpr {
        self.agg(AggFunc::CountDistinct)
    }
    /// The first value in input order.
    pub fn first(self) -> AggExpr {
        self.agg(AggFunc::First)
    }
    /// The last value in input order.
    pub fn last(self) -> AggExpr {
        self.agg(AggFunc::Last)
    }
    /// Exact median of the non-null values.
    pub fn median(self) -> AggExpr {
        self.agg(AggFunc::Median)
    }
    /// Exact quantile `q` (0 to 1, clamped; to the millionth) of the non-null values, with
    /// linear interpolation.
    pub fn quantile(self, q: f64) -> AggExpr {
        let millionths = (q.clamp(0.0, 1.0) * 1e6).round() as u32;
        self.agg(AggFunc::Quantile(millionths))
    }

    /// The name of the column this expression produces: its alias, else the first column
    /// it reads (as in Polars), else `literal`.
    pub fn output_name(&self) -> String {
        match self {
            Expr::Alias { name, .. } => name.clone(),
            Expr::Column(name) => name.clone(),
            Expr::Literal(_) => "literal".to_string(),
            Expr::Binary { left, right, .. } => {
                let l = left.output_name();
                if l == "literal" {
                    right.output_name()
                } else {
                    l
                }
            }
            Expr::Not(e)
            | Expr::Negative(e)
            | Expr::IsNull(e)
            | Expr::IsNotNull(e)
            | Expr::Cast { expr: e, .. }
            | Expr::Apply { expr: e, .. } => e.output_name(),
            Expr::Function { args, .. } => args
                .iter()
                .map(Expr::output_name)
                .find(|n| n != "literal")
                .unwrap_or_else(|| "literal".to_string()),
        }
    }

    /// The names of the columns the expression reads, in order of first use.
    pub fn columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.visit_columns(&mut |c| {
            if !out.iter().any(|o| o == c) {
                out.push(c.to_string());
            }
        });
        out
    }

    fn visit_columns(&self, f: &mut impl FnMut(&str)) {
        match self {
            Expr::Column(name) => f(name),
            Expr::Literal(_) => {}
            Expr::Binary { left, right, .. } => {
                left.visit_columns(f);
                right.visit_columns(f);
            }
            Expr::Not(e)
            | Expr::Negative(e)
            | Expr::IsNull(e)
            | Expr::IsNotNull(e)
            | Expr::Cast { expr: e, .. }
            | Expr::Alias { expr: e, .. }
            | Expr::Apply { expr: e, .. } => e.visit_columns(f),
            Expr::Function { args, .. } => args.iter().for_each(|a| a.visit_columns(f)),
        }
    }

    /// Whether the expression calls a user closure (which may be slow, fail or panic).
    pub fn has_user_code(&self) -> bool {
        match self {
            Expr::Apply { .. } => true,
            Expr::Column(_) | Expr::Literal(_) => false,
            Expr::Binary { left, right, .. } => left.has_user_code() || right.has_user_code(),
            Expr::Not(e)
            | Expr::Negative(e)
            | Expr::IsNull(e)
            | Expr::IsNotNull(e)
            | Expr::Cast { expr: e, .. }
            | Expr::Alias { expr: e, .. } => e.has_user_code(),
            Expr::Function { args, .. } => args.iter().any(Expr::has_user_code),
        }
    }

    /// Splits `a AND b AND c` into `[a, b, c]`.
    pub fn split_conjunction(self) -> Vec<Expr> {
        match self {
            Expr::Binary {
                left,
                op: BinaryOp::And,
                right,
            } => {
                let mut out = left.split_conjunction();
                out.extend(right.split_conjunction());
                out
            }
            other => vec![other],
        }
    }

    /// `a AND b AND ...`; `None` for no expressions.
    pub fn conjunction(exprs: impl IntoIterator<Item = Expr>) -> Option<Expr> {
        exprs.into_iter().reduce(|a, b| a.and(b))
    }

    /// The output column's field (name, type, nullability) over `schema`.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] for an unknown column, [`Error::Type`] for an operator or
    /// closure applied to a type it does not take.
    pub fn to_field(&self, schema: &Schema) -> Result<Field> {
        let (data_type, nullable) = self.resolve(schema)?;
        Ok(Field::new(self.output_name(), data_type, nullable))
    }

    /// The output type over `schema`; see [`Expr::to_field`].
    ///
    /// # Errors
    /// As [`Expr::to_field`].
    pub fn data_type(&self, schema: &Schema) -> Result<DataType> {
        Ok(self.resolve(schema)?.0)
    }

    fn resolve(&self, schema: &Schema) -> Result<(DataType, bool)> {
        match self {
            Expr::Column(name) => {
                let field = field_of(schema, name)?;
                Ok((field.data_type().clone(), field.is_nullable()))
            }
            Expr::Literal(v) => Ok((v.data_type().clone(), v.is_null())),
            Expr::Binary { left, op, right } => {
                let (lt, ln) = left.resolve(schema)?;
                let (rt, rn) = right.resolve(schema)?;
                let types = binary_types(left, &lt, *op, right, &rt)
                    .map_err(|message| Error::type_error(self, message))?;
                // Integer division by zero and overflow give errors, not nulls.
                Ok((types.output, ln || rn))
            }
            Expr::Not(e) => {
                let (t, n) = e.resolve(schema)?;
                if !matches!(t, DataType::Boolean | DataType::Null) {
                    return Err(Error::type_error(
                        self,
                        format!("NOT needs a Boolean, got {t}"),
                    ));
                }
                Ok((DataType::Boolean, n))
            }
            Expr::Negative(e) => {
                let (t, n) = e.resolve(schema)?;
                if !(t.is_signed_integer()
                    || t.is_floating()
                    || matches!(t, DataType::Decimal128(_, _)))
                {
                    return Err(Error::type_error(self, format!("cannot negate {t}")));
                }
                Ok((t, n))
            }
            Expr::IsNull(e) | Expr::IsNotNull(e) => {
                e.resolve(schema)?;
                Ok((DataType::Boolean, false))
            }
            Expr::Cast { expr, to } => {
                let (t, n) = expr.resolve(schema)?;
                if !can_cast_types(&t, to) {
                    return Err(Error::type_error(self, format!("cannot cast {t} to {to}")));
                }
                Ok((to.clone(), n))
            }
            Expr::Alias { expr, .. } => expr.resolve(schema),
            Expr::Apply { expr, func } => {
                let (t, n) = expr.resolve(schema)?;
                if !converts_losslessly(&t, func.input_type()) {
                    return Err(Error::type_error(
                        self,
                        format!(
                            "the closure takes {} but its input '{}' is {t}; cast it first",
                            func.input_type(),
                            expr
                        ),
                    ));
                }
                Ok((func.output_type().clone(), n))
            }
            Expr::Function { func, args } => {
                let mut types = Vec::with_capacity(args.len());
                let mut nullable = Vec::with_capacity(args.len());
                for a in args {
                    let (t, n) = a.resolve(schema)?;
                    types.push(t);
                    nullable.push(n);
                }
                let t = func
                    .return_type(args, &types)
                    .map_err(|message| Error::type_error(self, message))?;
                Ok((t, func.nullable(&nullable)))
            }
        }
    }
}

/// The field called `name`, or [`Error::ColumnNotFound`] listing the columns there are.
///
/// # Errors
/// [`Error::ColumnNotFound`].
pub fn field_of<'a>(schema: &'a Schema, name: &str) -> Result<&'a Field> {
    schema
        .fields()
        .iter()
        .find(|f| f.name() == name)
        .map(|f| f.as_ref())
        .ok_or_else(|| Error::ColumnNotFound {
            name: name.to_string(),
            available: schema.fields().iter().map(|f| f.name().clone()).collect(),
        })
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column(name) => write!(f, "{name}"),
            Expr::Literal(v) => write!(f, "{v}"),
            Expr::Binary { left, op, right } => write!(f, "({left} {op} {right})"),
            Expr::Not(e) => write!(f, "NOT {e}"),
            Expr::Negative(e) => write!(f, "-{e}"),
            Expr::IsNull(e) => write!(f, "{e} IS NULL"),
            Expr::IsNotNull(e) => write!(f, "{e} IS NOT NULL"),
            Expr::Cast { expr, to } => write!(f, "CAST({expr} AS {to})"),
            Expr::Alias { expr, name } => write!(f, "{expr} AS {name}"),
            Expr::Apply { expr, func } => write!(f, "apply[{}]({expr})", func.name()),
            Expr::Function { func, args } => func.fmt_call(args, f),
        }
    }
}

impl From<ScalarValue> for Expr {
    fn from(v: ScalarValue) -> Self {
        Expr::Literal(v)
    }
}

macro_rules! expr_from_literal {
    ($($t:ty),*) => {$(
        impl From<$t> for Expr {
            fn from(v: $t) -> Self { lit(v) }
        }
    )*};
}
expr_from_literal!(
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    f32,
    f64,
    bool,
    String,
    &'static str,
    chrono::NaiveDate
);

macro_rules! expr_op {
    ($($trait:ident $method:ident $op:ident),*) => {$(
        impl<R: Into<Expr>> ops::$trait<R> for Expr {
            type Output = Expr;
            fn $method(self, rhs: R) -> Expr { self.binary(BinaryOp::$op, rhs) }
        }
    )*};
}
expr_op!(Add add Add, Sub sub Sub, Mul mul Mul, Div div Div, Rem rem Rem);

impl ops::Not for Expr {
    type Output = Expr;
    fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }
}

impl ops::Neg for Expr {
    type Output = Expr;
    fn neg(self) -> Expr {
        Expr::Negative(Box::new(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("i", DataType::Int32, true),
            Field::new("f", DataType::Float64, false),
            Field::new("s", DataType::Utf8View, true),
        ])
    }

    #[test]
    fn types_resolve_with_literal_adaptation() {
        let s = schema();
        assert_eq!(
            (col("i") + lit(1i64)).data_type(&s).unwrap(),
            DataType::Int32
        );
        assert_eq!(
            (col("i") + col("f")).data_type(&s).unwrap(),
            DataType::Float64
        );
        assert_eq!(
            (col("i") / lit(2)).data_type(&s).unwrap(),
            DataType::Float64
        );
        assert_eq!(
            col("s").eq(lit("a")).data_type(&s).unwrap(),
            DataType::Boolean
        );
        assert_eq!(
            (col("i") + lit(1i64 << 40)).data_type(&s).unwrap(),
            DataType::Int64
        );
    }

    #[test]
    fn errors_name_the_column_and_the_types() {
        let s = schema();
        let e = (col("nope") + lit(1)).to_field(&s).unwrap_err();
        assert_eq!(
            e.to_string(),
            "column 'nope' not found; available columns: [i, f, s]"
        );
        let e = (col("s") + lit(1)).to_field(&s).unwrap_err();
        assert!(
            e.to_string().contains("cannot combine Utf8View and Int"),
            "{e}"
        );
        let e = col("s").apply(|x: i64| x).to_field(&s).unwrap_err();
        assert!(
            e.to_string()
                .contains("takes Int64 but its input 's' is Utf8View"),
            "{e}"
        );
        assert!(col("i").apply(|x: i64| x).to_field(&s).is_ok());
    }

    #[test]
    fn names_and_display() {
        let e = (col("a") * lit(2)).gt(col("b")).and(col("c").is_null());
        assert_eq!(e.to_string(), "(((a * 2) > b) AND c IS NULL)");
        assert_eq!(e.output_name(), "a");
        assert_eq!(e.columns(), vec!["a", "b", "c"]);
        assert_eq!(e.split_conjunction().len(), 2);
    }
}
