//! Corrupt files: the checks and guards that turn them into [`Error::Format`] naming the
//! file, never a panic, an abort or a silent wrong answer.
//!
//! - [`guarded`] runs a call into the parquet crate under `catch_unwind`: some corrupt
//!   footers and pages make the crate panic (an index out of range, an overflow), and a
//!   panic would otherwise reach the user as a bug in Spillway, or, while a footer is read
//!   at planning time, as a panic.
//! - [`check_footer`] checks what the crate trusts when it reads a row group: each column
//!   chunk's byte range must lie inside the file's data (between the magic bytes and the
//!   footer) and overlap no other chunk, its first data page must lie inside it, a flat
//!   column must hold as many values as its row group has rows, and the row groups as
//!   many rows as the file. A range beyond the
//!   file would make the crate allocate a buffer of that size (an abort, not a panic, for
//!   a size near the address space), an overlap or a row count that disagrees with the
//!   pages would read another column's pages or drop rows without an error.
//! - [`check_arrow_hint`] checks the types a file is read as against the Arrow schema its
//!   writer embedded in the footer, so that a flipped bit in the footer's Parquet schema
//!   cannot read a column as another kind of value.
//! - [`next_batch`] reads a batch under the same guard, and [`RowGroupSpans`] names the
//!   row groups a failed batch was reading.
//!
//! Pages carry an optional CRC-32 which the crate verifies (its `crc` feature), so a
//! flipped bit in a page of a file written with checksums is an error, not a wrong value.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use ::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReader};
use ::parquet::file::metadata::ParquetMetaData;
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use spillway_planner::error::panic_message;
use spillway_planner::{Error, Result};

use crate::files::format_error;

/// Runs `f`, a call into the parquet crate over the file `path`, turning a panic into an
/// [`Error::Format`] naming the file.
pub(super) fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        Err(format_error(
            path,
            format!(
                "the Parquet decoder failed on corrupt data: {}",
                panic_message(payload.as_ref())
            ),
        ))
    })
}

/// The next batch of `reader`, over the file `path`; a decoder error or panic is an
/// [`Error::Format`] naming the file and `at()`, the row groups being read.
pub(super) fn next_batch(
    path: &Path,
    reader: &mut ParquetRecordBatchReader,
    at: impl FnOnce() -> String,
) -> Result<Option<RecordBatch>> {
    match catch_unwind(AssertUnwindSafe(|| reader.next())) {
        Ok(None) => Ok(None),
        Ok(Some(Ok(batch))) => Ok(Some(batch)),
        Ok(Some(Err(e))) => Err(format_error(path, format!("{}: {e}", at()))),
        Err(payload) => Err(format_error(
            path,
            format!(
                "{}: the Parquet decoder failed on corrupt data: {}",
                at(),
                panic_message(payload.as_ref())
            ),
        )),
    }
}

/// Checks the footer `metadata` of `file` (at `path`) against the file's length and
/// itself; see the module's documentation.
pub(super) fn check_footer(path: &Path, file: &File, metadata: &ParquetMetaData) -> Result<()> {
    let data_end = data_end(file).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let data_end = data_end.ok_or_else(|| format_error(path, "the footer is truncated"))?;
    let mut ranges = Vec::new();
    for (i, rg) in metadata.row_groups().iter().enumerate() {
        let bad = |message: String| format_error(path, format!("row group {i}: {message}"));
        if rg.num_rows() < 0 {
            return Err(bad(format!("a negative row count, {}", rg.num_rows())));
        }
        for column in rg.columns() {
            if column.compressed_size() == 0 && column.num_values() == 0 && rg.num_rows() == 0 {
                continue; // an empty chunk of an empty row group: nothing is read
            }
            let name = column.column_path().string();
            let start = column
                .dictionary_page_offset()
                .unwrap_or_else(|| column.data_page_offset());
            let len = column.compressed_size();
            let end = start.checked_add(len).filter(|_| start >= 4 && len > 0);
            let Some(end) = end.filter(|&end| end <= data_end) else {
                return Err(bad(format!(
                    "column {name}: the chunk at byte {start}, {len} bytes long, is not \
                     inside the file's data (bytes 4 to {data_end})"
                )));
            };
            let page = column.data_page_offset();
            if page < start || page >= end {
                return Err(bad(format!(
                    "column {name}: the first data page, at byte {page}, is not inside \
                     its chunk (bytes {start} to {end})"
                )));
            }
            let flat = column.column_descr().max_rep_level() == 0;
            if flat && column.num_values() != rg.num_rows() {
                return Err(bad(format!(
                    "column {name} holds {} values but the row group {} rows",
                    column.num_values(),
                    rg.num_rows()
                )));
            }
            ranges.push((start, end, i, name));
        }
    }
    let rows = (metadata.row_groups().iter()).try_fold(0i64, |n, rg| n.checked_add(rg.num_rows()));
    let declared = metadata.file_metadata().num_rows();
    if rows != Some(declared) {
        let rows = rows.map_or("more than 2^63".into(), |n| n.to_string());
        // The reader sizes its batches by the file's count: 0 would read nothing.
        return Err(format_error(
            path,
            format!("the footer counts {declared} rows but its row groups hold {rows}"),
        ));
    }
    ranges.sort_unstable();
    for pair in ranges.windows(2) {
        let ((_, end, rg_a, a), (start, _, rg_b, b)) = (&pair[0], &pair[1]);
        if start < end {
            return Err(format_error(
                path,
                format!(
                    "the chunks of column {a} (row group {rg_a}) and column {b} (row group \
                     {rg_b}) overlap"
                ),
            ));
        }
    }
    Ok(())
}

