//! [`GroupTable`]: key rows → dense group ids, in a hashbrown table probed by key bytes.

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, Rows, SortField};
use hashbrown::HashTable;
use spillway_planner::{Error, Result};

use super::arrow_err;

/// Key rows → dense group ids, with the keys kept to be output.
///
/// The table stores only group ids; a probe compares the candidate's key bytes with the
/// stored row, so a new group costs one row append and no allocation of its own. Hashes
/// use fixed seeds, so every task puts a key in the same bucket.
#[derive(Debug)]
pub struct GroupTable {
    converter: RowConverter,
    ids: HashTable<u32>,
    hashes: Vec<u64>,
    keys: Rows,
    state: ahash::RandomState,
}

impl GroupTable {
    /// An empty table for keys of `key_types`.
    ///
    /// # Errors
    /// [`Error::Type`] for a key type the row format cannot encode.
    pub fn new(key_types: &[DataType]) -> Result<Self> {
        let converter = RowConverter::new(key_types.iter().cloned().map(SortField::new).collect())
            .map_err(|e| Error::type_error("group_by key", e.to_string()))?;
        let keys = converter.empty_rows(0, 0);
        Ok(GroupTable {
            converter,
            ids: HashTable::new(),
            hashes: Vec::new(),
            keys,
            state: ahash::RandomState::with_seeds(
                0x5bd1_e995,
                0x2545_f491,
                0x9e37_79b9,
                0x7f4a_7c15,
            ),
        })
    }

    /// Groups so far.
    pub fn len(&self) -> usize {
        self.keys.num_rows()
    }

    /// Whether there are no groups.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by the keys, their hashes and the table (approximate).
    pub fn memory_size(&self) -> usize {
        self.keys.size() + self.hashes.capacity() * 8 + self.ids.capacity() * 5
    }

    /// The group id of each row of `keys`, adding new groups.
    ///
    /// # Errors
    /// [`Error::Compute`] when the keys cannot be encoded.
    pub fn intern(&mut self, keys: &[ArrayRef]) -> Result<Vec<u32>> {
        let rows = self
            .converter
            .convert_columns(keys)
            .map_err(arrow_err("group_by keys"))?;
        let mut out = Vec::with_capacity(rows.num_rows());
        let GroupTable {
            ids,
            hashes,
            keys: stored,
            state,
            ..
        } = self;
        for row in rows.iter() {
            let bytes = row.as_ref();
            let hash = state.hash_one(bytes);
            let found = ids
                .find(hash, |&id| stored.row(id as usize).as_ref() == bytes)
                .copied();
            let id = match found {
                Some(id) => id,
                None => {
                    let id = stored.num_rows() as u32;
                    stored.push(row);
                    hashes.push(hash);
                    ids.insert_unique(hash, id, |&g| hashes[g as usize]);
                    id
                }
            };
            out.push(id);
        }
        Ok(out)
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
        self.converter
            .convert_rows(ids.iter().map(|&i| self.keys.row(i as usize)))
            .map_err(arrow_err("group_by keys"))
    }
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
}
