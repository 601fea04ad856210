//! Frame operations on columns: [`DataFrame::rename`], [`DataFrame::rename_many`],
//! [`DataFrame::drop`] and [`DataFrame::fill_null`] (projections of the input), and
//! [`DataFrame::with_row_index`].

use std::sync::Arc;

use arrow::datatypes::{DataType, Schema};
use spillway_planner::expr::{Expr, col, lit};
use spillway_planner::logical::LogicalPlan;
use spillway_planner::scalar::ScalarValue;
use spillway_planner::{Error, Result};

use super::DataFrame;

/// [`Error::ColumnNotFound`] for `name`, listing `schema`'s columns.
pub(super) fn not_found(schema: &Schema, name: &str) -> Error {
    Error::ColumnNotFound {
        name: name.to_string(),
        available: schema.fields().iter().map(|f| f.name().clone()).collect(),
    }
}

/// A column name `prefix` or `prefix_1`, `prefix_2`, ... that `schema` does not have.
pub(super) fn unused_name(schema: &Schema, prefix: &str) -> String {
    let mut name = prefix.to_string();
    let mut n = 0;
    while schema.field_with_name(&name).is_ok() {
        n += 1;
        name = format!("{prefix}_{n}");
    }
    name
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

    /// The frame with the nulls of every column that can hold `value` replaced by it
    /// (Polars' `DataFrame.fill_null(value)`); the other columns as they are. A column
    /// takes the value, converted to its type (which it keeps), when:
    ///
    /// - the value is of the column's type;
    /// - the value is an integer and the column a number that holds it (an integer type
    ///   wide enough, any float, a decimal with the digits for it);
    /// - the value is a float or a decimal and the column a float, or a decimal that holds
    ///   it;
    /// - both are strings (a dictionary column counts as its value type).
    ///
    /// A null value fills nothing. Filled columns are no longer nullable.
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let n = std::sync::Arc::new(arrow::array::Int64Array::from(vec![Some(1), None]));
    /// let df = session
    ///     .from_array("n", n, 1)?
    ///     .into_frame()
    ///     .with_column(col("n").cast(DataType::Utf8View).alias("s"))?;
    /// let filled = df.fill_null(0)?;
    /// assert_eq!(filled.schema().field(0).data_type(), &DataType::Int64);
    /// // The string column cannot hold 0: its null stays.
    /// let out = filled.collect_batch()?;
    /// assert_eq!((out.column(0).null_count(), out.column(1).null_count()), (0, 1));
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// None when the plan is built (a column that cannot hold the value is left as it
    /// is); the `Result` is that of the projection.
    pub fn fill_null(&self, value: impl Into<ScalarValue>) -> Result<DataFrame> {
        let value: ScalarValue = value.into();
        let schema = self.schema();
        let exprs = schema.fields().iter().map(|f| {
            let name = f.name().as_str();
            let values = match f.data_type() {
                DataType::Dictionary(_, values) => values.as_ref(),
                t => t,
            };
            match fill_value(&value, values) {
                Some(v) if f.is_nullable() => {
                    let filled = col(name).fill_null(lit(v));
                    let filled = if values == f.data_type() {
                        filled
                    } else {
                        filled.cast(f.data_type().clone())
                    };
                    filled.alias(name)
                }
                _ => col(name),
            }
        });
        self.select(exprs.collect::<Vec<Expr>>())
    }
}

/// `value` converted to `to`, when a column of type `to` can hold it (see
/// [`DataFrame::fill_null`]).
fn fill_value(value: &ScalarValue, to: &DataType) -> Option<ScalarValue> {
    let from = value.data_type();
    if value.is_null() {
        return None;
    }
    let is_decimal = |t: &DataType| {
        matches!(
            t,
            DataType::Decimal32(..)
                | DataType::Decimal64(..)
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
        )
    };
    let is_string =
        |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    let converted = value.cast_to(to).ok()?;
    let fits = if from == to || (is_string(from) && is_string(to)) {
        true
    } else if to.is_floating() {
        from.is_numeric()
    } else if from.is_integer() && (to.is_integer() || is_decimal(to)) {
        // Nothing lost: the value comes back as it was.
        converted.cast_to(from).is_ok_and(|back| back == *value)
    } else {
        (from.is_floating() || is_decimal(from)) && is_decimal(to)
    };
    fits.then_some(converted)
}
