//! What a dataset's files say about its columns: the names (the header, or `column_1`,
//! ...), the types (inferred from a sample of rows), and whether every file agrees.
//!
//! Files are read record by record with the boundary machine of `scan` (the one the scans
//! use), from the start of the file, skipping a UTF-8 byte order mark there.
//!
//! - **Names** come from the first file that holds a record: its header, or as many
//!   generated names as its first record has fields. A file with no record at all (0
//!   bytes, or only empty lines and comments) says nothing.
//! - **Types** come from the first [`CsvOptions::infer_schema_rows`] data rows of the
//!   files, in order: a file with a header but no data row (or an empty file) gives none,
//!   so it cannot decide the types; the sample goes on in the next files. A column with no
//!   value in the sample (or a dataset without data rows) is a string column. The sample
//!   is handed to `arrow-csv`'s inference, which decides the type of each column.
//! - **Bad rows in the sample**: a row that is not UTF-8 is an [`Error::Malformed`] naming
//!   the file and line, or, with [`CsvOptions::skip_bad_rows`], is left out of the sample
//!   and listed in the [`super::BadRows`] report (the scan finds it again at the same
//!   place: it is listed once). A row with a quote still open at the end of the file is
//!   left out (the scan reports it); a row of the wrong length is sampled on the fields it
//!   has (the scan reports it).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use spillway_planner::{Error, Result};

use super::CsvOptions;
use super::scan::{BOM, Dialect, Split, count_lines, read_full, split_record};
use crate::files::view_type;

/// One record of a file, as [`Records`] splits it.
pub(super) struct Record<'a> {
    /// The byte offset of its first byte in the file.
    pub offset: u64,
    /// The line it starts on, counted from 1.
    pub line: u64,
    /// Its bytes, with its terminator when it has one.
    pub bytes: &'a [u8],
    /// False when the file ends inside one of its quoted fields.
    pub closed: bool,
}

/// The records of a file from its start, read through a growing buffer.
pub(super) struct Records {
    path: PathBuf,
    file: File,
    dialect: Dialect,
    buf: Vec<u8>,
    /// The offset in the file of `buf[0]`.
    base: u64,
    /// The first byte of `buf` not yet split off, and its line.
    cursor: usize,
    line: u64,
    eof: bool,
}

impl Records {
    pub fn open(path: &Path, dialect: Dialect) -> Result<Self> {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut records = Self {
            path: path.to_path_buf(),
            file,
            dialect,
            buf: Vec::new(),
            base: 0,
            cursor: 0,
            line: 1,
            eof: false,
        };
        records.fill()?;
        if records.buf.starts_with(BOM) {
            records.cursor = BOM.len();
        }
        Ok(records)
    }

    /// Drops the bytes split off and reads more (at least as many as are kept).
    fn fill(&mut self) -> Result<()> {
        self.buf.drain(..self.cursor);
        self.base += self.cursor as u64;
        self.cursor = 0;
        let have = self.buf.len();
        let want = have.max(16 << 10);
        self.buf.resize(have + want, 0);
        let n = read_full(&mut self.file, &mut self.buf[have..]).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        self.buf.truncate(have + n);
        self.eof = n < want;
        Ok(())
    }

    /// The next record, or `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>> {
        loop {
            match split_record(&self.buf[self.cursor..], self.eof, &self.dialect) {
                Split::NeedMore => self.fill()?,
                Split::Done => return Ok(None),
                Split::Record {
                    start, end, closed, ..
                } => {
                    let (from, to) = (self.cursor + start, self.cursor + end);
                    let line = self.line + count_lines(&self.buf[self.cursor..from]);
                    self.line += count_lines(&self.buf[self.cursor..to]);
                    self.cursor = to;
                    return Ok(Some(Record {
                        offset: self.base + from as u64,
                        line,
                        bytes: &self.buf[from..to],
                        closed,
                    }));
                }
            }
        }
    }
}

/// The fields of one record, unquoted.
fn fields(bytes: &[u8], d: &Dialect) -> Vec<Vec<u8>> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(d.delimiter)
        .quote(d.quote)
        .escape(d.escape)
        .double_quote(true)
        .comment(d.comment)
        .from_reader(bytes);
    let mut record = ::csv::ByteRecord::new();
    match reader.read_byte_record(&mut record) {
        Ok(true) => record.iter().map(<[u8]>::to_vec).collect(),
        // Reading bytes in memory cannot fail; a record always has a field.
        _ => vec![Vec::new()],
    }
}

/// Whether every field of a record is UTF-8 (as the scan checks it: a character cut in
/// two by a delimiter is not; one cut by an escape byte, which unquoting removes, is).
fn utf8_fields(bytes: &[u8], d: &Dialect) -> bool {
    let ascii = [Some(d.delimiter), Some(d.quote), d.escape, d.comment]
        .into_iter()
        .flatten()
        .all(|b| b.is_ascii());
    // Removing and cutting at ASCII bytes keeps UTF-8 whole.
    (ascii && std::str::from_utf8(bytes).is_ok())
        || fields(bytes, d)
            .iter()
            .all(|f| std::str::from_utf8(f).is_ok())
}

