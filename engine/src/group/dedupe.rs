//! A batch's distinct keys, found on fixed-width words before any key is encoded.
//!
//! Encoding every row's keys in Arrow's row format and probing the group table with their
//! bytes is most of a group-by's time when there are few groups (h2o q1: a 5-byte string
//! key, 100 groups; 28% of the time in the row encoding, 30% in probing by `memcmp`). But
//! most key types fit in 16 bytes: a number, a date, a boolean, or a string of at most 12
//! bytes, which a `Utf8View` holds whole in its view (the rest zero). So a batch whose keys
//! are all such words is first deduplicated on them — one hash of the words per row, a
//! compare of words, no encoding — and only its distinct keys are encoded and interned.
//!
//! When a batch turns out to hold mostly distinct keys (h2o q10: 10⁷ groups in 10⁷ rows),
//! this is wasted work, so after such a batch the next [`SKIP`] batches go straight to the
//! row format.

use arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use arrow::buffer::ScalarBuffer;
use arrow::compute::take;
use arrow::datatypes::{ArrowNativeType, DataType, ToByteSlice};
use arrow::downcast_primitive_array;
use hashbrown::HashTable;

/// Batches not deduplicated after one that did not reduce.
pub const SKIP: u32 = 16;
/// A batch whose distinct keys are more than this share of its rows did not reduce enough
/// to pay for the words: its distinct keys are encoded and probed anyway (measured on h2o
/// at 1e7: 100 keys a batch of 64 Ki rows gain 1.5×, 10⁴ keys lose 25%).
const REDUCES: f64 = 0.125;

/// Whether the next batch is worth deduplicating, from how the last ones went.
#[derive(Debug, Default)]
pub struct Dedupe {
    skip: u32,
}

/// A batch's distinct keys: the rows where each first occurs (in order of first
/// occurrence), and for each row the index of its key among them.
pub struct Distinct {
    pub firsts: Vec<u32>,
    pub of_row: Vec<u32>,
}

impl Dedupe {
    /// The distinct keys of `keys`, or `None` when they are not all fixed-width words or
    /// the last batches did not reduce.
    pub fn distinct(&mut self, keys: &[ArrayRef], state: &ahash::RandomState) -> Option<Distinct> {
        if self.skip > 0 {
            self.skip -= 1;
            return None;
        }
        let rows = keys.first()?.len();
        let words = keys.iter().map(words).collect::<Option<Vec<_>>>()?;
        let found = distinct(keys, &words, rows, state);
        if found.firsts.len() as f64 > REDUCES * rows as f64 {
            self.skip = SKIP;
        }
        Some(found)
    }
}

/// `keys` at the rows `firsts`.
pub fn take_rows(keys: &[ArrayRef], firsts: &[u32]) -> arrow::error::Result<Vec<ArrayRef>> {
    let idx = UInt32Array::from(firsts.to_vec());
    keys.iter().map(|k| take(k.as_ref(), &idx, None)).collect()
}

fn distinct(
    keys: &[ArrayRef],
    words: &[Vec<u128>],
    rows: usize,
    state: &ahash::RandomState,
) -> Distinct {
    let nulls: Vec<Option<arrow::buffer::NullBuffer>> =
        keys.iter().map(|k| k.logical_nulls()).collect();
    // A row's key: each column's word, and which columns are null (a null's word is 0).
    let null_mask = |i: usize| {
        nulls.iter().enumerate().fold(0u64, |m, (c, n)| {
            m | (u64::from(n.as_ref().is_some_and(|n| n.is_null(i))) << (c % 64))
        })
    };
    let word = |c: usize, i: usize| {
        if nulls[c].as_ref().is_some_and(|n| n.is_null(i)) {
            0
        } else {
            words[c][i]
        }
    };
    let hash = |i: usize| {
        let mut h = null_mask(i);
        for c in 0..words.len() {
            h = mix(h, word(c, i), state);
        }
        h
    };
    let same = |i: usize, j: usize| {
        null_mask(i) == null_mask(j) && (0..words.len()).all(|c| word(c, i) == word(c, j))
    };
    let mut table: HashTable<u32> = HashTable::new();
    let mut hashes: Vec<u64> = Vec::new();
    let mut firsts: Vec<u32> = Vec::new();
    let mut of_row = Vec::with_capacity(rows);
    let no_nulls = nulls.iter().all(Option::is_none);
    for i in 0..rows {
        let (h, found) = match (no_nulls, words) {
            // One key without nulls, the common case: its words alone.
            (true, [w]) => {
                let h = mix(0, w[i], state);
                (
                    h,
                    table.find(h, |&l| w[firsts[l as usize] as usize] == w[i]),
                )
            }
            (true, _) => {
                let h = words.iter().fold(0, |h, w| mix(h, w[i], state));
                let same = |j: usize| words.iter().all(|w| w[i] == w[j]);
                (h, table.find(h, |&l| same(firsts[l as usize] as usize)))
            }
            (false, _) => {
                let h = hash(i);
                (h, table.find(h, |&l| same(firsts[l as usize] as usize, i)))
            }
        };
        let local = match found {
            Some(&l) => l,
            None => {
                let l = firsts.len() as u32;
                firsts.push(i as u32);
                hashes.push(h);
                table.insert_unique(h, l, |&g| hashes[g as usize]);
                l
            }
        };
        of_row.push(local);
    }
    Distinct { firsts, of_row }
}

