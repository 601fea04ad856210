//! # spillway-engine: how to compute it
//!
//! ```text
//! optimized LogicalPlan ──lower──► TaskGraph ──exec──► tasks on the pool ──► batches / files
//!                          (lower/)   (graph/)   (exec on    (ops/, under memory/ and spill)
//!                                                scheduler)
//! ```
//!
//! - [`config`]: [`config::EngineConfig`], the engine's settings, derived once from the
//!   session's; lowering and the scheduler read only it.
//! - [`lower`]: the plan becomes a [`graph::TaskGraph`], streaming work fused into one
//!   task per partition, one file per plan-node family.
//! - [`graph`]: the task graph and every operator's spec, plain data that imports no
//!   operator.
//! - [`scheduler`]: the one scheduler, in the spirit of `dask/local.py`, over any graph of
//!   nodes ([`scheduler::Dag`]): ready nodes deepest first on a rayon pool, admitted by the
//!   memory policy, outputs released once read, the run cancelled on the first error, a
//!   one-thread mode. [`exec`] runs a task graph on it (operators, `Error::Task`, stats,
//!   the spill folder); the facade's delayed graphs run on it too. [`jobs`]: how every
//!   scheduler waits for its jobs, also from inside the pool, without deadlock.
//! - [`ops`]: the operator contract (task context, data, batch streams) and one file per
//!   operator; [`ops::run_task`] is the switchboard that calls them.
//! - [`eval`]: expressions over a batch, with Arrow's kernels; [`group`]: the aggregate
//!   states, one family for grouped and global aggregates (a global one is one group).
//! - [`memory`]: the budget, RAII reservations and the memory policy (every share and the
//!   waiting rule, in one place); [`spill`]: compressed Arrow IPC spill files in a private
//!   folder.
//!
//! Module dependencies run one way: `config`, `graph`, `memory`, `spill`, `eval`, `group`
//! at the bottom; `ops` on them; `lower` on `graph`; `scheduler` on `jobs` and `memory`;
//! `exec` on `scheduler`, `ops` and `graph`. No
//! module imports one above it (`shared/tools/modcycles.py engine/src` prints nothing).

pub mod config;
pub mod eval;
pub mod exec;
pub mod graph;
pub mod group;
pub mod jobs;
pub mod lower;
pub mod memory;
pub mod ops;
pub mod scheduler;
pub mod spill;

#[cfg(test)]
mod testing;
