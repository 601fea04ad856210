//! Reshaping a frame: [`DataFrame::unpivot`], from wide to long, with existing plan nodes
//! (a projection adding the list of column names, an explode of it, and a projection
//! picking each row's value), so it streams, one batch at a time.

use std::sync::Arc;

use arrow::array::{ListBuilder, StringViewBuilder};
use arrow::datatypes::{DataType, Schema};
use spillway_planner::coerce::common_type;
use spillway_planner::expr::{Expr, col, lit, null};
use spillway_planner::functions::when;
use spillway_planner::scalar::ScalarValue;
use spillway_planner::{Error, Result};

use super::DataFrame;
use super::columns::{check_columns, not_found, unused_name};

impl DataFrame {
    /// From wide to long (Polars' `unpivot`, pandas' `melt`): one row per input row and
    /// column of `on`, holding the `index` columns, the name of the `on` column
    /// (`variable_name`, `Utf8View`) and its value (`value_name`). The values take the
    /// common type of the `on` columns (as [`DataFrame::concat`] brings columns to one
    /// type: `Int32` and `Float64` give `Float64`). An empty `on` means every column not in
    /// `index`.
    ///
    /// Streams: each input batch gives its rows times the `on` columns, each input row's
    /// values together, in `on`'s order (Polars gives them column by column). Nothing is
    /// held.
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let df = session
    ///     .from_vec("id", vec![1_i64, 2], 2)?
    ///     .into_frame()
    ///     .with_columns([(col("id") * lit(10)).alias("q1"), (col("id") * lit(100)).alias("q2")])?;
    /// let long = df.unpivot(["id"], ["q1", "q2"], "quarter", "sales")?;
    /// let names: Vec<String> = long.schema().fields().iter().map(|f| f.name().clone()).collect();
    /// assert_eq!(names, ["id", "quarter", "sales"]);
    /// assert_eq!(long.count_rows()?, 4);
    /// let empty_on: [&str; 0] = [];
    /// assert_eq!(df.unpivot(["id"], empty_on, "variable", "value")?.count_rows()?, 4);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] for an `index` or `on` column the frame does not have;
    /// [`Error::Plan`] for a column named twice, in both lists, nothing to unpivot, or a
    /// `variable_name` or `value_name` taken by the other or by an `index` column;
    /// [`Error::Type`] for `on` columns with no common type, naming the column and types.
    pub fn unpivot<I, O>(
        &self,
        index: impl IntoIterator<Item = I>,
        on: impl IntoIterator<Item = O>,
        variable_name: &str,
        value_name: &str,
    ) -> Result<DataFrame>
    where
        I: Into<String>,
        O: Into<String>,
    {
        let index: Vec<String> = index.into_iter().map(Into::into).collect();
        let mut on: Vec<String> = on.into_iter().map(Into::into).collect();
        let schema = self.schema();
        check_columns(&schema, &index, "unpivot's index")?;
        check_columns(&schema, &on, "unpivot's on")?;
        if let Some(both) = on.iter().find(|c| index.contains(c)) {
            return Err(Error::Plan(format!(
                "unpivot has column '{both}' both in its index and among the columns to unpivot"
            )));
        }
        if on.is_empty() {
            on = schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|n| !index.contains(n))
                .collect();
        }
        if on.is_empty() {
            return Err(Error::Plan(
                "unpivot has no column to unpivot: the index holds them all".into(),
            ));
        }
        for (what, name) in [("variable_name", variable_name), ("value_name", value_name)] {
            if index.iter().any(|c| c == name) {
                return Err(Error::Plan(format!(
                    "unpivot's {what} '{name}' is the name of an index column"
                )));
            }
        }
        if variable_name == value_name {
            return Err(Error::Plan(format!(
                "unpivot's variable_name and value_name are both '{value_name}'"
            )));
        }
        let value_type = on_type(&schema, &on)?;
        // Each row repeated once per name of `on` (an explode of their list), then each
        // repeat's value picked by its name.
        let names = unused_name(&schema, "__unpivot_variable");
        let mut wide: Vec<Expr> = index.iter().chain(&on).map(|c| col(c.as_str())).collect();
        wide.push(lit(name_list(&on)?).alias(names.as_str()));
        let value = if let [only] = on.as_slice() {
            cast_to(only, &schema, &value_type)?
        } else {
            let pick = |c: &String| -> Result<(Expr, Expr)> {
                Ok((
                    col(names.as_str()).eq(lit(c.clone())),
                    cast_to(c, &schema, &value_type)?,
                ))
            };
            let (c, v) = pick(&on[0])?;
            let mut chain = when(c).then(v);
            for column in &on[1..] {
                let (c, v) = pick(column)?;
                chain = chain.when(c).then(v);
            }
            chain.otherwise(null(&value_type))
        };
        let mut long: Vec<Expr> = index.iter().map(|c| col(c.as_str())).collect();
        long.push(col(names.as_str()).alias(variable_name));
        long.push(value.alias(value_name));
        self.select(wide)?.explode(&names)?.select(long)
    }
}

/// The type the values of the `on` columns take: theirs when they agree, their common type
/// otherwise.
fn on_type(schema: &Schema, on: &[String]) -> Result<DataType> {
    let types: Vec<&DataType> = on
        .iter()
        .map(|c| schema.field_with_name(c).map(|f| f.data_type()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Internal("unpivot lost a column".into()))?;
    if types.iter().all(|t| *t == types[0]) {
        return Ok(types[0].clone());
    }
    let columns: Vec<Expr> = on.iter().map(|c| col(c.as_str())).collect();
    let items: Vec<(&Expr, &DataType)> = columns.iter().zip(types.iter().copied()).collect();
    common_type(&items).map_err(|(i, others)| {
        Error::type_error(
            format!("unpivot of column {}", on[i]),
            format!(
                "its values are {}, which do not go with {others} (the columns before); cast \
                 one first",
                types[i]
            ),
        )
    })
}

/// Column `name` of `schema`, cast to `to` if it is of another type.
fn cast_to(name: &str, schema: &Schema, to: &DataType) -> Result<Expr> {
    let t = schema
        .field_with_name(name)
        .map_err(|_| not_found(schema, name))?
        .data_type();
    Ok(if t == to {
        col(name)
    } else {
        col(name).cast(to.clone())
    })
}

/// A list literal of the `names`, as `Utf8View`s.
fn name_list(names: &[String]) -> Result<ScalarValue> {
    let mut list = ListBuilder::new(StringViewBuilder::new());
    for n in names {
        list.values().append_value(n);
    }
    list.append(true);
    ScalarValue::try_from_array(Arc::new(list.finish()))
}
