//! Hash joins: [`broadcast`] when the right side is small, partitioned ([`grace`])
//! otherwise; both build and probe the same hash table ([`table`]).

pub mod broadcast;
pub mod grace;
pub mod table;

pub use broadcast::{BroadcastTable, broadcast_build, broadcast_probe};
pub use grace::{FANOUT, MAX_DEPTH, join_bucket, shuffle};
