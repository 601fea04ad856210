//! Lowering a row index: with several partitions, each partition's rows are held in
//! order ([`Sink::Hold`]), one task counts them ([`TaskKind::CountRows`]), and each
//! partition is read back and numbered from the rows before it; a stream of one partition
//! is numbered as it streams. See `ops::row_index`.

use arrow::datatypes::SchemaRef;

use crate::graph::{Input, Op, Piece, Sink, TaskGraph, TaskKind};
use crate::lower::stream::{Stream, materialize};

/// `input`'s rows numbered from `offset` in a first column, as rows of `schema`;
/// `input_schema` is the schema of `input`'s rows.
pub fn lower_row_index(
    mut input: Stream,
    input_schema: SchemaRef,
    schema: SchemaRef,
    offset: u64,
    g: &mut TaskGraph,
) -> Stream {
    if input.partitions() <= 1 {
        input.push(Op::RowIndex {
            schema,
            offset,
            starts: None,
        });
        return input;
    }
    let held = materialize(input, Sink::Hold(input_schema), g);
    let starts = g.push_stage(
        "count-rows".into(),
        "count the rows each partition holds: the number of its first row".into(),
        [(held.clone(), TaskKind::CountRows)],
    )[0];
    let name = schema.field(0).name().clone();
    let mut out = Stream::new(
        held.iter()
            .map(|&task| {
                Input::Pieces(vec![Piece {
                    task,
                    index: 0,
                    of: 1,
                }])
            })
            .collect(),
        "held",
        format!("read the held rows in order, numbered in {name}"),
    );
    out.push(Op::RowIndex {
        schema,
        offset,
        starts: Some(starts),
    });
    out
}

#[cfg(test)]
mod tests {
    use crate::testing::{Batches, lowered};
    use spillway_planner::logical::LogicalPlan;
    use std::sync::Arc;

    fn stages(parts: i64) -> Vec<String> {
        let scan = Arc::new(LogicalPlan::scan(Batches::numbers(100, parts)));
        let plan = LogicalPlan::row_index(scan, "i".into(), 0).unwrap();
        let g = lowered(plan);
        g.stages.iter().map(|s| s.name.clone()).collect()
    }

    #[test]
    fn several_partitions_are_held_and_counted_and_one_streams() {
        assert_eq!(stages(4), ["scan-hold", "count-rows", "held-row-index"]);
        assert_eq!(stages(1), ["scan-row-index"]);
    }
}
