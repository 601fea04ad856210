//! The decoded size of a row group's columns, estimated from the footer alone: about what
//! the engine holds (and is charged) once the columns are decoded to Arrow arrays. It is a
//! partition's [`estimated_bytes`](spillway_planner::source::ScanPartition::estimated_bytes),
//! which decides, for one, whether a join broadcasts its right side.
//!
//! The footer's own sizes are of *encoded* pages and cannot serve: a dictionary-encoded
//! column of repeated strings takes a few bits a row in the file and a 16-byte view in
//! memory, 30 times more or worse. So each column is estimated from its Arrow type and the
//! row group's row count, exactly for fixed-width types:
//!
//! | Arrow type | decoded bytes |
//! |---|---|
//! | fixed width (integers, floats, dates, times, timestamps, decimals) | width × rows |
//! | `FixedSizeBinary(n)` | n × rows |
//! | boolean | rows / 8 |
//! | `Utf8View`, `BinaryView` (the engine's strings) | 16 × rows + the strings' bytes |
//! | `Utf8`, `Binary` (`Large…`) | 4 (8) × rows + the strings' bytes |
//! | anything else (lists, structs, maps, dictionaries) | per leaf column: 16 (byte arrays) or the physical width × its values, + its strings' bytes |
//!
//! plus rows / 8 for a nullable column's validity. The strings' bytes are the footer's
//! `unencoded_byte_array_data_bytes` (the values as if plain-encoded without their
//! lengths: a dictionary expanded, row by row) when the writer recorded it (parquet-rs
//! does), and the column chunk's uncompressed size otherwise (the dictionary's strings, not
//! expanded). An expanded dictionary is an upper bound for a view column (strings of at
//! most 12 bytes live in the view, and a decoded dictionary's views share its strings) but
//! the right one once rows are copied (a shuffle's take, a spill).

use arrow::datatypes::{DataType, Fields};
use parquet::basic::Type as PhysicalType;
use parquet::file::metadata::{ColumnChunkMetaData, RowGroupMetaData};

use super::to_usize;

/// The decoded bytes of the root columns `roots` (all when `None`, sorted otherwise) of a
/// row group whose Arrow fields are `fields`.
pub(super) fn decoded_bytes(
    rg: &RowGroupMetaData,
    fields: &Fields,
    roots: Option<&[usize]>,
) -> usize {
    let rows = to_usize(rg.num_rows());
    let descr = rg.schema_descr();
    let mut leaves: Vec<Vec<&ColumnChunkMetaData>> = vec![Vec::new(); fields.len()];
    for (leaf, chunk) in rg.columns().iter().enumerate() {
        if leaf < descr.num_columns()
            && let Some(of_root) = leaves.get_mut(descr.get_column_root_idx(leaf))
        {
            of_root.push(chunk);
        }
    }
    fields
        .iter()
        .zip(&leaves)
        .enumerate()
        .filter(|(i, _)| roots.is_none_or(|r| r.binary_search(i).is_ok()))
        .map(|(_, (field, leaves))| {
            let validity = if field.is_nullable() {
                rows.div_ceil(8)
            } else {
                0
            };
            validity.saturating_add(column_bytes(field.data_type(), rows, leaves))
        })
        .fold(0, usize::saturating_add)
}

/// The decoded bytes of one root column of type `t`, from its leaf column chunks.
fn column_bytes(t: &DataType, rows: usize, leaves: &[&ColumnChunkMetaData]) -> usize {
    let strings = || {
        leaves
            .iter()
            .map(|c| string_bytes(c))
            .fold(0, usize::saturating_add)
    };
    let per_row = |width: usize| width.saturating_mul(rows);
    match t {
        DataType::Boolean => rows.div_ceil(8),
        DataType::Utf8View | DataType::BinaryView => per_row(16).saturating_add(strings()),
        DataType::Utf8 | DataType::Binary => per_row(4).saturating_add(strings()),
        DataType::LargeUtf8 | DataType::LargeBinary => per_row(8).saturating_add(strings()),
        DataType::FixedSizeBinary(n) => per_row(usize::try_from(*n).unwrap_or(0)),
        t => match t.primitive_width() {
            Some(width) => per_row(width),
            None => leaves
                .iter()
                .map(|c| leaf_bytes(c))
                .fold(0, usize::saturating_add),
        },
    }
}

