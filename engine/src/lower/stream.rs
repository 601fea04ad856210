//! The unit of lowering: a [`Stream`], partitions whose streaming operators are not yet
//! placed in tasks, and [`materialize`], which places them.
//!
//! A stream is one or more [`Segment`]s side by side: a union's inputs keep their own
//! pending operators, so each side's work still fuses into its own pipelines. An operator
//! pushed after the union runs in every segment's pipelines; materializing makes one stage
//! per segment, whose tasks number their partitions on from the segments before (so a
//! union's output partitions, and the files a write makes of them, are all distinct).

use std::sync::Arc;

use crate::graph::{self, Input, Op, Sink, TaskGraph, TaskId, TaskKind};

/// Partitions whose streaming operators are not yet placed in tasks.
pub struct Stream {
    /// The segments, in partition order; at least one.
    segments: Vec<Segment>,
}

/// Partitions of one origin that share their pending operators.
struct Segment {
    /// One per partition.
    inputs: Vec<Input>,
    /// What the inputs are, for stage names: `scan` or the name of the stage they come from.
    origin: String,
    /// The same in full, for `explain`.
    origin_detail: String,
    /// The streaming operators to run over every partition, in order.
    ops: Vec<Op>,
}

impl Stream {
    /// A stream of `inputs`, one per partition, with no operators yet; `origin` names them
    /// in stage names, `origin_detail` in full.
    pub fn new(inputs: Vec<Input>, origin: &str, origin_detail: String) -> Stream {
        Stream {
            segments: vec![Segment {
                inputs,
                origin: origin.into(),
                origin_detail,
                ops: Vec::new(),
            }],
        }
    }

    /// A stream reading each of `tasks`' outputs as one partition, with no operators yet.
    pub fn read(tasks: Vec<TaskId>, origin: &str) -> Stream {
        Stream::new(
            tasks.into_iter().map(|i| Input::Tasks(vec![i])).collect(),
            origin,
            format!("read {origin}"),
        )
    }

    /// How many partitions the stream has.
    pub fn partitions(&self) -> usize {
        self.segments.iter().map(|s| s.inputs.len()).sum()
    }

    /// Adds a streaming operator, run over every partition after those before it.
    pub fn push(&mut self, op: Op) {
        for s in &mut self.segments {
            s.ops.push(op.clone());
        }
    }

    /// `other`'s partitions after this stream's (a union), each keeping its pending
    /// operators; two neighbouring segments of one origin with no operators pending become
    /// one (the partitions of two scans of one kind make one stage).
    pub fn append(&mut self, other: Stream) {
        for seg in other.segments {
            match self.segments.last_mut() {
                Some(last)
                    if last.ops.is_empty() && seg.ops.is_empty() && last.origin == seg.origin =>
                {
                    last.inputs.extend(seg.inputs);
                    if last.origin_detail != seg.origin_detail {
                        last.origin_detail =
                            format!("{} + {}", last.origin_detail, seg.origin_detail);
                    }
                }
                _ => self.segments.push(seg),
            }
        }
    }

    /// The inputs are task outputs that pass through unchanged.
    pub fn passthrough(&self) -> Option<Vec<TaskId>> {
        let mut ids = Vec::new();
        for s in &self.segments {
            if !s.ops.is_empty() {
                return None;
            }
            for i in &s.inputs {
                match i {
                    Input::Tasks(t) if t.len() == 1 => ids.push(t[0]),
                    _ => return None,
                }
            }
        }
        Some(ids)
    }

    /// The decoded bytes the stream reads, when every input is a source partition that
    /// knows it: an upper bound of what the stream's rows take (filters only shrink it).
    pub fn estimated_bytes(&self) -> Option<usize> {
        self.segments
            .iter()
            .try_fold(0usize, |sum, s| Some(sum + s.estimated_bytes()?))
    }
}

impl Segment {
    fn estimated_bytes(&self) -> Option<usize> {
        if self.ops.iter().any(|op| {
            matches!(
                op,
                Op::MapPartitions { .. } | Op::Explode { .. } | Op::Probe { .. } | Op::Cross { .. }
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
/// returns the tasks whose outputs hold the stream's batches (or what the sink makes), in
/// partition order: one stage per segment.
pub fn materialize(stream: Stream, sink: Sink, g: &mut TaskGraph) -> Vec<TaskId> {
    if matches!(sink, Sink::Batches)
        && let Some(ids) = stream.passthrough()
    {
        return ids;
    }
    let mut ids = Vec::new();
    for seg in stream.segments {
        let first_partition = ids.len();
        ids.extend(materialize_segment(seg, first_partition, &sink, g));
    }
    ids
}

fn materialize_segment(
    seg: Segment,
    first_partition: usize,
    sink: &Sink,
    g: &mut TaskGraph,
) -> Vec<TaskId> {
    let (name, detail) = graph::describe_pipeline(&seg.origin, &seg.origin_detail, &seg.ops, sink);
    let detail = match seg.inputs.first() {
        Some(Input::Scan(p)) => format!("{detail}\n    first partition: {}", p.describe()),
        _ => detail,
    };
    let ops: Arc<[Op]> = seg.ops.into();
    let tasks: Vec<(Vec<TaskId>, TaskKind)> = seg
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
    g.push_stage_from(first_partition, name, detail, tasks)
}
