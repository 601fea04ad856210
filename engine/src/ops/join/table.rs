//! The hash table both joins build and probe: the build side as one batch, its keys in
//! Arrow's row format hashed to chains of equal-key rows (so matches come out in build
//! order), and the probe that streams a left batch through it. Null keys never match (SQL
//! semantics): the operators take build rows with a null key out before they hold them
//! (`split_null_keys`), and a probe row with one matches nothing. Its memory is the
//! batch plus `BuildTable::memory_size`; the operators that own a table reserve it.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, UInt32Array, new_null_array};
use arrow::compute::{concat_batches, filter_record_batch, take, take_record_batch};
use arrow::datatypes::DataType;
use arrow::row::{OwnedRow, RowConverter, Rows, SortField};
use arrow::util::display::array_value_to_string;
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
    let arrays = key_arrays(keys, batch)?;
    let null = null_flags(&arrays, batch.num_rows());
    let rows = converter
        .convert_columns(&arrays)
        .map_err(|e| Error::compute("join keys", e))?;
    Ok((rows, null))
}

/// The key columns of `batch`.
pub(super) fn key_arrays(keys: &[Expr], batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    keys.iter().map(|k| evaluate(k, batch)).collect()
}

/// For each of `rows` rows, whether one of its key columns `arrays` is null.
pub(super) fn null_flags(arrays: &[ArrayRef], rows: usize) -> Vec<bool> {
    let mut null = vec![false; rows];
    for a in arrays {
        if a.null_count() > 0 {
            for (i, n) in null.iter_mut().enumerate() {
                *n |= a.is_null(i);
            }
        }
    }
    null
}

/// `batch` cut into its rows whose keys have no null, and (`None` when there are none)
/// its rows with a null key, which match nothing: a join never holds those in a table.
pub(super) fn split_null_keys(
    keys: &[Expr],
    batch: RecordBatch,
) -> Result<(RecordBatch, Option<RecordBatch>)> {
    let arrays = key_arrays(keys, &batch)?;
    if arrays.iter().all(|a| a.null_count() == 0) {
        return Ok((batch, None));
    }
    let null = BooleanArray::from(null_flags(&arrays, batch.num_rows()));
    let keep = arrow::compute::not(&null).map_err(|e| Error::compute("join keys", e))?;
    let cut = |mask: &BooleanArray| {
        filter_record_batch(&batch, mask).map_err(|e| Error::compute("join keys", e))
    };
    Ok((cut(&keep)?, Some(cut(&null)?)))
}

/// One key of the right side, found in a build side that does not fit: the key its rows
/// all have (so no hash split can cut them), named in the error.
pub(super) struct OneKey {
    converter: RowConverter,
    row: OwnedRow,
    text: String,
}

impl OneKey {
    /// Which rows of `batch` (right-side rows) have this key.
    fn mine(&self, batch: &RecordBatch, spec: &JoinSpec) -> Result<BooleanArray> {
        let arrays = key_arrays(&spec.right.keys, batch)?;
        let rows = self
            .converter
            .convert_columns(&arrays)
            .map_err(|e| Error::compute("join keys", e))?;
        Ok(rows.iter().map(|r| Some(r == self.row.row())).collect())
    }

    /// The rows of `batch` (right-side rows) with this key.
    pub(super) fn rows_of(&self, batch: &RecordBatch, spec: &JoinSpec) -> Result<RecordBatch> {
        filter_record_batch(batch, &self.mine(batch, spec)?)
            .map_err(|e| Error::compute("join keys", e))
    }

    /// Whether every row of `batch` (right-side rows) has this key.
    pub(super) fn has_only(&self, batch: &RecordBatch, spec: &JoinSpec) -> Result<bool> {
        Ok(self.mine(batch, spec)?.true_count() == batch.num_rows())
    }
}

