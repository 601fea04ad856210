//! The conditional family: `when/then/otherwise` (SQL's `CASE`), `coalesce` and
//! `fill_null`, `nullif`, `is_in`, `is_nan` and `fill_nan`: their names, type rules and
//! argument checks, and the builders ([`when`], [`coalesce`], the [`Expr`] methods). The
//! kernels are in the engine's `eval/conditional.rs`.
//!
//! ```
//! use spillway_planner::expr::{col, lit};
//! use spillway_planner::functions::{coalesce, when};
//! use arrow::datatypes::{DataType, Field, Schema};
//!
//! let schema = Schema::new(vec![
//!     Field::new("qty", DataType::Int32, true),
//!     Field::new("mode", DataType::Utf8View, true),
//! ]);
//! let size = when(col("qty").gt(100)).then(lit("bulk")).otherwise(lit("retail"));
//! assert_eq!(size.to_string(), "when((qty > 100)).then('bulk').otherwise('retail')");
//! assert_eq!(size.data_type(&schema).unwrap(), DataType::Utf8View);
//! let qty = coalesce([col("qty"), lit(0)]);
//! assert_eq!(qty.data_type(&schema).unwrap(), DataType::Int32);
//! assert!(!qty.to_field(&schema).unwrap().is_nullable());
//! let shipped = col("mode").is_in(["MAIL", "SHIP"]);
//! assert_eq!(shipped.to_string(), "is_in(mode, ['MAIL', 'SHIP'])");
//! assert!(when(col("mode")).then(1).otherwise(0).data_type(&schema).is_err());
//! ```
//!
//! # Types
//!
//! | function | arguments | result |
//! |---|---|---|
//! | `when(c).then(v)...otherwise(d)` | conditions Boolean; values of any types with a common type | the values' common type |
//! | `coalesce(a, b, ...)`, `a.fill_null(b)` | values with a common type | their common type |
//! | `nullif(x, y)` | `x` and `y` comparable | `x`'s type |
//! | `is_in(x, [v, ...])` | literal values comparable with `x` | `Boolean` |
//! | `is_nan(x)` | a float (`Float16`, `Float32`, `Float64`) | `Boolean` |
//! | `fill_nan(x, v)` | a float, and a number | their common type (a float) |
//!
//! The common type is [`common_type`]'s: the type `=` compares two values in, folded over
//! the values (`Int32` and a literal `0` stay `Int32`, `Int32` and `Float64` are `Float64`,
//! decimals widen as for `+`, strings of different kinds are `Utf8View`); a null literal
//! takes the others' type and a dictionary counts as its value type. Values with no common
//! type (a number and a string), a condition that is not Boolean, a float function of an
//! integer, or an `is_in` value that is not a literal are type errors when the plan is
//! built, naming the function, the argument and its type.
//!
//! # Semantics: SQL's
//!
//! - `when` gives the value of the first branch whose condition is true; a null condition
//!   counts as false; with no `otherwise` and no true condition the result is null.
//! - `when` and `coalesce` evaluate an argument only on the rows that need it, as SQL's
//!   `CASE` and `COALESCE` do: `when(x.eq(0)).then(0).otherwise(y % x)` is no division by
//!   zero, and a closure in a branch only sees the rows of its branch.
//! - `coalesce` gives its first non-null argument; `fill_null(v)` is `coalesce(self, v)`.
//! - `nullif(x, y)` is null where `x = y` (compared as `eq` compares them), else `x`; a null
//!   `y` leaves `x` as it is.
//! - `x.is_in(list)` is true when the list holds `x`, null when `x` is null or when the list
//!   does not hold it but holds a null, false otherwise; `is_in(list).not()` is SQL's
//!   `NOT IN`, with the same nulls. Values compare as `eq` does (floats by IEEE 754
//!   totalOrder: NaN is found, `-0.0` is not `0.0`). The list is hashed once per batch,
//!   never compared value by value.
//! - `is_nan` is true for NaN, false for other numbers, null for null; `fill_nan(v)` puts
//!   `v` in NaN's place (a null `v` turns NaN into null).

use std::fmt;

use arrow::datatypes::DataType;

use super::write_call;
use crate::coerce::common_type;
use crate::expr::{Expr, null};
use crate::scalar::ScalarValue;

