//! The logical plan: an immutable tree built by the lazy `DataFrame` API.
//!
//! A closed enum; children are shared behind `Arc` so building on a plan is cheap. Every
//! constructor checks the node against its input's schema, so an unknown column or a type
//! error fails when the user builds the plan, naming the column and the columns available,
//! never when it runs. [`LogicalPlan`]'s `Display` is the indented tree `explain` prints.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::agg::AggExpr;
use crate::expr::Expr;
use crate::sort::SortKey;
use crate::source::DataSource;
use crate::udf::{PartitionFn, describe_schema};
use crate::{Error, Result};

mod join;

pub use join::JoinType;

/// A node of the logical plan.
#[derive(Clone, Debug)]
pub enum LogicalPlan {
    /// Reads a source.
    Scan {
        /// The table.
        source: Arc<dyn DataSource>,
        /// Indices of the source columns read, in output order; `None` for all.
        projection: Option<Vec<usize>>,
        /// Filters pushed into the source (over the source's full schema).
        filters: Vec<Expr>,
        /// The output schema (the projected source schema).
        schema: SchemaRef,
    },
    /// Computes the output columns from expressions (`select`, `with_columns`).
    Project {
        /// The input.
        input: Arc<LogicalPlan>,
        /// One expression per output column.
        exprs: Vec<Expr>,
        /// The output schema.
        schema: SchemaRef,
    },
    /// Keeps the rows where the predicate is true (null counts as false).
    Filter {
        /// The input.
        input: Arc<LogicalPlan>,
        /// A Boolean expression.
        predicate: Expr,
    },
    /// Runs a user closure over each whole partition.
    MapPartitions {
        /// The input.
        input: Arc<LogicalPlan>,
        /// The closure, with its declared output schema.
        func: PartitionFn,
    },
    /// The first `n` rows, in partition order.
    Limit {
        /// The input.
        input: Arc<LogicalPlan>,
        /// How many rows.
        n: usize,
    },
    /// Rows of `left` and `right` whose keys are equal (null keys never match, as in SQL).
    Join {
        /// The probe side, whose columns come first.
        left: Arc<LogicalPlan>,
        /// The build side.
        right: Arc<LogicalPlan>,
        /// Key columns of the left side.
        left_on: Vec<String>,
        /// Key columns of the right side, pairwise equal to `left_on`.
        right_on: Vec<String>,
        /// Which rows are kept.
        how: JoinType,
        /// The output schema.
        schema: SchemaRef,
    },
    /// The same rows in the same order, cut into other partitions (Dask's `repartition`):
    /// neighbouring partitions joined, or each cut into pieces of equal row counts.
    Repartition {
        /// The input.
        input: Arc<LogicalPlan>,
        /// How many partitions, or how big.
        to: Partitioning,
    },
    /// One row per element of a list column, the other columns repeated (an empty or null
    /// list gives one row with a null element, as in pandas and Polars).
    Explode {
        /// The input.
        input: Arc<LogicalPlan>,
        /// The list column.
        column: String,
        /// The output schema: the list column replaced by its element type.
        schema: SchemaRef,
    },
    /// Sorts all rows by the keys (stable: equal keys keep their input order), keeping the
    /// first `fetch` when given (top-k).
    Sort {
        /// The input.
        input: Arc<LogicalPlan>,
        /// The keys, most significant first.
        keys: Vec<SortKey>,
        /// Keep only the first rows of the sorted order.
        fetch: Option<usize>,
    },
    /// Aggregates per group of equal keys (one row per group, in no defined order), or
    /// global aggregates (no keys: one row).
    Aggregate {
        /// The input.
        input: Arc<LogicalPlan>,
        /// The group keys, output first; empty for global aggregates.
        keys: Vec<Expr>,
        /// The aggregates, one per output column after the keys.
        aggs: Vec<AggExpr>,
        /// The output schema.
        schema: SchemaRef,
    },
    /// The rows of every input, the partitions of one after those of the one before (SQL's
    /// `UNION ALL`); the inputs' columns have the same names and types, in one order.
    Union {
        /// The inputs, at least one.
        inputs: Vec<Arc<LogicalPlan>>,
        /// The output schema: the inputs', a column nullable when it is in any input.
        schema: SchemaRef,
    },
    /// The rows numbered in order across partitions, `offset` first: a `UInt64` column put
    /// before the input's columns (Polars' `with_row_index`).
    RowIndex {
        /// The input.
        input: Arc<LogicalPlan>,
        /// The index column's name.
        name: String,
        /// The first row's number.
        offset: u64,
        /// The output schema: the index, then the input's columns.
        schema: SchemaRef,
    },
}

