//! Aggregate expressions: `col("x").sum()`, `col("x").mean().alias("m")`.
//!
//! An aggregate is computed in two phases (see the engine's `group` module, whose states
//! serve grouped and global aggregates alike): each partition folds its rows into a small
//! partial state, and the states are merged. Every function here has such a state, so the
//! answer does not depend on how the rows are partitioned (up to floating-point rounding
//! for sums of floats).

use std::fmt;

use arrow::datatypes::{DataType, Field, Schema};

use crate::expr::Expr;
use crate::{Error, Result};

/// The aggregate functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggFunc {
    /// Sum of non-null values: `Int64` for signed integers (wrapping on overflow, as Arrow
    /// and Polars), `UInt64` for unsigned, `Float64` for floats; 0 over no values.
    /// Decimals sum exactly to `Decimal128(38, s)` for an input of scale `s` (as DuckDB and
    /// DataFusion), and a sum past 38 digits is an error, not a wrapped value.
    Sum,
    /// Mean of non-null values as `Float64`; null over no values. A decimal's mean is its
    /// exact sum divided by the count, rounded once to `Float64` (DuckDB's `avg` type).
    Mean,
    /// Smallest non-null value, of the input's type (floats in IEEE total order).
    Min,
    /// Largest non-null value, of the input's type (floats in IEEE total order).
    Max,
    /// Number of non-null values, `UInt64`.
    Count,
    /// Sample standard deviation (ddof = 1), `Float64`; null under two values, NaN when a
    /// value is NaN or infinite.
    Std,
    /// Sample variance (ddof = 1), `Float64`; null under two values, NaN when a value is
    /// NaN or infinite.
    Var,
    /// Number of distinct non-null values, `UInt64`.
    CountDistinct,
    /// The first value in input order (null if that value is null), of the input's type.
    First,
    /// The last value in input order (null if that value is null), of the input's type.
    Last,
    /// Exact median of the non-null values (the mean of the two middle ones for an even
    /// count, as pandas), `Float64`; null over no values.
    Median,
    /// Exact quantile of the non-null values with linear interpolation (pandas' default),
    /// `Float64`; the quantile is given in millionths (`Quantile(900_000)` is 0.9).
    Quantile(u32),
    /// The `n` largest non-null values, largest first, as a list of `Float64` (the h2o
    /// "top 2 per group"; [`explode`](crate::logical::LogicalPlan::explode) makes them rows).
    TopK(u32),
    /// Pearson correlation of the input with [`AggExpr::second`] over the rows where both
    /// are non-null, `Float64`; null under two such rows, when either is constant, or when
    /// a value is NaN or infinite.
    Corr,
}

impl AggFunc {
    /// The function's name as it prints.
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Sum => "sum",
            AggFunc::Mean => "mean",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::Count => "count",
            AggFunc::Std => "std",
            AggFunc::Var => "var",
            AggFunc::CountDistinct => "n_unique",
            AggFunc::First => "first",
            AggFunc::Last => "last",
            AggFunc::Median => "median",
            AggFunc::Quantile(_) => "quantile",
            AggFunc::Corr => "corr",
            AggFunc::TopK(_) => "top_k",
        }
    }

    /// The output type for an input of type `input`, or why the input does not fit.
    ///
    /// # Errors
    /// A message naming the function and the type.
    pub fn output_type(self, input: &DataType) -> Result<DataType, String> {
        use DataType::*;
        let numeric = input.is_numeric() || matches!(input, Null);
        match self {
            // Checked on both inputs by `AggExpr::to_field`; the engine passes them paired.
            AggFunc::Corr => Ok(Float64),
            AggFunc::TopK(_) if numeric => Ok(List(std::sync::Arc::new(Field::new_list_field(
                Float64, true,
            )))),
            AggFunc::Sum if input.is_unsigned_integer() => Ok(UInt64),
            AggFunc::Sum if input.is_signed_integer() || matches!(input, Null) => Ok(Int64),
            AggFunc::Sum if input.is_floating() => Ok(Float64),
            AggFunc::Sum => match input {
                Decimal32(_, s) | Decimal64(_, s) | Decimal128(_, s) | Decimal256(_, s) => {
                    Ok(Decimal128(arrow::datatypes::DECIMAL128_MAX_PRECISION, *s))
                }
                _ => Err(format!("sum is not defined for {input}")),
            },
            AggFunc::Mean
            | AggFunc::Std
            | AggFunc::Var
            | AggFunc::Median
            | AggFunc::Quantile(_)
                if numeric =>
            {
                Ok(Float64)
            }
            AggFunc::Count => Ok(UInt64),
            AggFunc::CountDistinct | AggFunc::First | AggFunc::Last if !input.is_nested() => {
                Ok(if self == AggFunc::CountDistinct {
                    UInt64
                } else {
                    input.clone()
                })
            }
            AggFunc::Min | AggFunc::Max
                if input.is_primitive()
                    || matches!(input, Boolean | Utf8 | LargeUtf8 | Utf8View | Null) =>
            {
                Ok(input.clone())
            }
            _ => Err(format!("{} is not defined for {input}", self.name())),
        }
    }
}

