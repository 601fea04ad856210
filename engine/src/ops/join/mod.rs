//! Hash joins: [`broadcast`] when the right side is small, partitioned ([`grace`])
//! otherwise; both build and probe the same hash table ([`table`]). A broadcast whose right
//! side turns out too big for memory falls back to a partitioned join ([`fallback`]). The
//! cross join, with no keys, streams every left partition through the held right side
//! ([`mod@cross`]).

pub mod broadcast;
pub mod cross;
pub mod fallback;
pub mod grace;
pub mod table;

pub use broadcast::{BroadcastTable, broadcast_build, broadcast_probe};
pub use cross::cross;
pub use grace::{FANOUT, MAX_DEPTH, join_bucket, shuffle};