/// The decoded bytes of a leaf column chunk of a nested (or dictionary) column: its values
/// at their physical width (16, a view, for byte arrays), and its strings.
fn leaf_bytes(c: &ColumnChunkMetaData) -> usize {
    let values = to_usize(c.num_values());
    let width = match c.column_type() {
        PhysicalType::BOOLEAN => 1,
        PhysicalType::INT32 | PhysicalType::FLOAT => 4,
        PhysicalType::INT64 | PhysicalType::DOUBLE => 8,
        PhysicalType::INT96 => 12,
        PhysicalType::BYTE_ARRAY => {
            return values.saturating_mul(16).saturating_add(string_bytes(c));
        }
        PhysicalType::FIXED_LEN_BYTE_ARRAY => {
            usize::try_from(c.column_descr().type_length()).unwrap_or(0)
        }
    };
    values.saturating_mul(width)
}

/// The bytes of a byte-array column chunk's values, a dictionary expanded when the footer
/// says how much that is.
fn string_bytes(c: &ColumnChunkMetaData) -> usize {
    c.unencoded_byte_array_data_bytes()
        .map_or_else(|| to_usize(c.uncompressed_size()), to_usize)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        Array, BooleanArray, Int32Array, Int64Array, ListArray, RecordBatch, StringViewArray,
    };
    use arrow::datatypes::{Field, Int32Type, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};

    use super::*;

    /// The footer of `batch` written as one row group, and the file's size.
    fn footer(batch: &RecordBatch) -> (ArrowReaderMetadata, u64) {
        let file = tempfile::tempfile().unwrap();
        let mut w = ArrowWriter::try_new(file.try_clone().unwrap(), batch.schema(), None).unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
        let size = file.metadata().unwrap().len();
        (
            ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).unwrap(),
            size,
        )
    }

    #[test]
    fn fixed_width_columns_are_exact_and_dictionaries_are_expanded() {
        let n = 20_000;
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int64, false),
            Field::new("j", DataType::Int32, true),
            Field::new("b", DataType::Boolean, false),
            Field::new("s", DataType::Utf8View, false),
        ]));
        let strings = (0..n).map(|i| format!("a string of about thirty bytes {:02}", i % 10));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from_iter_values((0..n as i64).map(|i| i / 100))),
                Arc::new(Int32Array::from_iter(
                    (0..n as i32).map(|i| (i % 3 > 0).then_some(i % 7)),
                )),
                Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 2 == 0)))),
                Arc::new(StringViewArray::from_iter_values(strings)),
            ],
        )
        .unwrap();
        let (meta, file) = footer(&batch);
        let rg = meta.metadata().row_group(0);
        let fields = meta.schema().fields();
        assert_eq!(decoded_bytes(rg, fields, Some(&[0])), n * 8);
        assert_eq!(decoded_bytes(rg, fields, Some(&[1])), n * 4 + n / 8);
        assert_eq!(decoded_bytes(rg, fields, Some(&[2])), n / 8);
        // 16 bytes of view and the 33-byte string, for every row: the dictionary expanded.
        assert_eq!(decoded_bytes(rg, fields, Some(&[3])), n * (16 + 33));
        let all = decoded_bytes(rg, fields, None);
        assert_eq!(all, n * (8 + 4 + 16 + 33) + 2 * (n / 8));
        // The file holds dictionaries and runs: many times smaller.
        assert!(
            all > 30 * file as usize,
            "{all} decoded, {file} in the file"
        );
        assert!(all > 10 * to_usize(rg.total_byte_size()));
    }

    #[test]
    fn nested_columns_count_their_leaf_values() {
        let lists = ListArray::from_iter_primitive::<Int32Type, _, _>(
            (0..1000).map(|i| Some(vec![Some(i), Some(i + 1), None])),
        );
        let schema = Arc::new(Schema::new(vec![Field::new(
            "l",
            lists.data_type().clone(),
            false,
        )]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(lists)]).unwrap();
        let (meta, _) = footer(&batch);
        let rg = meta.metadata().row_group(0);
        assert_eq!(decoded_bytes(rg, meta.schema().fields(), None), 3000 * 4);
    }
}
