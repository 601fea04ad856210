//! Frame operations on columns: [`DataFrame::rename`], [`DataFrame::rename_many`] and
//! [`DataFrame::drop`] (projections of the input), and [`DataFrame::with_row_index`].

use std::sync::Arc;

use arrow::datatypes::Schema;
use spillway_planner::expr::{Expr, col};
use spillway_planner::logical::LogicalPlan;
use spillway_planner::{Error, Result};

use super::DataFrame;

/// [`Error::ColumnNotFound`] for `name`, listing `schema`'s columns.
pub(super) fn not_found(schema: &Schema, name: &str) -> Error {
    Error::ColumnNotFound {
        name: name.to_string(),
        available: schema.fields().iter().map(|f| f.name().clone()).collect(),
    }
}

/// Checks that `names` are columns of `schema`, each named once; `what` names the operation
/// in the error.
pub(super) fn check_columns(schema: &Schema, names: &[String], what: &str) -> Result<()> {
    for (i, name) in names.iter().enumerate() {
        if schema.field_with_name(name).is_err() {
            return Err(not_found(schema, name));
        }
        if names[..i].contains(name) {
            return Err(Error::Plan(format!("{what} names column '{name}' twice")));
        }
    }
    Ok(())
}

impl DataFrame {
    /// The same frame with column `old` named `new` (Polars' `rename`); the columns keep
    /// their order.
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let df = session.from_vec("x", vec![1_i64, 2], 2)?.into_frame();
    /// let renamed = df.rename("x", "count")?;
    /// assert_eq!(renamed.schema().field(0).name(), "count");
    /// assert!(matches!(df.rename("typo", "y"), Err(Error::ColumnNotFound { .. })));
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`DataFrame::rename_many`].
    pub fn rename(&self, old: &str, new: &str) -> Result<DataFrame> {
        self.rename_many([(old, new)])
    }

    /// The same frame with each `(old, new)` pair's column `old` named `new`, all at once
    /// (so `[("a", "b"), ("b", "a")]` swaps two names); the columns keep their order.
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let df = session
    ///     .from_vec("a", vec![1_i64, 2], 1)?
    ///     .into_frame()
    ///     .with_column((col("a") * lit(10)).alias("b"))?;
    /// let swapped = df.rename_many([("a", "b"), ("b", "a")])?;
    /// let names: Vec<String> = swapped.schema().fields().iter().map(|f| f.name().clone()).collect();
    /// assert_eq!(names, ["b", "a"]);
    /// assert_eq!(swapped.column("a")?.into_frame().collect_batch()?.num_rows(), 2);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] for an `old` name the frame does not have; [`Error::Plan`]
    /// for an `old` name given twice, or when two columns would end up with one name.
    pub fn rename_many<O, N>(&self, pairs: impl IntoIterator<Item = (O, N)>) -> Result<DataFrame>
    where
        O: Into<String>,
        N: Into<String>,
    {
        let (old, new): (Vec<String>, Vec<String>) =
            pairs.into_iter().map(|(o, n)| (o.into(), n.into())).unzip();
        let schema = self.schema();
        check_columns(&schema, &old, "rename")?;
        let names: Vec<&String> = schema
            .fields()
            .iter()
            .map(|f| {
                old.iter()
                    .position(|o| o == f.name())
                    .map_or(f.name(), |i| &new[i])
            })
            .collect();
        if let Some((i, name)) = names
            .iter()
            .enumerate()
            .find(|(i, n)| names[..*i].contains(n))
        {
            let first = names.iter().position(|n| n == name).unwrap_or(i);
            return Err(Error::Plan(format!(
                "rename would name two columns '{name}' (columns '{}' and '{}')",
                schema.field(first).name(),
                schema.field(i).name()
            )));
        }
        let exprs = schema.fields().iter().zip(&names).map(|(f, n)| {
            if f.name() == *n {
                col(f.name().as_str())
            } else {
                col(f.name().as_str()).alias(n.as_str())
            }
        });
        self.select(exprs)
    }

    /// The frame without `columns` (Polars' `drop`); the others keep their order. No
    /// columns to drop is the frame as it is.
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let df = session
    ///     .from_vec("a", vec![1_i64, 2], 1)?
    ///     .into_frame()
    ///     .with_columns([(col("a") + lit(1)).alias("b"), (col("a") + lit(2)).alias("c")])?;
    /// let names: Vec<String> =
    ///     df.drop(["b"])?.schema().fields().iter().map(|f| f.name().clone()).collect();
    /// assert_eq!(names, ["a", "c"]);
    /// assert!(matches!(df.drop(["nope"]), Err(Error::ColumnNotFound { .. })));
    /// assert!(df.drop(["a", "b", "c"]).is_err());
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] for a column the frame does not have; [`Error::Plan`] for a
    /// column named twice, or when no column would be left.
    pub fn drop<S: Into<String>>(&self, columns: impl IntoIterator<Item = S>) -> Result<DataFrame> {
        let columns: Vec<String> = columns.into_iter().map(Into::into).collect();
        if columns.is_empty() {
            return Ok(self.clone());
        }
        let schema = self.schema();
        check_columns(&schema, &columns, "drop")?;
        let kept: Vec<Expr> = schema
            .fields()
            .iter()
            .filter(|f| !columns.contains(f.name()))
            .map(|f| col(f.name().as_str()))
            .collect();
        if kept.is_empty() {
            return Err(Error::Plan(format!(
                "drop would leave no column: it drops all of [{}]",
                columns.join(", ")
            )));
        }
        self.select(kept)
    }

    /// The frame with its rows numbered in a first column `name`, of type `UInt64`, from
    /// `offset` (Polars' `with_row_index`): in partition order, the first row of a
    /// partition numbered on from the last of the one before, whatever the partitioning.
    ///
    /// A partition's first number is known only once the partitions before it are read:
    /// with several partitions, each partition's rows are held (spilled beyond the memory
    /// limit's share, as [`DataFrame::repartition`] holds them), their rows counted, and
    /// each read back and numbered. One partition is numbered as it streams.
    ///
    /// ```
    /// use spillway::prelude::*;
    /// use spillway::arrow::array::AsArray;
    /// use spillway::arrow::datatypes::UInt64Type;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let df = session.from_vec("x", vec![5_i64, 6, 7, 8, 9], 3)?.into_frame();
    /// let out = df.with_row_index("i", 10)?.collect_batch()?;
    /// assert_eq!(out.schema().field(0).name(), "i");
    /// let index = out.column(0).as_primitive::<UInt64Type>();
    /// assert_eq!(index.values(), &[10, 11, 12, 13, 14]);
    /// assert!(df.with_row_index("x", 0).is_err());
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Plan`] when the frame has a column `name`. When the plan runs, an
    /// [`Error::Compute`] if a number would pass `u64::MAX`.
    pub fn with_row_index(&self, name: &str, offset: u64) -> Result<DataFrame> {
        Ok(self.then(LogicalPlan::row_index(
            Arc::clone(&self.plan),
            name.to_string(),
            offset,
        )?))
    }
}
