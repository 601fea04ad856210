//! The math family: `abs`, `sign`, `round`, `floor`, `ceil`, `sqrt`, `cbrt`, `ln`, `log10`,
//! `log`, `exp`, `pow`, `clip` and `floor_div`: their names, type rules and argument checks,
//! and the [`Expr`] methods that build them. The kernels are in the engine's `eval/math/`.
//!
//! ```
//! use spillway_planner::expr::{col, lit};
//! use arrow::datatypes::{DataType, Field, Schema};
//!
//! let schema = Schema::new(vec![
//!     Field::new("n", DataType::Int32, true),
//!     Field::new("price", DataType::Decimal128(12, 4), true),
//! ]);
//! assert_eq!(col("n").abs().data_type(&schema).unwrap(), DataType::Int32);
//! assert_eq!(col("n").sqrt().data_type(&schema).unwrap(), DataType::Float64);
//! let cents = col("price").round(2);
//! assert_eq!(cents.to_string(), "round(price, 2)");
//! assert_eq!(cents.data_type(&schema).unwrap(), DataType::Decimal128(12, 2));
//! assert_eq!(col("n").pow(lit(2)).to_string(), "pow(n, 2)");
//! assert_eq!(col("n").floor_div(lit(7)).data_type(&schema).unwrap(), DataType::Int32);
//! assert_eq!(col("n").clip(lit(0), lit(10)).data_type(&schema).unwrap(), DataType::Int32);
//! ```
//!
//! # Types
//!
//! Every argument must be a number: an integer, a float, or a decimal of up to 38 digits
//! (`Decimal32` and `Decimal64` are read as `Decimal128`, as in [`coerce`](crate::coerce));
//! anything else is a type error when the plan is built, naming the function, the argument
//! and its type. The result types follow DuckDB and Polars:
//!
//! | function | integer | float | `Decimal128(p, s)` |
//! |---|---|---|---|
//! | `abs` | same type | same type | same type |
//! | `sign` | same type (−1, 0, 1) | same type | `Int8` (DuckDB's `TINYINT`) |
//! | `round(x, d)` | same type | same type | unchanged when `d ≥ s`, else `Decimal128(p, max(d, 0))` (a negative `s` is kept) |
//! | `floor`, `ceil` | same type (the identity) | same type | `Decimal128(p, 0)` (unchanged when `s ≤ 0`) |
//! | `sqrt`, `cbrt`, `ln`, `log10`, `exp` | `Float64` | `Float64` | `Float64` |
//! | `pow(x, y)`, `log(x, base)` | `Float64` | `Float64` | `Float64` |
//! | `clip(x, lo, hi)` | the common type of `x`, `lo` and `hi` | the same | the same |
//! | `floor_div(x, y)` | the common type of `x` and `y` | the same | `Decimal128(p, 0)` of their common decimal |
//!
//! - `round` rounds half away from zero, as DuckDB (Polars rounds half to even). `d` may be
//!   negative: `round(1234, -2)` is `1200`, as DuckDB's `round(x, -2)`; on an integer with
//!   `d ≥ 0` it is the identity.
//! - `round`, `floor` and `ceil` of a decimal keep its precision and lower its scale, as
//!   DuckDB does: `round(Decimal128(12, 4), 2)` is a `Decimal128(12, 2)`, which always holds
//!   the rounded value for `d ≥ 0`. With `d < 0` the result is `Decimal128(p, 0)` and a value
//!   that rounds past `p` digits (`round(999, -1)` in `Decimal128(3, 0)`) is an error.
//! - `pow` of two integers is `Float64`, as DuckDB (Polars keeps integers).
//! - `log(x, base)` is `ln(x) / ln(base)`, exactly `log10` for base 10 and `log2` for 2.
//! - `clip(x, lo, hi)` is `lo` where `x < lo`, `hi` where `x > hi`, else `x`; a null bound
//!   (a null literal, or a null in a bound column) leaves its side unclipped, as Polars. The
//!   common type is that of `when/then/otherwise` ([`common_type`]): `clip(i32, 0, 10)` stays
//!   `Int32`, `clip(i32, 0.5, 10)` is `Float64`.
//! - `floor_div(x, y)` divides and rounds down (towards −∞, as Polars' `floor_div` and
//!   Python's `//`: `floor_div(-7, 2)` is −4), in the type `%` computes in (the common type of
//!   `x` and `y`, [`binary_types`]): integers stay integers; a decimal's quotient is exact,
//!   of scale 0; floats are `floor(x / y)` (IEEE 754: ±∞ or NaN for a zero `y`).
//! - A `Float16` is computed as a `Float32` and given back as a `Float16`.
//! - A null literal argument gives a null of the result type (`Null` for the functions that
//!   keep their argument's type).
//!
//! # Floats: IEEE 754, as Polars
//!
//! Floats follow IEEE 754, as Polars (and Rust's `f64` methods) do, never an error:
//! `sqrt(-1)` is NaN, `ln(0)` is −∞, `ln(-1)` is NaN, `log10(0)` is −∞, `exp(1000)` is +∞,
//! `pow(0, -1)` is +∞, `pow(-8, 1/3)` is NaN; NaN and ±∞ go through `abs`, `round`, `floor`
//! and `ceil` unchanged (`abs(-∞)` is +∞) and `sign` of NaN is NaN, of ±0.0 is ±0.0.
//! DuckDB raises errors for `sqrt` and `ln` of negative numbers and of zero instead.
//!
//! # Integers and decimals: errors, never wrapping
//!
//! `abs(i64::MIN)` (and `abs` of the smallest value of any signed integer type) does not fit
//! its type: it is an error when the plan runs, naming the expression, not a wrapped value
//! (Rust's `wrapping_abs`) or a silent float. So is `round(i8 125, -1)` (130 does not fit an
//! `Int8`), and `floor_div(i64::MIN, -1)`. An integer or decimal `floor_div` by zero is an error
//! too, as `%` by zero is (Polars gives a null).
//!
//! # Floats in `clip`: IEEE 754
//!
//! `clip` compares as IEEE 754 does (not the totalOrder of `eq` and `lt`): NaN is neither
//! below nor above a bound, so a NaN stays NaN, and a NaN bound clips nothing.