/// The partitions a [`LogicalPlan::Repartition`] cuts its rows into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partitioning {
    /// This many partitions (at least 1).
    Count(usize),
    /// Partitions of about this many decoded bytes, counted from the input's size
    /// estimate when the plan is lowered (at least 1 byte).
    Bytes(usize),
}

impl fmt::Display for Partitioning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Partitioning::Count(n) => write!(f, "{n} partitions"),
            Partitioning::Bytes(b) => write!(f, "partitions of about {b} bytes"),
        }
    }
}

/// The schema of one output column per item, each resolved over `input`'s schema, with
/// distinct names.
fn output_schema<T>(
    input: &LogicalPlan,
    items: &[T],
    to_field: impl Fn(&T, &Schema) -> Result<Field>,
    what: &str,
) -> Result<SchemaRef> {
    let in_schema = input.schema();
    let fields = items
        .iter()
        .map(|i| to_field(i, &in_schema))
        .collect::<Result<Vec<_>>>()?;
    unique_names(&fields, what)?;
    Ok(Arc::new(Schema::new(fields)))
}

fn unique_names(fields: &[Field], what: &str) -> Result<()> {
    for (i, f) in fields.iter().enumerate() {
        if fields[..i].iter().any(|g| g.name() == f.name()) {
            return Err(Error::Plan(format!(
                "{what} produces column '{}' twice; give one of them another name with alias",
                f.name()
            )));
        }
    }
    Ok(())
}

impl LogicalPlan {
    /// Reads all columns of `source`.
    pub fn scan(source: Arc<dyn DataSource>) -> Self {
        let schema = source.schema();
        LogicalPlan::Scan {
            source,
            projection: None,
            filters: Vec::new(),
            schema,
        }
    }

    /// Computes `exprs` over `input`.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] / [`Error::Type`] from an expression, [`Error::Plan`] for no
    /// expressions or two output columns of one name.
    pub fn project(input: Arc<LogicalPlan>, exprs: Vec<Expr>) -> Result<Self> {
        if exprs.is_empty() {
            return Err(Error::Plan("select needs at least one column".into()));
        }
        let schema = output_schema(&input, &exprs, Expr::to_field, "select")?;
        Ok(LogicalPlan::Project {
            input,
            exprs,
            schema,
        })
    }

    /// Keeps the rows of `input` where `predicate` is true.
    ///
    /// # Errors
    /// As [`Expr::to_field`], or [`Error::Type`] when the predicate is not Boolean.
    pub fn filter(input: Arc<LogicalPlan>, predicate: Expr) -> Result<Self> {
        let t = predicate.data_type(&input.schema())?;
        if !matches!(
            t,
            arrow::datatypes::DataType::Boolean | arrow::datatypes::DataType::Null
        ) {
            return Err(Error::type_error(
                format!("filter({predicate})"),
                format!("a filter needs a Boolean expression, got {t}"),
            ));
        }
        Ok(LogicalPlan::Filter { input, predicate })
    }

    /// Runs `func` over each partition of `input`.
    pub fn map_partitions(input: Arc<LogicalPlan>, func: PartitionFn) -> Self {
        LogicalPlan::MapPartitions { input, func }
    }

    /// The first `n` rows of `input`.
    pub fn limit(input: Arc<LogicalPlan>, n: usize) -> Self {
        LogicalPlan::Limit { input, n }
    }

