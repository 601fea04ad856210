//! Helpers over Arrow batches the engine and io share: what a batch really holds in memory
//! ([`batch_bytes`]), and a batch that holds no more than it shows ([`compact`]).
//!
//! Why they exist: a string-view array (`Utf8View`, `BinaryView`) keeps its strings of more
//! than 12 bytes in separate data buffers, and the views point into them. `take`, `slice`,
//! `filter` and `concat` copy views, never strings, so their output still refers to every
//! data buffer of their input, whole: 64 rows cut from a 100 000-row batch hold all of its
//! strings. Arrow's `get_array_memory_size` counts each of those buffers in full for every
//! array that refers to it, an IPC writer writes each of them in full, and `concat` appends
//! the buffer lists of all its inputs, so a sort that re-sorts its buffer by concatenating
//! pieces doubles the list at every round. The engine therefore compacts a batch before it
//! is held, spilled, written or concatenated, and charges memory by [`batch_bytes`], which
//! counts a buffer shared by several columns or slices once.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayData, ArrayRef, AsArray, GenericByteViewArray, RecordBatch};
use arrow::buffer::Buffer;
use arrow::datatypes::{ByteViewType, DataType};

/// Data-buffer bytes a view column may list beyond what its views use, however little they
/// use, before it is compacted: below this, a copy costs more than it saves. (A spilled
/// piece of a few rows is a few hundred bytes: its source's kilobyte would be most of it.)
const SLACK: usize = 256;

/// `batch` with each top-level view column (`Utf8View`, `BinaryView`) whose data buffers
/// hold much more than its views use (more than twice, and over 256 bytes more) rewritten
/// to hold only its own strings (Arrow's `gc`); other columns are kept as they are. A batch that needs
/// none of it is returned as is, without a copy: deciding costs a pass over the views'
/// lengths of the columns whose buffers are big enough to matter, at most.
///
/// Views nested in lists or structs are left alone.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Array, AsArray, RecordBatch, StringViewArray};
/// use spillway_planner::batch::{batch_bytes, compact};
///
/// let names = (0..10_000).map(|i| format!("a string of row {i}"));
/// let all = StringViewArray::from_iter_values(names);
/// let batch = RecordBatch::try_from_iter([("s", Arc::new(all) as _)]).unwrap();
/// let few = batch.slice(100, 10);
/// // The slice still holds every string of the batch; compacted, only its own ten.
/// assert!(batch_bytes(&few) > 100_000);
/// let small = compact(few.clone());
/// assert!(batch_bytes(&small) < 1_000);
/// assert_eq!(small, few);
/// ```
pub fn compact(batch: RecordBatch) -> RecordBatch {
    if !batch.columns().iter().any(|c| is_view(c.data_type())) {
        return batch;
    }
    let mut changed = false;
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| match compact_view(c) {
            Some(new) => {
                changed = true;
                new
            }
            None => Arc::clone(c),
        })
        .collect();
    if !changed {
        return batch;
    }
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    // `gc` keeps each column's type and length, so this cannot fail; if it ever did, the
    // batch as it was is still right, only bigger.
    RecordBatch::try_new_with_options(batch.schema(), columns, &options).unwrap_or(batch)
}

fn is_view(t: &DataType) -> bool {
    matches!(t, DataType::Utf8View | DataType::BinaryView)
}

/// The compacted column when `array` is a view array worth compacting.
fn compact_view(array: &ArrayRef) -> Option<ArrayRef> {
    match array.data_type() {
        DataType::Utf8View => compacted(array.as_string_view()),
        DataType::BinaryView => compacted(array.as_binary_view()),
        _ => None,
    }
}

fn compacted<T: ByteViewType + ?Sized>(array: &GenericByteViewArray<T>) -> Option<ArrayRef> {
    // What the buffer list holds as an IPC writer or `concat` sees it: every entry in
    // full, an entry listed twice counted twice.
    let listed: usize = array.data_buffers().iter().map(Buffer::len).sum();
    if array.data_buffers().is_empty() || listed <= SLACK {
        return None;
    }
    let used = array.total_buffer_bytes_used();
    (listed.saturating_sub(used) > used.max(SLACK)).then(|| Arc::new(array.gc()) as ArrayRef)
}

