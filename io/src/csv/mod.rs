//! CSV files: one file, a folder of files, or a glob, each cut into byte ranges read in
//! parallel.
//!
//! # Algorithm
//!
//! - **Construction** ([`CsvSource::try_new`]) lists the files (sorted), infers the schema
//!   from the first [`CsvOptions::infer_schema_rows`] data rows of the files, in order,
//!   with `arrow-csv` (module `infer`: an empty or header-only file does not decide the
//!   types; strings become `Utf8View`, the engine's string type; a column with no value in
//!   the sample is a string column), applies the per-column type overrides, and reads the
//!   first record of every other file to check that the files agree (the same header
//!   names, or the same number of fields). It finds where each file's data starts (after
//!   a UTF-8 byte order mark and the header). It reads nothing else.
//! - **Planning** ([`DataSource::plan_scan`]) needs to know where records start, and a
//!   newline inside a quoted field is not one: the only exactly correct way to know is to
//!   have followed the quotes from the start of the file. So the first scan of a file runs
//!   a pre-pass over it (module `scan`) that follows the CSV state machine from the first
//!   byte, jumping from quote to quote with `memchr` (a file without quotes is scanned at
//!   memory speed, about the cost of counting its lines), and records a record boundary,
//!   with its line number, about every 1/4096th of the file (at least every byte, at most
//!   every MiB). The index is kept for every later scan. Partitions are then runs of
//!   consecutive boundaries of one file, cut when they reach the request's
//!   `target_partition_bytes` of file bytes, or finer so that there are at least
//!   `min_partitions` over the dataset; a partition never spans two files. Its decoded
//!   size is estimated from its lines and the projected columns' types (module
//!   `estimate`), not from its bytes of text. Speculative
//!   schemes (start at the next newline and check that the line parses, as DuckDB's
//!   parallel reader does) avoid the pre-pass but can be fooled by a quoted field holding
//!   lines that look like records; this one cannot, and its cost is measured in
//!   BENCHMARKS.md.
//! - **Reading** ([`ScanPartition::open`]): a partition knows its exact byte range and the
//!   line it starts on, and decodes it with `arrow-csv` in batches of at most `batch_rows`
//!   rows, parsing only the projected columns (module `read`).
//!
//! # Bad rows
//!
//! A row with the wrong number of fields, a value that does not parse as its column's
//! type, invalid UTF-8 or a quote still open at the end of the file is an
//! [`Error::Malformed`] naming the file and the line the row starts on (lines counted
//! from 1 from the top of the file, header and comments included). With
//! [`CsvOptions::skip_bad_rows`] such rows are skipped instead and listed in the
//! [`BadRows`] report of the options (`ignore_errors` with a rejects table, in DuckDB's
//! terms). Values of columns a query does not read are not parsed, so they cannot make a
//! row bad; a wrong number of fields always does.
//!
//! # Memory
//!
//! The source holds each file's boundary index (at most 4097 offsets). A partition's
//! stream holds a 256 KiB read buffer and one batch of records.

mod estimate;
mod infer;
mod read;
mod scan;
#[cfg(test)]
mod tests;
mod write;

pub use write::CsvWriteOptions;
pub(crate) use write::encoder;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use arrow::csv::reader::Format;
use arrow::datatypes::{DataType, Schema, SchemaRef};
use spillway_planner::source::{DataSource, ScanPartition, ScanRequest};
use spillway_planner::{Error, Result};

use crate::files::{common_folder, display_path, files_fingerprint, files_name, list_files};
use infer::{first_record, infer_schema};
use read::CsvPartition;

/// The file name endings a folder's CSV files have.
pub(crate) const EXTENSIONS: &[&str] = &[".csv", ".tsv"];
use scan::{BOM, Dialect, FileIndex, count_lines, header_end, read_full};

