//! # spillway-engine: how to compute it
//!
//! Lowers an optimized logical plan to a task graph and runs it on the session's pool:
//!
//! - [`lower`]: the plan becomes a [`graph::TaskGraph`], streaming work fused into one
//!   task per partition and reductions into a tree of combine tasks.
//! - [`exec`]: a scheduler in the spirit of `dask/local.py` runs ready tasks on a rayon
//!   pool, releases outputs once read, and cancels the graph on the first error.
//! - [`jobs`]: how every scheduler waits for its jobs, also from inside the pool, without
//!   deadlock.
//! - [`pipeline`]: what one task does with its batches.
//! - [`eval`]: expressions over a batch, with Arrow's kernels.
//! - [`aggregate`]: partial aggregate states and their merge.
//! - [`memory`]: the session's memory budget and RAII reservations.
//! - [`hash_agg`], [`join`], [`sort`]: the out-of-core operators (hash aggregation, grace
//!   hash join, external sort), exchanging data through [`exchange`] buckets.
//! - [`spill`]: compressed Arrow IPC spill files in a private folder.

pub mod aggregate;
pub mod eval;
pub mod exchange;
pub mod exec;
pub mod graph;
pub mod group;
pub mod hash_agg;
pub mod jobs;
pub mod join;
pub mod lower;
pub mod memory;
pub mod pipeline;
pub mod sort;
pub mod spill;

#[cfg(test)]
mod testing;
