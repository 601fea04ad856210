//! [`FileSink`]: a computation's output as a folder of files (Parquet, CSV or Arrow IPC),
//! one per output partition, each written by the task that produces it, optionally split
//! into hive folders by the values of some columns (`partition_by`).
//!
//! # All or nothing
//!
//! The files are written into a stage folder beside the target (`stage.rs` tells how) and given
//! to the target when [`FileSink::commit`] is called, once the whole run has succeeded: a
//! failed run leaves the target as it was, and a write's [`WriteMode`] says what happens
//! to the files the target already holds. Within the stage, every file is written under a
//! temporary name (`.part-00003.parquet.tmp-<random>`) and renamed when complete
//! ([`PartitionWriter::finish`]); a writer dropped without `finish` — its task failed,
//! panicked or was cancelled — removes its temporary files in `Drop`. A resumable write
//! ([`FileSink::try_new`] with a key) records each finished partition, and the next
//! attempt writes only the others ([`FileSink::finished`]).
//!
//! # Hive folders
//!
//! With `partition_by(["year", "city"])`, each batch's rows are grouped by the values of
//! those columns and go to `year=2024/city=Paris/part-NNNNN.ext` (values escaped as Hive
//! does, see [`hive`]); the partition columns are not stored in the files. A task opens
//! one file per folder it touches, named after its partition, so tasks never share a file.
//!
//! # Memory
//!
//! A CSV or IPC writer writes each batch through (CSV behind an 8 KiB buffer). A Parquet
//! writer buffers a row group; with `partition_by` it closes a row group after every
//! batch, so a task touching many folders holds no more than one batch per folder being
//! encoded, never a growing buffer per folder. Each folder a task touches keeps one file
//! open until the task ends, so the number of distinct folders one task writes is bounded
//! by the process's open-file limit.

pub mod hive;
mod stage;

pub use stage::WriteMode;

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, RecordBatch, StringArray, UInt32Array};
use arrow::compute::{cast, take_record_batch};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use spillway_planner::sink::{DataSink, PartitionWriter};
use spillway_planner::{Error, Result};

use crate::csv::CsvWriteOptions;
use crate::files::Encoder;
use crate::ipc::IpcWriteOptions;
use crate::parquet::ParquetWriteOptions;
use stage::Stage;

/// The format a [`FileSink`] writes, with its options.
#[derive(Clone, Debug)]
pub enum FileFormat {
    /// Parquet files (`.parquet`).
    Parquet(ParquetWriteOptions),
    /// CSV files (`.csv`).
    Csv(CsvWriteOptions),
    /// Arrow IPC files, the file format with a footer (`.arrow`).
    Ipc(IpcWriteOptions),
}

impl FileFormat {
    /// The file name extension, with its dot.
    pub fn extension(&self) -> &'static str {
        match self {
            FileFormat::Parquet(_) => ".parquet",
            FileFormat::Csv(_) => ".csv",
            FileFormat::Ipc(_) => ".arrow",
        }
    }

    fn label(&self) -> &'static str {
        match self {
            FileFormat::Parquet(_) => "parquet",
            FileFormat::Csv(_) => "csv",
            FileFormat::Ipc(_) => "ipc",
        }
    }

    /// An encoder writing `schema`'s batches into `file`; `many` tells it that the task may
    /// hold many files open at once (hive folders), so it must not buffer across batches.
    fn encoder(
        &self,
        file: File,
        schema: &SchemaRef,
        many: bool,
    ) -> Result<Box<dyn Encoder>, String> {
        match self {
            FileFormat::Parquet(o) => crate::parquet::encoder(o, file, schema, many),
            FileFormat::Csv(o) => Ok(crate::csv::encoder(o, file, schema)),
            FileFormat::Ipc(o) => crate::ipc::encoder(o, file, schema),
        }
    }
}