/// How to read CSV files: the dialect, the header, null markers, schema inference and
/// overrides, and what to do with bad rows. Built by chaining; [`CsvOptions::default`]
/// reads comma-separated files with a header, `"` quotes, no escape byte, no comments, and
/// the empty string as null.
///
/// ```
/// use arrow::datatypes::DataType;
/// use spillway_io::csv::CsvOptions;
///
/// let options = CsvOptions::new()
///     .delimiter(b';')
///     .null_values(["", "NA"])
///     .comment(b'#')
///     .dtype("id", DataType::Int32)
///     .skip_bad_rows(true);
/// let rejected = options.bad_rows(); // read it after the query has run
/// assert_eq!(rejected.count(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct CsvOptions {
    has_header: bool,
    dialect: Dialect,
    null_values: Vec<String>,
    infer_schema_rows: usize,
    dtypes: Vec<(String, DataType)>,
    schema: Option<SchemaRef>,
    skip_bad_rows: bool,
    bad_rows: BadRows,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            has_header: true,
            dialect: Dialect::default(),
            null_values: vec![String::new()],
            infer_schema_rows: 10_000,
            dtypes: Vec::new(),
            schema: None,
            skip_bad_rows: false,
            bad_rows: BadRows::default(),
        }
    }
}

impl CsvOptions {
    /// The default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the first record holds the column names (default `true`); without a header
    /// the columns are named `column_1`, `column_2`, ...
    pub fn has_header(mut self, has_header: bool) -> Self {
        self.has_header = has_header;
        self
    }

    /// The byte between fields (default `,`).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.dialect.delimiter = delimiter;
        self
    }

    /// The byte around fields holding delimiters, quotes or newlines (default `"`); a quote
    /// inside a quoted field is written twice.
    pub fn quote(mut self, quote: u8) -> Self {
        self.dialect.quote = quote;
        self
    }

    /// A byte that, inside a quoted field, makes the next byte literal (e.g. `\`); none by
    /// default.
    pub fn escape(mut self, escape: u8) -> Self {
        self.dialect.escape = Some(escape);
        self
    }

    /// Lines starting with this byte are skipped (e.g. `#`); none by default.
    pub fn comment(mut self, comment: u8) -> Self {
        self.dialect.comment = Some(comment);
        self
    }

    /// The values read as null, compared with the whole field (default: the empty string
    /// only). An empty list reads no value as null.
    pub fn null_values<S: Into<String>>(mut self, values: impl IntoIterator<Item = S>) -> Self {
        self.null_values = values.into_iter().map(Into::into).collect();
        self
    }

    /// Data rows read to infer the column types (default 10 000): the first rows of the
    /// files in order, a file without data rows (empty, or a header alone) giving none.
    /// When no file has a data row, every column is a string column.
    pub fn infer_schema_rows(mut self, rows: usize) -> Self {
        self.infer_schema_rows = rows;
        self
    }

    /// Reads column `name` as `data_type` instead of the inferred type.
    pub fn dtype(mut self, name: impl Into<String>, data_type: DataType) -> Self {
        self.dtypes.push((name.into(), data_type));
        self
    }

    /// The whole schema, in file order: no inference. With a header, the header's names are
    /// replaced by the schema's.
    pub fn schema(mut self, schema: SchemaRef) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Skip bad rows instead of failing (default `false`), listing them in
    /// [`CsvOptions::bad_rows`].
    pub fn skip_bad_rows(mut self, skip: bool) -> Self {
        self.skip_bad_rows = skip;
        self
    }

    /// The report of the rows skipped by scans with these options (and their clones): a
    /// shared handle, to read after the query has run.
    pub fn bad_rows(&self) -> BadRows {
        self.bad_rows.clone()
    }

    fn validate(&self) -> Result<()> {
        let d = &self.dialect;
        let mut special = vec![("delimiter", d.delimiter), ("quote", d.quote)];
        special.extend(d.escape.map(|e| ("escape", e)));
        special.extend(d.comment.map(|c| ("comment", c)));
        for (i, &(name, byte)) in special.iter().enumerate() {
            if byte == b'\n' || byte == b'\r' {
                return Err(Error::Config(format!(
                    "the CSV {name} cannot be a line terminator"
                )));
            }
            if let Some((other, _)) = special[..i].iter().find(|(_, b)| *b == byte) {
                // An escape byte may be the quote itself: that is the doubled quote.
                if !(name == "escape" && *other == "quote") {
                    return Err(Error::Config(format!(
                        "the CSV {name} and {other} are the same byte '{}'",
                        byte.escape_ascii()
                    )));
                }
            }
        }
        Ok(())
    }

    /// `arrow-csv`'s format for the data rows (never a header: partitions start after it).
    fn format(&self) -> Result<Format> {
        let d = &self.dialect;
        let mut format = Format::default()
            .with_header(false)
            .with_delimiter(d.delimiter)
            .with_quote(d.quote);
        if let Some(e) = d.escape {
            format = format.with_escape(e);
        }
        if let Some(c) = d.comment {
            format = format.with_comment(c);
        }
        if self.null_values != [String::new()] {
            let alternatives: Vec<String> =
                self.null_values.iter().map(|v| regex::escape(v)).collect();
            // No alternative matches nothing; `^$` alone is the decoder's default.
            let pattern = if alternatives.is_empty() {
                "[^\\s\\S]".to_string()
            } else {
                format!("^(?:{})$", alternatives.join("|"))
            };
            let regex = regex::Regex::new(&pattern)
                .map_err(|e| Error::Config(format!("CSV null values: {e}")))?;
            format = format.with_null_regex(regex);
        }
        Ok(format)
    }
}