impl std::fmt::Display for OneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The key every row of `batches` (right-side rows) has, when they all have the same one.
pub(super) fn single_key(batches: &[RecordBatch], spec: &JoinSpec) -> Result<Option<OneKey>> {
    let converter = converter(&spec.right.key_types)?;
    let mut first: Option<(OwnedRow, String)> = None;
    for b in batches.iter().filter(|b| b.num_rows() > 0) {
        let arrays = key_arrays(&spec.right.keys, b)?;
        let rows = converter
            .convert_columns(&arrays)
            .map_err(|e| Error::compute("join keys", e))?;
        let (key, _) = first.get_or_insert_with(|| {
            let text: Vec<String> = spec
                .right
                .keys
                .iter()
                .zip(&arrays)
                .map(|(k, a)| {
                    let value = array_value_to_string(a, 0).unwrap_or_else(|e| e.to_string());
                    format!("{k} = {value}")
                })
                .collect();
            (rows.row(0).owned(), text.join(", "))
        });
        if rows.iter().any(|r| r != key.row()) {
            return Ok(None);
        }
    }
    Ok(first.map(|(row, text)| OneKey {
        converter,
        row,
        text,
    }))
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

/// Whether `batches` are charged far beyond their rows' bytes: by more than those bytes
/// (and 4 KiB). Their arrays may slice bigger buffers that each count whole (a batch read
/// back from a spill file shares the file's message buffer in every column, a source's
/// slice its table's), and every array of a small batch counts its allocation's overhead.
fn bloated(batches: &[RecordBatch]) -> bool {
    let (mut charged, mut rows) = (0usize, 0usize);
    for b in batches {
        charged += b.get_array_memory_size();
        rows += b
            .columns()
            .iter()
            .map(|c| c.to_data().get_slice_memory_size().unwrap_or(0))
            .sum::<usize>();
    }
    charged.saturating_sub(rows) > rows.max(4096)
}

/// `batch`, copied alone when it is [`bloated`], so that a build side holds and reserves
/// only its rows.
pub(super) fn compacted(batch: RecordBatch) -> Result<RecordBatch> {
    if !bloated(std::slice::from_ref(&batch)) {
        return Ok(batch);
    }
    let all = UInt32Array::from_iter_values(0..batch.num_rows() as u32);
    take_record_batch(&batch, &all).map_err(|e| Error::compute("join build side", e))
}

/// `build` copied into one batch when it is [`bloated`] (many small batches); returns the
/// bytes it is charged then. Copying only when the overhead has grown past the rows' bytes
/// keeps repeated calls linear in all.
pub(super) fn compact_build(build: &mut Vec<RecordBatch>, spec: &JoinSpec) -> Result<usize> {
    if build.len() > 1 && bloated(build) {
        let one = concat_batches(&spec.right.schema, build.iter())
            .map_err(|e| Error::compute("join build side", e))?;
        *build = vec![one];
    }
    Ok(spillway_planner::batch::batches_bytes(build.iter()))
}

/// Emits every row of `build` as a right row that matched nothing, in batches of at most
/// `batch_rows` rows.
pub(super) fn all_right_only(
    build: &RecordBatch,
    spec: &JoinSpec,
    ctx: &TaskContext<'_>,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let rows: Vec<u32> = (0..build.num_rows() as u32).collect();
    for chunk in rows.chunks(ctx.batch_rows.max(1)) {
        emit(right_only(build, chunk, spec)?)?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{join_spec, keyed, keyed_with_nulls};
    use spillway_planner::logical::JoinType;

    #[test]
    fn rows_with_a_null_key_are_cut_out() {
        let spec = join_spec(JoinType::Inner);
        let batch = keyed_with_nulls(100, 7, 100).remove(0);
        let (kept, null) = split_null_keys(&spec.right.keys, batch).unwrap();
        assert_eq!((kept.num_rows(), null.unwrap().num_rows()), (25, 75));
        assert_eq!(kept.column(0).null_count(), 0);
        let (kept, null) = split_null_keys(&spec.right.keys, keyed(10, 3, 10).remove(0)).unwrap();
        assert_eq!(kept.num_rows(), 10);
        assert!(null.is_none());
    }

    #[test]
    fn one_key_is_found_named_and_counted() {
        let spec = join_spec(JoinType::Inner);
        assert!(single_key(&keyed(10, 2, 5), &spec).unwrap().is_none());
        assert!(single_key(&[], &spec).unwrap().is_none());
        // Keys 3, 3, 3, ... (i % 7 for i = 3, 10, 17, ... through a slice).
        let sevens: Vec<RecordBatch> = keyed(70, 7, 70)
            .iter()
            .map(|b| {
                let idx = UInt32Array::from_iter_values((3..70).step_by(7));
                take_record_batch(b, &idx).unwrap()
            })
            .collect();
        let key = single_key(&sevens, &spec).unwrap().unwrap();
        assert_eq!(key.to_string(), "k = 3");
        let mixed = keyed(70, 7, 70).remove(0);
        assert_eq!(key.rows_of(&mixed, &spec).unwrap().num_rows(), 10);
        assert!(key.has_only(&sevens[0], &spec).unwrap());
        assert!(!key.has_only(&mixed, &spec).unwrap());
    }

    #[test]
    fn batches_charged_far_beyond_their_rows_are_copied() {
        let spec = join_spec(JoinType::Inner);
        let big = keyed(100_000, 10, 100_000).remove(0);
        // Three rows that slice two 800 KB buffers, and are charged for them.
        let slice = big.slice(10, 3);
        assert!(slice.get_array_memory_size() > 1_000_000);
        let small = compacted(slice).unwrap();
        assert_eq!(small.num_rows(), 3);
        assert!(small.get_array_memory_size() < 4_096);
        // A batch charged about its rows is kept as it is.
        let whole = compacted(big.clone()).unwrap();
        assert_eq!(whole.get_array_memory_size(), big.get_array_memory_size());
        // Many one-row batches are charged their arrays' overhead, more than their rows:
        // copied into one.
        let mut many: Vec<RecordBatch> = (0..200).map(|i| big.slice(i, 1)).collect();
        let charged = compact_build(&mut many, &spec).unwrap();
        assert_eq!(many.len(), 1);
        assert_eq!(many[0].num_rows(), 200);
        assert!(charged < 8_192, "{charged}");
    }
}
