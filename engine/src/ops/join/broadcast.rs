//! The broadcast hash join: when the right side is estimated small (within the memory
//! policy's broadcast share) and the join keeps no unmatched right rows (inner, left, semi,
//! anti), the right side is read in parallel and held (the spillable store), built into
//! one table in one task ([`broadcast_build`], the table's memory reserved while it is
//! held), and the probe is fused into every left partition's pipeline ([`broadcast_probe`],
//! streaming): the left side is never shuffled, keeps its partitioning and row order, and
//! several broadcast joins chain in one pipeline. Right rows with a null key match nothing
//! and are dropped before they are held.
//!
//! The estimate can be wrong. When the table does not fit the memory the pool has free
//! (while the right side is read, or once it is built), the build task does not fail and
//! does not wait: it falls back to hash-partitioning the right side into spilled buckets,
//! and every probe then joins its left partition bucket by bucket (the [`super::fallback`]
//! module). The query finishes within the limit, more slowly, and its rows may come out in
//! another order within a left partition.

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use spillway_planner::batch::{batch_bytes, compact};
use spillway_planner::{Error, Result};

use crate::graph::JoinSpec;
use crate::memory::Reservation;
use crate::ops::context::{Batches, TaskContext};
use crate::ops::join::fallback::{partition_right, probe_buckets};
use crate::ops::join::grace::side;
use crate::ops::join::table::{BuildTable, compacted, probe, split_null_keys};
use crate::ops::store::Store;

/// A broadcast join's right side, built once and shared by every task that probes it: one
/// hash table (its memory reserved for as long as it is held), or, when that did not fit,
/// the right side's rows in hash buckets (the fallback).
pub struct BroadcastTable {
    built: Built,
}

/// What the build task made of the right side.
enum Built {
    /// One table (boxed: it is much bigger than a store).
    Table {
        table: Box<BuildTable>,
        memory: Reservation,
    },
    /// The right side's rows in hash buckets.
    Buckets(Store),
}

impl std::fmt::Debug for BroadcastTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.built {
            Built::Table { memory, .. } => f
                .debug_struct("BroadcastTable")
                .field("rows", &self.rows())
                .field("bytes", &memory.size())
                .finish(),
            Built::Buckets(store) => f
                .debug_struct("BroadcastTable")
                .field("rows", &self.rows())
                .field("buckets", &store.len())
                .finish(),
        }
    }
}

impl BroadcastTable {
    /// Rows in the table.
    pub fn rows(&self) -> usize {
        match &self.built {
            Built::Table { table, .. } => table.batch.num_rows(),
            Built::Buckets(store) => store.rows(),
        }
    }

    /// Whether the right side did not fit and is held in hash buckets instead (the
    /// fallback).
    pub fn is_partitioned(&self) -> bool {
        matches!(self.built, Built::Buckets(_))
    }
}

/// Builds a broadcast join's table from the right side's rows (held by each producer, in
/// order); falls back to hash buckets when the table does not fit the memory free.
///
/// # Errors
/// The right side's error; an I/O error when the fallback's spilling fails.
pub fn broadcast_build(
    producers: &[&Store],
    spec: &JoinSpec,
    ctx: &TaskContext<'_>,
) -> Result<BroadcastTable> {
    let total_rows: usize = producers.iter().map(|p| p.rows()).sum();
    let mut right: Batches<'_> = Box::new(side(producers, 0)?.into_iter().flatten());
    let mut memory = ctx.reserve("broadcast join table");
    let mut batches: Vec<RecordBatch> = Vec::new();
    let mut rows = 0;
    while let Some(b) = right.next() {
        ctx.check()?;
        // A null key matches nothing, and the join keeps no unmatched right rows.
        let (b, _) = split_null_keys(&spec.right.keys, b?)?;
        let b = compact(compacted(b)?);
        rows += b.num_rows();
        let grown = memory.try_grow(batch_bytes(&b));
        batches.push(b);
        if grown.is_err() {
            // The bytes per row so far, for all the right side's rows.
            let bytes = memory.size().saturating_mul(total_rows) / rows.max(1);
            drop(memory);
            let all = batches.into_iter().map(Ok).chain(right);
            return Ok(buckets(partition_right(all, bytes, spec, ctx)?));
        }
    }
    let build = concat_batches(&spec.right.schema, &batches)
        .map_err(|e| Error::compute("broadcast join build side", e))?;
    drop(batches);
    let table = BuildTable::new(build, spec)?;
    let need = batch_bytes(&table.batch) + table.memory_size();
    if memory.try_resize(need).is_err() {
        drop(memory);
        let batch = table.batch.clone();
        drop(table);
        let all = std::iter::once(Ok(batch));
        return Ok(buckets(partition_right(all, need, spec, ctx)?));
    }
    Ok(BroadcastTable {
        built: Built::Table {
            table: Box::new(table),
            memory,
        },
    })
}

/// The fallback's table: the right side in hash buckets.
fn buckets(store: Store) -> BroadcastTable {
    BroadcastTable {
        built: Built::Buckets(store),
    }
}