    /// `input` with list column `column` exploded into one row per element.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`], or [`Error::Type`] when the column is not a list.
    pub fn explode(input: Arc<LogicalPlan>, column: String) -> Result<Self> {
        let in_schema = input.schema();
        let i = in_schema
            .index_of(&column)
            .map_err(|_| Error::ColumnNotFound {
                name: column.clone(),
                available: in_schema
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect(),
            })?;
        let DataType::List(item) = in_schema.field(i).data_type() else {
            return Err(Error::type_error(
                format!("explode({column})"),
                format!("{} is not a list", in_schema.field(i).data_type()),
            ));
        };
        let mut fields: Vec<Field> = in_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields[i] = Field::new(&column, item.data_type().clone(), true);
        Ok(LogicalPlan::Explode {
            input,
            column,
            schema: Arc::new(Schema::new(fields)),
        })
    }

    /// The rows of every one of `inputs`, in order (`UNION ALL`).
    ///
    /// # Errors
    /// [`Error::Plan`] for no inputs, or an input whose columns are not the first one's
    /// (the same names, in the same order), naming the column; [`Error::Type`] for a
    /// column whose type differs, naming the column and both types.
    pub fn union(inputs: Vec<Arc<LogicalPlan>>) -> Result<Self> {
        let first = inputs
            .first()
            .ok_or_else(|| Error::Plan("a union needs at least one input".into()))?
            .schema();
        let mut fields: Vec<Field> = first.fields().iter().map(|f| f.as_ref().clone()).collect();
        for (n, input) in inputs.iter().enumerate().skip(1) {
            let schema = input.schema();
            let names = |s: &Schema| -> Vec<String> {
                s.fields().iter().map(|f| f.name().clone()).collect()
            };
            if names(&schema) != names(&first) {
                return Err(Error::Plan(format!(
                    "union input {n} has columns [{}] where the first has [{}]",
                    names(&schema).join(", "),
                    names(&first).join(", ")
                )));
            }
            for (f, g) in fields.iter_mut().zip(schema.fields()) {
                if f.data_type() != g.data_type() {
                    return Err(Error::type_error(
                        format!("union of column {}", f.name()),
                        format!(
                            "input {n} has it as {} where the first has {}; cast one first",
                            g.data_type(),
                            f.data_type()
                        ),
                    ));
                }
                if g.is_nullable() {
                    f.set_nullable(true);
                }
            }
        }
        Ok(LogicalPlan::Union {
            inputs,
            schema: Arc::new(Schema::new(fields)),
        })
    }

    /// `input` with its rows numbered from `offset`, in a first `UInt64` column `name`.
    ///
    /// # Errors
    /// [`Error::Plan`] when the input already has a column `name`.
    pub fn row_index(input: Arc<LogicalPlan>, name: String, offset: u64) -> Result<Self> {
        let in_schema = input.schema();
        if in_schema.field_with_name(&name).is_ok() {
            return Err(Error::Plan(format!(
                "with_row_index cannot add column '{name}': the input has a column of that name"
            )));
        }
        let mut fields = vec![Field::new(&name, DataType::UInt64, false)];
        fields.extend(in_schema.fields().iter().map(|f| f.as_ref().clone()));
        Ok(LogicalPlan::RowIndex {
            input,
            name,
            offset,
            schema: Arc::new(Schema::new(fields)),
        })
    }

    /// The node's inputs: none for a scan, two for a join, a union's all, one otherwise.
    pub fn children(&self) -> Vec<&Arc<LogicalPlan>> {
        match self {
            LogicalPlan::Join { left, right, .. } => vec![left, right],
            LogicalPlan::Union { inputs, .. } => inputs.iter().collect(),
            other => other.input().into_iter().collect(),
        }
    }

    /// What identifies this plan and the data it reads, for a resumable write: the plan
    /// as [`fmt::Display`] shows it, then each scanned source's
    /// [`DataSource::fingerprint`]. A user closure counts by its name only: changing the
    /// code of a closure does not change the fingerprint.
    ///
    /// # Errors
    /// As [`DataSource::fingerprint`].
    pub fn fingerprint(&self) -> Result<String> {
        fn sources(plan: &LogicalPlan, out: &mut String) -> Result<()> {
            if let LogicalPlan::Scan { source, .. } = plan {
                out.push_str(&source.fingerprint()?);
                out.push('\n');
            }
            plan.children()
                .into_iter()
                .try_for_each(|child| sources(child, out))
        }
        let mut out = self.to_string();
        sources(self, &mut out)?;
        Ok(out)
    }