/// A function of the conditional family. See the [module docs](self) for the semantics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionalFunction {
    /// SQL's `CASE`: the arguments are `value, condition` of each branch, then the value
    /// otherwise (`then` first, so the result is named after the first branch's value).
    When {
        /// How many `when(..).then(..)` branches.
        branches: usize,
    },
    /// The first non-null argument.
    Coalesce {
        /// How many arguments.
        values: usize,
    },
    /// Null where the two arguments are equal, else the first.
    NullIf,
    /// Whether the first argument is one of the others, literals.
    IsIn {
        /// How many values the list holds.
        values: usize,
    },
    /// Whether the float is NaN.
    IsNan,
    /// The first argument with its NaNs replaced by the second.
    FillNan,
}

impl ConditionalFunction {
    /// The function's name: `when`, `coalesce`, `is_in`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Self::When { .. } => "when",
            Self::Coalesce { .. } => "coalesce",
            Self::NullIf => "nullif",
            Self::IsIn { .. } => "is_in",
            Self::IsNan => "is_nan",
            Self::FillNan => "fill_nan",
        }
    }

    /// How many arguments the function takes.
    pub fn arity(&self) -> usize {
        match self {
            Self::When { branches } => 2 * branches + 1,
            Self::Coalesce { values } => *values,
            Self::IsIn { values } => values + 1,
            Self::IsNan => 1,
            Self::NullIf | Self::FillNan => 2,
        }
    }

    /// Whether the result can be null, given which arguments can: `coalesce` only when all
    /// can, `when` when a value can (not a condition: a null one counts as false), `nullif`
    /// always, the others when any argument can.
    pub fn nullable(&self, args: &[bool]) -> bool {
        match self {
            Self::When { .. } => args.iter().step_by(2).any(|n| *n),
            Self::Coalesce { .. } => args.iter().all(|n| *n),
            Self::NullIf => true,
            Self::IsIn { .. } | Self::IsNan | Self::FillNan => args.iter().any(|n| *n),
        }
    }

    /// The result's type (see the module docs), or a message naming the argument of the
    /// wrong type. `args` and `types` have [`arity`](Self::arity) elements.
    ///
    /// # Errors
    /// A wrong argument, as above.
    pub fn return_type(&self, args: &[Expr], types: &[DataType]) -> Result<DataType, String> {
        match self {
            Self::When { branches } => {
                if *branches == 0 {
                    return Err("when takes at least one branch".into());
                }
                for (c, t) in args.iter().zip(types).skip(1).step_by(2).take(*branches) {
                    if !matches!(t, DataType::Boolean | DataType::Null) {
                        return Err(format!(
                            "when takes Boolean conditions but its condition '{c}' is {t}"
                        ));
                    }
                }
                let values: Vec<usize> = (0..*branches).map(|i| 2 * i).collect();
                self.common(args, types, values.into_iter().chain([2 * branches]))
            }
            Self::Coalesce { values } => {
                if *values == 0 {
                    return Err("coalesce takes at least one value".into());
                }
                self.common(args, types, 0..args.len())
            }
            Self::NullIf => {
                self.common(args, types, 0..2)?;
                Ok(types[0].clone())
            }
            Self::IsIn { .. } => {
                if let Some(v) = args[1..].iter().find(|a| !matches!(a, Expr::Literal(_))) {
                    return Err(format!("is_in takes a list of literals but got '{v}'"));
                }
                self.common(args, types, 0..args.len())?;
                Ok(DataType::Boolean)
            }
            Self::IsNan => {
                self.float(&args[0], &types[0])?;
                Ok(DataType::Boolean)
            }
            Self::FillNan => {
                self.float(&args[0], &types[0])?;
                let t = self.common(args, types, 0..2)?;
                if !(t.is_floating() || t == DataType::Null) {
                    return Err(format!(
                        "fill_nan takes a number to put in NaN's place but its argument '{}' \
                         is {}",
                        args[1], types[1]
                    ));
                }
                Ok(t)
            }
        }
    }

    /// The type the arguments are cast to before the function computes: for `nullif` and
    /// `is_in` the common type they are compared in, for the others the result's type
    /// ([`return_type`](Self::return_type), which checks the arguments first).
    ///
    /// # Errors
    /// As [`return_type`](Self::return_type).
    pub fn operand_type(&self, args: &[Expr], types: &[DataType]) -> Result<DataType, String> {
        match self {
            Self::NullIf | Self::IsIn { .. } => {
                self.return_type(args, types)?;
                self.common(args, types, 0..args.len())
            }
            _ => self.return_type(args, types),
        }
    }

    /// The common type of the arguments at `which`, or a message naming the one that does
    /// not go with the others.
    fn common(
        &self,
        args: &[Expr],
        types: &[DataType],
        which: impl Iterator<Item = usize>,
    ) -> Result<DataType, String> {
        let which: Vec<usize> = which.collect();
        let items: Vec<(&Expr, &DataType)> = which.iter().map(|&i| (&args[i], &types[i])).collect();
        common_type(&items).map_err(|(i, others)| {
            let (arg, t) = items[i];
            format!(
                "{} takes values of one type but its argument '{arg}' is {t}, which does not \
                 go with {others}",
                self.name()
            )
        })
    }

    /// Checks that `arg` (of type `t`) is a float.
    fn float(&self, arg: &Expr, t: &DataType) -> Result<(), String> {
        if t.is_floating() || t == &DataType::Null {
            return Ok(());
        }
        Err(format!(
            "{} takes a float (Float16, Float32 or Float64) but its argument '{arg}' is {t}",
            self.name()
        ))
    }

    /// Writes the call: `when(c).then(v).otherwise(d)`, `coalesce(a, b)`, `is_in(x, [1, 2])`.
    ///
    /// # Errors
    /// Only the formatter's.
    pub fn fmt_call(&self, args: &[Expr], f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::When { .. } => {
                let (branches, otherwise) = args.split_at(args.len().saturating_sub(1));
                for (i, pair) in branches.chunks(2).enumerate() {
                    let dot = if i == 0 { "" } else { "." };
                    match pair {
                        [value, condition] => write!(f, "{dot}when({condition}).then({value})")?,
                        _ => write!(f, "{dot}when(?)")?,
                    }
                }
                match otherwise {
                    [d] => write!(f, ".otherwise({d})"),
                    _ => Ok(()),
                }
            }
            Self::IsIn { .. } => {
                let (x, list) = args
                    .split_first()
                    .map_or((None, args), |(x, l)| (Some(x), l));
                write!(f, "is_in(")?;
                if let Some(x) = x {
                    write!(f, "{x}, ")?;
                }
                write!(f, "[")?;
                for (i, v) in list.iter().enumerate() {
                    let comma = if i == 0 { "" } else { ", " };
                    write!(f, "{comma}{v}")?;
                }
                write!(f, "])")
            }
            _ => write_call(f, self.name(), args, &[]),
        }
    }
}