/// Checks the Arrow schema a writer embeds in the footer (`ARROW:schema`) against the
/// types the file is read as. The crate applies the embedded types where they fit the
/// Parquet types and silently keeps the Parquet types where they do not, which is what a
/// flipped bit in the footer's Parquet schema looks like: a column of 64-bit integers
/// stored as, and read as, booleans. A column whose kind (integer, float, string, ...)
/// differs from the one its writer recorded is an error.
pub(super) fn check_arrow_hint(path: &Path, reader: &ArrowReaderMetadata) -> Result<()> {
    let file = reader.metadata().file_metadata();
    let encoded = file
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|kv| kv.key == "ARROW:schema"))
        .and_then(|kv| kv.value.as_deref());
    let Some(hint) = encoded.and_then(decode_arrow_schema) else {
        return Ok(()); // none, or one the crate has already refused
    };
    let read = reader.schema();
    let corrupt = |message: String| format_error(path, format!("{message}: the footer is corrupt"));
    if hint.fields().len() != read.fields().len() {
        return Err(corrupt(format!(
            "the writer recorded {} columns, the file holds {}",
            hint.fields().len(),
            read.fields().len()
        )));
    }
    for (h, r) in hint.fields().iter().zip(read.fields()) {
        if h.name() != r.name() || kind(h.data_type()) != kind(r.data_type()) {
            return Err(corrupt(format!(
                "the writer recorded column {} as {}, the file holds {} {}",
                h.name(),
                h.data_type(),
                r.name(),
                r.data_type()
            )));
        }
    }
    Ok(())
}

/// The Arrow schema `ARROW:schema` holds: base64 of an IPC message, with or without its
/// continuation marker and length. `None` when it does not decode.
fn decode_arrow_schema(encoded: &str) -> Option<Schema> {
    let bytes = base64_decode(encoded)?;
    let slice = if bytes.len() > 8 && bytes[0..4] == [255u8; 4] {
        &bytes[8..]
    } else {
        &bytes[..]
    };
    let message = arrow::ipc::root_as_message(slice).ok()?;
    arrow::ipc::convert::try_fb_to_schema(message.header_as_schema()?).ok()
}

/// Standard base64 with padding; `None` for any other character.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let text = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for &c in text {
        acc = (acc << 6) | u32::from(value(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Boolean,
    Integer,
    Float,
    Decimal,
    Temporal,
    Bytes,
    Nested,
    Null,
    Other,
}

fn kind(t: &DataType) -> Kind {
    use DataType::*;
    match t {
        Boolean => Kind::Boolean,
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => Kind::Integer,
        Float16 | Float32 | Float64 => Kind::Float,
        Decimal32(..) | Decimal64(..) | Decimal128(..) | Decimal256(..) => Kind::Decimal,
        Date32 | Date64 | Time32(_) | Time64(_) | Timestamp(..) | Duration(_) | Interval(_) => {
            Kind::Temporal
        }
        Utf8 | LargeUtf8 | Utf8View | Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => {
            Kind::Bytes
        }
        Dictionary(_, value) => kind(value),
        List(_) | LargeList(_) | FixedSizeList(..) | ListView(_) | LargeListView(_) | Struct(_)
        | Map(..) | Union(..) => Kind::Nested,
        Null => Kind::Null,
        _ => Kind::Other,
    }
}

/// Where a Parquet file's data ends and its footer begins: the length of the file less the
/// footer's length, its 4-byte length and the 4 magic bytes. `None` when the footer does
/// not fit in the file.
fn data_end(mut file: &File) -> std::io::Result<Option<i64>> {
    let len = file.metadata()?.len();
    if len < 12 {
        return Ok(None);
    }
    let mut tail = [0u8; 8];
    file.seek(SeekFrom::Start(len - 8))?;
    file.read_exact(&mut tail)?;
    let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    Ok((len - 8)
        .checked_sub(footer)
        .filter(|&end| end >= 4)
        .and_then(|end| i64::try_from(end).ok()))
}

/// The row groups a partition reads, in order, with their rows: which of them a batch that
/// failed was reading.
#[derive(Debug)]
pub(super) struct RowGroupSpans {
    /// Each row group read and the number of rows read before it.
    starts: Vec<(usize, usize)>,
    total: usize,
}

impl RowGroupSpans {
    pub(super) fn new(row_groups: &[usize], metadata: &ParquetMetaData) -> Self {
        let mut total = 0usize;
        let starts = row_groups
            .iter()
            .map(|&i| {
                let start = total;
                let rows = metadata
                    .row_groups()
                    .get(i)
                    .map_or(0, |rg| usize::try_from(rg.num_rows()).unwrap_or(0));
                total = total.saturating_add(rows);
                (i, start)
            })
            .collect();
        Self { starts, total }
    }

    /// `row group N` or `row groups N to M`: the row groups holding the rows from `done`
    /// (the rows read before the batch) to `done + batch_rows`.
    pub(super) fn name(&self, done: usize, batch_rows: usize) -> String {
        let last_row = done
            .saturating_add(batch_rows.max(1) - 1)
            .min(self.total.saturating_sub(1));
        let holding = |row: usize| {
            let at = self.starts.partition_point(|&(_, start)| start <= row);
            self.starts.get(at.saturating_sub(1)).map_or(0, |&(i, _)| i)
        };
        let (first, last) = (holding(done), holding(last_row.max(done)));
        if first == last {
            format!("row group {first}")
        } else {
            format!("row groups {first} to {last}")
        }
    }
}