    /// `input`'s rows cut into other partitions.
    ///
    /// # Errors
    /// [`Error::Plan`] for 0 partitions or 0 bytes.
    pub fn repartition(input: Arc<LogicalPlan>, to: Partitioning) -> Result<Self> {
        match to {
            Partitioning::Count(0) => Err(Error::Plan(
                "repartition needs at least one partition".into(),
            )),
            Partitioning::Bytes(0) => Err(Error::Plan(
                "repartition needs partitions of at least one byte".into(),
            )),
            to => Ok(LogicalPlan::Repartition { input, to }),
        }
    }

    /// `input` sorted by `keys`, the first `fetch` rows when given.
    ///
    /// # Errors
    /// As [`Expr::to_field`] for a key; [`Error::Plan`] for no keys; [`Error::Type`] for a
    /// key type that has no order.
    pub fn sort(input: Arc<LogicalPlan>, keys: Vec<SortKey>, fetch: Option<usize>) -> Result<Self> {
        if keys.is_empty() {
            return Err(Error::Plan("a sort needs at least one key".into()));
        }
        let in_schema = input.schema();
        for k in &keys {
            let t = k.expr.data_type(&in_schema)?;
            if t.is_nested() {
                return Err(Error::type_error(k, format!("{t} has no order to sort by")));
            }
        }
        Ok(LogicalPlan::Sort { input, keys, fetch })
    }

    /// Global aggregates over `input`.
    ///
    /// # Errors
    /// As [`AggExpr::to_field`], or [`Error::Plan`] for no aggregates or duplicate names.
    pub fn aggregate(input: Arc<LogicalPlan>, aggs: Vec<AggExpr>) -> Result<Self> {
        Self::group_by(input, Vec::new(), aggs)
    }

