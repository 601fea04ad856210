//! Hash joins: [`broadcast`] when the right side is small, partitioned ([`grace`])
//! otherwise; both build and probe the same hash table ([`table`]). A broadcast whose right
//! side turns out too big for memory falls back to a partitioned join ([`fallback`]).

pub mod broadcast;
pub mod fallback;
pub mod grace;
pub mod table;

pub use broadcast::{BroadcastTable, broadcast_build, broadcast_probe};
pub use grace::{FANOUT, MAX_DEPTH, join_bucket, shuffle};
