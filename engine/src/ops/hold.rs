//! Hold and cut: the two halves of a repartition that keeps row order.
//!
//! - **Hold** (the end of each input partition's pipeline): the partition's rows are kept
//!   in order in the spillable store (one bucket), in memory within the held share of the
//!   budget and spilled beyond it.
//! - **Pieces** (the start of each output partition's pipeline): an output partition reads
//!   contiguous shares of held partitions' rows: piece `i` of `n` is rows
//!   `[rows·i/n, rows·(i+1)/n)`; spill files wholly outside the range are not opened.

use arrow::datatypes::SchemaRef;
use spillway_planner::Result;

use crate::graph::Piece;
use crate::ops::context::{Batches, TaskContext};
use crate::ops::store::Store;

/// Keeps a partition's rows in order, spilled when they do not fit.
///
/// # Errors
/// The stream's error; an I/O error when spilling fails.
pub fn hold(stream: Batches<'_>, schema: &SchemaRef, ctx: &TaskContext<'_>) -> Result<Store> {
    let mut held = Store::new(1, "buckets", ctx);
    for b in stream {
        held.push(0, b?, schema, ctx)?;
    }
    Ok(held)
}

/// The rows of each piece, in order, from the rows `held` holds (one per piece).
///
/// # Errors
/// A spill file that cannot be opened.
pub fn pieces<'a>(held: &[&'a Store], pieces: &[Piece]) -> Result<Batches<'a>> {
    let mut readers: Vec<Batches<'a>> = Vec::with_capacity(pieces.len());
    for (b, p) in held.iter().zip(pieces) {
        let Some(held) = b.get(0) else { continue };
        let rows = held.rows();
        let (start, end) = (rows * p.index / p.of, rows * (p.index + 1) / p.of);
        readers.push(held.read_rows(start, end)?);
    }
    Ok(Box::new(readers.into_iter().flatten()))
}