/// The memory `batch` holds: every buffer of every column (validity, offsets, values,
/// views, data buffers, children), a buffer that several columns, slices or view entries
/// share counted once, at its allocation's size; plus each column's array struct, as
/// Arrow's `get_array_memory_size` counts it.
/// What the memory pool should charge for holding the batch.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Int64Array, RecordBatch};
/// use spillway_planner::batch::batch_bytes;
///
/// let n: Arc<dyn arrow::array::Array> = Arc::new(Int64Array::from_iter_values(0..1000));
/// let once = RecordBatch::try_from_iter([("a", Arc::clone(&n))]).unwrap();
/// let twice = RecordBatch::try_from_iter([("a", Arc::clone(&n)), ("b", n)]).unwrap();
/// assert_eq!(batch_bytes(&twice) - batch_bytes(&once), batch_bytes(&once) - 8000);
/// ```
pub fn batch_bytes(batch: &RecordBatch) -> usize {
    batches_bytes([batch])
}

/// The memory a set of batches holds together, as [`batch_bytes`] counts it, a buffer
/// shared by several of them counted once: what to charge for holding them all (a sorted
/// run whose batches are slices of one sorted batch, say).
pub fn batches_bytes<'a>(batches: impl IntoIterator<Item = &'a RecordBatch>) -> usize {
    let mut held = Held::default();
    for batch in batches {
        for column in batch.columns() {
            held.structs += std::mem::size_of_val(column.as_ref());
            held.add(&column.to_data());
        }
    }
    held.bytes()
}

/// Distinct allocations seen (by where each starts) and their sizes, and the bytes of the
/// columns' array structs.
#[derive(Default)]
struct Held {
    allocations: HashMap<usize, usize>,
    structs: usize,
}

impl Held {
    fn add(&mut self, data: &ArrayData) {
        for buffer in data.buffers() {
            self.buffer(buffer);
        }
        if let Some(nulls) = data.nulls() {
            self.buffer(nulls.buffer());
        }
        for child in data.child_data() {
            self.add(child);
        }
    }

    fn buffer(&mut self, buffer: &Buffer) {
        // A buffer imported from elsewhere reports no capacity: count what it reaches.
        let size = match buffer.capacity() {
            0 => buffer.ptr_offset() + buffer.len(),
            capacity => capacity,
        };
        let at = self
            .allocations
            .entry(buffer.data_ptr().as_ptr().addr())
            .or_default();
        *at = (*at).max(size);
    }

    fn bytes(&self) -> usize {
        self.allocations.values().sum::<usize>() + self.structs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::builder::make_view;
    use arrow::array::{BinaryViewArray, Int64Array, StringViewArray, UInt32Array};
    use arrow::compute::{concat_batches, take_record_batch};

    /// `n` rows: `k` an i64, `s` a 20-byte string.
    fn table(n: usize) -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "k",
                Arc::new(Int64Array::from_iter_values(0..n as i64)) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringViewArray::from_iter_values(
                    (0..n).map(|i| format!("string number {i:06}")),
                )) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    fn data_pointers(batch: &RecordBatch) -> Vec<usize> {
        batch
            .columns()
            .iter()
            .flat_map(|c| c.to_data().buffers().to_vec())
            .map(|b| b.as_ptr().addr())
            .collect()
    }

    #[test]
    fn a_slice_or_take_of_views_compacts_to_its_own_strings() {
        let big = table(10_000);
        let slice = big.slice(5_000, 10);
        let taken = take_record_batch(&big, &UInt32Array::from(vec![7, 9_999, 3])).unwrap();
        for cut in [slice, taken] {
            let before = batch_bytes(&cut);
            let small = compact(cut.clone());
            assert_eq!(small, cut);
            // The views (16 bytes) and strings (20) of at most 10 rows, the i64 column
            // as it was (a slice keeps its source's values), and bookkeeping.
            let own = batch_bytes(&cut.project(&[0]).unwrap());
            assert!(before > 200_000, "{before}");
            assert!(batch_bytes(&small) < own + 1_000, "{}", batch_bytes(&small));
            let s = small.column(1).as_string_view();
            assert_eq!(s.data_buffers().len(), 1);
            assert_eq!(s.data_buffers()[0].len(), 20 * cut.num_rows());
        }
    }

