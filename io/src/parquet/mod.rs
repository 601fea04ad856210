//! Parquet datasets: one file, a folder of files, or a glob.
//!
//! # Algorithm
//!
//! - **Construction** ([`ParquetSource::try_new`]) lists the files (sorted) and reads each
//!   footer once. The Arrow schema is taken from the footer with string and binary columns
//!   (also dictionary-encoded ones, and inside lists and structs) mapped to the engine's
//!   view types, `Utf8View` and `BinaryView`, and the footer is kept, with that schema, for
//!   every later scan. All files must have the same column names and types.
//! - **Planning** ([`DataSource::plan_scan`]) reads no data: the row groups of each file
//!   whose statistics prove that no row can match a pushed-down filter are dropped (see
//!   `prune`), and the remaining row groups of one file are grouped, in order, until the
//!   uncompressed size of the projected columns reaches the request's
//!   `target_partition_bytes`. A partition holds at least one row group and never spans
//!   two files. Its estimated *decoded* size (what a join's broadcast is decided by) is
//!   taken from each column's Arrow type and rows, its strings with dictionaries expanded
//!   (see `estimate`): dictionary- and run-length-encoded columns decode to many times
//!   their pages.
//! - **Reading** ([`ScanPartition::open`]) opens the file and decodes the partition's row
//!   groups and projected columns with a `ParquetRecordBatchReader`, reusing the footer,
//!   in batches of as many rows as keep a batch near the request's `batch_bytes`: the
//!   footer gives each row group's uncompressed bytes of the projected columns, hence
//!   their bytes per row, and the widest row group of the partition sets the rows per
//!   batch, at most `batch_rows` and at least one. So a row group of 64 KiB strings is
//!   not decoded as `batch_rows` × 64 KiB, while narrow columns read `batch_rows` rows.
//!
//! # Memory
//!
//! The source holds the footers (a few KB to a few MB per file). A partition's stream
//! holds the pages of one column chunk at a time per projected column and yields batches
//! of at most `batch_rows` rows and about `batch_bytes` bytes (the uncompressed size is of
//! the encoded pages, which is near the decoded size for plain data and below it for
//! dictionary- or run-length-encoded columns); nothing else is buffered.
//!
//! # Errors
//!
//! A file that cannot be opened is an [`Error::Io`]; a file that is not Parquet, or whose
//! footer or pages are corrupt or truncated, is an [`Error::Format`] naming it, whether it
//! is found while reading the footer or while decoding pages (then also naming the row
//! groups being read). The footer's column chunks are checked against the file's length,
//! page checksums are verified when the file has them, and a panic of the parquet crate on
//! a corrupt file is caught: see `faults`.

mod estimate;
mod faults;
pub(crate) mod prune;
mod write;

