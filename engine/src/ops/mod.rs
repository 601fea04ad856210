//! The operators, one file each, and the contract they share.
//!
//! # The contract
//!
//! - Every operator is called by the switchboard ([`run`]) with a [`TaskContext`]
//!   ([`context`]): the task's name, the cancel flag, the memory pool, the spill folder and
//!   the task's tally. It reserves every byte it holds beyond one batch from the context
//!   ([`TaskContext::reserve`]), spills through it, and checks [`TaskContext::check`]
//!   between batches when it loops on its own.
//! - A **streaming** operator is a function from a stream of batches ([`Batches`]) to a
//!   stream: `fn op<'a>(input: Batches<'a>, spec…) -> Batches<'a>`. It holds one batch at a
//!   time and reserves nothing (filter, project, limit, explode, map_partitions, the
//!   broadcast probe). Streaming operators fuse into one pipeline task per partition.
//! - A **blocking** operator has two halves, because it needs every partition: a *sink*
//!   at the end of each input partition's pipeline, `fn(stream, spec, ctx) -> Result<T>`,
//!   whose `T` (buckets, runs, states, a table) becomes the task's [`Data`]; and a
//!   *final* task over every producer's `T`, `fn(producers: &[&T], spec, ctx, emit)`, which
//!   emits finished batches to an [`Output`] (held, or written to a sink). Its module doc
//!   says what it buffers, what it reserves and when it spills.
//! - An operator never sees the graph or another operator's data: [`data`] takes the
//!   dependencies apart for it.
//!
//! # Adding a blocking operator
//!
//! Its spec in `graph/specs.rs` (and a `Sink`/`TaskKind` variant in `graph/mod.rs`), its
//! file here, one arm in [`run`], its lowering in `lower/`, and its builder in the facade
//! (`src/frame.rs`): six files, two of them new (the operator and its lowering).

pub mod aggregate;
pub mod context;
pub mod data;
pub mod explode;
pub mod filter;
pub mod hash_agg;
pub mod hold;
pub mod join;
pub mod limit;
pub mod map_partitions;
pub mod output;
pub mod project;
pub mod run;
pub mod sort;
pub mod store;

pub use context::{Batches, TaskContext, TaskTally};
pub use data::Data;
pub use output::Output;
pub use run::run_task;