/// `when(condition).then(value)`, SQL's `CASE WHEN`, as Polars spells it: chain more
/// `.when(..).then(..)` branches, end with `.otherwise(value)`, or turn the [`Then`] into an
/// [`Expr`] to get null where no condition holds. The first branch whose condition is
/// true gives the value; a null condition counts as false. See
/// [`conditional`](crate::functions::conditional).
///
/// ```
/// use spillway_planner::expr::{Expr, col, lit};
/// use spillway_planner::functions::when;
/// use arrow::datatypes::{DataType, Field, Schema};
///
/// let schema = Schema::new(vec![Field::new("x", DataType::Int64, true)]);
/// let sign = when(col("x").lt(0)).then(-1).when(col("x").gt(0)).then(1).otherwise(0);
/// // The type of the values (literals here), not of the conditions' column.
/// assert_eq!(sign.data_type(&schema).unwrap(), DataType::Int32);
/// let positive: Expr = when(col("x").gt(0)).then(col("x")).into();
/// assert_eq!(positive.to_string(), "when((x > 0)).then(x).otherwise(null)");
/// assert!(positive.to_field(&schema).unwrap().is_nullable());
/// ```
pub fn when(condition: impl Into<Expr>) -> When {
    When {
        branches: Vec::new(),
        condition: condition.into(),
    }
}

/// A `when(condition)` waiting for its [`then`](When::then): built by [`when`] and
/// [`Then::when`].
#[derive(Clone, Debug)]
#[must_use = "a when(..) needs a .then(..)"]
pub struct When {
    /// The branches before: `value, condition` of each.
    branches: Vec<Expr>,
    condition: Expr,
}

