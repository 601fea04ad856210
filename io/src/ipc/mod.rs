//! Arrow IPC datasets (the file format, with a footer): one file, a folder of files, or a
//! glob; and the IPC writer a [`FileSink`](crate::FileSink) uses.
//!
//! # Algorithm
//!
//! - **Construction** ([`IpcSource::try_new`]) lists the files (sorted; a folder's
//!   `*.arrow`, `*.ipc` and `*.feather` files) and reads each file's footer only: the
//!   schema and the place and size of every record batch. All files must have the same
//!   column names and types (nullability may differ).
//! - **Planning** ([`DataSource::plan_scan`]) reads nothing: the record batches of each
//!   file are grouped, in order, until their body size (as stored, so compressed when the
//!   file is) reaches the request's `target_partition_bytes`, cut finer when that would
//!   leave workers idle. A partition never spans two files. Its estimated decoded size is
//!   that body size: the Arrow buffers themselves in an uncompressed file, less than what
//!   they decode to in a compressed one (the footer does not tell; a broadcast join
//!   planned on such an underestimate falls back at run time).
//! - **Reading** ([`ScanPartition::open`]) opens the file with Arrow's `FileReader`,
//!   decoding only the projected columns, seeks to the partition's first batch and yields
//!   its batches cut to at most `batch_rows` rows.
//!
//! # Memory
//!
//! The source holds each file's batch index (24 bytes a batch). A partition's stream holds
//! one decoded record batch at a time (the file's own batch size) and slices it.
//!
//! # Errors
//!
//! A file that cannot be opened is an [`Error::Io`]; a file that is not Arrow IPC, or is
//! truncated (its footer is at its end, so any truncation loses it) or corrupt, is an
//! [`Error::Format`] naming it.

mod write;

pub(crate) use write::encoder;
pub use write::{IpcCompression, IpcWriteOptions};

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::ipc::convert::try_fb_to_schema;
use arrow::ipc::reader::{FileReader, read_footer_length};
use arrow::ipc::root_as_footer;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use spillway_planner::source::{BatchStream, DataSource, ScanPartition, ScanRequest};
use spillway_planner::{Error, Result};

use crate::files::{
    check_same_schema, common_folder, display_path, files_fingerprint, files_name, format_error,
    list_files,
};

/// The file name endings a folder's IPC files have.
pub(crate) const EXTENSIONS: &[&str] = &[".arrow", ".ipc", ".feather"];

/// An Arrow IPC dataset: one file, every `*.arrow` / `*.ipc` / `*.feather` file under a
/// folder, or the files a glob matches, read as one table.
///
/// ```no_run
/// use spillway_io::IpcSource;
/// use spillway_planner::source::DataSource;
///
/// let source = IpcSource::try_new("data/events/*.arrow")?;
/// println!("{}: {:?}", source.name(), source.schema());
/// # Ok::<(), spillway_planner::Error>(())
/// ```
pub struct IpcSource {
    pattern: String,
    files: Vec<Arc<IpcFile>>,
    schema: SchemaRef,
}

/// One file of a dataset and its footer's batch index.
struct IpcFile {
    path: PathBuf,
    /// The path relative to the dataset's common folder, for `describe`.
    display: String,
    schema: SchemaRef,
    /// The body length of each record batch, in file order.
    batch_bytes: Vec<usize>,
}

impl IpcSource {
    /// Opens the dataset `pattern` names (a file, a folder read at any depth skipping names
    /// that start with `.` or `_`, or a glob), reading every file's footer and nothing else.
    ///
    /// # Errors
    /// - [`Error::NoFiles`] when nothing matches;
    /// - [`Error::Plan`] for a glob that does not parse;
    /// - [`Error::Io`] for a file or folder that cannot be opened or listed;
    /// - [`Error::Format`] for a file that is not Arrow IPC, truncated or corrupt;
    /// - [`Error::SchemaDiffers`] when a file's column names or types differ from the
    ///   first file's.
    pub fn try_new(pattern: impl AsRef<str>) -> Result<Self> {
        let pattern = pattern.as_ref();
        let paths = list_files(pattern, EXTENSIONS)?;
        Self::from_paths(pattern, paths)
    }