/// Writes each output partition to `<folder>/part-NNNNN.<ext>`, or, with
/// [`FileSink::partition_by`], into hive folders under `folder`.
///
/// ```
/// use spillway_io::{FileFormat, FileSink, WriteMode};
/// use spillway_io::csv::CsvWriteOptions;
/// use spillway_planner::sink::DataSink;
/// # let dir = tempfile::tempdir().unwrap();
///
/// let format = FileFormat::Csv(CsvWriteOptions::new());
/// let sink = FileSink::try_new(dir.path().join("out"), format, WriteMode::Overwrite, None)?
///     .partition_by(["city"]);
/// assert!(sink.name().starts_with("csv "));
/// # Ok::<(), spillway_planner::Error>(())
/// ```
#[derive(Debug)]
pub struct FileSink {
    folder: PathBuf,
    format: FileFormat,
    partition_by: Vec<String>,
    /// Where the files wait for [`FileSink::commit`]; removed when the sink is dropped
    /// without it (kept for the next attempt of a resumable write).
    stage: Arc<Stage>,
}

impl FileSink {
    /// A sink writing `format` files into `folder` (created when the write commits), as
    /// `mode` says. `resume` is the key of a resumable write — text identifying the plan,
    /// its inputs and the options — or `None` for a write that starts afresh.
    ///
    /// # Errors
    /// [`Error::Io`] naming the folder when it is a file, holds files and `mode` is
    /// [`WriteMode::ErrorIfExists`], or a folder cannot be created; [`Error::Resume`] when
    /// the folder's unfinished resumable write has another key.
    pub fn try_new(
        folder: impl Into<PathBuf>,
        format: FileFormat,
        mode: WriteMode,
        resume: Option<&str>,
    ) -> Result<Self> {
        let folder = folder.into();
        let stage = Arc::new(Stage::open(&folder, mode, resume)?);
        Ok(FileSink {
            folder,
            format,
            partition_by: Vec::new(),
            stage,
        })
    }

    /// The output partitions earlier attempts of a resumable write finished, with the rows
    /// each wrote: the partitions not to write again. Empty for other writes.
    pub fn finished(&self) -> Vec<(usize, u64)> {
        self.stage.finished()
    }

    /// Gives the files the writers completed to the folder, as the write mode says. Call
    /// it once the run has succeeded; a sink dropped without it removes the files instead.
    ///
    /// # Errors
    /// [`Error::Io`] naming the folder or file that cannot take them; the folder is left
    /// as it was.
    pub fn commit(&self) -> Result<()> {
        self.stage.commit()
    }

    /// Removes the files the writers completed (the run failed), or keeps them for the
    /// next attempt of a resumable write. A sink dropped without [`FileSink::commit`] does
    /// the same, but a failed run's task graph may still be dropping its handles on the
    /// sink when the run returns.
    pub fn abort(&self) {
        self.stage.abort();
    }

    /// Splits the rows into hive folders `col=value/...` by these columns, in this order;
    /// the columns are left out of the files. Checked when a partition is opened: each must
    /// be a column of the output, of a type whose values print as text (integers, floats,
    /// booleans, strings, dates and times), and at least one column must remain.
    pub fn partition_by<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.partition_by = columns.into_iter().map(Into::into).collect();
        self
    }

    /// The folder written into.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The columns the rows are split by, if any.
    pub fn partition_columns(&self) -> &[String] {
        &self.partition_by
    }

    fn file_name(&self, partition: usize) -> String {
        format!(
            "part-{partition:05}{}{}",
            self.stage.suffix(),
            self.format.extension()
        )
    }

    /// The indices of the partition columns in `schema`, and the schema of the files.
    fn split_schema(&self, schema: &Schema) -> Result<(Vec<usize>, SchemaRef)> {
        let mut keys = Vec::with_capacity(self.partition_by.len());
        for name in &self.partition_by {
            let (i, field) =
                schema
                    .column_with_name(name)
                    .ok_or_else(|| Error::ColumnNotFound {
                        name: name.clone(),
                        available: schema.fields().iter().map(|f| f.name().clone()).collect(),
                    })?;
            if !hive::is_partition_type(field.data_type()) {
                return Err(Error::Type {
                    context: format!("partition_by({name})"),
                    message: format!(
                        "a hive folder needs a value that prints as text, not {}",
                        field.data_type()
                    ),
                });
            }
            if keys.contains(&i) {
                return Err(Error::Plan(format!("partition_by names '{name}' twice")));
            }
            keys.push(i);
        }
        let rest: Vec<usize> = (0..schema.fields().len())
            .filter(|i| !keys.contains(i))
            .collect();
        if rest.is_empty() {
            return Err(Error::Plan(format!(
                "partition_by({}) leaves no column to write into the files",
                self.partition_by.join(", ")
            )));
        }
        let files = schema
            .project(&rest)
            .map_err(|e| Error::Internal(format!("projecting the file schema: {e}")))?;
        Ok((keys, Arc::new(files)))
    }
}

