//! The task graph: what the executor runs. Plain data: it names operators and carries
//! their specs (`specs.rs`), and imports no operator, so lowering builds it and the
//! scheduler and the operators read it without depending on each other.
//!
//! A graph is a list of stages; a stage is a list of tasks of one kind, one per partition.
//! Streaming work (scan → filter → project → apply → partial aggregate) is fused into one
//! [`TaskKind::Pipeline`] task per partition, as Dask fuses its linear chains; a global
//! reduction becomes a tree of [`TaskKind::Combine`] tasks under one [`TaskKind::Final`]
//! task. Tasks refer to their inputs by [`TaskId`], always of an earlier task, so the task
//! list is already in a topological order.

use std::fmt;

use arrow::datatypes::SchemaRef;

mod specs;

pub use specs::{
    AggSpec, GroupSpec, Input, JoinSpec, NullKeys, Op, Piece, ShuffleSpec, Sink, SortSpec, TaskId,
    TaskKind, combine_detail, describe_pipeline, final_detail, group_final_detail,
    rows_written_schema,
};

/// One node of the graph.
#[derive(Clone, Debug)]
pub struct Task {
    /// The stage it belongs to.
    pub stage: usize,
    /// The output partition it works on: its place in the stage, after the partitions of
    /// the stages before it that make one stream's partitions together (the inputs of a
    /// union, see `lower::stream`).
    pub partition: usize,
    /// Its place in its stage, from 0.
    pub place: usize,
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

    /// The graph without the outputs whose partition `skip` names, nor any task only they
    /// needed: what is left to run of a resumable write whose earlier attempts finished
    /// those partitions. Every task kept keeps its stage, partition and inputs, so it does
    /// exactly what it did in the whole graph; a stage may be left without tasks.
    pub fn without_outputs(&self, skip: impl Fn(usize) -> bool) -> TaskGraph {
        let mut needed = vec![false; self.tasks.len()];
        let mut todo: Vec<TaskId> = self
            .outputs
            .iter()
            .copied()
            .filter(|&id| !skip(self.tasks[id].partition))
            .collect();
        while let Some(id) = todo.pop() {
            if !std::mem::replace(&mut needed[id], true) {
                todo.extend(&self.tasks[id].deps);
            }
        }
        let mut new_id = vec![usize::MAX; self.tasks.len()];
        let mut tasks = Vec::new();
        for (id, task) in self.tasks.iter().enumerate().filter(|(id, _)| needed[*id]) {
            new_id[id] = tasks.len();
            let mut task = task.clone();
            // Inputs come before their consumers, so theirs are already numbered.
            task.deps = task.deps.iter().map(|&d| new_id[d]).collect();
            tasks.push(task);
        }
        let keep = |ids: &[TaskId]| -> Vec<TaskId> {
            ids.iter()
                .filter(|&&id| needed[id])
                .map(|&id| new_id[id])
                .collect()
        };
        TaskGraph {
            stages: self
                .stages
                .iter()
                .map(|s| Stage {
                    name: s.name.clone(),
                    detail: s.detail.clone(),
                    tasks: keep(&s.tasks),
                })
                .collect(),
            tasks,
            outputs: keep(&self.outputs),
            schema: self.schema.clone(),
            written_schema: self.written_schema.clone(),
        }
    }

    /// Adds a stage of tasks, one per `(deps, kind)` item, and returns their ids.
    pub(crate) fn push_stage(
        &mut self,
        name: String,
        detail: String,
        tasks: impl IntoIterator<Item = (Vec<TaskId>, TaskKind)>,
    ) -> Vec<TaskId> {
        self.push_stage_from(0, name, detail, tasks)
    }

    /// As [`TaskGraph::push_stage`], its tasks' partitions numbered from `first_partition`.
    pub(crate) fn push_stage_from(
        &mut self,
        first_partition: usize,
        name: String,
        detail: String,
        tasks: impl IntoIterator<Item = (Vec<TaskId>, TaskKind)>,
    ) -> Vec<TaskId> {
        let stage = self.stages.len();
        let first = self.tasks.len();
        for (place, (deps, kind)) in tasks.into_iter().enumerate() {
            self.tasks.push(Task {
                stage,
                partition: first_partition + place,
                place,
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use spillway_planner::expr::{col, lit};
    use spillway_planner::logical::LogicalPlan;

    use crate::testing::{keyed, lowered, scan_of};

    #[test]
    fn without_outputs_keeps_only_what_the_other_outputs_need() {
        // A streaming plan: each output needs its own scan partition alone.
        let scan = scan_of(keyed(400, 5, 100));
        let plan = LogicalPlan::filter(Arc::clone(&scan), col("v").gt(lit(3))).unwrap();
        let whole = lowered(plan);
        assert_eq!(whole.outputs.len(), 4);
        let part = whole.without_outputs(|p| p == 1 || p == 3);
        let partitions: Vec<usize> = part
            .outputs
            .iter()
            .map(|&t| part.tasks[t].partition)
            .collect();
        assert_eq!(partitions, [0, 2]);
        assert_eq!(part.tasks.len(), 2);

        // A group-by: every output reads every partial task, so those all stay.
        let plan =
            LogicalPlan::group_by(scan, vec![col("k")], vec![col("v").sum().alias("s")]).unwrap();
        let whole = lowered(plan);
        let n = whole.outputs.len();
        let part = whole.without_outputs(|p| p == 0);
        assert_eq!(part.outputs.len(), n - 1);
        assert_eq!(part.tasks.len(), whole.tasks.len() - 1);
        for (id, task) in part.tasks.iter().enumerate() {
            assert!(
                task.deps.iter().all(|&d| d < id),
                "not in topological order"
            );
            assert!(part.stages[task.stage].tasks.contains(&id));
        }
        // Skipping nothing changes nothing.
        assert_eq!(
            whole.without_outputs(|_| false).tasks.len(),
            whole.tasks.len()
        );
    }
}