    /// The dataset of exactly these files, `label` naming it in `explain`.
    pub(crate) fn from_paths(label: &str, paths: Vec<PathBuf>) -> Result<Self> {
        if paths.is_empty() {
            return Err(Error::NoFiles {
                pattern: label.to_string(),
            });
        }
        let base = common_folder(&paths);
        let files = paths
            .into_iter()
            .map(|path| IpcFile::open(path, &base).map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
        let mut schema = files[0].schema.as_ref().clone();
        for file in &files[1..] {
            schema = check_same_schema(&files[0].path, &schema, &file.path, &file.schema)?;
        }
        Ok(Self {
            pattern: label.to_string(),
            files,
            schema: Arc::new(schema),
        })
    }

    /// The dataset's files, in the order they are read.
    pub fn paths(&self) -> impl ExactSizeIterator<Item = &Path> {
        self.files.iter().map(|f| f.path.as_path())
    }

    /// Record batches over all files, from the footers.
    pub fn num_batches(&self) -> usize {
        self.files.iter().map(|f| f.batch_bytes.len()).sum()
    }
}

impl fmt::Debug for IpcSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpcSource")
            .field("pattern", &self.pattern)
            .field("files", &self.files.len())
            .field("schema", &self.schema)
            .finish()
    }
}

impl IpcFile {
    /// Reads the footer of `path`; `base` is the dataset's common folder.
    fn open(path: PathBuf, base: &Path) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let bad = |message: String| Error::Format {
            path: path.clone(),
            message,
        };
        let mut file = File::open(&path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        // The magic and padding at the start, the footer length and magic at the end.
        if len < 18 {
            return Err(bad(format!(
                "{len} bytes is too short for an Arrow IPC file (truncated?)"
            )));
        }
        let mut tail = [0u8; 10];
        file.seek(SeekFrom::End(-10)).map_err(io)?;
        file.read_exact(&mut tail).map_err(io)?;
        let footer_len = read_footer_length(tail).map_err(|e| {
            bad(format!(
                "not an Arrow IPC file, or truncated (no footer): {e}"
            ))
        })?;
        if footer_len as u64 + 10 > len {
            return Err(bad(format!(
                "the footer claims {footer_len} bytes of a {len}-byte file"
            )));
        }
        let mut footer = vec![0u8; footer_len];
        file.seek(SeekFrom::End(-10 - footer_len as i64))
            .map_err(io)?;
        file.read_exact(&mut footer).map_err(io)?;
        let footer = root_as_footer(&footer).map_err(|e| bad(format!("corrupt footer: {e}")))?;
        let schema = footer
            .schema()
            .ok_or_else(|| bad("the footer has no schema".into()))?;
        let schema =
            Arc::new(try_fb_to_schema(schema).map_err(|e| bad(format!("corrupt schema: {e}")))?);
        let mut batch_bytes = Vec::new();
        for block in footer.recordBatches().into_iter().flatten() {
            let (offset, meta, body) = (block.offset(), block.metaDataLength(), block.bodyLength());
            let end = u64::try_from(offset)
                .ok()
                .zip(u64::try_from(meta).ok())
                .zip(u64::try_from(body).ok())
                .map(|((o, m), b)| o.saturating_add(m).saturating_add(b));
            if end.is_none_or(|end| end > len) {
                return Err(bad(format!(
                    "a record batch at offset {offset} ends past the end of the {len}-byte file"
                )));
            }
            batch_bytes.push(usize::try_from(body).unwrap_or(usize::MAX));
        }
        let display = display_path(&path, base);
        Ok(Self {
            path,
            display,
            schema,
            batch_bytes,
        })
    }
}

impl fmt::Debug for IpcFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpcFile")
            .field("path", &self.path)
            .field("batches", &self.batch_bytes.len())
            .finish()
    }
}

impl DataSource for IpcSource {
    fn name(&self) -> String {
        let batches = format!(", {} batches", self.num_batches());
        files_name("ipc", &self.pattern, self.files.len(), &batches)
    }