impl DataSink for FileSink {
    fn name(&self) -> String {
        let mut name = format!("{} {}", self.format.label(), self.folder.display());
        if !self.partition_by.is_empty() {
            name.push_str(&format!(" partition_by({})", self.partition_by.join(", ")));
        }
        name
    }

    fn open(&self, partition: usize, schema: &SchemaRef) -> Result<Box<dyn PartitionWriter>> {
        let file_name = self.file_name(partition);
        if self.partition_by.is_empty() {
            let path = self.stage.data().join(&file_name);
            let file = FileWriter::create(&self.format, path, schema, false)?;
            return Ok(Box::new(PlainWriter {
                file,
                partition,
                stage: Arc::clone(&self.stage),
            }));
        }
        let (keys, file_schema) = self.split_schema(schema)?;
        let values: Vec<usize> = (0..schema.fields().len())
            .filter(|i| !keys.contains(i))
            .collect();
        Ok(Box::new(HiveWriter {
            format: self.format.clone(),
            folder: self.stage.data().to_path_buf(),
            partition,
            file_name,
            names: self.partition_by.clone(),
            keys,
            values,
            file_schema,
            files: HashMap::new(),
            order: Vec::new(),
            stage: Arc::clone(&self.stage),
        }))
    }
}

/// A file being written under a temporary name, renamed when complete; removed on drop
/// otherwise.
pub(crate) struct PendingFile {
    temp: PathBuf,
    path: PathBuf,
    done: bool,
}

impl PendingFile {
    /// Creates the temporary file for `path` in the same folder.
    pub(crate) fn create(path: PathBuf) -> Result<(Self, File)> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = path.with_file_name(format!(".{name}.tmp-{:016x}", fastrand::u64(..)));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|source| Error::Io {
                path: temp.clone(),
                source,
            })?;
        Ok((
            PendingFile {
                temp,
                path,
                done: false,
            },
            file,
        ))
    }

    /// Gives the file its final name, and returns it.
    pub(crate) fn commit(mut self) -> Result<PathBuf> {
        std::fs::rename(&self.temp, &self.path).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        self.done = true;
        Ok(std::mem::take(&mut self.path))
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.done {
            // Best effort: the file may never have been created, or be gone already.
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

impl fmt::Debug for PendingFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (as {})", self.path.display(), self.temp.display())
    }
}

/// One output file: its encoder and its pending name. Field order matters: the encoder
/// (holding the open file) is dropped before the temporary file is removed.
struct FileWriter {
    encoder: Box<dyn Encoder>,
    pending: PendingFile,
    rows: usize,
}

impl FileWriter {
    fn create(format: &FileFormat, path: PathBuf, schema: &SchemaRef, many: bool) -> Result<Self> {
        let (pending, file) = PendingFile::create(path)?;
        let encoder = format
            .encoder(file, schema, many)
            .map_err(|m| write_error(&pending.path, m))?;
        Ok(FileWriter {
            encoder,
            pending,
            rows: 0,
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.encoder
            .write(batch)
            .map_err(|m| write_error(&self.pending.path, m))?;
        self.rows += batch.num_rows();
        Ok(())
    }

    fn buffered_bytes(&self) -> usize {
        self.encoder.buffered_bytes()
    }

    fn flush(&mut self) -> Result<()> {
        self.encoder
            .flush()
            .map_err(|m| write_error(&self.pending.path, m))
    }

    /// Completes the file and gives it its final name; returns the name and the rows.
    fn close(self) -> Result<(PathBuf, usize)> {
        let FileWriter {
            encoder,
            pending,
            rows,
        } = self;
        encoder
            .finish()
            .map_err(|m| write_error(&pending.path, m))?;
        Ok((pending.commit()?, rows))
    }
}

fn write_error(path: &Path, message: String) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(message),
    }
}

/// One file per output partition.
struct PlainWriter {
    file: FileWriter,
    partition: usize,
    stage: Arc<Stage>,
}