/// `h` with `word` folded in.
fn mix(h: u64, word: u128, state: &ahash::RandomState) -> u64 {
    state.hash_one((h, word))
}

/// A key column as one 16-byte word per row: the view of a string of at most 12 bytes
/// (the whole string is in it), or the bytes of a number, a date, a boolean. `None` for a
/// type that is not one word a row (a string longer
/// than 12 bytes, a list, a 32-byte decimal, ...).
fn words(a: &ArrayRef) -> Option<Vec<u128>> {
    let inline = |views: &ScalarBuffer<u128>, nulls: Option<&arrow::buffer::NullBuffer>| {
        views
            .iter()
            .enumerate()
            .all(|(i, v)| (*v as u32) <= 12 || nulls.is_some_and(|n| n.is_null(i)))
    };
    match a.data_type() {
        DataType::Utf8View => {
            let views = a.as_string_view().views();
            inline(views, a.nulls()).then(|| views.to_vec())
        }
        DataType::BinaryView => {
            let views = a.as_binary_view().views();
            inline(views, a.nulls()).then(|| views.to_vec())
        }
        DataType::Boolean => Some(a.as_boolean().values().iter().map(u128::from).collect()),
        _ => downcast_primitive_array!(
            a => fixed(a.values()),
            _ => None
        ),
    }
}

/// Each value's bytes as a word, for native types of at most 16 bytes.
fn fixed<T: ArrowNativeType>(values: &[T]) -> Option<Vec<u128>> {
    if size_of::<T>() > 16 {
        return None;
    }
    let width = size_of::<T>().max(1);
    Some(
        values
            .to_byte_slice()
            .chunks_exact(width)
            .map(|bytes| {
                let mut word = [0u8; 16];
                word[..width].copy_from_slice(bytes);
                u128::from_le_bytes(word)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{BooleanArray, Float64Array, Int32Array, StringViewArray};

    use super::*;

    fn state() -> ahash::RandomState {
        ahash::RandomState::with_seeds(1, 2, 3, 4)
    }

    /// Each row's key as text, to compare rows by.
    fn key_of(keys: &[ArrayRef], i: usize) -> String {
        keys.iter()
            .map(|k| {
                arrow::util::display::array_value_to_string(k, i).unwrap()
                    + if k.is_null(i) { "∅" } else { "" }
            })
            .collect::<Vec<_>>()
            .join("|")
    }

    #[test]
    fn rows_with_equal_keys_and_only_those_share_an_index() {
        let n: usize = 600;
        let s: ArrayRef = Arc::new(StringViewArray::from_iter(
            (0..n).map(|i| (i % 7 != 0).then(|| format!("k{}", i % 5))),
        ));
        let x: ArrayRef = Arc::new(Int32Array::from_iter(
            (0..n).map(|i| (i % 11 != 0).then_some((i % 3) as i32)),
        ));
        let f: ArrayRef = Arc::new(Float64Array::from_iter_values(
            (0..n).map(|i| (i % 2) as f64 * -0.0),
        ));
        let b: ArrayRef = Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 4 == 0))));
        let keys = vec![s, x, f, b];
        let mut d = Dedupe::default();
        let found = d.distinct(&keys, &state()).expect("every column is words");
        assert_eq!(found.of_row.len(), n);
        for i in 0..n {
            let l = found.of_row[i] as usize;
            assert_eq!(key_of(&keys, i), key_of(&keys, found.firsts[l] as usize));
        }
        let mut firsts: Vec<String> = found
            .firsts
            .iter()
            .map(|&i| key_of(&keys, i as usize))
            .collect();
        let count = firsts.len();
        firsts.sort();
        firsts.dedup();
        assert_eq!(firsts.len(), count, "a key twice among the distinct ones");
        // First occurrences, in order.
        assert!(found.firsts.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn long_strings_are_not_words_and_a_batch_that_does_not_reduce_skips_the_next() {
        let long: ArrayRef = Arc::new(StringViewArray::from(vec!["a string of 13b", "x"]));
        assert!(Dedupe::default().distinct(&[long], &state()).is_none());
        let unique: ArrayRef = Arc::new(Int32Array::from_iter_values(0..100));
        let mut d = Dedupe::default();
        assert_eq!(
            d.distinct(&[Arc::clone(&unique)], &state())
                .unwrap()
                .firsts
                .len(),
            100
        );
        for _ in 0..SKIP {
            assert!(d.distinct(&[Arc::clone(&unique)], &state()).is_none());
        }
        assert!(d.distinct(&[unique], &state()).is_some());
    }
}