/// The rows skipped because they could not be read, by file and line: filled by scans (and
/// by schema inference) whose options say [`CsvOptions::skip_bad_rows`]. A row found by
/// several scans (a frame collected twice) is listed once; two rows on one line (records
/// ended by a lone `\r`) are listed twice. Cheap to clone; clones share the report.
#[derive(Clone, Debug, Default)]
pub struct BadRows {
    rows: Arc<Mutex<Skipped>>,
}

/// By file and the byte offset where the row starts: its line and the reason.
type Skipped = BTreeMap<(PathBuf, u64), (u64, String)>;

/// One skipped row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BadRow {
    /// The file.
    pub path: PathBuf,
    /// The line the row starts on, counted from 1 from the top of the file.
    pub line: u64,
    /// Why it was skipped.
    pub message: String,
}

impl BadRows {
    /// Rows skipped so far.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// The rows skipped so far, by file and line.
    pub fn rows(&self) -> Vec<BadRow> {
        self.lock()
            .iter()
            .map(|((path, _), (line, message))| BadRow {
                path: path.clone(),
                line: *line,
                message: message.clone(),
            })
            .collect()
    }

    /// The lines skipped so far in `path`, in order.
    pub fn lines(&self, path: impl AsRef<Path>) -> Vec<u64> {
        let path = path.as_ref();
        self.lock()
            .iter()
            .filter(|((p, _), _)| p == path)
            .map(|(_, (line, _))| *line)
            .collect()
    }

