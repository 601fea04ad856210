//! Damaged Parquet files through the public API: a flipped bit in a page with a checksum,
//! footers whose column chunks lie outside the file or disagree with it, and a file that
//! disappears or shrinks between planning and running. Each is an error naming the file
//! (and the row group when data is read), never a panic or a wrong answer. The random
//! damage of many kinds is in `parquet_fuzz`, on the files written here.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::arrow::ArrowWriter;
use parquet::arrow::encode_arrow_schema;
use parquet::basic::Compression;
use parquet::file::metadata::{
    ColumnChunkMetaDataBuilder, FileMetaData, KeyValue, ParquetMetaDataBuilder,
    ParquetMetaDataReader, ParquetMetaDataWriter,
};
use parquet::file::properties::WriterProperties;
use spillway::arrow::array::{AsArray, Float64Array, Int64Array, StringArray};
use spillway::arrow::compute::concat_batches;
use spillway::arrow::datatypes::Int64Type;
use spillway::prelude::*;

/// Writes `rows` rows in row groups of `group` rows to `path`: `id` counts from 0, `v` is
/// `id / 2` with a null every seventh row, `s` is one of four words.
pub(crate) fn write_plain(path: &Path, rows: usize, group: usize, compression: Compression) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("v", DataType::Float64, true),
        Field::new("s", DataType::Utf8, false),
    ]));
    let ids: Vec<i64> = (0..rows as i64).collect();
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from(ids.clone())),
            Arc::new(Float64Array::from_iter(
                ids.iter().map(|&i| (i % 7 != 0).then_some(i as f64 / 2.0)),
            )),
            Arc::new(StringArray::from_iter_values(
                ids.iter()
                    .map(|&i| ["north", "east", "south", "west"][(i % 4) as usize]),
            )),
        ],
    )
    .unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .set_compression(compression)
        .build();
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// The Parquet file at `path` rewritten: with a CRC-32 of its page in every page header
/// when `checksums` (`ArrowWriter` writes none; parquet-mr and Arrow C++ can), and each
/// column chunk's metadata passed through `edit(row group, column, builder)`. The page
/// indexes are left out.
pub(crate) fn rewrite(
    path: &Path,
    checksums: bool,
    edit: impl Fn(usize, usize, ColumnChunkMetaDataBuilder) -> ColumnChunkMetaDataBuilder,
) -> Vec<u8> {
    let plain = std::fs::read(path).unwrap();
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&File::open(path).unwrap())
        .unwrap();
    let mut out = b"PAR1".to_vec();
    let mut row_groups = Vec::new();
    for (r, rg) in metadata.row_groups().iter().enumerate() {
        let rg_start = out.len() as i64;
        let mut columns = Vec::new();
        for (c, column) in rg.columns().iter().enumerate() {
            let (start, len) = column.byte_range();
            let chunk = &plain[start as usize..(start + len) as usize];
            let new_start = out.len() as i64;
            let mut data_page = None;
            let mut pos = 0;
            while pos < chunk.len() {
                if start as usize + pos == column.data_page_offset() as usize {
                    data_page = Some(out.len() as i64);
                }
                let (header_len, size_end, size) = page_header(&chunk[pos..]);
                let header = &chunk[pos..pos + header_len];
                let body = &chunk[pos + header_len..pos + header_len + size];
                if checksums {
                    // Field 4 (`crc`, an i32) between field 3 and the next field, whose
                    // field-id delta then shrinks by one.
                    assert!(header[size_end] >> 4 >= 2, "a page header with a crc");
                    out.extend_from_slice(&header[..size_end]);
                    out.push(0x15);
                    let crc = crc32fast::hash(body) as i32;
                    put_varint(&mut out, ((crc << 1) ^ (crc >> 31)) as u32 as u64);
                    out.push(header[size_end] - 0x10);
                    out.extend_from_slice(&header[size_end + 1..]);
                } else {
                    out.extend_from_slice(header);
                }
                out.extend_from_slice(body);
                pos += header_len + size;
            }
            let builder = column
                .clone()
                .into_builder()
                .set_dictionary_page_offset(column.dictionary_page_offset().map(|_| new_start))
                .set_data_page_offset(data_page.expect("a data page"))
                .set_total_compressed_size(out.len() as i64 - new_start)
                .set_offset_index_offset(None)
                .set_offset_index_length(None)
                .set_column_index_offset(None)
                .set_column_index_length(None);
            columns.push(edit(r, c, builder).build().unwrap());
        }
        let rg = rg.clone().into_builder().set_column_metadata(columns);
        row_groups.push(rg.set_file_offset(rg_start).build().unwrap());
    }
    let metadata = metadata
        .into_builder()
        .set_row_groups(row_groups)
        .set_page_index(None)
        .build();
    ParquetMetaDataWriter::new(&mut out, &metadata)
        .with_preserve_page_index_locations(false)
        .finish()
        .unwrap();
    out
}

