//! Frame operations over several frames: [`DataFrame::concat`], [`DataFrame::union_all`] and
//! [`DataFrame::union`] (a `Union` plan node: the inputs' partitions side by side), and
//! [`DataFrame::cross_join`] (a join with no keys).

use std::sync::Arc;

use arrow::datatypes::{DataType, Schema};
use spillway_planner::coerce::common_type;
use spillway_planner::expr::{Expr, col};
use spillway_planner::logical::{JoinType, LogicalPlan};
use spillway_planner::{Error, Result};

use super::DataFrame;
use super::columns::not_found;

impl DataFrame {
    /// The rows of every frame, matched **by name** (Polars' `concat(how="vertical_relaxed")`,
    /// SQL's `UNION ALL BY NAME`): the columns come in the first frame's order, every frame
    /// must have the same column names, and a column whose types differ between frames
    /// takes their common type (the type `=` would compare them in, as
    /// [`common_type`](crate::coerce::common_type) folds it: `Int32` and `Int64` give
    /// `Int64`, an integer and a float `Float64`, two string types `Utf8View`; a value that
    /// does not fit is an error when the plan runs). Duplicates are kept.
    ///
    /// Nothing is moved: the partitions of each frame follow those of the frame before, in
    /// order, each side's work fused into its own tasks. The plan runs on the first frame's
    /// session.
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let a = session.from_vec("x", vec![1_i32, 2], 2)?.into_frame();
    /// let b = session.from_vec("x", vec![2_i64, 3, 4], 1)?.into_frame();
    /// let all = DataFrame::concat([&a, &b])?;
    /// assert_eq!(all.schema().field(0).data_type(), &DataType::Int64);
    /// assert_eq!(all.count_rows()?, 5);
    /// let y = session.from_vec("y", vec![1_i64], 1)?.into_frame();
    /// assert!(matches!(DataFrame::concat([&a, &y]), Err(Error::ColumnNotFound { .. })));
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Plan`] for no frames, or a frame with a column the first does not have;
    /// [`Error::ColumnNotFound`] for a frame without a column of the first, listing its
    /// columns; [`Error::Type`] for a column whose types have no common type, naming the
    /// column, the frame and the types.
    pub fn concat<'a>(frames: impl IntoIterator<Item = &'a DataFrame>) -> Result<DataFrame> {
        let frames: Vec<&DataFrame> = frames.into_iter().collect();
        let first = frames
            .first()
            .ok_or_else(|| Error::Plan("concat needs at least one frame".into()))?;
        let schemas: Vec<Arc<Schema>> = frames.iter().map(|f| f.schema()).collect();
        let names: Vec<&String> = schemas[0].fields().iter().map(|f| f.name()).collect();
        for (n, schema) in schemas.iter().enumerate().skip(1) {
            if let Some(missing) = names.iter().find(|n| schema.field_with_name(n).is_err()) {
                return Err(not_found(schema, missing));
            }
            if let Some(extra) = schema.fields().iter().find(|f| !names.contains(&f.name())) {
                return Err(Error::Plan(format!(
                    "concat: frame {n} has column '{}', which frame 0 does not have \
                     (frame 0 has [{}])",
                    extra.name(),
                    names
                        .iter()
                        .map(|n| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let types = names
            .iter()
            .map(|name| column_type(name, &schemas))
            .collect::<Result<Vec<_>>>()?;
        let inputs = frames
            .iter()
            .zip(&schemas)
            .map(|(frame, schema)| aligned(frame, schema, &names, &types))
            .collect::<Result<Vec<_>>>()?;
        Ok(first.then(LogicalPlan::union(inputs)?))
    }

    /// The rows of this frame, then those of `other`, duplicates kept (SQL's `UNION ALL`):
    /// [`DataFrame::concat`] of the two, columns matched by name.
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let a = session.from_vec("x", vec![1_i64, 2], 1)?.into_frame();
    /// let b = session.from_vec("x", vec![2_i64, 3], 2)?.into_frame();
    /// assert_eq!(a.union_all(&b)?.count_rows()?, 4);
    /// assert_eq!(a.union(&b)?.count_rows()?, 3);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`DataFrame::concat`].
    pub fn union_all(&self, other: &DataFrame) -> Result<DataFrame> {
        DataFrame::concat([self, other])
    }

    /// The distinct rows of this frame and `other` together (SQL's `UNION`):
    /// [`DataFrame::union_all`], then [`DataFrame::distinct`] (within the memory limit,
    /// spilling; the rows in no defined order).
    ///
    /// # Errors
    /// As [`DataFrame::concat`]; as [`DataFrame::distinct`] for a column type that cannot
    /// be a key.
    pub fn union(&self, other: &DataFrame) -> Result<DataFrame> {
        self.union_all(other)?.distinct()
    }

    /// Every pair of a row of this frame and a row of `right` (SQL's `CROSS JOIN`, Polars'
    /// `join(how="cross")`): this frame's columns, then `right`'s, a right column whose
    /// name is taken renamed with `_right` as [`DataFrame::join`] does.
    ///
    /// `right` is read in parallel and held once, in memory when it fits the memory
    /// limit's share for held rows (as a broadcast join's right side; make the smaller
    /// frame the right one), spilled beyond it; each partition of this frame then streams
    /// through all of it, so the output keeps this frame's partitions and nothing but the
    /// held rows is reserved. A spilled right side is read again for every batch of this
    /// frame. Rows come out partition by partition of this frame; their order within a
    /// partition follows both sides' batches and is not otherwise defined.
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let sizes = session.from_vec("size", vec!["S", "M", "L"], 2)?.into_frame();
    /// let colours = session.from_vec("colour", vec!["red", "blue"], 1)?.into_frame();
    /// let all = sizes.cross_join(&colours)?;
    /// assert_eq!(all.schema().field(1).name(), "colour");
    /// assert_eq!(all.count_rows()?, 6);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// None today: every pair of frames can be crossed (the `Result` is for the checks
    /// every join makes).
    pub fn cross_join(&self, right: &DataFrame) -> Result<DataFrame> {
        Ok(self.then(LogicalPlan::join(
            Arc::clone(&self.plan),
            Arc::clone(&right.plan),
            Vec::new(),
            Vec::new(),
            JoinType::Cross,
        )?))
    }
}

/// The type column `name` takes in the union of frames of `schemas`: theirs when they
/// agree, their common type otherwise.
fn column_type(name: &str, schemas: &[Arc<Schema>]) -> Result<DataType> {
    let types: Vec<&DataType> = schemas
        .iter()
        .map(|s| s.field_with_name(name).map(|f| f.data_type()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Internal(format!("concat lost column {name}")))?;
    if types.iter().all(|t| *t == types[0]) {
        return Ok(types[0].clone());
    }
    let column = col(name);
    let items: Vec<(&Expr, &DataType)> = types.iter().map(|t| (&column, *t)).collect();
    common_type(&items).map_err(|(i, others)| {
        Error::type_error(
            format!("concat of column {name}"),
            format!(
                "frame {i} has it as {}, which does not go with {others} (the frames before)",
                types[i]
            ),
        )
    })
}

/// The plans of a join's two sides with each pair of keys of different types cast to their
/// common type, the one `=` compares them in (`Int32` with `Int64` joins as `Int64`, a
/// `Decimal(12, 2)` with a `Decimal(15, 4)` as `Decimal(15, 4)`, as Polars and DuckDB do).
/// Keys with no common type, or missing, are left for the join to refuse by name.
pub(super) fn join_sides(
    left: &DataFrame,
    right: &DataFrame,
    left_on: &[String],
    right_on: &[String],
) -> Result<(Arc<LogicalPlan>, Arc<LogicalPlan>)> {
    let (ls, rs) = (left.schema(), right.schema());
    let types = |s: &Schema| -> Vec<DataType> {
        s.fields().iter().map(|f| f.data_type().clone()).collect()
    };
    let (mut lt, mut rt) = (types(&ls), types(&rs));
    for (l, r) in left_on.iter().zip(right_on) {
        let (Ok(li), Ok(ri)) = (ls.index_of(l), rs.index_of(r)) else {
            continue;
        };
        if lt[li] == rt[ri] {
            continue;
        }
        let (lc, rc) = (col(l.as_str()), col(r.as_str()));
        if let Ok(t) = common_type(&[(&lc, &lt[li]), (&rc, &rt[ri])]) {
            (lt[li], rt[ri]) = (t.clone(), t);
        }
    }
    let names =
        |s: &Schema| -> Vec<String> { s.fields().iter().map(|f| f.name().clone()).collect() };
    let (ln, rn) = (names(&ls), names(&rs));
    Ok((
        aligned(left, &ls, &ln.iter().collect::<Vec<_>>(), &lt)?,
        aligned(right, &rs, &rn.iter().collect::<Vec<_>>(), &rt)?,
    ))
}

/// `frame`'s plan with its columns in the order `names`, cast to `types`.
fn aligned(
    frame: &DataFrame,
    schema: &Schema,
    names: &[&String],
    types: &[DataType],
) -> Result<Arc<LogicalPlan>> {
    let same = schema.fields().len() == names.len()
        && schema
            .fields()
            .iter()
            .zip(names.iter().zip(types))
            .all(|(f, (n, t))| f.name() == *n && f.data_type() == t);
    if same {
        return Ok(Arc::clone(&frame.plan));
    }
    let exprs = names
        .iter()
        .zip(types)
        .map(|(name, t)| {
            let f = schema
                .field_with_name(name)
                .map_err(|_| not_found(schema, name))?;
            Ok(if f.data_type() == t {
                col(name.as_str())
            } else {
                col(name.as_str()).cast(t.clone()).alias(name.as_str())
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(LogicalPlan::project(
        Arc::clone(&frame.plan),
        exprs,
    )?))
}
