//! CSV output: [`CsvWriteOptions`] and the encoder a [`FileSink`](crate::FileSink) writes
//! CSV files with (Arrow's CSV writer behind an 8 KiB buffer: each batch is written
//! through, nothing is held between batches).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::csv::{Writer, WriterBuilder};
use arrow::datatypes::SchemaRef;

use crate::files::Encoder;

/// Options of the CSV writer: the delimiter (`,`), whether a header line is written (yes),
/// and the text of a null (the empty field). Values are written as Arrow prints them
/// (`2024-01-31` for a date, `true` for a boolean), quoted when they hold the delimiter,
/// a quote or a line break, so the reader with the same options reads them back.
///
/// ```
/// use spillway_io::csv::CsvWriteOptions;
///
/// let options = CsvWriteOptions::new().delimiter(b';').null("NA").header(false);
/// assert_eq!(options.delimiter_value(), b';');
/// ```
#[derive(Clone, Debug)]
pub struct CsvWriteOptions {
    delimiter: u8,
    header: bool,
    null: String,
}

impl Default for CsvWriteOptions {
    fn default() -> Self {
        Self {
            delimiter: b',',
            header: true,
            null: String::new(),
        }
    }
}

impl CsvWriteOptions {
    /// The defaults: `,`, a header, nulls as empty fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// The field delimiter.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Whether each file starts with a header line of column names.
    pub fn header(mut self, header: bool) -> Self {
        self.header = header;
        self
    }

    /// The text written for a null.
    pub fn null(mut self, null: impl Into<String>) -> Self {
        self.null = null.into();
        self
    }

    /// The field delimiter.
    pub fn delimiter_value(&self) -> u8 {
        self.delimiter
    }
}

/// A CSV encoder writing into `file`.
pub(crate) fn encoder(
    options: &CsvWriteOptions,
    file: File,
    schema: &SchemaRef,
) -> Box<dyn Encoder> {
    let writer = WriterBuilder::new()
        .with_delimiter(options.delimiter)
        .with_header(options.header)
        .with_null(options.null.clone())
        .build(BufWriter::with_capacity(8 << 10, file));
    Box::new(CsvEncoder {
        writer,
        schema: Arc::clone(schema),
        started: false,
    })
}

struct CsvEncoder {
    writer: Writer<BufWriter<File>>,
    schema: SchemaRef,
    /// Whether a batch was written (the header goes with the first).
    started: bool,
}

impl Encoder for CsvEncoder {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        self.started = true;
        self.writer.write(batch).map_err(|e| e.to_string())
    }

    fn finish(mut self: Box<Self>) -> Result<(), String> {
        if !self.started {
            // An empty partition still gets its header line, so the file reads back.
            let empty = RecordBatch::new_empty(Arc::clone(&self.schema));
            self.writer.write(&empty).map_err(|e| e.to_string())?;
        }
        let mut out = self.writer.into_inner();
        out.flush().map_err(|e| e.to_string())
    }
}