/// Streams each left batch through a broadcast join's table (the probe fused into the left
/// side's pipeline); a batch's output rows come out together, in the left batch's row
/// order. The join keeps no unmatched right rows: it is inner, left, semi or anti. When the
/// table fell back to buckets, the left partition is joined bucket by bucket instead
/// ([`probe_buckets`]), its rows in another order.
pub fn broadcast_probe<'a, 'c: 'a>(
    input: Batches<'a>,
    table: &'a BroadcastTable,
    spec: &'a JoinSpec,
    ctx: &'a TaskContext<'c>,
) -> Batches<'a> {
    let table = match &table.built {
        Built::Table { table, .. } => table,
        Built::Buckets(store) => return probe_buckets(input, store, spec, ctx),
    };
    Box::new(input.flat_map(move |b| {
        let mut out = Vec::new();
        let done = b.and_then(|b| {
            probe(&b, table, &mut [], spec, ctx, &mut |o| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::hold::hold;
    use crate::testing::{
        TestContext, failing, join_spec, keyed, keyed_schema, keyed_with_nulls, stream,
    };
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;
    use spillway_planner::logical::JoinType;

    /// Every row of `batches` (Int64 columns), sorted.
    fn rows(batches: &[RecordBatch]) -> Vec<Vec<Option<i64>>> {
        let mut out: Vec<Vec<Option<i64>>> = batches
            .iter()
            .flat_map(|b| {
                (0..b.num_rows()).map(move |i| {
                    b.columns()
                        .iter()
                        .map(|c| {
                            c.is_valid(i)
                                .then(|| c.as_primitive::<Int64Type>().value(i))
                        })
                        .collect()
                })
            })
            .collect();
        out.sort();
        out
    }

    /// `right` held by one producer and built into a table under `limit` bytes, `left`
    /// probed through it: whether the table fell back to buckets, and the output rows.
    fn run(
        how: JoinType,
        left: Vec<RecordBatch>,
        right: Vec<RecordBatch>,
        limit: usize,
    ) -> (bool, Vec<Vec<Option<i64>>>) {
        let t = TestContext::new(limit);
        let ctx = t.ctx();
        let spec = join_spec(how);
        let held = hold(stream(right), &keyed_schema(), &ctx).unwrap();
        let table = broadcast_build(&[&held], &spec, &ctx).unwrap();
        drop(held);
        let out: Vec<RecordBatch> = broadcast_probe(stream(left), &table, &spec, &ctx)
            .collect::<Result<_>>()
            .unwrap();
        let partitioned = table.is_partitioned();
        drop(table);
        assert_eq!(t.memory.used(), 0, "memory still held after the join");
        (partitioned, rows(&out))
    }

    #[test]
    fn a_table_too_big_for_memory_falls_back_to_buckets_with_the_same_answer() {
        // 8 000 right rows (10 a key) take about 128 KB, twice the limit.
        let right = || keyed(8_000, 800, 1_000);
        for how in [
            JoinType::Inner,
            JoinType::Left,
            JoinType::Semi,
            JoinType::Anti,
        ] {
            let (in_memory, want) = run(how, keyed(1_000, 1_000, 250), right(), 1 << 30);
            assert!(!in_memory, "{how}");
            let (fell_back, got) = run(how, keyed(1_000, 1_000, 250), right(), 64 << 10);
            assert!(fell_back, "{how}");
            assert_eq!(got, want, "{how}");
            assert!(!want.is_empty(), "{how}");
            // An empty left partition joins to nothing.
            assert!(run(how, vec![], right(), 64 << 10).1.is_empty(), "{how}");
        }
    }

    #[test]
    fn right_rows_with_a_null_key_are_dropped_before_they_are_held() {
        let t = TestContext::new(1 << 20);
        let ctx = t.ctx();
        let held = hold(
            stream(keyed_with_nulls(20_000, 5_000, 1_000)),
            &keyed_schema(),
            &ctx,
        )
        .unwrap();
        let table = broadcast_build(&[&held], &join_spec(JoinType::Inner), &ctx).unwrap();
        assert!(!table.is_partitioned());
        assert_eq!(table.rows(), 5_000);
    }

    #[test]
    fn an_error_in_the_left_side_ends_the_fallback_probe() {
        let t = TestContext::new(64 << 10);
        let ctx = t.ctx();
        let spec = join_spec(JoinType::Inner);
        let held = hold(stream(keyed(8_000, 800, 1_000)), &keyed_schema(), &ctx).unwrap();
        let table = broadcast_build(&[&held], &spec, &ctx).unwrap();
        assert!(table.is_partitioned());
        let out: Vec<Result<RecordBatch>> =
            broadcast_probe(failing(keyed(100, 10, 10)), &table, &spec, &ctx).collect();
        assert_eq!(out.len(), 1);
        let err = out.into_iter().next().unwrap().unwrap_err();
        assert!(err.to_string().contains("disk gone"), "{err}");
    }
}
