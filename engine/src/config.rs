//! The engine's settings, derived once from the session's: [`EngineConfig`].
//!
//! Lowering and the scheduler both read this one struct; nothing in the engine reads the
//! session's configuration or the environment. The memory policy ([`MemoryPolicy`]) is the
//! pool's; the config keeps a copy only to derive the broadcast threshold when lowering.

use std::path::PathBuf;

use spillway_planner::config::SessionConfig;

use crate::memory::MemoryPolicy;

/// Everything the engine needs to know to lower and run a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// Worker threads: the most tasks in flight at once, and the least partitions a scan
    /// aims at.
    pub threads: usize,
    /// Run every task on the calling thread, one at a time, in scheduling order.
    pub synchronous: bool,
    /// The memory limit in bytes (the pool's).
    pub memory_limit: usize,
    /// How the budget is shared (the pool's policy).
    pub policy: MemoryPolicy,
    /// Where each run's private spill folder is created.
    pub spill_dir: PathBuf,
    /// Largest number of rows in one batch.
    pub batch_rows: usize,
    /// Decoded bytes a batch read from a source stays near, where the source knows.
    pub batch_bytes: usize,
    /// Decoded bytes a source partition aims at.
    pub target_partition_bytes: usize,
    /// Partial results one combine task merges.
    pub fan_in: usize,
    /// The session's broadcast limit (before the policy's share of the memory limit).
    pub broadcast_limit: usize,
}

impl EngineConfig {
    /// The engine's settings for a session.
    pub fn from_session(config: &SessionConfig) -> Self {
        EngineConfig {
            threads: config.threads.max(1),
            synchronous: config.synchronous,
            memory_limit: config.memory_limit,
            policy: MemoryPolicy::default(),
            spill_dir: config.spill_dir.clone(),
            batch_rows: config.batch_rows.max(1),
            batch_bytes: config.batch_bytes,
            target_partition_bytes: config.target_partition_bytes,
            fan_in: config.fan_in.max(2),
            broadcast_limit: config.broadcast_limit,
        }
    }

    /// The largest estimated right side a join broadcasts (the policy's rule).
    pub fn broadcast_bytes(&self) -> usize {
        self.policy
            .broadcast_bytes(self.memory_limit, self.broadcast_limit)
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self::from_session(&SessionConfig::default())
    }
}