    /// Aggregates per group of equal `keys` (nulls form a group, as in Polars and SQL's
    /// GROUP BY). With no aggregates, the distinct keys.
    ///
    /// # Errors
    /// As [`Expr::to_field`] and [`AggExpr::to_field`], or [`Error::Plan`] for nothing to
    /// compute or duplicate names.
    pub fn group_by(input: Arc<LogicalPlan>, keys: Vec<Expr>, aggs: Vec<AggExpr>) -> Result<Self> {
        if aggs.is_empty() && keys.is_empty() {
            return Err(Error::Plan(
                "an aggregate needs at least one function or key".into(),
            ));
        }
        let in_schema = input.schema();
        // A dictionary key's groups are its values: the key column comes out decoded.
        let mut fields = keys
            .iter()
            .map(|k| {
                k.to_field(&in_schema).map(|f| match f.data_type() {
                    DataType::Dictionary(_, values) => {
                        let values = values.as_ref().clone();
                        f.with_data_type(values)
                    }
                    _ => f,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for a in &aggs {
            fields.push(a.to_field(&in_schema)?);
        }
        unique_names(&fields, "group_by")?;
        Ok(LogicalPlan::Aggregate {
            input,
            keys,
            aggs,
            schema: Arc::new(Schema::new(fields)),
        })
    }

    /// The schema of the node's output.
    pub fn schema(&self) -> SchemaRef {
        match self {
            LogicalPlan::Scan { schema, .. }
            | LogicalPlan::Join { schema, .. }
            | LogicalPlan::Explode { schema, .. }
            | LogicalPlan::RowIndex { schema, .. }
            | LogicalPlan::Union { schema, .. }
            | LogicalPlan::Project { schema, .. }
            | LogicalPlan::Aggregate { schema, .. } => Arc::clone(schema),
            LogicalPlan::Filter { input, .. }
            | LogicalPlan::Limit { input, .. }
            | LogicalPlan::Repartition { input, .. }
            | LogicalPlan::Sort { input, .. } => input.schema(),
            LogicalPlan::MapPartitions { func, .. } => Arc::clone(func.schema()),
        }
    }

    /// The same node over new children (in [`LogicalPlan::children`] order), checked
    /// again as when it was built: how every optimizer pass rebuilds a plan, so that a new
    /// node teaches the optimizer nothing but this.
    ///
    /// # Errors
    /// As the node's constructor; [`Error::Internal`] for a wrong number of children.
    pub fn with_new_children(&self, mut children: Vec<LogicalPlan>) -> Result<LogicalPlan> {
        if let LogicalPlan::Join {
            left_on,
            right_on,
            how,
            ..
        } = self
        {
            let right = children
                .pop()
                .ok_or_else(|| Error::Internal("a join rebuilt without its right side".into()))?;
            let left = children
                .pop()
                .ok_or_else(|| Error::Internal("a join rebuilt without its left side".into()))?;
            return LogicalPlan::join(
                Arc::new(left),
                Arc::new(right),
                left_on.clone(),
                right_on.clone(),
                *how,
            );
        }
        if let LogicalPlan::Union { .. } = self {
            return LogicalPlan::union(children.into_iter().map(Arc::new).collect());
        }
        let Some(input) = children.pop() else {
            return Ok(self.clone());
        };
        let input = Arc::new(input);
        Ok(match self {
            LogicalPlan::Scan { .. } | LogicalPlan::Join { .. } | LogicalPlan::Union { .. } => {
                self.clone()
            }
            LogicalPlan::Project { exprs, .. } => LogicalPlan::project(input, exprs.clone())?,
            LogicalPlan::Filter { predicate, .. } => LogicalPlan::filter(input, predicate.clone())?,
            LogicalPlan::MapPartitions { func, .. } => {
                LogicalPlan::map_partitions(input, func.clone())
            }
            LogicalPlan::Limit { n, .. } => LogicalPlan::limit(input, *n),
            LogicalPlan::Repartition { to, .. } => LogicalPlan::repartition(input, *to)?,
            LogicalPlan::Sort { keys, fetch, .. } => {
                LogicalPlan::sort(input, keys.clone(), *fetch)?
            }
            LogicalPlan::Explode { column, .. } => LogicalPlan::explode(input, column.clone())?,
            LogicalPlan::RowIndex { name, offset, .. } => {
                LogicalPlan::row_index(input, name.clone(), *offset)?
            }
            LogicalPlan::Aggregate { keys, aggs, .. } => {
                LogicalPlan::group_by(input, keys.clone(), aggs.clone())?
            }
        })
    }

    /// The node's single input, if it has exactly one (see [`LogicalPlan::children`]).
    pub fn input(&self) -> Option<&Arc<LogicalPlan>> {
        match self {
            LogicalPlan::Scan { .. } | LogicalPlan::Join { .. } | LogicalPlan::Union { .. } => None,
            LogicalPlan::Project { input, .. }
            | LogicalPlan::Filter { input, .. }
            | LogicalPlan::MapPartitions { input, .. }
            | LogicalPlan::Limit { input, .. }
            | LogicalPlan::Repartition { input, .. }
            | LogicalPlan::Sort { input, .. }
            | LogicalPlan::Explode { input, .. }
            | LogicalPlan::RowIndex { input, .. }
            | LogicalPlan::Aggregate { input, .. } => Some(input),
        }
    }

    fn describe(&self) -> String {
        let list = |v: &[String]| v.join(", ");
        match self {
            LogicalPlan::Scan {
                source,
                projection,
                filters,
                schema,
            } => {
                let mut s = format!("Scan {}", source.name());
                if projection.is_some() {
                    let cols: Vec<String> =
                        schema.fields().iter().map(|f| f.name().clone()).collect();
                    s += &format!(" columns=[{}]", list(&cols));
                }
                if !filters.is_empty() {
                    let f: Vec<String> = filters.iter().map(|e| e.to_string()).collect();
                    s += &format!(" filters=[{}]", list(&f));
                }
                s
            }
            LogicalPlan::Project { exprs, .. } => {
                let e: Vec<String> = exprs.iter().map(|e| e.to_string()).collect();
                format!("Project [{}]", list(&e))
            }
            LogicalPlan::Filter { predicate, .. } => format!("Filter {predicate}"),
            LogicalPlan::MapPartitions { func, .. } => format!(
                "MapPartitions {} -> {}",
                func.name(),
                describe_schema(func.schema())
            ),
            LogicalPlan::Limit { n, .. } => format!("Limit {n}"),
            LogicalPlan::Repartition { to, .. } => format!("Repartition into {to}"),
            LogicalPlan::Explode { column, .. } => format!("Explode {column}"),
            LogicalPlan::RowIndex { name, offset, .. } => {
                format!("RowIndex {name} from {offset}")
            }
            LogicalPlan::Union { inputs, .. } => format!("Union of {}", inputs.len()),
            LogicalPlan::Join {
                how: JoinType::Cross,
                ..
            } => "Join cross".into(),
            LogicalPlan::Join {
                left_on,
                right_on,
                how,
                ..
            } => {
                let on: Vec<String> = left_on
                    .iter()
                    .zip(right_on)
                    .map(|(l, r)| format!("{l} = {r}"))
                    .collect();
                format!("Join {how} on [{}]", list(&on))
            }
            LogicalPlan::Sort { keys, fetch, .. } => {
                let k: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                match fetch {
                    Some(n) => format!("Sort [{}] fetch={n}", list(&k)),
                    None => format!("Sort [{}]", list(&k)),
                }
            }
            LogicalPlan::Aggregate { keys, aggs, .. } => {
                let a: Vec<String> = aggs.iter().map(|a| a.to_string()).collect();
                if keys.is_empty() {
                    format!("Aggregate [{}]", list(&a))
                } else {
                    let k: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                    format!("Aggregate by [{}] [{}]", list(&k), list(&a))
                }
            }
        }
    }
}

impl fmt::Display for LogicalPlan {
    /// One node a line, each input indented under its consumer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn tree(n: &LogicalPlan, depth: usize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            writeln!(f, "{:indent$}{}", "", n.describe(), indent = depth * 2)?;
            n.children()
                .into_iter()
                .try_for_each(|c| tree(c, depth + 1, f))
        }
        tree(self, 0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, lit};
    use crate::source::{ScanPartition, ScanRequest};
    use arrow::datatypes::DataType;

    #[derive(Debug)]
    struct Table(SchemaRef);

    impl DataSource for Table {
        fn name(&self) -> String {
            "table".into()
        }
        fn schema(&self) -> SchemaRef {
            Arc::clone(&self.0)
        }
        fn plan_scan(&self, _: &ScanRequest<'_>) -> Result<Vec<Arc<dyn ScanPartition>>> {
            Ok(Vec::new())
        }
    }

    fn scan() -> Arc<LogicalPlan> {
        let schema = Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("s", DataType::Utf8View, true),
        ]);
        Arc::new(LogicalPlan::scan(Arc::new(Table(Arc::new(schema)))))
    }

    #[test]
    fn nodes_are_checked_when_built() {
        let e = LogicalPlan::filter(scan(), col("a") + lit(1)).unwrap_err();
        assert!(
            e.to_string()
                .contains("needs a Boolean expression, got Int64"),
            "{e}"
        );
        let e = LogicalPlan::project(scan(), vec![col("a"), col("a")]).unwrap_err();
        assert!(e.to_string().contains("column 'a' twice"), "{e}");
        let e = LogicalPlan::aggregate(scan(), vec![col("x").sum()]).unwrap_err();
        assert!(matches!(e, Error::ColumnNotFound { .. }));
    }

    #[test]
    fn display_is_an_indented_tree() {
        let f = Arc::new(LogicalPlan::filter(scan(), col("a").gt(lit(3))).unwrap());
        let p = Arc::new(LogicalPlan::project(f, vec![(col("a") * lit(2)).alias("b")]).unwrap());
        let agg = LogicalPlan::aggregate(p, vec![col("b").sum(), col("b").mean()]).unwrap();
        assert_eq!(
            agg.to_string(),
            "Aggregate [sum(b), mean(b)]\n  Project [(a * 2) AS b]\n    Filter (a > 3)\n      Scan table\n"
        );
        assert_eq!(agg.schema().field(0).data_type(), &DataType::Int64);
        assert_eq!(agg.schema().field(1).data_type(), &DataType::Float64);
    }
}
