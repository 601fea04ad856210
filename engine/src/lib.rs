//! # spillway-engine: how to compute it
//!
//! Lowers an optimized logical plan to a task graph and runs it. This first module
//! evaluates expressions; the task graph, scheduler and operators follow (issue 2).

pub mod aggregate;
pub mod eval;
