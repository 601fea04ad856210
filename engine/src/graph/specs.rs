//! Every operator's spec: what its tasks need to know, as plain data (expressions,
//! types, schemas, counts). Built by lowering, read by the operators; a spec never refers
//! to an operator's code, so the graph can be printed, tested and shipped without it.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use spillway_planner::agg::AggExpr;
use spillway_planner::expr::Expr;
use spillway_planner::logical::JoinType;
use spillway_planner::sort::SortKey;

/// Global aggregates, with what the accumulators need to know.
#[derive(Debug)]
pub struct AggSpec {
    /// The aggregates.
    pub aggs: Vec<AggExpr>,
    /// The type of each aggregate's input expression.
    pub input_types: Vec<DataType>,
    /// The one-row output schema.
    pub schema: SchemaRef,
}

impl AggSpec {
    /// The aggregates (and keys), as `explain` shows them.
    pub fn list(&self) -> String {
        let list: Vec<String> = self.aggs.iter().map(ToString::to_string).collect();
        list.join(", ")
    }
}

/// Aggregates per group, with what the tasks need to know.
#[derive(Debug)]
pub struct GroupSpec {
    /// The group keys.
    pub keys: Vec<Expr>,
    /// The type of each key.
    pub key_types: Vec<DataType>,
    /// The aggregates.
    pub aggs: Vec<AggExpr>,
    /// The type of each aggregate's input expression.
    pub input_types: Vec<DataType>,
    /// Partial results: the keys, then each aggregate's state columns.
    pub partial_schema: SchemaRef,
    /// The output: the keys, then the aggregates.
    pub schema: SchemaRef,
    /// How many buckets the partial results are hashed into (one final task each).
    pub buckets: usize,
}

impl GroupSpec {
    /// The aggregates (and keys), as `explain` shows them.
    pub fn list(&self) -> String {
        let keys: Vec<String> = self.keys.iter().map(ToString::to_string).collect();
        let aggs: Vec<String> = self.aggs.iter().map(ToString::to_string).collect();
        format!("by [{}] [{}]", keys.join(", "), aggs.join(", "))
    }
}

/// Hash partitioning of one side's rows on its keys.
#[derive(Debug)]
pub struct ShuffleSpec {
    /// The key expressions.
    pub keys: Vec<Expr>,
    /// Their types (the same on both sides of a join).
    pub key_types: Vec<DataType>,
    /// The rows' schema.
    pub schema: SchemaRef,
    /// How many buckets.
    pub buckets: usize,
}

/// A join, with what its tasks need to know.
#[derive(Debug)]
pub struct JoinSpec {
    /// Which rows are kept.
    pub how: JoinType,
    /// The left side's partitioning (its keys and schema).
    pub left: Arc<ShuffleSpec>,
    /// The right side's partitioning.
    pub right: Arc<ShuffleSpec>,
    /// Indices of the left key columns in the left schema.
    pub left_key_columns: Vec<usize>,
    /// Indices of the right key columns in the right schema.
    pub right_key_columns: Vec<usize>,
    /// Indices of the right columns that are output (the non-keys), in order.
    pub right_output_columns: Vec<usize>,
    /// The output schema.
    pub schema: SchemaRef,
}

impl JoinSpec {
    /// The spec in one line, as `explain` shows it.
    pub fn describe(&self) -> String {
        let on: Vec<String> = self
            .left
            .keys
            .iter()
            .zip(&self.right.keys)
            .map(|(l, r)| format!("{l} = {r}"))
            .collect();
        format!("{} join on [{}]", self.how, on.join(", "))
    }
}

/// A sort, with what its tasks need to know.
#[derive(Debug)]
pub struct SortSpec {
    /// The keys, most significant first.
    pub keys: Vec<SortKey>,
    /// The type of each key.
    pub key_types: Vec<DataType>,
    /// The rows' schema.
    pub schema: SchemaRef,
    /// Keep only the first rows (top-k).
    pub fetch: Option<usize>,
}

impl SortSpec {
    /// The spec in one line, as `explain` shows it.
    pub fn describe(&self) -> String {
        let keys: Vec<String> = self.keys.iter().map(ToString::to_string).collect();
        match self.fetch {
            Some(n) => format!("[{}] first {n}", keys.join(", ")),
            None => format!("[{}]", keys.join(", ")),
        }
    }
}

/// The schema of a write's result: one row per output partition, the rows it wrote.
pub fn rows_written_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "rows_written",
        DataType::UInt64,
        false,
    )]))
}