impl When {
    /// The value where the condition is true (and no condition before it is).
    ///
    /// ```
    /// use spillway_planner::expr::{Expr, col};
    /// use spillway_planner::functions::when;
    /// let big: Expr = when(col("x").gt(100)).then(col("x")).into();
    /// assert_eq!(big.output_name(), "x");
    /// ```
    pub fn then(self, value: impl Into<Expr>) -> Then {
        let mut branches = self.branches;
        branches.push(value.into());
        branches.push(self.condition);
        Then { branches }
    }
}

/// A `when(..).then(..)` chain: add a branch with [`when`](Then::when), end with
/// [`otherwise`](Then::otherwise), or turn it into an [`Expr`] (null where no condition
/// holds).
#[derive(Clone, Debug)]
#[must_use = "a when(..).then(..) is used as an expression: end it with .otherwise(..) or .into()"]
pub struct Then {
    /// `value, condition` of each branch.
    branches: Vec<Expr>,
}

impl Then {
    /// Another branch, tried where the conditions before it are not true.
    ///
    /// ```
    /// use spillway_planner::expr::{col, lit};
    /// use spillway_planner::functions::when;
    /// let grade = when(col("score").gt_eq(90)).then(lit("A"))
    ///     .when(col("score").gt_eq(80)).then(lit("B"))
    ///     .otherwise(lit("C"));
    /// assert_eq!(
    ///     grade.to_string(),
    ///     "when((score >= 90)).then('A').when((score >= 80)).then('B').otherwise('C')"
    /// );
    /// ```
    pub fn when(self, condition: impl Into<Expr>) -> When {
        When {
            branches: self.branches,
            condition: condition.into(),
        }
    }

    /// The value where no condition is true; the chain is then an [`Expr`].
    ///
    /// ```
    /// use spillway_planner::expr::{col, lit};
    /// use spillway_planner::functions::when;
    /// use arrow::datatypes::{DataType, Field, Schema};
    ///
    /// let schema = Schema::new(vec![Field::new("price", DataType::Float32, false)]);
    /// let capped = when(col("price").gt(100)).then(100).otherwise(col("price"));
    /// assert_eq!(capped.data_type(&schema).unwrap(), DataType::Float32);
    /// assert!(!capped.to_field(&schema).unwrap().is_nullable());
    /// ```
    pub fn otherwise(self, value: impl Into<Expr>) -> Expr {
        let mut args = self.branches;
        let branches = args.len() / 2;
        args.push(value.into());
        Expr::call(ConditionalFunction::When { branches }, args)
    }
}

impl From<Then> for Expr {
    /// The chain with a null where no condition holds, as Polars: `otherwise(null)`.
    fn from(then: Then) -> Expr {
        then.otherwise(null(&DataType::Null))
    }
}

/// The first non-null value of `exprs`, row by row (SQL's `COALESCE`): null only where all
/// are. An argument is evaluated only on the rows where those before it are null. The
/// values are brought to their common type (see
/// [`conditional`](crate::functions::conditional)).
///
/// ```
/// use spillway_planner::expr::{col, lit};
/// use spillway_planner::functions::coalesce;
/// use arrow::datatypes::{DataType, Field, Schema};
///
/// let schema = Schema::new(vec![
///     Field::new("phone", DataType::Utf8View, true),
///     Field::new("mobile", DataType::Utf8View, true),
/// ]);
/// let contact = coalesce([col("phone"), col("mobile"), lit("none")]);
/// assert_eq!(contact.to_string(), "coalesce(phone, mobile, 'none')");
/// assert_eq!(contact.data_type(&schema).unwrap(), DataType::Utf8View);
/// assert!(!contact.to_field(&schema).unwrap().is_nullable());
/// ```
pub fn coalesce(exprs: impl IntoIterator<Item = Expr>) -> Expr {
    let args: Vec<Expr> = exprs.into_iter().collect();
    Expr::call(ConditionalFunction::Coalesce { values: args.len() }, args)
}

impl Expr {
    /// `value` where `self` is null: [`coalesce`]`([self, value])`.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let qty = col("qty").fill_null(0);
    /// assert_eq!(qty.to_string(), "coalesce(qty, 0)");
    /// assert_eq!(qty.output_name(), "qty");
    /// ```
    pub fn fill_null(self, value: impl Into<Expr>) -> Expr {
        coalesce([self, value.into()])
    }