impl PartitionWriter for PlainWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.file.write(batch)
    }

    fn buffered_bytes(&self) -> usize {
        self.file.buffered_bytes()
    }

    fn flush(&mut self) -> Result<()> {
        self.file.flush()
    }

    fn finish(self: Box<Self>) -> Result<usize> {
        let (path, rows) = self.file.close()?;
        self.stage.record(self.partition, rows, &[path])?;
        Ok(rows)
    }
}

/// One file per hive folder the partition's rows fall into.
struct HiveWriter {
    format: FileFormat,
    /// The stage's data folder, under which the hive folders go.
    folder: PathBuf,
    partition: usize,
    file_name: String,
    /// The partition columns' names and indices in the output schema.
    names: Vec<String>,
    keys: Vec<usize>,
    /// The other columns' indices: what the files hold.
    values: Vec<usize>,
    file_schema: SchemaRef,
    /// Open files by relative folder (`a=1/b=x`), and the folders in first-seen order.
    files: HashMap<String, FileWriter>,
    order: Vec<String>,
    stage: Arc<Stage>,
}

impl HiveWriter {
    /// Each row's relative folder, grouped: folders in first-seen order with their rows.
    fn group_rows(&self, batch: &RecordBatch) -> Result<Vec<(String, Vec<u32>)>> {
        let texts = self
            .keys
            .iter()
            .zip(&self.names)
            .map(|(&k, name)| {
                let text = cast(batch.column(k), &DataType::Utf8)
                    .map_err(|e| Error::compute(format!("partition_by({name})"), e))?;
                text.as_any()
                    .downcast_ref::<StringArray>()
                    .cloned()
                    .ok_or_else(|| {
                        Error::Internal("a cast to Utf8 did not give a StringArray".into())
                    })
            })
            .collect::<Result<Vec<StringArray>>>()?;
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut groups: Vec<(String, Vec<u32>)> = Vec::new();
        let mut folder = String::new();
        for row in 0..batch.num_rows() {
            folder.clear();
            for (i, (name, text)) in self.names.iter().zip(&texts).enumerate() {
                if i > 0 {
                    folder.push('/');
                }
                let value = (!text.is_null(row)).then(|| text.value(row));
                folder.push_str(&hive::segment(name, value));
            }
            let row = u32::try_from(row)
                .map_err(|_| Error::Internal("a batch of more than 2^32 rows".into()))?;
            match index.get(folder.as_str()) {
                Some(&g) => groups[g].1.push(row),
                None => {
                    index.insert(folder.clone(), groups.len());
                    groups.push((folder.clone(), vec![row]));
                }
            }
        }
        Ok(groups)
    }
}

impl PartitionWriter for HiveWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let data = batch
            .project(&self.values)
            .map_err(|e| Error::Internal(format!("projecting the file columns: {e}")))?;
        let data = RecordBatch::try_new(Arc::clone(&self.file_schema), data.columns().to_vec())
            .map_err(|e| Error::Internal(format!("a batch does not fit the file schema: {e}")))?;
        for (folder, rows) in self.group_rows(batch)? {
            let part = if rows.len() == data.num_rows() {
                data.clone()
            } else {
                take_record_batch(&data, &UInt32Array::from(rows))
                    .map_err(|e| Error::compute("partition_by", e))?
            };
            if !self.files.contains_key(&folder) {
                let dir = self.folder.join(&folder);
                std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
                    path: dir.clone(),
                    source,
                })?;
                let file = FileWriter::create(
                    &self.format,
                    dir.join(&self.file_name),
                    &self.file_schema,
                    true,
                )?;
                self.files.insert(folder.clone(), file);
                self.order.push(folder.clone());
            }
            if let Some(file) = self.files.get_mut(&folder) {
                file.write(&part)?;
            }
        }
        Ok(())
    }

    fn buffered_bytes(&self) -> usize {
        self.files.values().map(FileWriter::buffered_bytes).sum()
    }

    fn flush(&mut self) -> Result<()> {
        self.files.values_mut().try_for_each(FileWriter::flush)
    }

    fn finish(self: Box<Self>) -> Result<usize> {
        let HiveWriter {
            mut files,
            order,
            stage,
            partition,
            ..
        } = *self;
        let mut paths = Vec::with_capacity(order.len());
        let mut rows = 0;
        for folder in &order {
            if let Some(file) = files.remove(folder) {
                let (path, r) = file.close()?;
                paths.push(path);
                rows += r;
            }
        }
        stage.record(partition, rows, &paths)?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests;
