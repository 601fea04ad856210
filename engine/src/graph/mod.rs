//! The task graph: what the executor runs. Plain data: it names operators and carries
//! their specs ([`specs`]), and imports no operator, so lowering builds it and the
//! scheduler and the operators read it without depending on each other.
//!
//! A graph is a list of stages; a stage is a list of tasks of one kind, one per partition.
//! Streaming work (scan → filter → project → apply → partial aggregate) is fused into one
//! [`TaskKind::Pipeline`] task per partition, as Dask fuses its linear chains; a global
//! reduction becomes a tree of [`TaskKind::Combine`] tasks under one [`TaskKind::Final`]
//! task. Tasks refer to their inputs by [`TaskId`], always of an earlier task, so the task
//! list is already in a topological order.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use spillway_planner::expr::Expr;
use spillway_planner::sink::DataSink;
use spillway_planner::source::ScanPartition;
use spillway_planner::udf::PartitionFn;

mod specs;

pub use specs::{AggSpec, GroupSpec, JoinSpec, ShuffleSpec, SortSpec, rows_written_schema};

/// A task's index in [`TaskGraph::tasks`].
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
    /// Builds a broadcast join's hash table from the batches of every dependency (the
    /// join's right side), for the left side's pipelines to probe.
    BroadcastBuild(Arc<JoinSpec>),
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

/// One node of the graph.
#[derive(Clone, Debug)]
pub struct Task {
    /// The stage it belongs to.
    pub stage: usize,
    /// Its place in the stage: the partition it works on.
    pub partition: usize,
    /// The tasks whose outputs it reads, in order.
    pub deps: Vec<TaskId>,
    /// What it does.
    pub kind: TaskKind,
}

/// A group of tasks of one kind.
#[derive(Clone, Debug)]
pub struct Stage {
    /// A short name, used to name tasks as `name[partition]`: `scan-filter-apply-partial`.
    pub name: String,
    /// What the stage does, in full, for `explain`.
    pub detail: String,
    /// Its tasks, in partition order.
    pub tasks: Vec<TaskId>,
}

/// The tasks of one computation, in a topological order.
#[derive(Clone, Debug)]
pub struct TaskGraph {
    /// The stages, each after the stages it reads.
    pub stages: Vec<Stage>,
    /// Every task; a task's dependencies come before it.
    pub tasks: Vec<Task>,
    /// The tasks whose batches make the result, in partition order.
    pub outputs: Vec<TaskId>,
    /// The schema of the result.
    pub schema: SchemaRef,
    /// The schema of the plan's rows: what the graph's writers write (the result's schema
    /// when the graph does not write).
    pub written_schema: SchemaRef,
}

impl TaskGraph {
    /// An empty graph whose result has `schema`, writing rows of `written_schema`.
    pub fn new(schema: SchemaRef, written_schema: SchemaRef) -> Self {
        TaskGraph {
            stages: Vec::new(),
            tasks: Vec::new(),
            outputs: Vec::new(),
            schema,
            written_schema,
        }
    }

    /// `stage[partition]`, the name errors use for a task.
    pub fn task_name(&self, id: TaskId) -> String {
        let t = &self.tasks[id];
        format!("{}[{}]", self.stages[t.stage].name, t.partition)
    }

    /// Adds a stage of tasks, one per `(deps, kind)` item, and returns their ids.
    pub(crate) fn push_stage(
        &mut self,
        name: String,
        detail: String,
        tasks: impl IntoIterator<Item = (Vec<TaskId>, TaskKind)>,
    ) -> Vec<TaskId> {
        let stage = self.stages.len();
        let first = self.tasks.len();
        for (partition, (deps, kind)) in tasks.into_iter().enumerate() {
            self.tasks.push(Task {
                stage,
                partition,
                deps,
                kind,
            });
        }
        let ids: Vec<TaskId> = (first..self.tasks.len()).collect();
        self.stages.push(Stage {
            name,
            detail,
            tasks: ids.clone(),
        });
        ids
    }

    /// The stage name and description of a pipeline.
    pub(crate) fn describe_pipeline(
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

    pub(crate) fn combine_detail(spec: &AggSpec, fan_in: usize) -> String {
        format!("combine [{}], fan-in {fan_in}", spec.list())
    }

    pub(crate) fn final_detail(spec: &AggSpec) -> String {
        format!("final [{}]", spec.list())
    }

    pub(crate) fn group_final_detail(spec: &GroupSpec) -> String {
        format!("final group {}, one task per hash bucket", spec.list())
    }
}

impl fmt::Display for TaskGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} stage{}, {} task{}",
            self.stages.len(),
            if self.stages.len() == 1 { "" } else { "s" },
            self.tasks.len(),
            if self.tasks.len() == 1 { "" } else { "s" },
        )?;
        for (i, s) in self.stages.iter().enumerate() {
            let n = s.tasks.len();
            let inputs: usize = s.tasks.iter().map(|&t| self.tasks[t].deps.len()).sum();
            let from = if inputs > 0 {
                format!(
                    ", reading {inputs} output{}",
                    if inputs == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            };
            writeln!(
                f,
                "  stage {i} {}: {n} task{}{from}",
                s.name,
                if n == 1 { "" } else { "s" }
            )?;
            writeln!(f, "    {}", s.detail)?;
        }
        Ok(())
    }
}
