//! Lowering a repartition that keeps row order: every input partition holds its rows
//! ([`Sink::Hold`]), and each output partition reads contiguous pieces of them.

use spillway_planner::logical::Partitioning;

use crate::graph::{Input, Piece, Sink, TaskGraph, TaskId};
use crate::lower::stream::{Stream, materialize};
use arrow::datatypes::SchemaRef;

/// `input` cut into the partitions `to` asks for; `estimate` is the input's decoded bytes
/// when known (for [`Partitioning::Bytes`]).
pub fn lower_repartition(
    input: Stream,
    schema: SchemaRef,
    to: &Partitioning,
    estimate: Option<usize>,
    g: &mut TaskGraph,
) -> Stream {
    let before = input.partitions();
    let after = match *to {
        Partitioning::Count(n) => n,
        Partitioning::Bytes(b) => estimate.map_or(before, |e| e.div_ceil(b)).max(1),
    };
    let held = materialize(input, Sink::Hold(schema), g);
    Stream::new(
        cut(&held, after).into_iter().map(Input::Pieces).collect(),
        "repartition",
        format!("repartition into {to}: {before} → {after} partitions, rows in order"),
    )
}

/// The pieces of `held` (tasks holding rows in order) that make `n` partitions, in order:
/// neighbouring tasks joined when there are more tasks than partitions, each task cut into
/// pieces of equal row counts otherwise (as Dask's `repartition(npartitions=n)`).
fn cut(held: &[TaskId], n: usize) -> Vec<Vec<Piece>> {
    let m = held.len();
    if m == 0 {
        return vec![Vec::new(); n];
    }
    if n <= m {
        return (0..n)
            .map(|j| {
                held[m * j / n..m * (j + 1) / n]
                    .iter()
                    .map(|&task| Piece {
                        task,
                        index: 0,
                        of: 1,
                    })
                    .collect()
            })
            .collect();
    }
    held.iter()
        .enumerate()
        .flat_map(|(i, &task)| {
            let of = n * (i + 1) / m - n * i / m;
            (0..of).map(move |index| vec![Piece { task, index, of }])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(task: TaskId) -> Piece {
        Piece {
            task,
            index: 0,
            of: 1,
        }
    }

    #[test]
    fn fewer_partitions_join_neighbours_and_more_cut_each_task() {
        assert_eq!(
            cut(&[7, 8, 9], 2),
            vec![vec![whole(7)], vec![whole(8), whole(9)]]
        );
        let more = cut(&[7, 8], 3);
        assert_eq!(more.len(), 3);
        assert_eq!(more[0], vec![whole(7)]);
        assert_eq!(more[1][0].task, 8);
        assert_eq!((more[2][0].index, more[2][0].of), (1, 2));
        assert_eq!(cut(&[], 2), vec![Vec::<Piece>::new(), Vec::new()]);
    }
}
