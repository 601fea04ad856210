//! The hash table both joins build and probe: the build side as one batch, its keys in
//! Arrow's row format hashed to chains of equal-key rows (so matches come out in build
//! order), and the probe that streams a left batch through it. Null keys never match (SQL
//! semantics). Its memory is the batch plus `BuildTable::memory_size`; the operators that
//! own a table reserve it.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array, new_null_array};
use arrow::compute::take;
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, Rows, SortField};
use hashbrown::HashTable;
use spillway_planner::expr::Expr;
use spillway_planner::logical::JoinType;
use spillway_planner::{Error, Result};

use crate::eval::evaluate;
use crate::graph::JoinSpec;
use crate::ops::context::TaskContext;

const NONE: u32 = u32::MAX;

/// The row-format keys of `batch`, and which rows have a null key.
fn key_rows(
    converter: &RowConverter,
    keys: &[Expr],
    batch: &RecordBatch,
) -> Result<(Rows, Vec<bool>)> {
    let arrays = keys
        .iter()
        .map(|k| evaluate(k, batch))
        .collect::<Result<Vec<ArrayRef>>>()?;
    let mut null = vec![false; batch.num_rows()];
    for a in &arrays {
        if a.null_count() > 0 {
            for (i, n) in null.iter_mut().enumerate() {
                *n |= a.is_null(i);
            }
        }
    }
    let rows = converter
        .convert_columns(&arrays)
        .map_err(|e| Error::compute("join keys", e))?;
    Ok((rows, null))
}

fn converter(types: &[DataType]) -> Result<RowConverter> {
    RowConverter::new(types.iter().cloned().map(SortField::new).collect())
        .map_err(|e| Error::type_error("join key", e.to_string()))
}

/// The build side: one batch, and its keys hashed to chains of equal-key rows.
pub(super) struct BuildTable {
    pub(super) batch: RecordBatch,
    converter: RowConverter,
    rows: Rows,
    first: HashTable<u32>,
    next: Vec<u32>,
    hashes: Vec<u64>,
    state: ahash::RandomState,
}

impl BuildTable {
    pub(super) fn new(batch: RecordBatch, spec: &JoinSpec) -> Result<Self> {
        let converter = converter(&spec.right.key_types)?;
        let (rows, null) = key_rows(&converter, &spec.right.keys, &batch)?;
        let state = ahash::RandomState::with_seeds(7, 11, 13, 17);
        let n = batch.num_rows();
        let mut first: HashTable<u32> = HashTable::with_capacity(n);
        let mut next = vec![NONE; n];
        let mut last = vec![NONE; n];
        let hashes: Vec<u64> = rows.iter().map(|r| state.hash_one(r.as_ref())).collect();
        for j in 0..n {
            if null[j] {
                continue;
            }
            let bytes = rows.row(j);
            let head = first
                .find(hashes[j], |&h| rows.row(h as usize) == bytes)
                .copied();
            match head {
                // Append to the chain's end, so matches come in build order.
                Some(h) => {
                    let tail = last[h as usize];
                    next[tail as usize] = j as u32;
                    last[h as usize] = j as u32;
                }
                None => {
                    first.insert_unique(hashes[j], j as u32, |&h| hashes[h as usize]);
                    last[j] = j as u32;
                }
            }
        }
        Ok(BuildTable {
            batch,
            converter,
            rows,
            first,
            next,
            hashes,
            state,
        })
    }

    pub(super) fn memory_size(&self) -> usize {
        self.rows.size() + self.next.len() * 4 + self.hashes.len() * 8 + self.first.capacity() * 5
    }
}

/// Streams one left batch through the table and emits its output rows; marks the build
/// rows it matches in `matched` (when that is not empty).
pub(super) fn probe(
    left: &RecordBatch,
    table: &BuildTable,
    matched: &mut [bool],
    spec: &JoinSpec,
    ctx: &TaskContext<'_>,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let (rows, null) = key_rows(&table.converter, &spec.left.keys, left)?;
    let mut li: Vec<u32> = Vec::new();
    let mut ri: Vec<Option<u32>> = Vec::new();
    let step = ctx.batch_rows.max(1);
    for (i, &is_null) in null.iter().enumerate() {
        let mut head = NONE;
        if !is_null {
            let bytes = rows.row(i);
            let hash = table.state.hash_one(bytes.as_ref());
            if let Some(&h) = table
                .first
                .find(hash, |&h| table.rows.row(h as usize) == bytes)
            {
                head = h;
            }
        }
        match spec.how {
            JoinType::Semi | JoinType::Anti => {
                if (head != NONE) == (spec.how == JoinType::Semi) {
                    li.push(i as u32);
                }
            }
            _ => {
                let mut j = head;
                while j != NONE {
                    li.push(i as u32);
                    ri.push(Some(j));
                    if let Some(m) = matched.get_mut(j as usize) {
                        *m = true;
                    }
                    j = table.next[j as usize];
                }
                if head == NONE && matches!(spec.how, JoinType::Left | JoinType::Full) {
                    li.push(i as u32);
                    ri.push(None);
                }
            }
        }
        if li.len() >= step {
            emit(pairs(left, &table.batch, &li, &ri, spec)?)?;
            li.clear();
            ri.clear();
        }
    }
    if !li.is_empty() {
        emit(pairs(left, &table.batch, &li, &ri, spec)?)?;
    }
    Ok(())
}

fn take_col(a: &ArrayRef, idx: &UInt32Array) -> Result<ArrayRef> {
    take(a.as_ref(), idx, None).map_err(|e| Error::compute("join output", e))
}

/// Output rows from left rows `li` paired with build rows `ri` (`None`: no match).
fn pairs(
    left: &RecordBatch,
    build: &RecordBatch,
    li: &[u32],
    ri: &[Option<u32>],
    spec: &JoinSpec,
) -> Result<RecordBatch> {
    let lidx = UInt32Array::from(li.to_vec());
    let mut columns = left
        .columns()
        .iter()
        .map(|c| take_col(c, &lidx))
        .collect::<Result<Vec<_>>>()?;
    if spec.how.has_right_columns() {
        let ridx = UInt32Array::from(ri.to_vec());
        for &c in &spec.right_output_columns {
            columns.push(take_col(build.column(c), &ridx)?);
        }
    }
    RecordBatch::try_new(Arc::clone(&spec.schema), columns)
        .map_err(|e| Error::Internal(format!("join built a bad batch: {e}")))
}

/// Output rows for build rows that matched nothing: left columns null, keys coalesced.
pub(super) fn right_only(
    build: &RecordBatch,
    rows: &[u32],
    spec: &JoinSpec,
) -> Result<RecordBatch> {
    let idx = UInt32Array::from(rows.to_vec());
    let mut columns = Vec::with_capacity(spec.schema.fields().len());
    for (i, f) in spec.left.schema.fields().iter().enumerate() {
        match spec.left_key_columns.iter().position(|&k| k == i) {
            Some(k) => columns.push(take_col(build.column(spec.right_key_columns[k]), &idx)?),
            None => columns.push(new_null_array(f.data_type(), rows.len())),
        }
    }
    for &c in &spec.right_output_columns {
        columns.push(take_col(build.column(c), &idx)?);
    }
    RecordBatch::try_new(Arc::clone(&spec.schema), columns)
        .map_err(|e| Error::Internal(format!("join built a bad batch: {e}")))
}
