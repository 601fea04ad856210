//! Built-in functions: what [`Expr::Function`] calls, one file per family of functions.
//!
//! The expression language grows by functions, not by [`Expr`] variants: every built-in
//! function is an `Expr::Function { func, args }`, where `func` is a [`Function`], a closed
//! enum of *families* ([`Function::Math`] holds a [`MathFunction`]). Code that walks
//! expressions (the columns they read, whether they run user code, their names and
//! display, the optimizer, the Parquet pruning) handles the one variant and never needs to
//! know the functions; only the type checker (here) and the evaluator (the engine's `eval`)
//! ask the family.
//!
//! | family | planner: names, types, checks, builder methods | engine: kernels |
//! |---|---|---|
//! | math | [`math`] (`functions/math.rs`) | `engine/src/eval/math/` (one argument in `mod.rs`, rounding in `round.rs`, more arguments in `binary.rs`) |
//! | strings | [`strings`] (`functions/strings.rs`, the [`StrExpr`] namespace) | `engine/src/eval/strings.rs` |
//! | conditionals and nulls | [`conditional`] (`functions/conditional.rs`, [`when`], [`coalesce`]) | `engine/src/eval/conditional.rs` |
//! | dates and times | [`temporal`] (`functions/temporal/mod.rs`, the [`DtExpr`] namespace, and `to_date` on [`StrExpr`]) | `engine/src/eval/temporal/mod.rs` (`text.rs`: `to_date`, `strftime`) |
//!
//! The rules every family follows:
//!
//! - an argument of a type the function does not take is an [`Error::Type`](crate::Error)
//!   when the plan node is built, naming the function, the argument and its type;
//! - a null argument gives a null (the result is nullable when an argument is), except
//!   where nulls are the point: the conditional family follows SQL's rules for `CASE`,
//!   `COALESCE`, `NULLIF` and `IN`;
//! - a value the result cannot hold (`abs` of `i64::MIN`) is an error when the plan runs,
//!   never a wrapped or saturated value.
//!
//! # How to add a function to a family
//!
//! Two files, for any family (`strings` and `temporal` the same way, their builder methods on
//! [`StrExpr`] and [`DtExpr`]); for `math`:
//!
//! 1. `planner/src/functions/math.rs`: a variant of [`MathFunction`], its arms in
//!    `MathFunction::name` (and `arity` when it takes more than one argument) and
//!    `return_type`, the builder method in the file's `impl Expr` block (with a rustdoc
//!    example), and a line in the unit tests' type table.
//! 2. `engine/src/eval/math/`: its arm in `evaluate` (or `one_argument`), calling a kernel
//!    (Arrow's `unary` or `try_unary` where they fit) in `mod.rs`, `round.rs` or
//!    `binary.rs`, and a kernel test.
//!
//! The compiler points at every match arm missing. The public API needs nothing more: the
//! method is on [`Expr`], which `spillway::prelude` exports.
//!
//! # How to add a family
//!
//! 1. `planner/src/functions/<family>.rs`: an `enum <Family>Function` with `name`, `arity`,
//!    `return_type` and `fmt_call` (see [`math`]), and the `impl Expr` builder methods.
//! 2. This file: `pub mod <family>;` and its re-export, a variant of [`Function`], one arm
//!    in each of [`Function::name`], [`Function::arity`], [`Function::return_type`],
//!    [`Function::may_give_null`] and [`Function::fmt_call`] (and in
//!    [`Function::nullable`] if a null argument need not give a null, as in
//!    [`conditional`]), and a `From<<Family>Function> for Function`.
//! 3. `engine/src/eval/<family>.rs`: the kernels behind an `evaluate` entry point.
//! 4. `engine/src/eval/mod.rs`: `mod <family>;` and one arm in `eval_function`.
//! 5. Integration tests in `tests/it/functions.rs` (or a file of the family's own, as
//!    `tests/it/strings.rs`, `tests/it/conditionals.rs`, `tests/it/temporal.rs`), registered in `tests/it/main.rs`.
//! 6. Free functions the family adds ([`when`], [`coalesce`], [`concat_str`]) go in
//!    `spillway::prelude` (`src/lib.rs`).
//!
//! ```
//! use spillway_planner::expr::{Expr, col};
//! use spillway_planner::functions::{Function, MathFunction};
//! use arrow::datatypes::{DataType, Field, Schema};
//!
//! let schema = Schema::new(vec![Field::new("x", DataType::Float32, true)]);
//! let e = col("x").abs().round(1);
//! assert_eq!(e.to_string(), "round(abs(x), 1)");
//! assert_eq!(e.data_type(&schema).unwrap(), DataType::Float32);
//! // The same expression, through the general constructor.
//! let same = Expr::call(MathFunction::Round { digits: 1 }, vec![Expr::call(MathFunction::Abs, vec![col("x")])]);
//! assert_eq!(same.to_string(), e.to_string());
//! assert!(matches!(e, Expr::Function { func: Function::Math(_), .. }));
//! ```

use std::fmt;

use arrow::datatypes::DataType;

use crate::expr::Expr;

pub mod conditional;
pub mod math;
pub mod strings;
pub mod temporal;

pub use conditional::{ConditionalFunction, Then, When, coalesce, when};
pub use math::MathFunction;
pub use strings::{StrExpr, StringFunction, concat_str};
pub use temporal::{CalendarUnit, DatePart, DtExpr, TemporalFunction, days_between};

