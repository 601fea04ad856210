//! Reading one partition: a byte range of a file that starts and ends at record
//! boundaries.
//!
//! The fast path hands the range to `arrow-csv`'s push decoder, a batch of `batch_rows`
//! records at a time, counting the line feeds it consumes so that the line where each batch
//! starts is known. When the decoder rejects a batch (a wrong number of fields, a value
//! that does not parse, invalid UTF-8), the batch is read again on the slow path: records
//! are split off one at a time by the boundary machine of `scan`, each is checked for its
//! field count and decoded alone, so the bad one is found with its exact line. A bad row is
//! then an [`Error::Malformed`], or, when bad rows are skipped, is noted in the
//! [`BadRows`] report; the good rows of the batch are concatenated and the fast path
//! resumes after it. A record left open by a quote at the end of the file is always read on
//! the slow path (the decoder would accept it silently).
//!
//! Memory: the file is read through a 256 KiB buffer; the decoder holds one batch of
//! records; the slow path holds the bytes of at most one batch of records.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::sync::Arc;

use arrow::compute::concat_batches;
use arrow::csv::ReaderBuilder;
use arrow::csv::reader::Decoder;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use spillway_planner::source::{BatchStream, ScanPartition};
use spillway_planner::{Error, Result};

use super::scan::{BOM, Split, count_lines, split_record};
use super::{CsvFile, ReadConfig};

/// Bytes read from the file at a time.
const BUFFER: usize = 256 << 10;

/// Records `[start, end)` of one file.
pub(crate) struct CsvPartition {
    pub file: Arc<CsvFile>,
    pub start: u64,
    pub end: u64,
    /// The line at `start`, counted from 1.
    pub line: u64,
    /// Where a record left open by a quote at the end of the file starts, when it is in
    /// this range.
    pub unterminated: Option<u64>,
    pub config: Arc<ReadConfig>,
    pub projection: Option<Arc<[usize]>>,
    /// The schema of the batches: the source's, projected.
    pub schema: SchemaRef,
    pub batch_rows: usize,
    /// The decoded bytes of its rows, estimated (module `estimate`).
    pub decoded: usize,
}

impl fmt::Debug for CsvPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsvPartition")
            .field("file", &self.file.path)
            .field("bytes", &(self.start..self.end))
            .field("line", &self.line)
            .field("projection", &self.projection)
            .field("batch_rows", &self.batch_rows)
            .finish()
    }
}

impl ScanPartition for CsvPartition {
    fn describe(&self) -> String {
        format!(
            "{} bytes [{}, {}) from line {}",
            self.file.display, self.start, self.end, self.line
        )
    }

    fn estimated_rows(&self) -> Option<usize> {
        None
    }

    fn estimated_bytes(&self) -> Option<usize> {
        Some(self.decoded)
    }

    fn open(&self) -> Result<BatchStream> {
        if self.start >= self.end {
            return Ok(Box::new(std::iter::empty()));
        }
        let path = &self.file.path;
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        file.seek(SeekFrom::Start(self.start)).map_err(io)?;
        Ok(Box::new(CsvStream {
            reader: BufReader::with_capacity(BUFFER, file),
            pos: self.start,
            line: self.line,
            fast_end: self.unterminated.unwrap_or(self.end),
            end: self.end,
            decoder: None,
            done: false,
            part: Part {
                file: Arc::clone(&self.file),
                config: Arc::clone(&self.config),
                projection: self.projection.clone(),
                schema: Arc::clone(&self.schema),
                batch_rows: self.batch_rows,
            },
        }))
    }
}

/// What a stream needs of its partition.
struct Part {
    file: Arc<CsvFile>,
    config: Arc<ReadConfig>,
    projection: Option<Arc<[usize]>>,
    schema: SchemaRef,
    batch_rows: usize,
}