pub(crate) use write::encoder;
pub use write::{ParquetCompression, ParquetWriteOptions};
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::parquet::arrow::ProjectionMask;
use ::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use ::parquet::file::metadata::RowGroupMetaData;
use arrow::datatypes::{Fields, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use spillway_planner::expr::Expr;

use spillway_planner::source::{
    BatchStream, DataSource, FilterPushdown, ScanPartition, ScanRequest,
};
use spillway_planner::{Error, Result};

use crate::files::{
    check_same_schema, common_folder, display_path, files_fingerprint, files_name, format_error,
    list_files, view_field,
};

/// A Parquet dataset: one file, every `*.parquet` file under a folder, or the files a glob
/// matches, read as one table.
///
/// ```no_run
/// use spillway_io::ParquetSource;
/// use spillway_planner::source::DataSource;
///
/// let source = ParquetSource::try_new("data/trips/*.parquet")?;
/// println!("{}: {:?}", source.name(), source.schema());
/// # Ok::<(), spillway_planner::Error>(())
/// ```
pub struct ParquetSource {
    pattern: String,
    files: Vec<Arc<ParquetFile>>,
    schema: SchemaRef,
}

/// One file of a dataset and its footer, read once.
struct ParquetFile {
    path: PathBuf,
    /// The path relative to the dataset's common folder, for `describe`.
    display: String,
    /// The footer, with the view-typed Arrow schema.
    reader: ArrowReaderMetadata,
}

impl ParquetSource {
    /// Opens the dataset `pattern` names: a file; a folder, meaning every `*.parquet` file
    /// under it, at any depth, except names starting with `.` or `_` (as Spark and Dask
    /// skip `_SUCCESS` and hidden files); or a glob (`data/*.parquet`, `data/**/*.parquet`),
    /// where a matched folder is read as a folder. Files are read in sorted path order.
    /// Reads every file's footer, nothing else.
    ///
    /// # Errors
    /// - [`Error::NoFiles`] when nothing matches;
    /// - [`Error::Plan`] for a glob that does not parse;
    /// - [`Error::Io`] for a file or folder that cannot be opened or listed;
    /// - [`Error::Format`] for a file that is not Parquet or whose footer is corrupt;
    /// - [`Error::SchemaDiffers`] when a file's column names or types differ from the
    ///   first file's (nullability may differ: the dataset's column is then nullable).
    pub fn try_new(pattern: impl AsRef<str>) -> Result<Self> {
        let pattern = pattern.as_ref();
        let paths = list_files(pattern, &[".parquet"])?;
        Self::from_paths(pattern, paths)
    }

    /// The dataset of exactly these files, `pattern` naming it in `explain`.
    pub(crate) fn from_paths(pattern: &str, paths: Vec<PathBuf>) -> Result<Self> {
        if paths.is_empty() {
            return Err(Error::NoFiles {
                pattern: pattern.to_string(),
            });
        }
        let base = common_folder(&paths);
        let files = paths
            .into_iter()
            .map(|path| ParquetFile::open(path, &base).map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
        let schema = dataset_schema(&files)?;
        Ok(Self {
            pattern: pattern.to_string(),
            files,
            schema,
        })
    }

    /// The dataset's files, in the order they are read.
    pub fn paths(&self) -> impl ExactSizeIterator<Item = &Path> {
        self.files.iter().map(|f| f.path.as_path())
    }

    /// Row groups over all files.
    pub fn num_row_groups(&self) -> usize {
        self.files.iter().map(|f| f.row_groups().len()).sum()
    }

    /// Rows over all files, from the footers.
    pub fn num_rows(&self) -> usize {
        self.files
            .iter()
            .flat_map(|f| f.row_groups())
            .map(|rg| to_usize(rg.num_rows()))
            .sum()
    }
}

impl fmt::Debug for ParquetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParquetSource")
            .field("pattern", &self.pattern)
            .field("files", &self.files)
            .field("schema", &self.schema)
            .finish()
    }
}

impl fmt::Debug for ParquetFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParquetFile")
            .field("path", &self.path)
            .field("row_groups", &self.row_groups().len())
            .finish()
    }
}

impl DataSource for ParquetSource {
    fn name(&self) -> String {
        let groups = format!(", {} row groups", self.num_row_groups());
        files_name("parquet", &self.pattern, self.files.len(), &groups)
    }

