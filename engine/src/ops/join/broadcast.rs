//! The broadcast hash join: when the right side is estimated small (within the memory
//! policy's broadcast share) and the join keeps no unmatched right rows (inner, left, semi,
//! anti), the right side is read in parallel, built into one table in one task
//! ([`broadcast_build`], the table's memory reserved while it is held, waiting by the
//! waiting rule if the pool is short, then `ResourcesExhausted` naming the
//! `broadcast_limit` to lower), and the probe is fused into every left partition's
//! pipeline ([`broadcast_probe`], streaming): the left side is never shuffled, keeps its
//! partitioning and row order, and several broadcast joins chain in one pipeline.

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use spillway_planner::batch::{batch_bytes, batches_bytes, compact};
use spillway_planner::{Error, Result};

use crate::graph::JoinSpec;
use crate::memory::Reservation;
use crate::ops::context::{Batches, TaskContext};
use crate::ops::join::table::{BuildTable, probe};

/// A broadcast join's hash table: the whole right side, built once and shared by every
/// task that probes it; its memory is reserved for as long as it is held.
pub struct BroadcastTable {
    table: BuildTable,
    memory: Reservation,
}

impl std::fmt::Debug for BroadcastTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastTable")
            .field("rows", &self.rows())
            .field("bytes", &self.memory.size())
            .finish()
    }
}

impl BroadcastTable {
    /// Rows in the table.
    pub fn rows(&self) -> usize {
        self.table.batch.num_rows()
    }
}

/// Builds a broadcast join's table from the right side's batches (each producer's, in
/// order).
///
/// # Errors
/// [`Error::ResourcesExhausted`] when the right side turns out too big for the memory
/// left (its size was estimated when planning).
pub fn broadcast_build(
    producers: &[&[RecordBatch]],
    spec: &JoinSpec,
    ctx: &TaskContext<'_>,
) -> Result<BroadcastTable> {
    // Compacted before the concatenation, which would list every piece's buffers.
    let batches: Vec<RecordBatch> = producers
        .iter()
        .flat_map(|b| b.iter().cloned().map(compact))
        .collect();
    let mut memory = ctx.reserve("broadcast join table");
    let data = batches_bytes(&batches);
    let build = concat_batches(&spec.right.schema, &batches)
        .map_err(|e| Error::compute("broadcast join build side", e))?;
    drop(batches);
    let table = BuildTable::new(build, spec)?;
    let need = batch_bytes(&table.batch) + table.memory_size();
    ctx.resize_waiting(&mut memory, need).map_err(|e| match e {
        Error::ResourcesExhausted {
            requested,
            available,
            limit,
            ..
        } => Error::ResourcesExhausted {
            consumer: format!(
                "{} broadcast join table ({data} bytes of right side; lower the session's broadcast_limit to shuffle both sides instead)",
                ctx.name
            ),
            requested,
            available,
            limit,
        },
        e => e,
    })?;
    Ok(BroadcastTable { table, memory })
}

/// Streams each left batch through a broadcast join's table (the probe fused into the left
/// side's pipeline); a batch's output rows come out together, in the left batch's row
/// order. The join keeps no unmatched right rows: it is inner, left, semi or anti.
pub fn broadcast_probe<'a, 'c: 'a>(
    input: Batches<'a>,
    table: &'a BroadcastTable,
    spec: &'a JoinSpec,
    ctx: &'a TaskContext<'c>,
) -> Batches<'a> {
    Box::new(input.flat_map(move |b| {
        let mut out = Vec::new();
        let done = b.and_then(|b| {
            probe(&b, &table.table, &mut [], spec, ctx, &mut |o| {
                out.push(Ok(o));
                Ok(())
            })
        });
        if let Err(e) = done {
            out.push(Err(e));
        }
        out
    }))
}