use std::fmt;

use arrow::datatypes::DataType;

use super::write_call;
use crate::coerce::{binary_types, common_type};
use crate::expr::{BinaryOp, Expr};

/// A function of the math family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MathFunction {
    /// Absolute value.
    Abs,
    /// −1, 0 or 1, by the argument's sign.
    Sign,
    /// Rounds half away from zero to `digits` decimals (negative: to tens, hundreds, ...).
    Round {
        /// Decimals kept: `2` rounds to hundredths, `-1` to tens.
        digits: i32,
    },
    /// The largest integral value not above the argument.
    Floor,
    /// The smallest integral value not below the argument.
    Ceil,
    /// Square root.
    Sqrt,
    /// Cube root.
    Cbrt,
    /// Natural logarithm.
    Ln,
    /// Base-10 logarithm.
    Log10,
    /// The logarithm of the first argument in the base of the second.
    Log,
    /// *e* to the argument.
    Exp,
    /// The first argument to the power of the second.
    Pow,
    /// The first argument kept between the second and the third.
    Clip,
    /// The first argument divided by the second, rounded down.
    FloorDiv,
}

/// What kind of number an argument is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Number {
    /// A null literal (`DataType::Null`).
    Null,
    Integer,
    Float,
    /// A decimal of up to 38 digits: precision and scale.
    Decimal(u8, i8),
}

