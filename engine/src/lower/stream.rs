//! The unit of lowering: a [`Stream`], partitions whose streaming operators are not yet
//! placed in tasks, and [`materialize`], which places them.

use std::sync::Arc;

use crate::graph::{self, Input, Op, Sink, TaskGraph, TaskId, TaskKind};

/// Partitions whose streaming operators are not yet placed in tasks.
pub struct Stream {
    /// One per partition.
    pub inputs: Vec<Input>,
    /// What the inputs are, for stage names: `scan` or the name of the stage they come from.
    pub origin: String,
    /// The same in full, for `explain`.
    pub origin_detail: String,
    /// The streaming operators to run over every partition, in order.
    pub ops: Vec<Op>,
}

impl Stream {
    /// A stream of `inputs`, one per partition, with no operators yet; `origin` names them
    /// in stage names, `origin_detail` in full.
    pub fn new(inputs: Vec<Input>, origin: &str, origin_detail: String) -> Stream {
        Stream {
            inputs,
            origin: origin.into(),
            origin_detail,
            ops: Vec::new(),
        }
    }

    /// How many partitions the stream has.
    pub fn partitions(&self) -> usize {
        self.inputs.len()
    }

    /// Adds a streaming operator, run over every partition after those before it.
    pub fn push(&mut self, op: Op) {
        self.ops.push(op);
    }

    /// A stream reading each of `tasks`' outputs as one partition, with no operators yet.
    pub fn read(tasks: Vec<TaskId>, origin: &str) -> Stream {
        Stream {
            inputs: tasks.into_iter().map(|i| Input::Tasks(vec![i])).collect(),
            origin: origin.into(),
            origin_detail: format!("read {origin}"),
            ops: Vec::new(),
        }
    }

    /// The inputs are task outputs that pass through unchanged.
    pub fn passthrough(&self) -> Option<Vec<TaskId>> {
        if !self.ops.is_empty() {
            return None;
        }
        self.inputs
            .iter()
            .map(|i| match i {
                Input::Tasks(ids) if ids.len() == 1 => Some(ids[0]),
                _ => None,
            })
            .collect()
    }

    /// The decoded bytes the stream reads, when every input is a source partition that
    /// knows it: an upper bound of what the stream's rows take (filters only shrink it).
    pub fn estimated_bytes(&self) -> Option<usize> {
        if self.ops.iter().any(|op| {
            matches!(
                op,
                Op::MapPartitions { .. } | Op::Explode { .. } | Op::Probe { .. }
            )
        }) {
            return None;
        }
        self.inputs
            .iter()
            .try_fold(0usize, |sum, input| match input {
                Input::Scan(p) => Some(sum + p.estimated_bytes()?),
                Input::Tasks(_) | Input::Pieces(_) => None,
            })
    }
}

/// Places a stream's pending operators into one pipeline task per input, ending in `sink`;
/// returns the tasks whose outputs hold the stream's batches (or what the sink makes).
pub fn materialize(stream: Stream, sink: Sink, g: &mut TaskGraph) -> Vec<TaskId> {
    if matches!(sink, Sink::Batches)
        && let Some(ids) = stream.passthrough()
    {
        return ids;
    }
    let (name, detail) =
        graph::describe_pipeline(&stream.origin, &stream.origin_detail, &stream.ops, &sink);
    let detail = match stream.inputs.first() {
        Some(Input::Scan(p)) => format!("{detail}\n    first partition: {}", p.describe()),
        _ => detail,
    };
    let ops: Arc<[Op]> = stream.ops.into();
    let tasks: Vec<(Vec<TaskId>, TaskKind)> = stream
        .inputs
        .into_iter()
        .map(|input| {
            let mut deps = input.tasks();
            // The tables the operators read, after its inputs, in the order of the ops.
            deps.extend(ops.iter().flat_map(Op::tables));
            let kind = TaskKind::Pipeline {
                input,
                ops: Arc::clone(&ops),
                sink: sink.clone(),
            };
            (deps, kind)
        })
        .collect();
    g.push_stage(name, detail, tasks)
}