/// The column names a header gives.
fn header_names(path: &Path, record: &Record<'_>, d: &Dialect) -> Result<Vec<String>> {
    fields(record.bytes, d)
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            String::from_utf8(name).map_err(|_| Error::Malformed {
                path: path.to_path_buf(),
                line: record.line,
                message: format!("the header is not valid UTF-8 (column {})", i + 1),
            })
        })
        .collect()
}

fn generated_names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("column_{i}")).collect()
}

/// The first record of `path` as column names: the header's, or, without a header, as
/// many generated names as it has fields; `None` for a file with no record.
pub(super) fn first_record(path: &Path, options: &CsvOptions) -> Result<Option<Vec<String>>> {
    let d = options.dialect;
    let mut records = Records::open(path, d)?;
    let Some(record) = records.next_record()? else {
        return Ok(None);
    };
    if options.has_header {
        header_names(path, &record, &d).map(Some)
    } else {
        Ok(Some(generated_names(fields(record.bytes, &d).len())))
    }
}

/// The schema of the dataset `paths` (see the module's documentation), strings being
/// `Utf8View`, with the type overrides of `options`.
pub(super) fn infer_schema(paths: &[PathBuf], options: &CsvOptions) -> Result<SchemaRef> {
    let d = options.dialect;
    let mut names: Option<Vec<String>> = None;
    let mut sample = Vec::new();
    let mut rows = 0;
    for path in paths {
        if names.is_some() && rows >= options.infer_schema_rows {
            break;
        }
        let mut records = Records::open(path, d)?;
        if options.has_header {
            let Some(header) = records.next_record()? else {
                continue;
            };
            if names.is_none() {
                names = Some(header_names(path, &header, &d)?);
            }
        }
        while names.is_none() || rows < options.infer_schema_rows {
            let Some(record) = records.next_record()? else {
                break;
            };
            if names.is_none() {
                names = Some(generated_names(fields(record.bytes, &d).len()));
            }
            if rows >= options.infer_schema_rows {
                break;
            }
            if !record.closed {
                continue;
            }
            if !utf8_fields(record.bytes, &d) {
                let message = "invalid UTF-8".to_string();
                if !options.skip_bad_rows {
                    return Err(Error::Malformed {
                        path: path.clone(),
                        line: record.line,
                        message,
                    });
                }
                let (offset, line) = (record.offset, record.line);
                options.bad_rows.record(path, offset, line, message);
                continue;
            }
            sample.extend_from_slice(record.bytes);
            if !record.bytes.ends_with(b"\n") && !record.bytes.ends_with(b"\r") {
                sample.push(b'\n');
            }
            rows += 1;
        }
    }
    let Some(names) = names else {
        let what = if paths.len() > 1 {
            "every file is empty"
        } else {
            "the file is empty"
        };
        return Err(Error::Format {
            path: paths.first().cloned().unwrap_or_default(),
            message: format!(
                "{what}: there is no header and no row to take columns from (give the schema \
                 with CsvOptions::schema)"
            ),
        });
    };
    let types = sample_types(names.len(), sample, options).map_err(|message| Error::Format {
        path: paths.first().cloned().unwrap_or_default(),
        message,
    })?;
    let mut fields: Vec<Field> = names
        .iter()
        .zip(types)
        .map(|(name, data_type)| {
            let data_type = match data_type {
                DataType::Null => DataType::Utf8View,
                other => view_type(&other),
            };
            Field::new(name, data_type, true)
        })
        .collect();
    for (name, data_type) in &options.dtypes {
        let Some(field) = fields.iter_mut().find(|f| f.name() == name) else {
            return Err(Error::ColumnNotFound {
                name: name.clone(),
                available: names.clone(),
            });
        };
        field.set_data_type(data_type.clone());
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// The types `arrow-csv` infers for `ncols` columns from `sample` (whole records, each
/// with a terminator); `Null` for a column without a value.
fn sample_types(
    ncols: usize,
    sample: Vec<u8>,
    options: &CsvOptions,
) -> std::result::Result<Vec<DataType>, String> {
    // A header of `ncols` one-byte names fixes the number of columns (without it the
    // sample's first record would); the byte is none of the dialect's.
    let d = &options.dialect;
    let special = [Some(d.delimiter), Some(d.quote), d.escape, d.comment];
    let name = (b'a'..=b'z')
        .find(|b| !special.contains(&Some(*b)))
        .unwrap_or(b'a');
    let mut text = Vec::with_capacity(2 * ncols + sample.len());
    for i in 0..ncols {
        if i > 0 {
            text.push(d.delimiter);
        }
        text.push(name);
    }
    text.push(b'\n');
    text.extend_from_slice(&sample);
    // Rows of the wrong length are not the sample's business: the scan reports them.
    let format = options
        .format()
        .map_err(|e| e.to_string())?
        .with_header(true)
        .with_truncated_rows(true);
    let (inferred, _) = format
        .infer_schema(text.as_slice(), None)
        .map_err(|e| format!("inferring the schema: {e}"))?;
    let mut types: Vec<DataType> = inferred
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    types.resize(ncols, DataType::Null);
    Ok(types)
}
