//! [`Series`]: one lazy column, with element-wise `apply` and reductions that give Rust
//! values.

use arrow::array::ArrayRef;
use spillway_planner::agg::AggExpr;
use spillway_planner::expr::{Expr, col};
use spillway_planner::scalar::{FromScalar, ScalarValue};
use spillway_planner::udf::{ApplyArg, ApplyOut};
use spillway_planner::{Error, Result};

use crate::frame::DataFrame;

/// One lazy column: a one-column [`DataFrame`].
///
/// ```
/// use spillway::prelude::*;
///
/// let session = Session::builder().threads(2).build()?;
/// let n = session.from_vec("n", vec![1_i64, 2, 3, 4, 5], 2)?;
/// let mean: f64 = n.apply(|v: i64| (v * v) as f64)?.mean().compute()?;
/// assert_eq!(mean, 11.0);
/// # Ok::<(), spillway::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Series {
    frame: DataFrame,
}

impl Series {
    pub(crate) fn new(frame: DataFrame) -> Self {
        Series { frame }
    }

    /// The column's name.
    pub fn name(&self) -> String {
        self.frame.schema().field(0).name().clone()
    }

    /// As a one-column frame.
    pub fn into_frame(self) -> DataFrame {
        self.frame
    }

    /// The one-column frame.
    pub fn frame(&self) -> &DataFrame {
        &self.frame
    }

    /// Applies a Rust closure to each value; the output type is the closure's return type
    /// (no `meta` needed). The column keeps its name.
    ///
    /// # Errors
    /// [`Error::Type`] when the closure's argument type cannot take the column's values.
    pub fn apply<A, R, F>(&self, f: F) -> Result<Series>
    where
        A: ApplyArg,
        R: ApplyOut,
        F: Fn(A) -> R + Send + Sync + 'static,
    {
        let name = self.name();
        self.map(col(name.as_str()).apply(f).alias(name))
    }

    /// The column computed by `expr` over this one (e.g. `col("x") * lit(2)`).
    ///
    /// # Errors
    /// As [`DataFrame::select`].
    pub fn map(&self, expr: Expr) -> Result<Series> {
        Ok(Series::new(self.frame.select([expr])?))
    }

    /// Keeps the values where `predicate` (over this column) is true.
    ///
    /// # Errors
    /// As [`DataFrame::filter`].
    pub fn filter(&self, predicate: Expr) -> Result<Series> {
        Ok(Series::new(self.frame.filter(predicate)?))
    }

    /// The first `n` values.
    pub fn head(&self, n: usize) -> Series {
        Series::new(self.frame.head(n))
    }

    fn reduce(&self, f: fn(Expr) -> AggExpr) -> Reduction {
        Reduction {
            frame: self.frame.clone(),
            agg: f(col(self.name().as_str())),
        }
    }

    /// Sum of the non-null values (0 when there are none). Floats add as IEEE 754 does:
    /// a NaN, or both infinities, make the sum NaN.
    pub fn sum(&self) -> Reduction {
        self.reduce(Expr::sum)
    }
    /// Mean of the non-null values (null, or NaN as `f64`, when there are none); NaN as
    /// the sum is.
    pub fn mean(&self) -> Reduction {
        self.reduce(Expr::mean)
    }
    /// Smallest non-null value; floats in IEEE 754 totalOrder, as Arrow's kernels
    /// (`−NaN < −∞ < −0.0 < 0.0 < ∞ < NaN`), so a (positive) NaN is the smallest only
    /// when every value is NaN.
    pub fn min(&self) -> Reduction {
        self.reduce(Expr::min)
    }
    /// Largest non-null value; floats in IEEE 754 totalOrder, as [`Series::min`], so
    /// any (positive) NaN is the largest.
    pub fn max(&self) -> Reduction {
        self.reduce(Expr::max)
    }
    /// Number of non-null values (NaN counts: it is a value).
    pub fn count(&self) -> Reduction {
        self.reduce(Expr::count)
    }
    /// Sample standard deviation (ddof 1, as pandas): null with fewer than two values, NaN when
    /// any value is NaN or infinite.
    pub fn std(&self) -> Reduction {
        self.reduce(Expr::std)
    }
    /// Sample variance (ddof 1, as pandas): null with fewer than two values, NaN when
    /// any value is NaN or infinite.
    pub fn var(&self) -> Reduction {
        self.reduce(Expr::var)
    }
    /// Number of distinct non-null values.
    pub fn n_unique(&self) -> Reduction {
        self.reduce(Expr::n_unique)
    }
    /// The first value, in partition order.
    pub fn first(&self) -> Reduction {
        self.reduce(Expr::first)
    }
    /// The last value, in partition order.
    pub fn last(&self) -> Reduction {
        self.reduce(Expr::last)
    }
    /// Exact median of the non-null values.
    pub fn median(&self) -> Reduction {
        self.reduce(Expr::median)
    }
    /// Exact quantile `q` (0 to 1) of the non-null values, with linear interpolation.
    pub fn quantile(&self, q: f64) -> Reduction {
        Reduction {
            frame: self.frame.clone(),
            agg: col(self.name().as_str()).quantile(q),
        }
    }

    /// Runs the plan and returns the values as one array.
    ///
    /// # Errors
    /// As [`DataFrame::collect`].
    pub fn collect(&self) -> Result<ArrayRef> {
        Ok(std::sync::Arc::clone(self.frame.collect_batch()?.column(0)))
    }
}

/// A lazy reduction of a [`Series`]; [`Reduction::compute`] runs it.
#[derive(Clone, Debug)]
pub struct Reduction {
    frame: DataFrame,
    agg: AggExpr,
}

impl Reduction {
    /// The one-row frame this reduction computes.
    ///
    /// # Errors
    /// [`Error::Type`] when the reduction is not defined for the column's type.
    pub fn frame(&self) -> Result<DataFrame> {
        self.frame.agg([self.agg.clone()])
    }

    /// Runs the computation and returns the value as `T` (`f64`, `i64`, `Option<T>`,
    /// `String`, or a [`ScalarValue`]).
    ///
    /// # Errors
    /// As [`DataFrame::collect`], or [`Error::Conversion`] when the result does not fit `T`
    /// (a null asked as a non-`Option` integer, say).
    pub fn compute<T: FromScalar>(&self) -> Result<T> {
        let batch = self.frame()?.collect_batch()?;
        if batch.num_rows() != 1 {
            return Err(Error::Internal(format!(
                "a reduction gave {} rows",
                batch.num_rows()
            )));
        }
        ScalarValue::try_from_array(std::sync::Arc::clone(batch.column(0)))?.to_value()
    }

    /// The `explain` of the computation.
    ///
    /// # Errors
    /// As [`DataFrame::explain`].
    pub fn explain(&self) -> Result<String> {
        self.frame()?.explain()
    }
}
