//! A CSV partition's decoded size, estimated before reading: what its rows take as Arrow
//! arrays, the partition's [`estimated_bytes`](spillway_planner::source::ScanPartition::estimated_bytes)
//! (a join broadcasts its right side by it).
//!
//! The text's own length is no estimate: `1,2\n` is 4 bytes of text and 16 of two `Int64`
//! values, a one-letter string 2 bytes of text and a 16-byte view. So the estimate is the
//! partition's lines times the decoded width of a row of the projected columns (the type's
//! width, 16 for a string view, an eighth of a byte for a boolean, and the validity of
//! each column, all nullable), plus the partition's text when a string column is read (its
//! values are in the text). The lines are counted by the pre-pass (its index knows the
//! line of every cut; the last partition of a file is taken at the file's bytes per line);
//! a quoted field that holds line breaks counts several lines, a blank line or a comment
//! one: an estimate, on the high side for such files.

use arrow::datatypes::{DataType, Schema};

use super::scan::{Cut, FileIndex};

/// The decoded bytes of `rows` rows of `text` bytes with the columns of `schema`.
pub(super) fn decoded_bytes(schema: &Schema, rows: u64, text: u64) -> usize {
    let rows = usize::try_from(rows).unwrap_or(usize::MAX);
    let mut total = 0usize;
    let mut strings = false;
    for field in schema.fields() {
        let width = match field.data_type() {
            DataType::Boolean | DataType::Null => 0,
            DataType::Utf8View | DataType::BinaryView => 16,
            DataType::Utf8 | DataType::Binary => 4,
            DataType::LargeUtf8 | DataType::LargeBinary => 8,
            t => t.primitive_width().unwrap_or(16),
        };
        strings |= matches!(
            field.data_type(),
            DataType::Utf8View
                | DataType::BinaryView
                | DataType::Utf8
                | DataType::Binary
                | DataType::LargeUtf8
                | DataType::LargeBinary
        );
        let bits = if field.data_type() == &DataType::Boolean {
            2
        } else {
            1
        };
        total = total
            .saturating_add(rows.saturating_mul(width))
            .saturating_add(rows.div_ceil(8).saturating_mul(bits));
    }
    if strings {
        total = total.saturating_add(usize::try_from(text).unwrap_or(usize::MAX));
    }
    total
}

/// The end of the data `index` describes, as a cut: its line is the last cut's plus the
/// bytes after it at the file's bytes per line (rounded up; one line when the file has
/// only one cut).
pub(super) fn end_of(index: &FileIndex) -> Cut {
    let (Some(&first), Some(&last)) = (index.cuts.first(), index.cuts.last()) else {
        return Cut {
            offset: index.len,
            line: 1,
        };
    };
    let rest = index.len.saturating_sub(last.offset);
    let extra = if last.line > first.line {
        let per_line = (last.offset - first.offset)
            .div_ceil(last.line - first.line)
            .max(1);
        rest.div_ceil(per_line)
    } else {
        u64::from(rest > 0)
    };
    Cut {
        offset: index.len,
        line: last.line.saturating_add(extra),
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::Field;

    use super::*;
    use crate::csv::scan::Dialect;

    #[test]
    fn a_row_is_as_wide_as_its_decoded_columns() {
        let schema = Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Float32, true),
            Field::new("c", DataType::Boolean, true),
        ]);
        // 8 + 4 bytes a row, and three validity bitmaps and the booleans' values.
        assert_eq!(decoded_bytes(&schema, 800, 5_000), 800 * 12 + 100 * 4);
        let strings = Schema::new(vec![Field::new("s", DataType::Utf8View, true)]);
        assert_eq!(decoded_bytes(&strings, 800, 5_000), 800 * 16 + 100 + 5_000);
    }

    #[test]
    fn the_end_line_is_taken_at_the_file_s_bytes_per_line() {
        let text = "1,2\n".repeat(100);
        let index = FileIndex::of_bytes(text.as_bytes(), Dialect::default(), 0, 40);
        assert_eq!((index.cuts[0].line, index.cuts[1].line), (1, 11));
        let end = end_of(&index);
        assert_eq!((end.offset, end.line), (400, 101));
    }
}