/// A page header (Thrift compact protocol) at the start of `b`: its length, where its
/// field 3 (the page's compressed size) ends, and that size.
pub(crate) fn page_header(b: &[u8]) -> (usize, usize, usize) {
    let (mut pos, mut id, mut size_end, mut size) = (0, 0u64, 0, 0);
    loop {
        let field = b[pos];
        pos += 1;
        if field == 0 {
            return (pos, size_end, size);
        }
        id = match field >> 4 {
            0 => varint(b, &mut pos) >> 1,
            delta => id + u64::from(delta),
        };
        if id == 3 {
            size = (varint(b, &mut pos) >> 1) as usize;
            size_end = pos;
        } else {
            skip(b, &mut pos, field & 0x0f);
        }
    }
}

fn varint(b: &[u8], pos: &mut usize) -> u64 {
    let (mut value, mut shift) = (0u64, 0);
    loop {
        let byte = b[*pos];
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Skips a value of compact-protocol type `ty` (booleans live in the field header).
fn skip(b: &[u8], pos: &mut usize, ty: u8) {
    match ty {
        1 | 2 => {}
        3 => *pos += 1,
        4..=6 => {
            varint(b, pos);
        }
        7 => *pos += 8,
        8 => {
            let n = varint(b, pos) as usize;
            *pos += n;
        }
        9 | 10 => {
            let head = b[*pos];
            *pos += 1;
            let n = match head >> 4 {
                15 => varint(b, pos),
                n => u64::from(n),
            };
            for _ in 0..n {
                match head & 0x0f {
                    1 | 2 => *pos += 1,
                    elem => skip(b, pos, elem),
                }
            }
        }
        12 => loop {
            let field = b[*pos];
            *pos += 1;
            if field == 0 {
                break;
            }
            if field >> 4 == 0 {
                varint(b, pos);
            }
            skip(b, pos, field & 0x0f);
        },
        _ => panic!("unexpected thrift type {ty}"),
    }
}

/// Every row of the Parquet file(s) `pattern` names, as one batch.
pub(crate) fn read_all(session: &Session, pattern: &Path) -> Result<RecordBatch> {
    let df = session.read_parquet(pattern.to_string_lossy())?;
    let batches = df.collect()?;
    let schema = df.schema();
    concat_batches(&schema, &batches).map_err(|e| Error::Internal(e.to_string()))
}

/// The message of a [`Error::Format`] naming `path`; panics on any other error.
fn format_message(err: &Error, path: &Path) -> String {
    match err.root() {
        Error::Format { path: p, message } if p == path => message.clone(),
        _ => panic!("not a format error naming {}: {err}", path.display()),
    }
}

/// Where the data of row group `rg`'s column `col` starts in the file at `path`: after the
/// header of its first data page.
fn data_page_body(path: &Path, rg: usize, col: usize) -> usize {
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&File::open(path).unwrap())
        .unwrap();
    let offset = metadata.row_group(rg).column(col).data_page_offset() as usize;
    let bytes = std::fs::read(path).unwrap();
    offset + page_header(&bytes[offset..]).0
}

/// An `edit` for [`rewrite`]: `f` on row group `rg`'s column `col`, nothing elsewhere.
fn one(
    rg: usize,
    col: usize,
    f: impl Fn(ColumnChunkMetaDataBuilder) -> ColumnChunkMetaDataBuilder,
) -> impl Fn(usize, usize, ColumnChunkMetaDataBuilder) -> ColumnChunkMetaDataBuilder {
    move |r, c, b| if (r, c) == (rg, col) { f(b) } else { b }
}

fn session() -> Session {
    Session::builder()
        .threads(2)
        .batch_rows(100)
        .build()
        .unwrap()
}

#[test]
fn a_flipped_bit_in_a_page_with_a_checksum_is_an_error_naming_the_file_and_row_group() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.parquet");
    write_plain(&plain, 300, 100, Compression::UNCOMPRESSED);
    let summed = dir.path().join("summed.parquet");
    std::fs::write(&summed, rewrite(&plain, true, |_, _, b| b)).unwrap();
    let s = session();
    let expected = read_all(&s, &plain).unwrap();
    assert_eq!(read_all(&s, &summed).unwrap(), expected);

    // `id` is dictionary-encoded: flip a bit of its dictionary page in row group 1, which
    // holds the ids 100..200, plain little-endian; the 6th entry is 105.
    let flip = |from: &Path, to: &Path| {
        let metadata = ParquetMetaDataReader::new()
            .parse_and_finish(&File::open(from).unwrap())
            .unwrap();
        let column = metadata.row_group(1).column(0);
        let offset = column.dictionary_page_offset().unwrap() as usize;
        let mut bytes = std::fs::read(from).unwrap();
        let body = offset + page_header(&bytes[offset..]).0;
        assert_eq!(bytes[body + 5 * 8], 105);
        bytes[body + 5 * 8] ^= 0x40;
        std::fs::write(to, bytes).unwrap();
    };

    // Without a checksum the flip is a silently wrong answer (the crate cannot tell)...
    let wrong = dir.path().join("wrong.parquet");
    flip(&plain, &wrong);
    let read = read_all(&s, &wrong).unwrap();
    assert_eq!(
        read.column(0).as_primitive::<Int64Type>().value(105),
        105 ^ 0x40
    );

    // ... with one, an error naming the file and the row group.
    let damaged = dir.path().join("damaged.parquet");
    flip(&summed, &damaged);
    let err = read_all(&s, &damaged).unwrap_err();
    assert!(matches!(&err, Error::Task { .. }), "{err}");
    let message = format_message(&err, &damaged);
    assert!(message.contains("row group 1"), "{message}");
    assert!(message.contains("CRC checksum mismatch"), "{message}");
    assert!(err.to_string().contains("damaged.parquet"), "{err}");

    // A flipped bit in a data page is caught the same way.
    let page = data_page_body(&summed, 2, 1);
    let mut bytes = std::fs::read(&summed).unwrap();
    bytes[page + 20] ^= 0x01;
    std::fs::write(&damaged, bytes).unwrap();
    let err = read_all(&s, &damaged).unwrap_err();
    let message = format_message(&err, &damaged);
    assert!(message.contains("row group 2"), "{message}");
}