    /// Null where `self` equals `other`, else `self` (SQL's `NULLIF`), of `self`'s type.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// // No division by zero: a zero count gives a null ratio.
    /// let ratio = col("total") / col("count").nullif(0);
    /// assert_eq!(ratio.to_string(), "(total / nullif(count, 0))");
    /// ```
    pub fn nullif(self, other: impl Into<Expr>) -> Expr {
        Expr::call(ConditionalFunction::NullIf, vec![self, other.into()])
    }

    /// Whether `self` is one of `values` (SQL's `IN`): true if found; null if `self` is
    /// null, or if it is not found and `values` hold a null; false otherwise. Negate it with
    /// `.not()` (`!`) for SQL's `NOT IN`. The values are literals: numbers, strings,
    /// Booleans, dates (`date(..)?`), or `None` for a null.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// use spillway_planner::scalar::date;
    /// use std::ops::Not;
    ///
    /// let modes = col("shipmode").is_in(["MAIL", "SHIP"]);
    /// assert_eq!(modes.to_string(), "is_in(shipmode, ['MAIL', 'SHIP'])");
    /// let other_sizes = col("size").is_in([49, 14, 23]).not();
    /// assert_eq!(other_sizes.to_string(), "NOT is_in(size, [49, 14, 23])");
    /// let with_null = col("x").is_in([Some(1), None]);
    /// assert_eq!(with_null.to_string(), "is_in(x, [1, null])");
    /// let days = col("day").is_in([date(1998, 9, 2)?, date(1998, 12, 1)?]);
    /// # Ok::<(), spillway_planner::Error>(())
    /// ```
    pub fn is_in<V: Into<ScalarValue>>(self, values: impl IntoIterator<Item = V>) -> Expr {
        let mut args = vec![self];
        args.extend(values.into_iter().map(|v| Expr::Literal(v.into())));
        let values = args.len() - 1;
        Expr::call(ConditionalFunction::IsIn { values }, args)
    }

    /// Whether the float is NaN (null for null); a type error for any other type.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let bad = col("ratio").is_nan();
    /// assert_eq!(bad.to_string(), "is_nan(ratio)");
    /// ```
    pub fn is_nan(self) -> Expr {
        Expr::call(ConditionalFunction::IsNan, vec![self])
    }

