//! What a task does, as plain data: its kind ([`TaskKind`]), a pipeline's input, streaming
//! operators and sink ([`Input`], [`Op`], [`Sink`]), and every operator's spec (expressions,
//! types, schemas, counts). Built by lowering, read by the switchboard and the operators;
//! nothing here refers to an operator's code, so the graph can be printed, tested and
//! shipped without it. A new operator adds its spec and its variants here.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use spillway_planner::agg::AggExpr;
use spillway_planner::expr::Expr;
use spillway_planner::logical::JoinType;
use spillway_planner::sink::DataSink;
use spillway_planner::sort::SortKey;
use spillway_planner::source::ScanPartition;
use spillway_planner::udf::PartitionFn;

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
    /// What becomes of rows with a null key, which match nothing.
    pub null_keys: NullKeys,
}

/// What a join's shuffle does with a row whose key has a null: such a row matches nothing
/// (SQL semantics), so it needs no partner in its bucket, and hashing every one of them to
/// the same bucket would pile them up there (one "key" as big as all the nulls).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NullKeys {
    /// The join does not output the side's unmatched rows: the row is dropped.
    Drop,
    /// The join outputs it unmatched: it goes to any bucket, spread round-robin.
    Spread,
}

impl NullKeys {
    /// [`NullKeys::Spread`] when the join keeps the side's unmatched rows.
    pub fn keep_if(unmatched_kept: bool) -> Self {
        if unmatched_kept {
            NullKeys::Spread
        } else {
            NullKeys::Drop
        }
    }
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

/// A task's index in [`TaskGraph::tasks`](super::TaskGraph::tasks).
pub type TaskId = usize;

/// Where a pipeline task's batches come from.
#[derive(Clone, Debug)]
pub enum Input {
    /// One partition of a source, read inside the task.
    Scan(Arc<dyn ScanPartition>),
    /// The batches of earlier tasks, concatenated in this order.
    Tasks(Vec<TaskId>),
    /// Pieces of the rows earlier tasks hold in order ([`Sink::Hold`]), concatenated in
    /// this order: piece `i` of `n` is the task's rows `[rows·i/n, rows·(i+1)/n)`.
    Pieces(Vec<Piece>),
}

/// A contiguous share of the rows a [`Sink::Hold`] task holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    /// The task.
    pub task: TaskId,
    /// Which share.
    pub index: usize,
    /// Of how many equal shares.
    pub of: usize,
}

impl Input {
    /// The tasks it reads, in order.
    pub fn tasks(&self) -> Vec<TaskId> {
        match self {
            Input::Scan(_) => Vec::new(),
            Input::Tasks(ids) => ids.clone(),
            Input::Pieces(p) => p.iter().map(|p| p.task).collect(),
        }
    }
}

/// One streaming operator inside a pipeline task.
#[derive(Clone, Debug)]
pub enum Op {
    /// Keeps the rows where the predicate is true.
    Filter(Expr),
    /// Computes the output columns.
    Project {
        /// One expression per output column.
        exprs: Vec<Expr>,
        /// The output schema.
        schema: SchemaRef,
    },
    /// Runs a closure over the whole partition (the batches so far, concatenated).
    MapPartitions {
        /// The closure.
        func: PartitionFn,
        /// The schema of the batches it receives.
        input_schema: SchemaRef,
    },
    /// Stops after `n` rows.
    Limit(usize),
    /// Streams each batch through a broadcast join's hash table (built by task `table`,
    /// one of the pipeline task's dependencies after its input tasks).
    Probe {
        /// The join.
        spec: Arc<JoinSpec>,
        /// The task that builds the table.
        table: TaskId,
    },
    /// One row per element of list column `column` (by index).
    Explode {
        /// The list column's index.
        column: usize,
        /// The output schema.
        schema: SchemaRef,
    },
    /// Pairs every row with every row held by the `right` tasks (a cross join's right
    /// side, [`Sink::Hold`]; dependencies of the pipeline task after its input tasks).
    Cross {
        /// The output schema: the stream's columns, then the right side's.
        schema: SchemaRef,
        /// The tasks holding the right side's rows.
        right: Vec<TaskId>,
    },
    /// Numbers the rows in a first `UInt64` column, from `offset` plus the rows of the
    /// partitions before this one: the `starts` task's count for the task's place in its
    /// stage (one of the pipeline task's dependencies after its input tasks), or nothing
    /// when the stream has one partition.
    RowIndex {
        /// The output schema: the index, then the input's columns.
        schema: SchemaRef,
        /// The first row's number.
        offset: u64,
        /// The task counting the rows before each partition ([`TaskKind::CountRows`]).
        starts: Option<TaskId>,
    },
}

