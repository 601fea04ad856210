//! [`GroupTable`]: key rows → dense group ids, in a hashbrown table probed by key bytes.

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, RowParser, Rows, SortField};
use hashbrown::HashTable;
use spillway_planner::{Error, Result};

use super::dedupe::{Dedupe, take_rows};
use super::{arrow_err, grown_capacity};

/// A batch's keys, ready to be interned: in the row format, all of them, or only the
/// distinct ones with each row's index among them (see `dedupe.rs`).
pub struct Encoded {
    rows: Rows,
    of_row: Option<Vec<u32>>,
}

impl Encoded {
    /// The encoded keys.
    pub fn rows(&self) -> &Rows {
        &self.rows
    }
}

/// Key rows → dense group ids, with the keys kept to be output.
///
/// The table stores only group ids; a probe compares the candidate's key bytes with the
/// stored row, so a new group costs one row append and no allocation of its own. Hashes
/// use fixed seeds, so every task puts a key in the same bucket.
///
/// Memory is known before it is allocated: [`GroupTable::grown_size`] is what the table
/// holds after interning a batch of encoded keys, should every key be new (its vectors
/// double as they fill, and the hash table holds its old allocation while it rehashes
/// into the new one), so that a caller reserves first and flushes or splits the table
/// when the reservation cannot grow.
#[derive(Debug)]
pub struct GroupTable {
    converter: RowConverter,
    parser: RowParser,
    ids: HashTable<u32>,
    hashes: Vec<u64>,
    /// The keys' row-format bytes, one after another; `ends[g]` is where group `g`'s end.
    keys: Vec<u8>,
    ends: Vec<usize>,
    state: ahash::RandomState,
    dedupe: Dedupe,
}

impl GroupTable {
    /// An empty table for keys of `key_types`.
    ///
    /// # Errors
    /// [`Error::Type`] for a key type the row format cannot encode.
    pub fn new(key_types: &[DataType]) -> Result<Self> {
        let converter = RowConverter::new(key_types.iter().cloned().map(SortField::new).collect())
            .map_err(|e| Error::type_error("group_by key", e.to_string()))?;
        let parser = converter.parser();
        Ok(GroupTable {
            converter,
            parser,
            ids: HashTable::new(),
            hashes: Vec::new(),
            keys: Vec::new(),
            ends: Vec::new(),
            state: ahash::RandomState::with_seeds(
                0x5bd1_e995,
                0x2545_f491,
                0x9e37_79b9,
                0x7f4a_7c15,
            ),
            dedupe: Dedupe::default(),
        })
    }

    /// Empties the table, giving its memory back; what it learnt of the keys' batches
    /// (whether they reduce) stays.
    pub fn clear(&mut self) {
        self.ids = HashTable::new();
        self.hashes = Vec::new();
        self.keys = Vec::new();
        self.ends = Vec::new();
    }

    /// Groups so far.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no groups.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by the keys, their hashes and the table.
    pub fn memory_size(&self) -> usize {
        self.keys.capacity()
            + self.ends.capacity() * size_of::<usize>()
            + self.hashes.capacity() * size_of::<u64>()
            + self.ids.allocation_size()
    }

    /// Bytes the table may hold once `rows` (from [`GroupTable::encode`]) are interned:
    /// at most, every row a new group. Counts the old hash table too when it must grow,
    /// as both are held while the entries move.
    pub fn grown_size(&self, encoded: &Encoded) -> usize {
        let rows = &encoded.rows;
        let (n, bytes) = (rows.num_rows(), rows.lengths().sum::<usize>());
        let groups = self.len() + n;
        let ids = if groups > self.ids.capacity() {
            // hashbrown keeps buckets 7/8 full at most, in powers of two: 5 bytes each
            // (the id and a control byte), plus one group of control bytes.
            let buckets = (groups.max(4) * 8 / 7).next_power_of_two();
            buckets * (size_of::<u32>() + 1) + 16 + self.ids.allocation_size()
        } else {
            self.ids.allocation_size()
        };
        grown_capacity(self.keys.capacity(), self.keys.len() + bytes)
            + grown_capacity(self.ends.capacity(), groups) * size_of::<usize>()
            + grown_capacity(self.hashes.capacity(), groups) * size_of::<u64>()
            + ids
    }

    /// The keys of a batch in the row format, to be interned: only its distinct keys when
    /// they are fixed-width words and batches have been reducing (see `dedupe.rs`).
    ///
    /// # Errors
    /// [`Error::Compute`] when the keys cannot be encoded.
    pub fn encode(&mut self, keys: &[ArrayRef]) -> Result<Encoded> {
        let encode = |keys: &[ArrayRef]| {
            self.converter
                .convert_columns(keys)
                .map_err(arrow_err("group_by keys"))
        };
        match self.dedupe.distinct(keys, &self.state) {
            Some(d) => {
                let firsts = take_rows(keys, &d.firsts).map_err(arrow_err("group_by keys"))?;
                Ok(Encoded {
                    rows: encode(&firsts)?,
                    of_row: Some(d.of_row),
                })
            }
            None => Ok(Encoded {
                rows: encode(keys)?,
                of_row: None,
            }),
        }
    }

    /// The group id of each row of `keys`, adding new groups.
    ///
    /// # Errors
    /// [`Error::Compute`] when the keys cannot be encoded.
    pub fn intern(&mut self, keys: &[ArrayRef]) -> Result<Vec<u32>> {
        let rows = self.encode(keys)?;
        Ok(self.intern_rows(&rows))
    }