    /// The float with `value` in NaN's place; a type error for any other type.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let ratio = (col("a") / col("b")).fill_nan(0.0);
    /// assert_eq!(ratio.to_string(), "fill_nan((a / b), 0.0)");
    /// ```
    pub fn fill_nan(self, value: impl Into<Expr>) -> Expr {
        Expr::call(ConditionalFunction::FillNan, vec![self, value.into()])
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{Field, Schema};

    use super::*;
    use crate::Error;
    use crate::expr::{col, lit};
    use crate::scalar::date;

    fn schema() -> Schema {
        use DataType::*;
        let dict = Dictionary(Box::new(Int32), Box::new(Utf8));
        Schema::new(vec![
            Field::new("i8", Int8, false),
            Field::new("i32", Int32, true),
            Field::new("i64", Int64, false),
            Field::new("u64", UInt64, true),
            Field::new("f32", Float32, false),
            Field::new("f64", Float64, true),
            Field::new("d", Decimal128(12, 4), true),
            Field::new("s", Utf8View, true),
            Field::new("large", LargeUtf8, false),
            Field::new("dict", dict, true),
            Field::new("b", Boolean, true),
            Field::new("day", Date32, true),
        ])
    }

    fn typed(e: &Expr) -> DataType {
        e.data_type(&schema())
            .unwrap_or_else(|err| panic!("{e}: {err}"))
    }

    fn nullable(e: &Expr) -> bool {
        e.to_field(&schema()).unwrap().is_nullable()
    }

    #[test]
    fn the_values_take_their_common_type() {
        use DataType::*;
        let cases = [
            (when(col("b")).then(col("i32")).otherwise(0), Int32),
            (when(col("b")).then(0).otherwise(col("i8")), Int8),
            (when(col("b")).then(col("i8")).otherwise(col("i64")), Int64),
            (when(col("b")).then(col("i64")).otherwise(col("u64")), Int64),
            (when(col("b")).then(col("i32")).otherwise(2.5), Float64),
            (when(col("b")).then(col("f32")).otherwise(1), Float32),
            (when(col("b")).then(1).otherwise(2.5), Float64),
            (when(col("b")).then(300).otherwise(col("i8")), Int32),
            (
                when(col("b")).then(col("d")).otherwise(0),
                Decimal128(12, 4),
            ),
            (
                when(col("b")).then(col("d")).otherwise(0.125),
                Decimal128(12, 4),
            ),
            (
                when(col("b")).then(col("d")).otherwise(0.00001),
                Decimal128(13, 5),
            ),
            (
                when(col("b")).then(col("d")).otherwise(col("i64")),
                Decimal128(23, 4),
            ),
            (when(col("b")).then(col("d")).otherwise(col("f32")), Float64),
            (when(col("b")).then(col("s")).otherwise("x"), Utf8View),
            (when(col("b")).then(col("large")).otherwise("x"), LargeUtf8),
            (
                when(col("b"))
                    .then(col("large"))
                    .otherwise(lit("x".to_string())),
                LargeUtf8,
            ),
            (
                when(col("b")).then(col("s")).otherwise(col("large")),
                Utf8View,
            ),
            (when(col("b")).then(col("dict")).otherwise("x"), Utf8),
            (when(col("b")).then(lit("a")).otherwise("b"), Utf8View),
            (when(col("b")).then(col("b")).otherwise(false), Boolean),
            (
                when(col("b")).then(col("day")).otherwise("1998-09-02"),
                Date32,
            ),
            (when(col("b")).then(col("i32")).into(), Int32),
            (when(col("b")).then(null(&Null)).into(), Null),
            (
                when(col("b"))
                    .then(1)
                    .when(col("i8").gt(2))
                    .then(2.5)
                    .otherwise(col("f32")),
                Float32,
            ),
            (coalesce([col("i32"), col("i8"), lit(7)]), Int32),
            (coalesce([col("u64"), col("i8")]), Int64),
            (coalesce([null(&Int64), col("s")]), Utf8View),
            (coalesce([col("i32")]), Int32),
            (col("i32").fill_null(1_i64 << 40), Int64),
            (col("dict").fill_null(lit("?")), Utf8),
            (col("i32").nullif(0), Int32),
            (
                col("dict").nullif("a"),
                schema().field(9).data_type().clone(),
            ),
            (col("i32").nullif(col("f64")), Int32),
            (col("i32").is_in([1, 2]), Boolean),
            (col("i8").is_in([1_000]), Boolean),
            (col("dict").is_in(["a"]), Boolean),
            (col("day").is_in([date(1998, 9, 2).unwrap()]), Boolean),
            (col("d").is_in([0.05]), Boolean),
            (col("i32").is_in(Vec::<i64>::new()), Boolean),
            (col("f32").is_nan(), Boolean),
            (col("f64").fill_nan(0), Float64),
            (col("f32").fill_nan(0), Float32),
            (col("f32").fill_nan(col("f64")), Float64),
            (col("f32").fill_nan(null(&Null)), Float32),
            (col("f32").fill_nan(col("d")), Float64),
        ];
        for (e, want) in cases {
            assert_eq!(typed(&e), want, "{e}");
        }
    }

    #[test]
    fn nullability_follows_sql() {
        // A null condition counts as false: only the values' nullability matters.
        assert!(!nullable(&when(col("b")).then(col("i8")).otherwise(0)));
        assert!(nullable(
            &when(col("i8").gt(1)).then(col("i32")).otherwise(0)
        ));
        assert!(nullable(&when(col("i8").gt(1)).then(col("i8")).into()));
        // coalesce is null only where every argument is.
        assert!(!nullable(&col("i32").fill_null(col("i8"))));
        assert!(nullable(&coalesce([col("i32"), col("f64")])));
        assert!(nullable(&col("i8").nullif(1)));
        assert!(!nullable(&col("i64").is_in([1, 2])));
        assert!(nullable(&col("i64").is_in([Some(1), None])));
        assert!(nullable(&col("i32").is_in([1])));
        assert!(!nullable(&col("f32").is_nan()));
        assert!(!nullable(&col("f32").fill_nan(1.0)));
        assert!(nullable(&col("f32").fill_nan(null(&DataType::Null))));
    }

    fn type_error(e: Expr) -> (String, String) {
        match e.to_field(&schema()).unwrap_err() {
            Error::Type { context, message } => (context, message),
            other => panic!("{e}: {other}"),
        }
    }

    #[test]
    fn wrong_arguments_are_type_errors_naming_the_function_and_the_argument() {
        let cases = [
            (
                when(col("i32")).then(1).otherwise(0),
                "when takes Boolean conditions but its condition 'i32' is Int32",
            ),
            (
                when(col("b")).then(1).when(col("s")).then(2).otherwise(0),
                "its condition 's' is Utf8View",
            ),
            (
                when(col("b")).then(col("i32")).otherwise(col("s")),
                "when takes values of one type but its argument 's' is Utf8View, which does not \
                 go with Int32",
            ),
            (
                when(col("b")).then(col("i32")).otherwise("none"),
                "its argument ''none'' is Utf8View, which does not go with Int32",
            ),
            (
                when(col("b")).then(col("day")).otherwise(1),
                "its argument '1' is Int32, which does not go with Date32",
            ),
            (
                coalesce([col("b"), col("i8")]),
                "coalesce takes values of one type but its argument 'i8' is Int8",
            ),
            (
                col("s").nullif(1),
                "nullif takes values of one type but its argument '1' is Int32",
            ),
            (
                col("i32").is_in(["a", "b"]),
                "is_in takes values of one type but its argument ''a'' is Utf8View, which does \
                 not go with Int32",
            ),
            (
                col("i32").is_nan(),
                "is_nan takes a float (Float16, Float32 or Float64) but its argument 'i32' is \
                 Int32",
            ),
            (col("d").is_nan(), "'d' is Decimal128(12, 4)"),
            (col("s").fill_nan(0), "fill_nan takes a float"),
            (
                col("f64").fill_nan("x"),
                "fill_nan takes values of one type but its argument ''x'' is Utf8View",
            ),
            (
                col("f32").fill_nan(col("b")),
                "fill_nan takes values of one type but its argument 'b' is Boolean",
            ),
            (
                null(&DataType::Null).fill_nan(lit("x")),
                "fill_nan takes a number to put in NaN's place but its argument ''x'' is \
                 Utf8View",
            ),
            (coalesce([]), "coalesce takes at least one value"),
        ];
        for (e, want) in cases {
            let (context, message) = type_error(e.clone());
            assert_eq!(context, e.to_string());
            assert!(message.contains(want), "{e}: {message}");
        }
        let (_, message) = type_error(Expr::call(
            ConditionalFunction::IsIn { values: 1 },
            vec![col("i32"), col("i8")],
        ));
        assert_eq!(message, "is_in takes a list of literals but got 'i8'");
        let (_, message) = type_error(Expr::call(
            ConditionalFunction::When { branches: 0 },
            vec![lit(1)],
        ));
        assert_eq!(message, "when takes at least one branch");
        let (_, message) = type_error(Expr::call(
            ConditionalFunction::When { branches: 1 },
            vec![lit(1), col("b")],
        ));
        assert_eq!(message, "when takes 3 arguments, got 2");
    }

    #[test]
    fn display_names_and_columns() {
        let e = when(col("a").gt(1)).then(col("b")).otherwise(col("c"));
        assert_eq!(e.to_string(), "when((a > 1)).then(b).otherwise(c)");
        // Named after the first branch's value, as Polars names it.
        assert_eq!(e.output_name(), "b");
        assert_eq!(e.columns(), vec!["b", "a", "c"]);
        let e = when(col("a")).then(lit(1)).otherwise(lit(0));
        assert_eq!(e.output_name(), "a");
        assert_eq!(coalesce([lit(1), col("y")]).output_name(), "y");
        assert_eq!(col("x").is_in([1.5]).to_string(), "is_in(x, [1.5])");
        assert_eq!(col("x").is_in([true]).output_name(), "x");
        assert_eq!(col("x").nullif(col("y")).to_string(), "nullif(x, y)");
        assert_eq!(col("x").is_nan().to_string(), "is_nan(x)");
        assert!(
            when(col("a").apply(|a: bool| a))
                .then(1)
                .otherwise(0)
                .has_user_code()
        );
        let names: Vec<&str> = [
            ConditionalFunction::When { branches: 1 },
            ConditionalFunction::Coalesce { values: 2 },
            ConditionalFunction::NullIf,
            ConditionalFunction::IsIn { values: 3 },
            ConditionalFunction::IsNan,
            ConditionalFunction::FillNan,
        ]
        .iter()
        .map(|f| super::super::Function::from(*f).name())
        .collect();
        assert_eq!(
            names,
            ["when", "coalesce", "nullif", "is_in", "is_nan", "fill_nan"]
        );
    }
}