impl Part {
    fn decoder(&self, batch_rows: usize) -> Decoder {
        let mut builder = ReaderBuilder::new(Arc::clone(&self.config.file_schema))
            .with_format(self.config.format.clone())
            .with_batch_size(batch_rows);
        if let Some(p) = &self.projection {
            builder = builder.with_projection(p.to_vec());
        }
        builder.build_decoder()
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: self.file.path.clone(),
            source,
        }
    }

    /// A bad row (starting at byte `offset`, on `line`): an error, or a note in the report
    /// when bad rows are skipped.
    fn bad_row(&self, offset: u64, line: u64, message: String) -> Result<()> {
        if self.config.skip_bad_rows {
            self.config
                .bad_rows
                .record(&self.file.path, offset, line, message);
            Ok(())
        } else {
            Err(Error::Malformed {
                path: self.file.path.clone(),
                line,
                message,
            })
        }
    }

    /// Decodes one record alone.
    fn decode_one(&self, bytes: &[u8]) -> std::result::Result<Option<RecordBatch>, String> {
        let mut decoder = self.decoder(1);
        // The record, then the end of the input (for a last line without a terminator).
        let n = first_decode(&mut decoder, bytes).map_err(|e| clean(&e.to_string()))?;
        if n < bytes.len() {
            decoder
                .decode(&bytes[n..])
                .map_err(|e| clean(&e.to_string()))?;
        }
        decoder.decode(&[]).map_err(|e| clean(&e.to_string()))?;
        let batch = decoder.flush().map_err(|e| clean(&e.to_string()))?;
        batch.as_ref().map_or(Ok(()), check_utf8)?;
        Ok(batch)
    }
}

/// The first bytes given to a new decoder. `csv_core` drops a UTF-8 byte order mark at the
/// start of the first input it sees; but a decoder here starts at a record boundary past
/// the file's mark (the data region skips it), so a mark there is data, as it is to the
/// boundary machine and to a decoder reading the whole file. Given alone, its first byte
/// is too short to be dropped, and the parser then never drops one.
fn first_decode(decoder: &mut Decoder, bytes: &[u8]) -> std::result::Result<usize, ArrowError> {
    if bytes.len() > 1 && bytes.starts_with(&BOM[..1]) {
        decoder.decode(&bytes[..1])
    } else {
        decoder.decode(bytes)
    }
}

/// `arrow-csv` checks that the bytes of a batch's fields are UTF-8 all together, not one
/// by one: a character cut in two by a delimiter (`\xc3,\xa9`) passes, and makes two
/// strings that are not UTF-8. The string columns are checked again, value by value.
fn check_utf8(batch: &RecordBatch) -> std::result::Result<(), String> {
    let is_string =
        |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    for (column, field) in batch.columns().iter().zip(batch.schema().fields()) {
        let strings = match column.data_type() {
            DataType::Dictionary(_, values) => is_string(values),
            other => is_string(other),
        };
        if strings && column.to_data().validate_full().is_err() {
            return Err(format!("invalid UTF-8 in column '{}'", field.name()));
        }
    }
    Ok(())
}

/// Removes the decoder's own line numbers from its messages: it counts records from the
/// start of what it was given, not lines of the file.
fn clean(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = [" at line ", " for line "]
        .iter()
        .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
        .min()
    {
        let (i, len) = at;
        out.push_str(&rest[..i]);
        let digits = rest[i + len..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - i - len);
        if digits == 0 {
            out.push_str(&rest[i..i + len]);
        }
        rest = &rest[i + len + digits..];
    }
    out.push_str(rest);
    out
}

/// The fast path gave up on a batch.
enum Fast {
    /// Read it again on the slow path.
    Recover,
    /// An error that stops the stream.
    Fail(Error),
}

struct CsvStream {
    reader: BufReader<File>,
    /// The next byte the decoder has not consumed, and its line.
    pos: u64,
    line: u64,
    /// Where the fast path stops: the end, or a record left open at the end of the file.
    fast_end: u64,
    end: u64,
    /// Holds the records of a batch being read; dropped when the slow path takes over.
    decoder: Option<Decoder>,
    done: bool,
    part: Part,
}