impl MathFunction {
    /// The function's name: `abs`, `round`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Self::Abs => "abs",
            Self::Sign => "sign",
            Self::Round { .. } => "round",
            Self::Floor => "floor",
            Self::Ceil => "ceil",
            Self::Sqrt => "sqrt",
            Self::Cbrt => "cbrt",
            Self::Ln => "ln",
            Self::Log10 => "log10",
            Self::Log => "log",
            Self::Exp => "exp",
            Self::Pow => "pow",
            Self::Clip => "clip",
            Self::FloorDiv => "floor_div",
        }
    }

    /// How many arguments the function takes.
    pub fn arity(&self) -> usize {
        match self {
            Self::Pow | Self::Log | Self::FloorDiv => 2,
            Self::Clip => 3,
            _ => 1,
        }
    }

    /// The result's type (see the module docs), or a message naming the argument that is not
    /// a number. `args` and `types` have [`arity`](Self::arity) elements (checked by
    /// [`Function::return_type`](super::Function::return_type)).
    ///
    /// # Errors
    /// An argument that is not a number.
    pub fn return_type(&self, args: &[Expr], types: &[DataType]) -> Result<DataType, String> {
        let numbers = args
            .iter()
            .zip(types)
            .map(|(a, t)| self.number(a, t))
            .collect::<Result<Vec<_>, _>>()?;
        let (t, number) = (&types[0], numbers[0]);
        let decimal = |p: u8, s: i8| DataType::Decimal128(p, s);
        Ok(match (self, number) {
            (
                Self::Sqrt
                | Self::Cbrt
                | Self::Ln
                | Self::Log10
                | Self::Log
                | Self::Exp
                | Self::Pow,
                _,
            ) => DataType::Float64,
            (Self::Clip, _) => self.operand_type(args, types)?,
            (Self::FloorDiv, _) => match self.operand_type(args, types)? {
                DataType::Decimal128(p, _) => decimal(p, 0),
                t => t,
            },
            (_, Number::Null | Number::Integer | Number::Float) => t.clone(),
            (Self::Abs, Number::Decimal(p, s)) => decimal(p, s),
            (Self::Sign, Number::Decimal(..)) => DataType::Int8,
            (Self::Round { digits }, Number::Decimal(p, s)) => {
                decimal(p, rounded_scale(s, *digits))
            }
            (Self::Floor | Self::Ceil, Number::Decimal(p, s)) => decimal(p, rounded_scale(s, 0)),
        })
    }

    /// The type `clip` and `floor_div` cast their arguments to before computing (`args` and
    /// `types` numbers, as [`return_type`](Self::return_type) checks): for `clip` the common
    /// type of the three ([`common_type`]), for `floor_div` the type `%` computes in
    /// ([`binary_types`]). The other functions take their arguments as they are: `types[0]`.
    ///
    /// # Errors
    /// Arguments with no common type.
    pub fn operand_type(&self, args: &[Expr], types: &[DataType]) -> Result<DataType, String> {
        match self {
            Self::Clip => {
                let items: Vec<_> = args.iter().zip(types).collect();
                common_type(&items).map_err(|(i, others)| {
                    format!(
                        "clip takes bounds of the value's type but its argument '{}' is {}, \
                         which does not go with {others}",
                        args[i], types[i]
                    )
                })
            }
            Self::FloorDiv => binary_types(&args[0], &types[0], BinaryOp::Rem, &args[1], &types[1])
                .map(|c| c.left)
                .map_err(|m| format!("floor_div: {m}")),
            _ => Ok(types[0].clone()),
        }
    }

    fn number(&self, arg: &Expr, t: &DataType) -> Result<Number, String> {
        use DataType::*;
        Ok(match t {
            Null => Number::Null,
            t if t.is_integer() => Number::Integer,
            Float16 | Float32 | Float64 => Number::Float,
            Decimal32(p, s) | Decimal64(p, s) | Decimal128(p, s) => Number::Decimal(*p, *s),
            _ => {
                return Err(format!(
                    "{} takes a number (an integer, a float or a Decimal128) but its argument \
                     '{arg}' is {t}",
                    self.name()
                ));
            }
        })
    }

    /// Writes the call: `abs(x)`, `round(x, 2)`, `pow(x, y)`.
    ///
    /// # Errors
    /// Only the formatter's.
    pub fn fmt_call(&self, args: &[Expr], f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Round { digits } => write_call(f, self.name(), args, &[digits]),
            _ => write_call(f, self.name(), args, &[]),
        }
    }
}

/// The scale of a decimal of scale `scale` rounded to `digits` decimals: unchanged when
/// nothing is rounded away, else `digits` but not below 0 (nor below a negative `scale`):
/// DuckDB's rule, which keeps the precision.
pub fn rounded_scale(scale: i8, digits: i32) -> i8 {
    if digits >= i32::from(scale) {
        scale
    } else {
        // digits < scale <= i8::MAX, so the result fits.
        digits.max(i32::from(scale.min(0))) as i8
    }
}

impl Expr {
    fn math(self, func: MathFunction) -> Expr {
        Expr::call(func, vec![self])
    }