#[test]
fn a_footer_whose_chunks_do_not_fit_the_file_is_an_error_naming_the_file_and_row_group() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.parquet");
    write_plain(&plain, 300, 100, Compression::SNAPPY);
    let bad = dir.path().join("bad.parquet");
    let check = |bytes: Vec<u8>, wants: &[&str]| {
        std::fs::write(&bad, bytes).unwrap();
        let err = session().read_parquet(bad.to_string_lossy()).unwrap_err();
        let message = format_message(&err, &bad);
        for want in wants {
            assert!(message.contains(want), "{want}: {message}");
        }
    };

    // A chunk longer than the file: the crate would allocate a terabyte for it.
    let edit = one(1, 0, |b| b.set_total_compressed_size(1 << 40));
    check(
        rewrite(&plain, false, edit),
        &["row group 1", "column id", "not inside"],
    );

    // A chunk starting before the data, at a negative offset.
    let edit = one(2, 1, |b| b.set_dictionary_page_offset(Some(-3)));
    check(
        rewrite(&plain, false, edit),
        &["row group 2", "column v", "not inside"],
    );

    // A first data page outside its chunk.
    let edit = one(0, 2, |b| b.set_data_page_offset(2));
    check(
        rewrite(&plain, false, edit),
        &["row group 0", "column s", "data page"],
    );

    // A chunk overlapping the next one: the crate would read the other column's pages.
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&File::open(&plain).unwrap())
        .unwrap();
    let len = metadata.row_group(0).column(0).byte_range().1 as i64 + 10;
    let edit = one(0, 0, move |b| b.set_total_compressed_size(len));
    check(
        rewrite(&plain, false, edit),
        &["overlap", "column id", "column v"],
    );

    // A column whose value count disagrees with its row group's rows.
    let edit = one(1, 1, |b| b.set_num_values(68));
    check(
        rewrite(&plain, false, edit),
        &["row group 1", "column v", "68 values"],
    );

    // The rewrite itself keeps the data.
    std::fs::write(&bad, rewrite(&plain, false, |_, _, b| b)).unwrap();
    let s = session();
    assert_eq!(read_all(&s, &bad).unwrap(), read_all(&s, &plain).unwrap());
}