impl Iterator for CsvStream {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        while !self.done {
            let result = if self.pos < self.fast_end {
                self.fast()
            } else if self.pos < self.end {
                self.slow()
            } else {
                self.done = true;
                break;
            };
            match result {
                Ok(Some(batch)) if batch.num_rows() > 0 => return Some(Ok(batch)),
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

impl CsvStream {
    fn fast(&mut self) -> Result<Option<RecordBatch>> {
        let (start, line) = (self.pos, self.line);
        match self.fast_batch() {
            Ok(batch) => Ok(batch),
            Err(Fast::Fail(e)) => Err(e),
            Err(Fast::Recover) => {
                self.decoder = None;
                self.seek(start)?;
                self.line = line;
                self.slow()
            }
        }
    }

    /// Up to `batch_rows` records through the decoder.
    fn fast_batch(&mut self) -> std::result::Result<Option<RecordBatch>, Fast> {
        let part = &self.part;
        let mut fresh = self.decoder.is_none();
        let decoder = self
            .decoder
            .get_or_insert_with(|| part.decoder(part.batch_rows));
        loop {
            let remaining = usize::try_from(self.fast_end - self.pos).unwrap_or(usize::MAX);
            let buf = self.reader.fill_buf().map_err(|e| Fast::Fail(part.io(e)))?;
            let buf = &buf[..buf.len().min(remaining)];
            let eof = buf.is_empty();
            let n = if std::mem::take(&mut fresh) {
                first_decode(decoder, buf)
            } else {
                decoder.decode(buf)
            }
            .map_err(|_| Fast::Recover)?;
            let lines = count_lines(&buf[..n]);
            self.reader.consume(n);
            self.pos += n as u64;
            self.line += lines;
            if eof {
                // The end of the range, or a file shorter than when it was planned.
                self.fast_end = self.pos;
                break;
            }
            if decoder.capacity() == 0 || n == 0 {
                break;
            }
        }
        let batch = decoder.flush().map_err(|_| Fast::Recover)?;
        match &batch {
            Some(b) if check_utf8(b).is_err() => Err(Fast::Recover),
            _ => Ok(batch),
        }
    }

    fn seek(&mut self, offset: u64) -> Result<()> {
        self.reader
            .seek(SeekFrom::Start(offset))
            .map_err(|e| self.part.io(e))?;
        self.pos = offset;
        Ok(())
    }

    /// Up to `batch_rows` records from `pos`, one at a time, finding the bad ones.
    fn slow(&mut self) -> Result<Option<RecordBatch>> {
        self.seek(self.pos)?;
        let ncols = self.part.config.file_schema.fields().len();
        let dialect = self.part.config.dialect;
        let start = self.pos;
        let mut window: Vec<u8> = Vec::new();
        let mut file_ended = false;
        let mut cursor = 0;
        let mut good = Vec::new();
        let mut records = 0;
        let mut finished = false;
        while records < self.part.batch_rows {
            let at_eof = file_ended || start + window.len() as u64 >= self.end;
            match split_record(&window[cursor..], at_eof, &dialect) {
                Split::NeedMore => {
                    let room = usize::try_from(self.end - start - window.len() as u64)
                        .unwrap_or(usize::MAX);
                    let want = window.len().max(64 << 10).min(room);
                    let have = window.len();
                    window.resize(have + want, 0);
                    let n = super::scan::read_full(&mut self.reader, &mut window[have..])
                        .map_err(|e| self.part.io(e))?;
                    window.truncate(have + n);
                    file_ended |= n < want;
                }
                Split::Done => {
                    finished = true;
                    break;
                }
                Split::Record {
                    start: first,
                    end: last,
                    fields,
                    closed,
                } => {
                    let line = self.line + count_lines(&window[cursor..cursor + first]);
                    let outcome = if !closed {
                        Err(
                            "unterminated quote: the quoted field runs to the end of the file"
                                .to_string(),
                        )
                    } else if fields != ncols {
                        Err(format!("expected {ncols} fields, found {fields}"))
                    } else {
                        self.part.decode_one(&window[cursor + first..cursor + last])
                    };
                    match outcome {
                        Ok(batch) => good.extend(batch),
                        Err(message) => {
                            let offset = start + (cursor + first) as u64;
                            self.part.bad_row(offset, line, message)?;
                        }
                    }
                    self.line += count_lines(&window[cursor..cursor + last]);
                    cursor += last;
                    records += 1;
                }
            }
        }
        let next = if finished {
            self.end
        } else {
            start + cursor as u64
        };
        self.seek(next)?;
        self.decoder = None;
        if good.is_empty() {
            return Ok(None);
        }
        concat_batches(&self.part.schema, &good)
            .map(Some)
            .map_err(|e| Error::Internal(format!("concatenating CSV rows: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn decoder_line_numbers_are_removed_from_messages() {
        assert_eq!(
            clean(
                "Parser error: Error while parsing value 'x' as type 'Int64' for column 1 at line 0. Row data: '[1,x]'"
            ),
            "Parser error: Error while parsing value 'x' as type 'Int64' for column 1. Row data: '[1,x]'"
        );
        assert_eq!(
            clean("incorrect number of fields for line 3, expected 2"),
            "incorrect number of fields, expected 2"
        );
        assert_eq!(clean("at line x"), "at line x");
    }
}