    fn fingerprint(&self) -> Result<String> {
        files_fingerprint("parquet", self.files.iter().map(|f| f.path.as_path()))
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// [`FilterPushdown::Inexact`] for what row-group statistics can decide: a comparison
    /// (`= != < <= > >=`) between a column and a literal, either way round, `is_null` and
    /// `is_not_null` of a column, and `and` / `or` of those. Anything else (casts,
    /// arithmetic, `not`, two columns, user closures) is [`FilterPushdown::Unsupported`].
    fn filter_pushdown(&self, filter: &Expr) -> FilterPushdown {
        prune::pushdown(&self.schema, filter)
    }

    fn plan_scan(&self, request: &ScanRequest<'_>) -> Result<Vec<Arc<dyn ScanPartition>>> {
        request.check(self.schema.fields().len())?;
        let projection = match request.projection {
            Some(p) => Some(Arc::new(Projection::new(p, self.schema.fields().len())?)),
            None => None,
        };
        let schema = match request.projection {
            Some(p) => Arc::new(
                self.schema
                    .project(p)
                    .map_err(|e| Error::Internal(format!("scan projection: {e}")))?,
            ),
            None => Arc::clone(&self.schema),
        };
        let partition = |file: &Arc<ParquetFile>, row_groups: Vec<usize>, rows| {
            let roots = projection.as_ref().map(|p| p.file_order.as_slice());
            let decoded = row_groups
                .iter()
                .filter_map(|&i| file.row_groups().get(i))
                .map(|rg| estimate::decoded_bytes(rg, file.reader.schema().fields(), roots))
                .fold(0, usize::saturating_add);
            let batch_rows = rows_per_batch(
                file,
                &row_groups,
                projection.as_deref(),
                request.batch_rows,
                request.batch_bytes,
            );
            Arc::new(ParquetPartition {
                file: Arc::clone(file),
                row_groups,
                projection: projection.clone(),
                schema: Arc::clone(&schema),
                batch_rows,
                rows,
                decoded,
            }) as Arc<dyn ScanPartition>
        };

        // The row groups that may match, and what they weigh; partitions are cut at the
        // target size, or finer when that would leave workers idle.
        let selected: Vec<Vec<usize>> = self
            .files
            .iter()
            .map(|f| {
                let keep = faults::guarded(&f.path, || {
                    Ok(prune::row_groups_may_match(&f.reader, request.filters))
                })?;
                Ok((0..f.row_groups().len())
                    .filter(|&i| keep.get(i).copied().unwrap_or(true))
                    .collect::<Vec<usize>>())
            })
            .collect::<Result<_>>()?;
        let weigh = |file: &ParquetFile, i: usize| {
            let rg = &file.row_groups()[i];
            (
                to_usize(rg.num_rows()),
                projected_bytes(rg, projection.as_deref()),
            )
        };
        let total: usize = self
            .files
            .iter()
            .zip(&selected)
            .flat_map(|(file, groups)| groups.iter().map(|&i| weigh(file, i).1))
            .sum();
        let target = request
            .target_partition_bytes
            .min(total.div_ceil(request.min_partitions.max(1)))
            .max(1);

        let mut parts = Vec::new();
        for (file, groups) in self.files.iter().zip(&selected) {
            let (mut group, mut rows, mut bytes) = (Vec::new(), 0usize, 0usize);
            for &i in groups {
                let (r, b) = weigh(file, i);
                group.push(i);
                rows = rows.saturating_add(r);
                bytes = bytes.saturating_add(b);
                if bytes >= target {
                    parts.push(partition(file, std::mem::take(&mut group), rows));
                    (rows, bytes) = (0, 0);
                }
            }
            if !group.is_empty() {
                parts.push(partition(file, group, rows));
            }
        }
        // Every row group pruned (or none at all): one partition that reads nothing, so
        // that a scan always has a partition, as a memory source's does.
        if parts.is_empty()
            && let Some(first) = self.files.first()
        {
            parts.push(partition(first, Vec::new(), 0));
        }
        Ok(parts)
    }
}

impl ParquetFile {
    /// Reads the footer of `path`; `base` is the dataset's common folder.
    fn open(path: PathBuf, base: &Path) -> Result<Self> {
        let file = File::open(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let reader = faults::guarded(&path, || {
            let plain = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
                .map_err(|e| format_error(&path, e))?;
            faults::check_footer(&path, &file, plain.metadata())?;
            faults::check_arrow_hint(&path, &plain)?;
            let fields: Fields = plain.schema().fields().iter().map(view_field).collect();
            let hint = Arc::new(Schema::new(fields));
            let options = ArrowReaderOptions::new().with_schema(hint);
            // The parquet crate reads every string and binary column as a view type, so the
            // hint is accepted; should a future file hold a column it cannot map, read the
            // file's own types rather than fail (the dataset's schema check then names the
            // file).
            Ok(
                ArrowReaderMetadata::try_new(Arc::clone(plain.metadata()), options)
                    .unwrap_or(plain),
            )
        })?;
        let display = display_path(&path, base);
        Ok(Self {
            path,
            display,
            reader,
        })
    }

    fn row_groups(&self) -> &[RowGroupMetaData] {
        self.reader.metadata().row_groups()
    }
}

/// The first file's schema, checked against every other file's: the same column names and
/// types; a column is nullable when it is in any file.
fn dataset_schema(files: &[Arc<ParquetFile>]) -> Result<SchemaRef> {
    let Some(first) = files.first() else {
        return Err(Error::Internal("a Parquet dataset without files".into()));
    };
    let mut schema = Schema::new(first.reader.schema().fields().clone());
    for file in &files[1..] {
        schema = check_same_schema(&first.path, &schema, &file.path, file.reader.schema())?;
    }
    Ok(Arc::new(schema))
}

/// Bytes of the projected columns of a row group, uncompressed.
fn projected_bytes(rg: &RowGroupMetaData, projection: Option<&Projection>) -> usize {
    let Some(projection) = projection else {
        return to_usize(rg.total_byte_size());
    };
    let descr = rg.schema_descr();
    rg.columns()
        .iter()
        .enumerate()
        .filter(|&(leaf, _)| {
            leaf < descr.num_columns()
                && projection
                    .file_order
                    .binary_search(&descr.get_column_root_idx(leaf))
                    .is_ok()
        })
        .map(|(_, c)| to_usize(c.uncompressed_size()))
        .sum()
}

/// Rows per batch for `row_groups` of `file`: as many as keep a batch of the widest row
/// group's rows (its uncompressed bytes of the projected columns per row) within
/// `batch_bytes`; at most `batch_rows`, at least 1.
fn rows_per_batch(
    file: &ParquetFile,
    row_groups: &[usize],
    projection: Option<&Projection>,
    batch_rows: usize,
    batch_bytes: usize,
) -> usize {
    row_groups
        .iter()
        .filter_map(|&i| file.row_groups().get(i))
        .map(|rg| {
            let (rows, bytes) = (to_usize(rg.num_rows()), projected_bytes(rg, projection));
            if bytes == 0 {
                return batch_rows;
            }
            // rows × batch_bytes / bytes, without overflow.
            let fit = (rows as u128 * batch_bytes as u128) / bytes as u128;
            usize::try_from(fit).unwrap_or(usize::MAX)
        })
        .min()
        .unwrap_or(batch_rows)
        .clamp(1, batch_rows.max(1))
}

fn to_usize(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// The columns of a scan: the file reads them in file order, the request wants its own.
#[derive(Debug)]
struct Projection {
    /// The requested columns, sorted and without duplicates: what the reader produces.
    file_order: Vec<usize>,
    /// For each requested column, its place in `file_order`; `None` when the orders agree.
    reorder: Option<Vec<usize>>,
}

impl Projection {
    fn new(requested: &[usize], ncols: usize) -> Result<Self> {
        if let Some(bad) = requested.iter().find(|&&i| i >= ncols) {
            return Err(Error::Internal(format!(
                "scan projection index {bad} is out of range for {ncols} columns"
            )));
        }
        let mut file_order = requested.to_vec();
        file_order.sort_unstable();
        file_order.dedup();
        let reorder = if file_order == requested {
            None
        } else {
            // Every requested index is in `file_order`, so the search always succeeds.
            Some(
                requested
                    .iter()
                    .map(|i| file_order.binary_search(i).unwrap_or_default())
                    .collect(),
            )
        };
        Ok(Self {
            file_order,
            reorder,
        })
    }
}

/// Some row groups of one file.
struct ParquetPartition {
    file: Arc<ParquetFile>,
    row_groups: Vec<usize>,
    projection: Option<Arc<Projection>>,
    /// The schema of the batches: the dataset's, projected.
    schema: SchemaRef,
    batch_rows: usize,
    rows: usize,
    /// The decoded bytes of its row groups' projected columns, estimated (see `estimate`).
    decoded: usize,
}

impl fmt::Debug for ParquetPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParquetPartition")
            .field("file", &self.file.path)
            .field("row_groups", &self.row_groups)
            .field("projection", &self.projection)
            .field("batch_rows", &self.batch_rows)
            .finish()
    }
}

impl ScanPartition for ParquetPartition {
    fn describe(&self) -> String {
        let groups: Vec<String> = self.row_groups.iter().map(ToString::to_string).collect();
        let groups = if groups.len() > 8 {
            format!(
                "{}, ..., {} ({} groups)",
                groups[..3].join(", "),
                groups[groups.len() - 1],
                groups.len()
            )
        } else {
            groups.join(", ")
        };
        format!("{} row groups [{groups}]", self.file.display)
    }