impl Op {
    /// The short name used in stage names: `filter`, `project`, ...
    fn short(&self) -> &'static str {
        match self {
            Op::Filter(_) => "filter",
            Op::Project { exprs, .. } if exprs.iter().any(Expr::has_user_code) => "apply",
            Op::Project { .. } => "project",
            Op::MapPartitions { .. } => "map_partitions",
            Op::Limit(_) => "limit",
            Op::Explode { .. } => "explode",
            Op::Probe { .. } => "broadcast-join",
            Op::RowIndex { .. } => "row-index",
            Op::Cross { .. } => "cross-join",
        }
    }

    /// The tasks whose outputs the operator reads besides the pipeline's input, in order:
    /// they follow the input tasks among the pipeline task's dependencies.
    pub fn tables(&self) -> Vec<TaskId> {
        match self {
            Op::Probe { table, .. } => vec![*table],
            Op::Cross { right, .. } => right.clone(),
            Op::RowIndex {
                starts: Some(t), ..
            } => vec![*t],
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Filter(p) => write!(f, "filter {p}"),
            Op::Project { exprs, .. } => {
                let list: Vec<String> = exprs.iter().map(ToString::to_string).collect();
                write!(f, "project [{}]", list.join(", "))
            }
            Op::MapPartitions { func, .. } => write!(f, "map_partitions {func:?}"),
            Op::Limit(n) => write!(f, "limit {n}"),
            Op::Explode { schema, column } => write!(f, "explode {}", schema.field(*column).name()),
            Op::Probe { spec, .. } => write!(f, "broadcast {}", spec.describe()),
            Op::Cross { right, .. } => {
                write!(f, "cross join with the rows {} tasks hold", right.len())
            }
            Op::RowIndex { schema, offset, .. } => {
                write!(f, "row index {} from {offset}", schema.field(0).name())
            }
        }
    }
}

/// What a pipeline task does with the batches at its end.
#[derive(Clone, Debug)]
pub enum Sink {
    /// Keeps them as the task's output.
    Batches,
    /// Folds them into partial aggregate states.
    Partial(Arc<AggSpec>),
    /// Folds them into per-group partial states, hashed into the spec's buckets.
    GroupPartial(Arc<GroupSpec>),
    /// Sorts them into runs (spilled when they do not fit).
    SortRuns(Arc<SortSpec>),
    /// Hash-partitions them on keys into buckets, one per join task.
    Shuffle(Arc<ShuffleSpec>),
    /// Holds them in order (spilled when they do not fit), to be read in pieces.
    Hold(SchemaRef),
    /// Writes them to the sink as the task's output partition; the task's output is one
    /// row, the count of rows written.
    Write(Arc<dyn DataSink>),
}