    /// Absolute value, of the same type; `abs` of an integer type's smallest value
    /// (`i64::MIN`) is an error when the plan runs. See [`math`](crate::functions::math).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let distance = (col("a") - col("b")).abs();
    /// assert_eq!(distance.to_string(), "abs((a - b))");
    /// ```
    pub fn abs(self) -> Expr {
        self.math(MathFunction::Abs)
    }

    /// −1, 0 or 1 by the sign, of the same type (`Int8` for a decimal); NaN stays NaN.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let direction = col("delta").sign();
    /// ```
    pub fn sign(self) -> Expr {
        self.math(MathFunction::Sign)
    }

    /// Rounds half away from zero to `digits` decimals; negative `digits` round to tens
    /// (`-1`), hundreds (`-2`), ... Integers and floats keep their type, a decimal keeps its
    /// precision and takes `digits` as its scale (see [`math`](crate::functions::math)).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let cents = col("price").round(2);
    /// let hundreds = col("n").round(-2);
    /// assert_eq!(hundreds.to_string(), "round(n, -2)");
    /// ```
    pub fn round(self, digits: i32) -> Expr {
        self.math(MathFunction::Round { digits })
    }

    /// The largest integral value not above `self`; the identity on integers, a
    /// `Decimal128(p, 0)` for a decimal.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let whole = col("x").floor();
    /// ```
    pub fn floor(self) -> Expr {
        self.math(MathFunction::Floor)
    }

    /// The smallest integral value not below `self`; the identity on integers, a
    /// `Decimal128(p, 0)` for a decimal.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let pages = (col("rows") / 50).ceil();
    /// ```
    pub fn ceil(self) -> Expr {
        self.math(MathFunction::Ceil)
    }

    /// Square root, as `Float64`; NaN for a negative number (IEEE 754, as Polars).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let side = col("area").sqrt();
    /// ```
    pub fn sqrt(self) -> Expr {
        self.math(MathFunction::Sqrt)
    }

    /// Cube root, as `Float64` (negative for a negative number).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let side = col("volume").cbrt();
    /// assert_eq!(side.to_string(), "cbrt(volume)");
    /// ```
    pub fn cbrt(self) -> Expr {
        self.math(MathFunction::Cbrt)
    }

    /// Natural logarithm, as `Float64`; −∞ for 0, NaN for a negative number.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let log_income = col("income").ln();
    /// ```
    pub fn ln(self) -> Expr {
        self.math(MathFunction::Ln)
    }

    /// Base-10 logarithm, as `Float64`; −∞ for 0, NaN for a negative number.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let magnitude = col("n").log10().floor();
    /// ```
    pub fn log10(self) -> Expr {
        self.math(MathFunction::Log10)
    }

    /// The logarithm of `self` in base `base` (a column or a literal), as `Float64`:
    /// `ln(self) / ln(base)`, exactly `log10` in base 10 and `log2` in base 2.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let bits = col("n").log(2);
    /// assert_eq!(bits.to_string(), "log(n, 2)");
    /// ```
    pub fn log(self, base: impl Into<Expr>) -> Expr {
        Expr::call(MathFunction::Log, vec![self, base.into()])
    }

    /// *e* to the power of `self`, as `Float64` (+∞ when it overflows).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let growth = col("rate").exp();
    /// ```
    pub fn exp(self) -> Expr {
        self.math(MathFunction::Exp)
    }

    /// `self` to the power of `exponent` (a column or a literal), as `Float64`, also for
    /// two integers.
    ///
    /// ```
    /// use spillway_planner::expr::{col, lit};
    /// let squared = col("x").pow(2);
    /// let compound = (lit(1.0) + col("rate")).pow(col("years"));
    /// assert_eq!(squared.to_string(), "pow(x, 2)");
    /// ```
    pub fn pow(self, exponent: impl Into<Expr>) -> Expr {
        Expr::call(MathFunction::Pow, vec![self, exponent.into()])
    }