    fn estimated_rows(&self) -> Option<usize> {
        Some(self.rows)
    }

    fn estimated_bytes(&self) -> Option<usize> {
        Some(self.decoded)
    }

    fn open(&self) -> Result<BatchStream> {
        if self.row_groups.is_empty() {
            return Ok(Box::new(std::iter::empty()));
        }
        let path = &self.file.path;
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let mut reader = faults::guarded(path, || {
            let mut builder =
                ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.file.reader.clone())
                    .with_row_groups(self.row_groups.clone())
                    .with_batch_size(self.batch_rows);
            if let Some(projection) = &self.projection {
                let mask = ProjectionMask::roots(
                    self.file.reader.parquet_schema(),
                    projection.file_order.iter().copied(),
                );
                builder = builder.with_projection(mask);
            }
            builder.build().map_err(|e| format_error(path, e))
        })?;
        let path = path.clone();
        let projection = self.projection.clone();
        let schema = Arc::clone(&self.schema);
        let spans = faults::RowGroupSpans::new(&self.row_groups, self.file.reader.metadata());
        let batch_rows = self.batch_rows;
        let (mut done, mut failed) = (0usize, false);
        Ok(Box::new(std::iter::from_fn(move || {
            if failed {
                return None;
            }
            // A decoder error or panic names the row groups the batch was reading, and
            // ends the stream: the reader's state after it is not to be trusted.
            let batch =
                match faults::next_batch(&path, &mut reader, || spans.name(done, batch_rows)) {
                    Ok(batch) => batch?,
                    Err(e) => {
                        failed = true;
                        return Some(Err(e));
                    }
                };
            done = done.saturating_add(batch.num_rows());
            Some(conform(batch, projection.as_deref(), &schema, &path))
        })))
    }
}

/// Puts a decoded batch's columns in the requested order and gives it the dataset's schema
/// (which can differ from the file's in nullability and field metadata).
fn conform(
    batch: RecordBatch,
    projection: Option<&Projection>,
    schema: &SchemaRef,
    path: &Path,
) -> Result<RecordBatch> {
    let batch = match projection.and_then(|p| p.reorder.as_deref()) {
        Some(order) => batch
            .project(order)
            .map_err(|e| Error::Internal(format!("reordering the columns of a batch: {e}")))?,
        None => batch,
    };
    if batch.schema_ref() == schema {
        return Ok(batch);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::clone(schema), batch.columns().to_vec(), &options)
        .map_err(|e| {
            format_error(
                path,
                format!("a batch does not fit the dataset's schema: {e}"),
            )
        })
}