/// What one task does.
#[derive(Clone, Debug)]
pub enum TaskKind {
    /// Reads its input, runs the operators over each batch, and ends in the sink.
    Pipeline {
        /// Where the batches come from.
        input: Input,
        /// The fused operators, in order.
        ops: Arc<[Op]>,
        /// The end of the pipeline.
        sink: Sink,
    },
    /// Merges the partial states of its dependencies.
    Combine(Arc<AggSpec>),
    /// Merges the partial states of its dependencies and finishes them into one row.
    Final(Arc<AggSpec>),
    /// Joins one bucket: the left side's from the first `left_count` dependencies, the
    /// right side's from the rest.
    HashJoin {
        /// The join.
        spec: Arc<JoinSpec>,
        /// The bucket it joins.
        bucket: usize,
        /// How many dependencies are left-side producers.
        left_count: usize,
        /// Where the joined rows go: `None` to hold them as the task's output.
        sink: Option<Arc<dyn DataSink>>,
    },
    /// Builds a broadcast join's hash table from the rows every dependency holds (the
    /// join's right side, [`Sink::Hold`]), for the left side's pipelines to probe; when the
    /// table does not fit, the rows hash-partitioned into spilled buckets instead.
    BroadcastBuild(Arc<JoinSpec>),
    /// Counts the rows every dependency holds, giving the number of the first row of each
    /// (the rows of the dependencies before it), for [`Op::RowIndex`].
    CountRows,
    /// Merges the sorted runs of every dependency, in order.
    SortMerge {
        /// The sort.
        spec: Arc<SortSpec>,
        /// Where the sorted rows go: `None` to hold them as the task's output.
        sink: Option<Arc<dyn DataSink>>,
    },
    /// Merges one bucket of every dependency's per-group partial states and finishes them.
    GroupFinal {
        /// The aggregation.
        spec: Arc<GroupSpec>,
        /// The bucket it reads from each dependency.
        bucket: usize,
        /// Where the finished groups go: `None` to hold them as the task's output.
        sink: Option<Arc<dyn DataSink>>,
    },
}

impl TaskKind {
    /// Whether the task is a blocking operator's final task that can write its output to a
    /// sink itself (see `lower_to_sink`).
    pub fn can_write(&self) -> bool {
        matches!(
            self,
            TaskKind::GroupFinal { .. } | TaskKind::SortMerge { .. } | TaskKind::HashJoin { .. }
        )
    }

    /// Has a final task ([`TaskKind::can_write`]) write its output to `sink`.
    pub fn write_to(&mut self, sink: Arc<dyn DataSink>) {
        if let TaskKind::GroupFinal { sink: s, .. }
        | TaskKind::SortMerge { sink: s, .. }
        | TaskKind::HashJoin { sink: s, .. } = self
        {
            *s = Some(sink);
        }
    }
}

/// The stage name and description of a pipeline.
pub fn describe_pipeline(
    input: &str,
    input_detail: &str,
    ops: &[Op],
    sink: &Sink,
) -> (String, String) {
    let mut name = vec![input];
    let mut detail = vec![input_detail.to_string()];
    for op in ops {
        name.push(op.short());
        detail.push(op.to_string());
    }
    match sink {
        Sink::Partial(spec) => {
            name.push("partial");
            detail.push(format!("partial [{}]", spec.list()));
        }
        Sink::GroupPartial(spec) => {
            name.push("group-partial");
            detail.push(format!(
                "partial group {} → {} hash buckets",
                spec.list(),
                spec.buckets
            ));
        }
        Sink::Shuffle(spec) => {
            name.push("shuffle");
            let keys: Vec<String> = spec.keys.iter().map(ToString::to_string).collect();
            detail.push(format!(
                "hash-partition on [{}] → {} buckets",
                keys.join(", "),
                spec.buckets
            ));
        }
        Sink::SortRuns(spec) => {
            name.push("sort-runs");
            detail.push(format!("sorted runs {}", spec.describe()));
        }
        Sink::Write(sink) => {
            name.push("write");
            detail.push(format!("write {}", sink.name()));
        }
        Sink::Hold(_) => name.push("hold"),
        Sink::Batches => {}
    }
    (name.join("-"), detail.join(" → "))
}

/// The `explain` line of a combine stage.
pub fn combine_detail(spec: &AggSpec, fan_in: usize) -> String {
    format!("combine [{}], fan-in {fan_in}", spec.list())
}

/// The `explain` line of a global aggregate's final stage.
pub fn final_detail(spec: &AggSpec) -> String {
    format!("final [{}]", spec.list())
}

/// The `explain` line of a group-by's final stage.
pub fn group_final_detail(spec: &GroupSpec) -> String {
    format!("final group {}, one task per hash bucket", spec.list())
}