    /// The group id of each row of the batch `encoded` (from [`GroupTable::encode`]),
    /// adding new groups.
    pub fn intern_rows(&mut self, encoded: &Encoded) -> Vec<u32> {
        let ids = self.intern_each(&encoded.rows);
        match &encoded.of_row {
            Some(of_row) => of_row.iter().map(|&l| ids[l as usize]).collect(),
            None => ids,
        }
    }

    /// The group id of each of `rows`, adding new groups.
    fn intern_each(&mut self, rows: &Rows) -> Vec<u32> {
        let mut out = Vec::with_capacity(rows.num_rows());
        let GroupTable {
            ids,
            hashes,
            keys,
            ends,
            state,
            ..
        } = self;
        for row in rows.iter() {
            let bytes = row.as_ref();
            let hash = state.hash_one(bytes);
            let found = ids
                .find(hash, |&id| key_of(keys, ends, id as usize) == bytes)
                .copied();
            let id = match found {
                Some(id) => id,
                None => {
                    let id = ends.len() as u32;
                    keys.extend_from_slice(bytes);
                    ends.push(keys.len());
                    hashes.push(hash);
                    ids.insert_unique(hash, id, |&g| hashes[g as usize]);
                    id
                }
            };
            out.push(id);
        }
        out
    }

    /// The bucket (of `n`) of each group, from its key's hash: the same in every task.
    pub fn buckets(&self, n: usize) -> Vec<usize> {
        // The high bits: the table uses the low ones.
        self.hashes
            .iter()
            .map(|h| ((h >> 32) % n as u64) as usize)
            .collect()
    }

    /// The partition (of `n`) of each row of `keys`, by a hash seeded with `seed`: the
    /// split of one bucket into sub-buckets, independent of the bucket hash.
    ///
    /// # Errors
    /// [`Error::Compute`] when the keys cannot be encoded.
    pub fn partition(
        key_types: &[DataType],
        keys: &[ArrayRef],
        seed: u64,
        n: usize,
    ) -> Result<Vec<usize>> {
        let converter = RowConverter::new(key_types.iter().cloned().map(SortField::new).collect())
            .map_err(|e| Error::type_error("group_by key", e.to_string()))?;
        let rows = converter
            .convert_columns(keys)
            .map_err(arrow_err("group_by keys"))?;
        let state = ahash::RandomState::with_seeds(seed, !seed, seed.rotate_left(17), 0x51ab);
        Ok(rows
            .iter()
            .map(|r| (state.hash_one(r.as_ref()) % n as u64) as usize)
            .collect())
    }

    /// The key columns of the groups `ids`, in that order.
    ///
    /// # Errors
    /// [`Error::Compute`] when the keys cannot be decoded.
    pub fn key_columns(&self, ids: &[u32]) -> Result<Vec<ArrayRef>> {
        let rows = ids.iter().map(|&g| {
            self.parser
                .parse(key_of(&self.keys, &self.ends, g as usize))
        });
        self.converter
            .convert_rows(rows)
            .map_err(arrow_err("group_by keys"))
    }
}

/// The row-format bytes of group `g`.
fn key_of<'a>(keys: &'a [u8], ends: &[usize], g: usize) -> &'a [u8] {
    let start = if g == 0 { 0 } else { ends[g - 1] };
    &keys[start..ends[g]]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use arrow::array::{Array, AsArray, Int64Array, StringViewArray};
    use arrow::datatypes::Int64Type;

    #[test]
    fn keys_intern_to_dense_ids_and_decode_back() {
        let mut t = GroupTable::new(&[DataType::Utf8View, DataType::Int64]).unwrap();
        let s: ArrayRef = Arc::new(StringViewArray::from(vec![
            Some("a"),
            None,
            Some("a"),
            None,
        ]));
        let n: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 1, 2]));
        assert_eq!(t.intern(&[s, n]).unwrap(), vec![0, 1, 0, 1]);
        let keys = t.key_columns(&[1, 0]).unwrap();
        assert!(keys[0].is_null(0));
        assert_eq!(keys[1].as_primitive::<Int64Type>().values(), &[2, 1]);
        let b = t.buckets(7);
        let mut again = GroupTable::new(&[DataType::Utf8View, DataType::Int64]).unwrap();
        let s: ArrayRef = Arc::new(StringViewArray::from(vec![None, Some("a")]));
        let n: ArrayRef = Arc::new(Int64Array::from(vec![2, 1]));
        again.intern(&[s, n]).unwrap();
        assert_eq!(
            b,
            vec![again.buckets(7)[1], again.buckets(7)[0]],
            "the same in every table"
        );
    }

    #[test]
    fn the_size_after_a_batch_is_known_before_it_is_interned() {
        let mut t = GroupTable::new(&[DataType::Utf8View, DataType::Int64]).unwrap();
        for round in 0..40i64 {
            // New keys, then a mix of new and repeated ones.
            let n = 1000 + round * 37;
            let ints: ArrayRef = Arc::new(Int64Array::from_iter_values(
                (0..n).map(|i| i + round * 700),
            ));
            let strs: ArrayRef = Arc::new(StringViewArray::from_iter_values(
                (0..n).map(|i| format!("key number {}", (i + round * 700) % 5000)),
            ));
            let rows = t.encode(&[strs, ints]).unwrap();
            let bound = t.grown_size(&rows);
            t.intern_rows(&rows);
            assert!(
                t.memory_size() <= bound,
                "round {round}: {} > {bound}",
                t.memory_size()
            );
        }
    }
}
