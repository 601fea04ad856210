//! Joins in the logical plan: [`JoinType`] and the [`LogicalPlan::join`] constructor, which
//! checks the keys and names the output columns.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{Field, Schema};

use super::LogicalPlan;
use crate::{Error, Result};

/// Which rows a join keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JoinType {
    /// Pairs of matching rows.
    Inner,
    /// Every left row; right columns null where nothing matches.
    Left,
    /// Every right row; left columns null where nothing matches.
    Right,
    /// Every row of both sides.
    Full,
    /// Left rows that have a match (each once; left columns only).
    Semi,
    /// Left rows that have no match (left columns only).
    Anti,
    /// Every pair of a left row and a right row, with no keys (SQL's `CROSS JOIN`).
    Cross,
}

impl JoinType {
    /// Whether unmatched right rows are output.
    pub fn keeps_unmatched_right(self) -> bool {
        matches!(self, JoinType::Right | JoinType::Full)
    }

    /// Whether the output has the right side's columns.
    pub fn has_right_columns(self) -> bool {
        !matches!(self, JoinType::Semi | JoinType::Anti)
    }
}

impl fmt::Display for JoinType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            JoinType::Inner => "inner",
            JoinType::Left => "left",
            JoinType::Right => "right",
            JoinType::Full => "full",
            JoinType::Semi => "semi",
            JoinType::Anti => "anti",
            JoinType::Cross => "cross",
        };
        f.write_str(s)
    }
}

impl LogicalPlan {
    /// `left` joined with `right` on `left_on[i] == right_on[i]`; with
    /// [`JoinType::Cross`] and no keys, every pair of their rows.
    ///
    /// The output has the left columns, then (except for semi and anti joins) the right
    /// columns other than its keys; a right column whose name the left side already has is
    /// renamed with the suffix `_right`, as in Polars. The key columns are coalesced, as in
    /// SQL's `USING`: an unmatched right row shows its own key values. Columns of the side
    /// that may be missing (right for a left join, left for a right join, both for a full
    /// join) become nullable.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] naming a key and the side's columns; [`Error::Plan`] for
    /// no keys or unequal key counts (keys for a cross join); [`Error::Type`] for keys
    /// whose types differ.
    pub fn join(
        left: Arc<LogicalPlan>,
        right: Arc<LogicalPlan>,
        left_on: Vec<String>,
        right_on: Vec<String>,
        how: JoinType,
    ) -> Result<Self> {
        if how == JoinType::Cross && !(left_on.is_empty() && right_on.is_empty()) {
            return Err(Error::Plan(format!(
                "a cross join takes no keys; got [{}] and [{}]",
                left_on.join(", "),
                right_on.join(", ")
            )));
        }
        if how != JoinType::Cross && (left_on.is_empty() || left_on.len() != right_on.len()) {
            return Err(Error::Plan(format!(
                "a join needs the same number of keys on both sides, at least one; got {} and {}",
                left_on.len(),
                right_on.len()
            )));
        }
        let (ls, rs) = (left.schema(), right.schema());
        let find = |schema: &Schema, name: &str| {
            schema
                .field_with_name(name)
                .cloned()
                .map_err(|_| Error::ColumnNotFound {
                    name: name.to_string(),
                    available: schema.fields().iter().map(|f| f.name().clone()).collect(),
                })
        };
        for (l, r) in left_on.iter().zip(&right_on) {
            let (lf, rf) = (find(&ls, l)?, find(&rs, r)?);
            if lf.data_type() != rf.data_type() {
                return Err(Error::type_error(
                    format!("join on {l} = {r}"),
                    format!(
                        "the keys' types differ ({} and {}); cast one side first",
                        lf.data_type(),
                        rf.data_type()
                    ),
                ));
            }
        }
        let left_nullable = how.keeps_unmatched_right();
        let right_nullable = matches!(how, JoinType::Left | JoinType::Full);
        let mut fields: Vec<Field> = ls
            .fields()
            .iter()
            .map(|f| {
                let key = left_on.contains(f.name());
                // A key column is coalesced: null only if both sides' keys may be.
                let nullable = f.is_nullable() || (left_nullable && !key);
                f.as_ref().clone().with_nullable(nullable)
            })
            .collect();
        if how.has_right_columns() {
            for f in rs.fields() {
                if right_on.contains(f.name()) {
                    continue;
                }
                let mut name = f.name().clone();
                while fields.iter().any(|g| g.name() == &name) {
                    name.push_str("_right");
                }
                fields.push(Field::new(
                    name,
                    f.data_type().clone(),
                    f.is_nullable() || right_nullable,
                ));
            }
        }
        Ok(LogicalPlan::Join {
            left,
            right,
            left_on,
            right_on,
            how,
            schema: Arc::new(Schema::new(fields)),
        })
    }
}