/// A built-in function: a closed enum of families, each defined in its own file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    /// Numbers: `abs`, `sign`, `round`, `floor`, `ceil`, `sqrt`, `cbrt`, `ln`, `log10`, `log`,
    /// `exp`, `pow`, `clip`, `floor_div`.
    Math(MathFunction),
    /// Strings: `len_chars`, `to_uppercase`, `strip_chars`, `like`, `contains`, `slice`,
    /// `replace`, `pad_start`, `split_part`, `concat_str`, ...
    String(StringFunction),
    /// Conditionals and nulls: `when/then/otherwise`, `coalesce`, `fill_null`, `nullif`,
    /// `is_in`, `is_nan`, `fill_nan`.
    Conditional(ConditionalFunction),
    /// Dates and times: `year`, `month`, `weekday`, `hour`, `truncate`, `add_months`,
    /// `days_between`, `to_date`, `strftime`, ...
    Temporal(TemporalFunction),
}

impl Function {
    /// The function's name, as displayed: `abs`, `round`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Function::Math(f) => f.name(),
            Function::String(f) => f.name(),
            Function::Conditional(f) => f.name(),
            Function::Temporal(f) => f.name(),
        }
    }

    /// How many arguments the function takes.
    pub fn arity(&self) -> usize {
        match self {
            Function::Math(f) => f.arity(),
            Function::String(f) => f.arity(),
            Function::Conditional(f) => f.arity(),
            Function::Temporal(f) => f.arity(),
        }
    }

    /// The result's type for arguments `args` of types `types` (the same length), or a
    /// message saying which argument the function does not take, for
    /// [`Error::Type`](crate::Error::Type).
    ///
    /// # Errors
    /// The wrong number of arguments, or an argument of a type the function does not take.
    pub fn return_type(&self, args: &[Expr], types: &[DataType]) -> Result<DataType, String> {
        if args.len() != self.arity() || types.len() != args.len() {
            let plural = if self.arity() == 1 { "" } else { "s" };
            return Err(format!(
                "{} takes {} argument{plural}, got {}",
                self.name(),
                self.arity(),
                args.len()
            ));
        }
        match self {
            Function::Math(f) => f.return_type(args, types),
            Function::String(f) => f.return_type(args, types),
            Function::Conditional(f) => f.return_type(args, types),
            Function::Temporal(f) => f.return_type(args, types),
        }
    }

    /// Whether the function can give a null for arguments that are not null (a regular
    /// expression's `extract` that does not match): its result is then nullable.
    pub fn may_give_null(&self) -> bool {
        match self {
            Function::Math(_) => false,
            Function::String(f) => f.may_give_null(),
            Function::Temporal(f) => f.may_give_null(),
            Function::Conditional(_) => true,
        }
    }

    /// Whether the result can be null, given which arguments can (`args`, one per
    /// argument): when any can, or the function [may give one](Self::may_give_null), except
    /// for the conditional family, whose rules are SQL's (`coalesce` is null only when
    /// every argument is).
    pub fn nullable(&self, args: &[bool]) -> bool {
        match self {
            Function::Conditional(f) => f.nullable(args),
            _ => args.iter().any(|n| *n) || self.may_give_null(),
        }
    }

    /// Writes the call as users write it: `abs(x)`, `round(x, 2)`, `pow(x, 2)`.
    ///
    /// # Errors
    /// Only the formatter's.
    pub fn fmt_call(&self, args: &[Expr], f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Function::Math(m) => m.fmt_call(args, f),
            Function::String(s) => s.fmt_call(args, f),
            Function::Conditional(c) => c.fmt_call(args, f),
            Function::Temporal(t) => t.fmt_call(args, f),
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<MathFunction> for Function {
    fn from(f: MathFunction) -> Self {
        Function::Math(f)
    }
}

impl From<StringFunction> for Function {
    fn from(f: StringFunction) -> Self {
        Function::String(f)
    }
}

impl From<ConditionalFunction> for Function {
    fn from(f: ConditionalFunction) -> Self {
        Function::Conditional(f)
    }
}

impl From<TemporalFunction> for Function {
    fn from(f: TemporalFunction) -> Self {
        Function::Temporal(f)
    }
}

impl Expr {
    /// `func(args...)`: the constructor behind the families' methods (`col("x").abs()` is
    /// `Expr::call(MathFunction::Abs, vec![col("x")])`). The number and types of the
    /// arguments are checked when the expression is typed against a schema.
    pub fn call(func: impl Into<Function>, args: Vec<Expr>) -> Expr {
        Expr::Function {
            func: func.into(),
            args,
        }
    }
}

/// Writes `name(arg, arg, constant, ...)`: the arguments, then any constants the function
/// carries (`round`'s digits).
pub(crate) fn write_call(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    args: &[Expr],
    constants: &[&dyn fmt::Display],
) -> fmt::Result {
    write!(f, "{name}(")?;
    let mut first = true;
    let all = args
        .iter()
        .map(|a| a as &dyn fmt::Display)
        .chain(constants.iter().copied());
    for item in all {
        if !first {
            f.write_str(", ")?;
        }
        first = false;
        write!(f, "{item}")?;
    }
    f.write_str(")")
}
