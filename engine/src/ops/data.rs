//! What a task hands on to the tasks that read it: [`Data`].
//!
//! Operators never match on `Data`: the switchboard ([`super::run_task`]) takes each
//! dependency's output apart with the typed accessors below and calls the operator with
//! plain typed inputs, so an operator file depends on the contract ([`super::context`])
//! and its own types, never on the others'.

use std::sync::Arc;

use arrow::array::RecordBatch;
use spillway_planner::{Error, Result};

use crate::group::GroupAcc;
use crate::ops::join::BroadcastTable;
use crate::ops::store::Store;

/// What a task produces.
#[derive(Debug)]
pub enum Data {
    /// Batches, in order.
    Batches(Vec<RecordBatch>),
    /// One partial state per aggregate of a global aggregate, each with one group.
    States(Vec<GroupAcc>),
    /// Rows hashed into buckets (per-group partial states, a join side's shuffle, rows
    /// held in order), in memory or spilled.
    Buckets(Store),
    /// Sorted runs, in memory or spilled.
    Runs(Store),
    /// A broadcast join's hash table.
    Table(Arc<BroadcastTable>),
    /// The number of the first row of each partition, counted from 0 ([`super::row_index`]).
    RowStarts(Vec<u64>),
}

impl Data {
    /// Rows held (1 per partial aggregate state).
    pub fn rows(&self) -> usize {
        match self {
            Data::Batches(b) => b.iter().map(RecordBatch::num_rows).sum(),
            Data::States(_) => 1,
            Data::Buckets(b) => b.rows(),
            Data::Runs(r) => r.rows(),
            Data::Table(t) => t.rows(),
            Data::RowStarts(s) => s.len(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Data::Batches(_) => "batches",
            Data::States(_) => "aggregate states",
            Data::Buckets(_) => "buckets",
            Data::Runs(_) => "sorted runs",
            Data::Table(_) => "a hash table",
            Data::RowStarts(_) => "row counts",
        }
    }

    fn wrong(&self, wanted: &str) -> Error {
        Error::Internal(format!(
            "a task wanted {wanted} and was given {}",
            self.kind()
        ))
    }

    /// The batches, or an internal error.
    ///
    /// # Errors
    /// Other data: a bug in lowering.
    pub fn batches(&self) -> Result<&[RecordBatch]> {
        match self {
            Data::Batches(b) => Ok(b),
            other => Err(other.wrong("batches")),
        }
    }

    /// The partial states, or an internal error.
    ///
    /// # Errors
    /// Other data: a bug in lowering.
    pub fn states(&self) -> Result<&[GroupAcc]> {
        match self {
            Data::States(s) => Ok(s),
            other => Err(other.wrong("aggregate states")),
        }
    }

    /// The buckets, or an internal error.
    ///
    /// # Errors
    /// Other data: a bug in lowering.
    pub fn buckets(&self) -> Result<&Store> {
        match self {
            Data::Buckets(b) => Ok(b),
            other => Err(other.wrong("buckets")),
        }
    }

    /// The sorted runs, or an internal error.
    ///
    /// # Errors
    /// Other data: a bug in lowering.
    pub fn runs(&self) -> Result<&Store> {
        match self {
            Data::Runs(r) => Ok(r),
            other => Err(other.wrong("sorted runs")),
        }
    }

    /// The hash table, or an internal error.
    ///
    /// # Errors
    /// Other data: a bug in lowering.
    pub fn table(&self) -> Result<&Arc<BroadcastTable>> {
        match self {
            Data::Table(t) => Ok(t),
            other => Err(other.wrong("a hash table")),
        }
    }

    /// The first row of each partition, or an internal error.
    ///
    /// # Errors
    /// Other data: a bug in lowering.
    pub fn row_starts(&self) -> Result<&[u64]> {
        match self {
            Data::RowStarts(s) => Ok(s),
            other => Err(other.wrong("row counts")),
        }
    }
}

/// `f` applied to every dependency's output.
///
/// # Errors
/// The first of `f`'s errors.
pub fn each<'a, T: ?Sized + 'a>(
    deps: &'a [Arc<Data>],
    f: impl Fn(&'a Data) -> Result<&'a T>,
) -> Result<Vec<&'a T>> {
    deps.iter().map(|d| f(d)).collect()
}