#[test]
fn a_column_read_as_another_kind_than_its_writer_recorded_is_an_error() {
    // What a flipped bit in the footer's Parquet schema does (INT64 to BOOLEAN), seen from
    // the other side: the writer's Arrow schema in the footer says `id` is a boolean, the
    // Parquet schema a 64-bit integer. The crate keeps the Parquet type without a word.
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.parquet");
    write_plain(&plain, 300, 100, Compression::UNCOMPRESSED);
    let bytes = std::fs::read(&plain).unwrap();
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&File::open(&plain).unwrap())
        .unwrap();
    let file = metadata.file_metadata();
    let recorded = Schema::new(vec![
        Field::new("id", DataType::Boolean, false),
        Field::new("v", DataType::Float64, true),
        Field::new("s", DataType::Utf8, false),
    ]);
    let kv = KeyValue::new("ARROW:schema".into(), encode_arrow_schema(&recorded));
    let file = FileMetaData::new(
        file.version(),
        file.num_rows(),
        file.created_by().map(str::to_string),
        Some(vec![kv]),
        file.schema_descr_ptr(),
        None,
    );
    let row_groups = metadata.row_groups().to_vec();
    let metadata = ParquetMetaDataBuilder::new(file)
        .set_row_groups(row_groups)
        .build();
    let footer = bytes.len()
        - 8
        - u32::from_le_bytes(bytes[bytes.len() - 8..][..4].try_into().unwrap()) as usize;
    let mut out = bytes[..footer].to_vec();
    ParquetMetaDataWriter::new(&mut out, &metadata)
        .with_preserve_page_index_locations(false)
        .finish()
        .unwrap();
    let bad = dir.path().join("retyped.parquet");
    std::fs::write(&bad, out).unwrap();
    let err = session().read_parquet(bad.to_string_lossy()).unwrap_err();
    let message = format_message(&err, &bad);
    assert!(message.contains("column id as Boolean"), "{message}");
    assert!(message.contains("Int64"), "{message}");
}

#[test]
fn a_file_removed_or_shrunk_after_planning_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("part-{i}.parquet")))
        .collect();
    for p in &paths {
        write_plain(p, 200, 100, Compression::UNCOMPRESSED);
    }
    let pattern = dir.path().join("*.parquet").to_string_lossy().into_owned();
    let s = session();
    let df = s.read_parquet(&pattern).unwrap();
    assert_eq!(df.count_rows().unwrap(), 600);

    std::fs::remove_file(&paths[1]).unwrap();
    let err = df.collect().unwrap_err();
    assert!(matches!(&err, Error::Task { .. }), "{err}");
    assert!(
        matches!(err.root(), Error::Io { path, .. } if *path == paths[1]),
        "{err}"
    );
    assert!(err.to_string().contains("part-1.parquet"), "{err}");

    // Replaced by a shorter file: the footer read at planning no longer fits.
    let bytes = std::fs::read(&paths[2]).unwrap();
    std::fs::write(&paths[2], &bytes[..bytes.len() / 3]).unwrap();
    let err = s.read_parquet(paths[2].to_string_lossy()).unwrap_err();
    assert!(
        matches!(&err, Error::Format { path, .. } if *path == paths[2]),
        "{err}"
    );
    let df = s.read_parquet(paths[0].to_string_lossy()).unwrap();
    let bytes = std::fs::read(&paths[0]).unwrap();
    std::fs::write(&paths[0], &bytes[..bytes.len() / 3]).unwrap();
    let err = df.collect().unwrap_err();
    let message = format_message(&err, &paths[0]);
    assert!(message.contains("row group"), "{message}");
}