/// An aggregate function over an expression, with the output column's name.
#[derive(Clone, Debug)]
pub struct AggExpr {
    /// The function.
    pub func: AggFunc,
    /// What it aggregates.
    pub input: Expr,
    /// The output column's name: `sum(x)` unless aliased.
    pub name: String,
    /// The second input of a two-input function (`corr`).
    pub second: Option<Expr>,
}

impl AggExpr {
    /// `func(input)`, named `func(input_name)`.
    pub fn new(func: AggFunc, input: Expr) -> Self {
        let name = format!("{}({})", func.name(), input.output_name());
        AggExpr {
            func,
            input,
            name,
            second: None,
        }
    }

    /// Pearson correlation of `x` and `y`, named `corr(x, y)`.
    pub fn corr(x: Expr, y: Expr) -> Self {
        let name = format!("corr({}, {})", x.output_name(), y.output_name());
        AggExpr {
            func: AggFunc::Corr,
            input: x,
            name,
            second: Some(y),
        }
    }

    /// The type the engine's accumulator sees: the input's, or for a two-input function
    /// the pair as a struct of two `Float64` fields.
    ///
    /// # Errors
    /// As [`Expr::data_type`].
    pub fn input_type(&self, schema: &Schema) -> Result<DataType> {
        match &self.second {
            None => self.input.data_type(schema),
            Some(_) => Ok(DataType::Struct(pair_fields())),
        }
    }

    /// Renames the output column.
    pub fn alias(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The output field over `schema`.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] or [`Error::Type`] from the input, or [`Error::Type`] when
    /// the function is not defined for the input's type.
    pub fn to_field(&self, schema: &Schema) -> Result<Field> {
        let input = self.input.data_type(schema)?;
        if let Some(second) = &self.second {
            let other = second.data_type(schema)?;
            for t in [&input, &other] {
                if !t.is_numeric() {
                    return Err(Error::type_error(
                        self,
                        format!("corr needs numbers, not {t}"),
                    ));
                }
            }
        } else if self.func == AggFunc::Corr {
            return Err(Error::type_error(
                self,
                "corr needs two inputs: AggExpr::corr(x, y)",
            ));
        }
        let out = self
            .func
            .output_type(&input)
            .map_err(|m| Error::type_error(self, m))?;
        // Count never gives a null; the others do over no values (sum gives 0).
        let nullable = !matches!(
            self.func,
            AggFunc::Count | AggFunc::Sum | AggFunc::CountDistinct | AggFunc::TopK(_)
        );
        Ok(Field::new(&self.name, out, nullable))
    }
}

/// The fields of a paired input (`x`, `y`, both `Float64`).
pub fn pair_fields() -> arrow::datatypes::Fields {
    vec![
        Field::new("x", DataType::Float64, true),
        Field::new("y", DataType::Float64, true),
    ]
    .into()
}

impl fmt::Display for AggExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let call = match &self.second {
            Some(y) => format!("{}({}, {})", self.func.name(), self.input, y),
            None => format!("{}({})", self.func.name(), self.input),
        };
        if call == self.name {
            f.write_str(&call)
        } else {
            write!(f, "{call} AS {}", self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::col;

    #[test]
    fn output_types_and_names() {
        let s = Schema::new(vec![
            Field::new("i", DataType::Int32, true),
            Field::new("s", DataType::Utf8View, true),
        ]);
        let sum = col("i").sum();
        assert_eq!(sum.to_field(&s).unwrap().data_type(), &DataType::Int64);
        assert_eq!(sum.to_field(&s).unwrap().name(), "sum(i)");
        assert_eq!(
            col("s").max().to_field(&s).unwrap().data_type(),
            &DataType::Utf8View
        );
        let e = col("s").mean().to_field(&s).unwrap_err();
        assert!(
            e.to_string().contains("mean is not defined for Utf8View"),
            "{e}"
        );
        assert_eq!(col("i").count().alias("n").to_string(), "count(i) AS n");
    }
}