    #[test]
    fn a_compact_batch_is_returned_without_a_copy() {
        let whole = table(1_000);
        let same = compact(whole.clone());
        assert_eq!(data_pointers(&same), data_pointers(&whole));
        // Inline strings only (12 bytes or fewer) and no views at all: nothing to do.
        let short = RecordBatch::try_from_iter([(
            "s",
            Arc::new(StringViewArray::from_iter_values(
                (0..1000).map(|i| format!("{i}")),
            )) as ArrayRef,
        )])
        .unwrap();
        let short_slice = short.slice(10, 5);
        assert_eq!(
            data_pointers(&compact(short_slice.clone())),
            data_pointers(&short_slice)
        );
        let ints = whole.project(&[0]).unwrap().slice(3, 4);
        assert_eq!(data_pointers(&compact(ints.clone())), data_pointers(&ints));
        // A half-used buffer is within the slack: kept.
        let half = whole.slice(0, 500);
        assert_eq!(data_pointers(&compact(half.clone())), data_pointers(&half));
    }

    #[test]
    fn inline_views_over_a_data_buffer_drop_the_buffer() {
        // As the Parquet reader makes them: short strings with a data buffer anyway.
        let long = StringViewArray::from_iter_values((0..1000).map(|i| format!("{i:020}")));
        let views: Vec<u128> = (0..1000_u32)
            .map(|i| make_view(&[b'a' + (i % 3) as u8], 0, 0))
            .collect();
        let short =
            StringViewArray::try_new(views.into(), long.data_buffers().to_vec(), None).unwrap();
        let batch = RecordBatch::try_from_iter([("s", Arc::new(short) as ArrayRef)]).unwrap();
        let small = compact(batch.clone());
        assert_eq!(small, batch);
        assert!(small.column(0).as_string_view().data_buffers().is_empty());
    }

    #[test]
    fn concatenated_slices_of_one_buffer_compact_to_one_copy() {
        let big = table(2_000);
        let pieces: Vec<RecordBatch> = (0..20).map(|i| big.slice(i * 64, 64)).collect();
        let joined = concat_batches(&big.schema(), &pieces).unwrap();
        let listed = big.column(1).as_string_view().data_buffers().len();
        let s = joined.column(1).as_string_view();
        assert_eq!(
            s.data_buffers().len(),
            20 * listed,
            "concat lists every piece's buffers"
        );
        let small = compact(joined.clone());
        assert_eq!(small, joined);
        let s = small.column(1).as_string_view();
        assert_eq!(
            s.data_buffers().iter().map(Buffer::len).sum::<usize>(),
            20 * 64 * 20
        );
    }

    #[test]
    fn binary_views_compact_too() {
        let all =
            BinaryViewArray::from_iter_values((0..5_000).map(|i| format!("{i:032}").into_bytes()));
        let batch = RecordBatch::try_from_iter([("b", Arc::new(all) as ArrayRef)]).unwrap();
        let cut = batch.slice(10, 3);
        let small = compact(cut.clone());
        assert_eq!(small, cut);
        assert_eq!(small.column(0).as_binary_view().data_buffers()[0].len(), 96);
    }

    #[test]
    fn shared_buffers_are_counted_once() {
        let whole = table(1_000);
        let alone = batch_bytes(&whole);
        // The same columns twice over, and slices of them: no new allocation.
        let doubled = RecordBatch::try_from_iter([
            ("a", Arc::clone(whole.column(0))),
            ("b", Arc::clone(whole.column(1))),
            ("c", Arc::clone(whole.column(0))),
            ("d", Arc::clone(whole.column(1))),
        ])
        .unwrap();
        // Only the array structs of the two more columns.
        let structs: usize = whole
            .columns()
            .iter()
            .map(|c| size_of_val(c.as_ref()))
            .sum();
        assert_eq!(batch_bytes(&doubled), alone + structs);
        let slices = [
            whole.slice(0, 10),
            whole.slice(10, 10),
            whole.slice(500, 500),
        ];
        assert_eq!(batches_bytes(&slices), alone + 2 * structs);
        // Each counted alone, each slice holds the whole.
        assert!(slices.iter().all(|s| batch_bytes(s) == alone));
        // Arrow's own count is about the same for a batch that shares nothing.
        let arrow = whole.get_array_memory_size();
        assert!(alone.abs_diff(arrow) < 100, "{alone} vs {arrow}");
    }
}