    /// Notes the row starting at byte `offset` (on `line`) of `path`.
    fn record(&self, path: &Path, offset: u64, line: u64, message: String) {
        self.lock()
            .insert((path.to_path_buf(), offset), (line, message));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Skipped> {
        // A panic while holding the lock leaves a map that is still whole.
        self.rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What every partition of a source reads with.
pub(crate) struct ReadConfig {
    format: Format,
    dialect: Dialect,
    /// The schema the decoder parses into (all columns, in file order).
    file_schema: SchemaRef,
    skip_bad_rows: bool,
    bad_rows: BadRows,
}

/// A CSV dataset: one file, every `*.csv` / `*.tsv` file under a folder, or the files a
/// glob matches, read as one table.
///
/// ```no_run
/// use spillway_io::csv::{CsvOptions, CsvSource};
/// use spillway_planner::source::DataSource;
///
/// let source = CsvSource::try_new("data/trips-*.csv", CsvOptions::new())?;
/// println!("{}: {:?}", source.name(), source.schema());
/// # Ok::<(), spillway_planner::Error>(())
/// ```
pub struct CsvSource {
    pattern: String,
    files: Vec<Arc<CsvFile>>,
    schema: SchemaRef,
    config: Arc<ReadConfig>,
}

/// One file of a dataset.
pub(crate) struct CsvFile {
    path: PathBuf,
    /// The path relative to the dataset's common folder, for `describe`.
    display: String,
    /// Where the data starts (after the header), and its line.
    data_start: u64,
    data_line: u64,
    /// The record boundaries, found by the first scan.
    index: OnceLock<Arc<FileIndex>>,
}

impl CsvFile {
    fn index(&self, dialect: Dialect) -> Result<Arc<FileIndex>> {
        if let Some(index) = self.index.get() {
            return Ok(Arc::clone(index));
        }
        let len = std::fs::metadata(&self.path)
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?
            .len();
        let stride = (len / 4096).clamp(1, 1 << 20);
        let index = Arc::new(FileIndex::build(
            &self.path,
            dialect,
            self.data_start,
            self.data_line,
            stride,
        )?);
        Ok(Arc::clone(self.index.get_or_init(|| index)))
    }
}

impl CsvSource {
    /// Opens the dataset `pattern` names: a file; a folder, meaning every `*.csv` and
    /// `*.tsv` file under it, at any depth, except names starting with `.` or `_`; or a
    /// glob. Files are read in sorted path order. Reads the first rows of the first file
    /// to infer the schema, and the first record of every other file.
    ///
    /// # Errors
    /// - [`Error::Config`] for options that contradict each other (a delimiter that is the
    ///   quote, a terminator as a delimiter);
    /// - [`Error::NoFiles`] when nothing matches; [`Error::Plan`] for a bad glob;
    /// - [`Error::Io`] for a file that cannot be opened;
    /// - [`Error::Format`] when every file is empty (no header and no row to take columns
    ///   from) unless a schema is given, or for a sample that cannot be parsed;
    /// - [`Error::Malformed`] for a header that is not UTF-8, or a row of the sample that
    ///   is not (unless bad rows are skipped), naming the file and line;
    /// - [`Error::ColumnNotFound`] for a type override of a column that does not exist;
    /// - [`Error::SchemaDiffers`] when a file's header (or number of fields) differs from
    ///   the first file's.
    pub fn try_new(pattern: impl AsRef<str>, options: CsvOptions) -> Result<Self> {
        let pattern = pattern.as_ref();
        let paths = list_files(pattern, EXTENSIONS)?;
        Self::from_paths(pattern, paths, options)
    }

    /// The dataset of exactly these files, `pattern` naming it in `explain`.
    pub(crate) fn from_paths(
        pattern: &str,
        paths: Vec<PathBuf>,
        options: CsvOptions,
    ) -> Result<Self> {
        options.validate()?;
        if paths.is_empty() {
            return Err(Error::NoFiles {
                pattern: pattern.to_string(),
            });
        }
        let schema = match &options.schema {
            Some(schema) => Arc::clone(schema),
            None => infer_schema(&paths, &options)?,
        };
        let heads = paths
            .iter()
            .map(|p| first_record(p, &options))
            .collect::<Result<Vec<_>>>()?;
        check_files(&paths, &heads, &schema, &options)?;

        let base = common_folder(&paths);
        let files = paths
            .iter()
            .map(|path| {
                let (data_start, data_line) = data_region(path, &options)?;
                let display = display_path(path, &base);
                Ok(Arc::new(CsvFile {
                    path: path.clone(),
                    display,
                    data_start,
                    data_line,
                    index: OnceLock::new(),
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        let config = Arc::new(ReadConfig {
            format: options.format()?,
            dialect: options.dialect,
            file_schema: Arc::clone(&schema),
            skip_bad_rows: options.skip_bad_rows,
            bad_rows: options.bad_rows.clone(),
        });
        Ok(Self {
            pattern: pattern.to_string(),
            files,
            schema,
            config,
        })
    }

    /// The dataset's files, in the order they are read.
    pub fn paths(&self) -> impl ExactSizeIterator<Item = &Path> {
        self.files.iter().map(|f| f.path.as_path())
    }

    /// The report of skipped rows (see [`CsvOptions::skip_bad_rows`]).
    pub fn bad_rows(&self) -> BadRows {
        self.config.bad_rows.clone()
    }
}

impl fmt::Debug for CsvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsvSource")
            .field("pattern", &self.pattern)
            .field("files", &self.files.len())
            .field("schema", &self.schema)
            .finish()
    }
}

impl DataSource for CsvSource {
    fn name(&self) -> String {
        files_name("csv", &self.pattern, self.files.len(), "")
    }

    /// The files, and the options that change what is read from them.
    fn fingerprint(&self) -> Result<String> {
        let c = &self.config;
        let kind = format!(
            "csv {:?} {:?} skip_bad_rows={}",
            c.format, c.dialect, c.skip_bad_rows
        );
        files_fingerprint(&kind, self.files.iter().map(|f| f.path.as_path()))
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn plan_scan(&self, request: &ScanRequest<'_>) -> Result<Vec<Arc<dyn ScanPartition>>> {
        request.check(self.schema.fields().len())?;
        let projection: Option<Arc<[usize]>> = request.projection.map(Arc::from);
        let schema = match request.projection {
            Some(p) => Arc::new(
                self.schema
                    .project(p)
                    .map_err(|e| Error::Internal(format!("scan projection: {e}")))?,
            ),
            None => Arc::clone(&self.schema),
        };
        let indexes = self
            .files
            .iter()
            .map(|f| f.index(self.config.dialect))
            .collect::<Result<Vec<_>>>()?;
        let total: u64 = self
            .files
            .iter()
            .zip(&indexes)
            .map(|(f, i)| i.len.saturating_sub(f.data_start))
            .sum();
        let wanted = request.min_partitions.max(1) as u64;
        let target = (request.target_partition_bytes as u64)
            .min(total.div_ceil(wanted))
            .max(1);

        let partition = |file: &Arc<CsvFile>, index: &FileIndex, from: scan::Cut, to: scan::Cut| {
            let (lines, text) = (to.line - from.line, to.offset - from.offset);
            Arc::new(CsvPartition {
                file: Arc::clone(file),
                start: from.offset,
                end: to.offset,
                line: from.line,
                unterminated: index
                    .unterminated
                    .filter(|&u| from.offset <= u && u < to.offset),
                config: Arc::clone(&self.config),
                projection: projection.clone(),
                schema: Arc::clone(&schema),
                batch_rows: request.batch_rows,
                decoded: estimate::decoded_bytes(&schema, lines, text),
            }) as Arc<dyn ScanPartition>
        };
        let mut parts = Vec::new();
        for (file, index) in self.files.iter().zip(&indexes) {
            let Some(&first) = index.cuts.first() else {
                continue;
            };
            let mut from = first;
            for &cut in &index.cuts[1..] {
                if cut.offset - from.offset >= target {
                    parts.push(partition(file, index, from, cut));
                    from = cut;
                }
            }
            if from.offset < index.len {
                parts.push(partition(file, index, from, estimate::end_of(index)));
            }
        }
        // Only empty files: one partition that reads nothing, so that a scan always has one.
        if parts.is_empty()
            && let (Some(file), Some(index)) = (self.files.first(), indexes.first())
        {
            let end = scan::Cut {
                offset: index.len,
                line: 1,
            };
            parts.push(partition(file, index, end, end));
        }
        Ok(parts)
    }
}

/// Every file has the columns of `schema`: the same header names as the first file (when
/// the schema was inferred from headers), or as many fields.
fn check_files(
    paths: &[PathBuf],
    heads: &[Option<Vec<String>>],
    schema: &Schema,
    options: &CsvOptions,
) -> Result<()> {
    let ncols = schema.fields().len();
    let by_name = options.has_header && options.schema.is_none();
    // Without a header the first record is a row: when bad rows are skipped, one of the
    // wrong length is skipped and reported like any other.
    let by_width = options.has_header || !options.skip_bad_rows;
    // The file the columns were taken from: the first with a record.
    let first = paths
        .iter()
        .zip(heads)
        .find(|(_, head)| head.is_some())
        .map_or(&paths[0], |(path, _)| path);
    for (path, head) in paths.iter().zip(heads) {
        let Some(head) = head else {
            continue;
        };
        let differs = |message: String| Error::SchemaDiffers {
            first: first.clone(),
            path: path.clone(),
            message,
        };
        if by_width && head.len() != ncols {
            return Err(differs(format!(
                "its first record has {} fields where the table has {ncols} columns",
                head.len()
            )));
        }
        if by_name {
            for (i, (name, field)) in head.iter().zip(schema.fields()).enumerate() {
                if name != field.name() {
                    return Err(differs(format!(
                        "column {i} is '{name}' where the first has '{}'",
                        field.name()
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Where the data of `path` starts (after a UTF-8 byte order mark and the header, if
/// any), and its line.
fn data_region(path: &Path, options: &CsvOptions) -> Result<(u64, u64)> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    if !options.has_header {
        let mut head = [0; 3];
        let n = read_full(&mut File::open(path).map_err(io)?, &mut head).map_err(io)?;
        return Ok((if head[..n] == *BOM { 3 } else { 0 }, 1));
    }
    let start = header_end(path, &options.dialect)?;
    let mut head = Vec::new();
    File::open(path)
        .map_err(io)?
        .take(start)
        .read_to_end(&mut head)
        .map_err(io)?;
    Ok((start, 1 + count_lines(&head)))
}