    fn fingerprint(&self) -> Result<String> {
        files_fingerprint("ipc", self.files.iter().map(|f| f.path.as_path()))
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn plan_scan(&self, request: &ScanRequest<'_>) -> Result<Vec<Arc<dyn ScanPartition>>> {
        request.check(self.schema.fields().len())?;
        let schema = match request.projection {
            Some(p) => Arc::new(
                self.schema
                    .project(p)
                    .map_err(|e| Error::Internal(format!("scan projection: {e}")))?,
            ),
            None => Arc::clone(&self.schema),
        };
        let projection = request.projection.map(<[usize]>::to_vec);
        let partition = |file: &Arc<IpcFile>, start: usize, end: usize, bytes: usize| {
            Arc::new(IpcPartition {
                file: Arc::clone(file),
                batches: start..end,
                projection: projection.clone(),
                schema: Arc::clone(&schema),
                batch_rows: request.batch_rows,
                bytes,
            }) as Arc<dyn ScanPartition>
        };
        let total: usize = self.files.iter().flat_map(|f| &f.batch_bytes).sum();
        let target = request
            .target_partition_bytes
            .min(total.div_ceil(request.min_partitions.max(1)))
            .max(1);
        let mut parts = Vec::new();
        for file in &self.files {
            let (mut start, mut bytes) = (0, 0usize);
            for (i, &b) in file.batch_bytes.iter().enumerate() {
                bytes = bytes.saturating_add(b);
                if bytes >= target {
                    parts.push(partition(file, start, i + 1, bytes));
                    (start, bytes) = (i + 1, 0);
                }
            }
            if start < file.batch_bytes.len() {
                parts.push(partition(file, start, file.batch_bytes.len(), bytes));
            }
        }
        if parts.is_empty()
            && let Some(first) = self.files.first()
        {
            parts.push(partition(first, 0, 0, 0));
        }
        Ok(parts)
    }
}

/// Consecutive record batches of one file.
struct IpcPartition {
    file: Arc<IpcFile>,
    batches: std::ops::Range<usize>,
    /// Indices into the file's columns, in output order; `None` for all.
    projection: Option<Vec<usize>>,
    /// The schema of the batches: the dataset's, projected.
    schema: SchemaRef,
    batch_rows: usize,
    bytes: usize,
}

impl fmt::Debug for IpcPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpcPartition")
            .field("file", &self.file.path)
            .field("batches", &self.batches)
            .field("projection", &self.projection)
            .finish()
    }
}

impl ScanPartition for IpcPartition {
    fn describe(&self) -> String {
        format!(
            "{} batches [{}, {})",
            self.file.display, self.batches.start, self.batches.end
        )
    }

    fn estimated_rows(&self) -> Option<usize> {
        None
    }

    fn estimated_bytes(&self) -> Option<usize> {
        Some(self.bytes)
    }

    fn open(&self) -> Result<BatchStream> {
        if self.batches.is_empty() {
            return Ok(Box::new(std::iter::empty()));
        }
        let path = self.file.path.clone();
        let file = File::open(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        // An empty projection still needs the row counts: read one column, keep none.
        let read_projection = match &self.projection {
            Some(p) if p.is_empty() && !self.file.schema.fields().is_empty() => Some(vec![0]),
            other => other.clone(),
        };
        let mut reader = FileReader::try_new(BufReader::new(file), read_projection)
            .map_err(|e| format_error(&path, e))?;
        reader
            .set_index(self.batches.start)
            .map_err(|e| format_error(&path, e))?;
        let schema = Arc::clone(&self.schema);
        let batch_rows = self.batch_rows;
        let decoded = reader.take(self.batches.len()).map(move |batch| {
            let batch = batch.map_err(|e| format_error(&path, e))?;
            conform(batch, &schema, &path)
        });
        Ok(Box::new(
            decoded.flat_map(move |batch| slices(batch, batch_rows)),
        ))
    }
}

/// A decoded batch with the dataset's (projected) schema, which can differ from the file's
/// in nullability and metadata, or have no columns at all.
fn conform(batch: RecordBatch, schema: &SchemaRef, path: &Path) -> Result<RecordBatch> {
    if batch.schema_ref() == schema {
        return Ok(batch);
    }
    let columns = if schema.fields().is_empty() {
        Vec::new()
    } else {
        batch.columns().to_vec()
    };
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options).map_err(|e| {
        format_error(
            path,
            format!("a batch does not fit the dataset's schema: {e}"),
        )
    })
}

/// `batch` (or its error) cut into pieces of at most `rows` rows.
fn slices(batch: Result<RecordBatch>, rows: usize) -> Vec<Result<RecordBatch>> {
    match batch {
        Err(e) => vec![Err(e)],
        Ok(b) if b.num_rows() <= rows => vec![Ok(b)],
        Ok(b) => (0..b.num_rows())
            .step_by(rows)
            .map(|start| Ok(b.slice(start, rows.min(b.num_rows() - start))))
            .collect(),
    }
}

#[cfg(test)]
mod tests;