    /// `self` kept between `lower` and `upper` (columns or literals): `lower` where `self`
    /// is below it, `upper` where above; a null bound leaves its side unclipped (pass
    /// `null(&DataType::Null)` for no bound), as Polars' `clip`. Of the common type of the
    /// three; NaN stays NaN.
    ///
    /// ```
    /// use spillway_planner::expr::{col, null};
    /// use arrow::datatypes::{DataType, Field, Schema};
    ///
    /// let schema = Schema::new(vec![Field::new("score", DataType::Int64, true)]);
    /// let pct = col("score").clip(0, 100);
    /// assert_eq!(pct.to_string(), "clip(score, 0, 100)");
    /// assert_eq!(pct.data_type(&schema).unwrap(), DataType::Int64);
    /// let floor_only = col("score").clip(0, null(&DataType::Null));
    /// assert_eq!(floor_only.data_type(&schema).unwrap(), DataType::Int64);
    /// ```
    pub fn clip(self, lower: impl Into<Expr>, upper: impl Into<Expr>) -> Expr {
        Expr::call(MathFunction::Clip, vec![self, lower.into(), upper.into()])
    }

    /// `self` divided by `divisor`, rounded down (towards −∞, Python's `//`): integers give
    /// integers (`floor_div(-7, 2)` is −4), floats `floor(self / divisor)`, decimals an exact
    /// quotient of scale 0. An integer division by zero, or `i64::MIN` by −1, is an error when
    /// the plan runs.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// use arrow::datatypes::{DataType, Field, Schema};
    ///
    /// let schema = Schema::new(vec![Field::new("minutes", DataType::Int32, false)]);
    /// let hours = col("minutes").floor_div(60);
    /// assert_eq!(hours.to_string(), "floor_div(minutes, 60)");
    /// assert_eq!(hours.data_type(&schema).unwrap(), DataType::Int32);
    /// ```
    pub fn floor_div(self, divisor: impl Into<Expr>) -> Expr {
        Expr::call(MathFunction::FloorDiv, vec![self, divisor.into()])
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{Field, Schema};

    use super::*;
    use crate::Error;
    use crate::expr::{col, lit, null};

    fn schema() -> Schema {
        use DataType::*;
        Schema::new(vec![
            Field::new("i8", Int8, false),
            Field::new("u32", UInt32, true),
            Field::new("i64", Int64, true),
            Field::new("f16", Float16, true),
            Field::new("f32", Float32, true),
            Field::new("f64", Float64, false),
            Field::new("d", Decimal128(12, 4), true),
            Field::new("d64", Decimal64(10, 2), true),
            Field::new("dneg", Decimal128(5, -2), true),
            Field::new("s", Utf8View, true),
            Field::new("b", Boolean, true),
            Field::new("day", Date32, true),
        ])
    }

    fn typed(e: &Expr) -> DataType {
        e.data_type(&schema())
            .unwrap_or_else(|err| panic!("{e}: {err}"))
    }

    #[test]
    fn integers_and_floats_keep_their_type_except_for_the_float_functions() {
        use DataType::*;
        let keep: [fn(Expr) -> Expr; 9] = [
            Expr::abs,
            Expr::sign,
            |e| e.round(2),
            |e| e.round(-1),
            Expr::floor,
            Expr::ceil,
            |e| e.clip(lit(0), lit(100)),
            |e| e.clip(null(&DataType::Null), lit(1)),
            |e| e.floor_div(lit(3)),
        ];
        let float: [fn(Expr) -> Expr; 7] = [
            Expr::sqrt,
            Expr::cbrt,
            Expr::ln,
            Expr::log10,
            Expr::exp,
            |e| e.pow(lit(2)),
            |e| e.log(lit(2)),
        ];
        for (c, t) in [
            ("i8", Int8),
            ("u32", UInt32),
            ("i64", Int64),
            ("f16", Float16),
            ("f32", Float32),
            ("f64", Float64),
        ] {
            for f in keep {
                assert_eq!(typed(&f(col(c))), t, "{}", f(col(c)));
            }
            for f in float {
                assert_eq!(typed(&f(col(c))), Float64, "{}", f(col(c)));
            }
        }
        // pow of two integers, and of an integer to a float, is Float64.
        assert_eq!(typed(&col("i64").pow(col("i8"))), Float64);
        assert_eq!(typed(&lit(2).pow(col("f32"))), Float64);
        assert_eq!(typed(&col("i8").log(col("d"))), Float64);
    }

    #[test]
    fn clip_and_floor_div_compute_in_the_common_type() {
        use DataType::*;
        let cases = [
            (col("i8").clip(col("i64"), lit(5)), Int64),
            (col("i8").clip(lit(-1000), lit(5)), Int32),
            (col("i64").clip(lit(0.5), lit(5)), Float64),
            (col("f32").clip(lit(0.5), col("i8")), Float32),
            (col("u32").clip(col("i8"), lit(1)), Int64),
            (col("d").clip(lit(0), lit(1)), Decimal128(12, 4)),
            (col("d").clip(lit(0.00001), lit(1)), Decimal128(13, 5)),
            (col("d64").clip(lit(0), col("d64")), Decimal128(10, 2)),
            (col("d").clip(col("f64"), lit(1)), Float64),
            (null(&Null).clip(lit(1), lit(2)), Int32),
            (col("i8").floor_div(lit(2)), Int8),
            (col("i8").floor_div(col("i64")), Int64),
            (col("u32").floor_div(col("i8")), Int64),
            (col("i64").floor_div(lit(2.5)), Float64),
            (col("f16").floor_div(lit(2)), Float16),
            (col("d").floor_div(lit(3)), Decimal128(12, 0)),
            (col("d").floor_div(col("d64")), Decimal128(12, 0)),
            (col("d").floor_div(col("f32")), Float64),
            (col("i64").floor_div(null(&Null)), Int64),
        ];
        for (e, want) in cases {
            assert_eq!(typed(&e), want, "{e}");
        }
    }

    #[test]
    fn decimals_keep_their_precision_and_round_their_scale_as_duckdb() {
        use DataType::*;
        let cases = [
            (col("d").abs(), Decimal128(12, 4)),
            (col("d").sign(), Int8),
            (col("d").round(2), Decimal128(12, 2)),
            (col("d").round(4), Decimal128(12, 4)),
            (col("d").round(9), Decimal128(12, 4)),
            (col("d").round(0), Decimal128(12, 0)),
            (col("d").round(-3), Decimal128(12, 0)),
            (col("d").floor(), Decimal128(12, 0)),
            (col("d").ceil(), Decimal128(12, 0)),
            (col("d").sqrt(), Float64),
            (col("d").pow(col("d")), Float64),
            // Decimal64 is read as Decimal128.
            (col("d64").abs(), Decimal128(10, 2)),
            (col("d64").round(1), Decimal128(10, 1)),
            // A negative scale only rounds further.
            (col("dneg").floor(), Decimal128(5, -2)),
            (col("dneg").round(-1), Decimal128(5, -2)),
            (col("dneg").round(-4), Decimal128(5, -2)),
        ];
        for (e, want) in cases {
            assert_eq!(typed(&e), want, "{e}");
        }
    }

    #[test]
    fn nulls_and_nullability() {
        let s = schema();
        let field = |e: Expr| e.to_field(&s).unwrap();
        assert!(!field(col("f64").sqrt()).is_nullable());
        assert!(field(col("f64").pow(col("i64"))).is_nullable());
        assert!(!field(col("i8").abs()).is_nullable());
        assert_eq!(
            field(null(&DataType::Null).abs()).data_type(),
            &DataType::Null
        );
        assert!(field(null(&DataType::Int64).abs()).is_nullable());
        assert_eq!(
            field(null(&DataType::Null).sqrt()).data_type(),
            &DataType::Float64
        );
        assert_eq!(
            field(null(&DataType::Int32).round(-1)).data_type(),
            &DataType::Int32
        );
    }

    #[test]
    fn a_non_number_is_a_type_error_naming_the_function_and_the_argument() {
        let s = schema();
        let cases = [
            (col("s").sqrt(), "sqrt(s)", "sqrt", "'s' is Utf8View"),
            (col("b").abs(), "abs(b)", "abs", "'b' is Boolean"),
            (
                col("day").round(1),
                "round(day, 1)",
                "round",
                "'day' is Date32",
            ),
            (
                col("f64").pow(col("s")),
                "pow(f64, s)",
                "pow",
                "'s' is Utf8View",
            ),
            (lit("x").ln(), "ln('x')", "ln", "is Utf8"),
            (lit("x").cbrt(), "cbrt('x')", "cbrt", "is Utf8"),
            (
                col("f64").log(col("b")),
                "log(f64, b)",
                "log",
                "'b' is Boolean",
            ),
            (
                col("s").clip(lit(0), lit(1)),
                "clip(s, 0, 1)",
                "clip",
                "'s' is Utf8View",
            ),
            (
                col("i8").clip(lit(0), col("day")),
                "clip(i8, 0, day)",
                "clip",
                "'day' is Date32",
            ),
            (
                col("i8").floor_div(lit("2")),
                "floor_div(i8, '2')",
                "floor_div",
                "''2'' is Utf8",
            ),
        ];
        for (e, context, name, what) in cases {
            match e.to_field(&s).unwrap_err() {
                Error::Type {
                    context: c,
                    message,
                } => {
                    assert_eq!(c, context);
                    assert!(
                        message.starts_with(&format!("{name} takes a number")),
                        "{message}"
                    );
                    assert!(message.contains(what), "{message}");
                }
                other => panic!("{e}: {other}"),
            }
        }
        // A missing column is the usual error.
        let err = col("nope").abs().to_field(&s).unwrap_err();
        assert!(matches!(err, Error::ColumnNotFound { .. }), "{err}");
    }

    #[test]
    fn the_number_of_arguments_is_checked() {
        let s = schema();
        let e = Expr::call(MathFunction::Abs, vec![col("i8"), col("i8")]);
        let err = e.to_field(&s).unwrap_err().to_string();
        assert_eq!(
            err,
            "type error in abs(i8, i8): abs takes 1 argument, got 2"
        );
        let e = Expr::call(MathFunction::Pow, vec![col("i8")]);
        let err = e.to_field(&s).unwrap_err().to_string();
        assert!(err.ends_with("pow takes 2 arguments, got 1"), "{err}");
    }

    #[test]
    fn display_names_and_columns() {
        let e = col("x").abs().round(2);
        assert_eq!(e.to_string(), "round(abs(x), 2)");
        assert_eq!(e.output_name(), "x");
        assert_eq!(col("x").round(-1).to_string(), "round(x, -1)");
        let p = lit(2).pow(col("y") + col("x"));
        assert_eq!(p.to_string(), "pow(2, (y + x))");
        assert_eq!(p.output_name(), "y");
        assert_eq!(p.columns(), vec!["y", "x"]);
        assert_eq!(lit(4).sqrt().output_name(), "literal");
        assert_eq!(col("x").sqrt().alias("r").output_name(), "r");
        assert!(!col("x").exp().has_user_code());
        assert!(
            col("x")
                .apply(|x: f64| x)
                .floor()
                .pow(col("y"))
                .has_user_code()
        );
        let names: Vec<&str> = [
            MathFunction::Abs,
            MathFunction::Sign,
            MathFunction::Round { digits: 0 },
            MathFunction::Floor,
            MathFunction::Ceil,
            MathFunction::Sqrt,
            MathFunction::Ln,
            MathFunction::Log10,
            MathFunction::Exp,
            MathFunction::Pow,
            MathFunction::Cbrt,
            MathFunction::Log,
            MathFunction::Clip,
            MathFunction::FloorDiv,
        ]
        .iter()
        .map(|f| super::super::Function::from(*f).name())
        .collect();
        assert_eq!(
            names,
            [
                "abs",
                "sign",
                "round",
                "floor",
                "ceil",
                "sqrt",
                "ln",
                "log10",
                "exp",
                "pow",
                "cbrt",
                "log",
                "clip",
                "floor_div"
            ]
        );
        assert_eq!(col("x").clip(1, 2).to_string(), "clip(x, 1, 2)");
        assert_eq!(col("x").clip(1, 2).output_name(), "x");
        assert_eq!(lit(7).floor_div(col("y")).output_name(), "y");
    }

    #[test]
    fn rounded_scales() {
        assert_eq!(rounded_scale(4, 2), 2);
        assert_eq!(rounded_scale(4, 4), 4);
        assert_eq!(rounded_scale(4, 40), 4);
        assert_eq!(rounded_scale(4, -3), 0);
        assert_eq!(rounded_scale(0, 0), 0);
        assert_eq!(rounded_scale(0, -2), 0);
        assert_eq!(rounded_scale(-2, -1), -2);
        assert_eq!(rounded_scale(-2, -5), -2);
        assert_eq!(rounded_scale(-2, i32::MIN), -2);
    }
}
