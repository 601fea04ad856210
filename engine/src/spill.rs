//! Spill files: batches that do not fit in memory, written as compressed Arrow IPC.
//!
//! One [`SpillDir`] per computation: a private folder created (lazily, on the first spill)
//! with `tempfile` under the session's `spill_dir`. Each [`SpillFile`] deletes itself when
//! dropped and the folder is removed with the `SpillDir`, so nothing is left behind on
//! success, error, panic or cancellation. A process killed outright (SIGKILL, the OOM
//! killer) cannot clean up: its folders are named `spillway-<pid>-<random>`, and the next
//! session built on the same `spill_dir` removes those whose process is gone
//! ([`SpillDir::remove_orphans`]). Files are LZ4-compressed IPC streams; bytes,
//! files and time spent are counted for `explain_analyze`. Every batch is compacted
//! before it is written ([`compact`]): a string-view column cut from a bigger one would
//! otherwise write every data buffer of its source, whole.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::CompressionType;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use spillway_planner::batch::compact;
use spillway_planner::{Error, Result};

/// How a spill folder's name starts; the creating process's id follows.
const ORPHAN_PREFIX: &str = "spillway-";

/// What spilling cost, for one computation.
#[derive(Debug, Default)]
pub struct SpillStats {
    /// Bytes written to spill files (compressed).
    pub bytes: AtomicU64,
    /// Files written.
    pub files: AtomicUsize,
    /// Time spent writing and reading, in microseconds.
    pub micros: AtomicU64,
}

/// The private spill folder of one computation.
#[derive(Debug)]
pub struct SpillDir {
    parent: PathBuf,
    dir: OnceLock<std::result::Result<tempfile::TempDir, String>>,
    next: AtomicUsize,
    stats: Arc<SpillStats>,
}

impl SpillDir {
    /// A spill folder to be created under `parent` when first needed.
    pub fn new(parent: impl Into<PathBuf>) -> Arc<SpillDir> {
        Arc::new(SpillDir {
            parent: parent.into(),
            dir: OnceLock::new(),
            next: AtomicUsize::new(0),
            stats: Arc::new(SpillStats::default()),
        })
    }

    /// What spilling has cost so far.
    pub fn stats(&self) -> &Arc<SpillStats> {
        &self.stats
    }

    /// The folder, once something has been spilled.
    pub fn path(&self) -> Option<&Path> {
        self.dir.get()?.as_ref().ok().map(tempfile::TempDir::path)
    }

    /// Checks that spill folders can be made under `parent`: it exists, is a folder, and a
    /// file can be created in it (and is removed at once). Run when a session is built, so
    /// that a missing or read-only spill folder is reported then, not at the first spill.
    ///
    /// # Errors
    /// [`Error::Io`] naming `parent` and what is wrong.
    pub fn check(parent: &Path) -> Result<()> {
        let fail = |what: String| Error::Io {
            path: parent.to_path_buf(),
            source: std::io::Error::other(what),
        };
        if !parent.is_dir() {
            return Err(fail(if parent.exists() {
                "the spill folder is not a folder".into()
            } else {
                "the spill folder does not exist".into()
            }));
        }
        tempfile::tempfile_in(parent)
            .map(drop)
            .map_err(|e| fail(format!("cannot write in the spill folder: {e}")))
    }

    /// Removes the spill folders under `parent` left by processes that are gone (killed
    /// before they could clean up), and returns how many. A folder is ours when its name is
    /// `spillway-<pid>-…`; it is left alone while that process runs, when it is this
    /// process, or where this platform cannot tell (no `/proc`). Best effort: a folder
    /// that cannot be removed stays.
    pub fn remove_orphans(parent: &Path) -> usize {
        let proc = Path::new("/proc");
        if !proc.join("self").exists() {
            return 0;
        }
        let Ok(entries) = std::fs::read_dir(parent) else {
            return 0;
        };
        let me = std::process::id();
        entries
            .flatten()
            .filter(|e| {
                let name = e.file_name();
                let pid = name
                    .to_str()
                    .and_then(|n| n.strip_prefix(ORPHAN_PREFIX))
                    .and_then(|rest| rest.split('-').next())
                    .and_then(|pid| pid.parse::<u32>().ok());
                pid.is_some_and(|pid| {
                    pid != me
                        && !proc.join(pid.to_string()).exists()
                        && e.file_type().is_ok_and(|t| t.is_dir())
                        && std::fs::remove_dir_all(e.path()).is_ok()
                })
            })
            .count()
    }

    fn folder(&self) -> Result<&Path> {
        let dir = self.dir.get_or_init(|| {
            tempfile::Builder::new()
                .prefix(&format!("{ORPHAN_PREFIX}{}-", std::process::id()))
                .tempdir_in(&self.parent)
                .map_err(|e| e.to_string())
        });
        dir.as_ref()
            .map(tempfile::TempDir::path)
            .map_err(|e| Error::Io {
                path: self.parent.clone(),
                source: std::io::Error::other(format!("cannot create a spill folder: {e}")),
            })
    }

    /// Writes `batches` (of `schema`) to a new spill file.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file when it cannot be written (a full disk, say).
    pub fn write(
        &self,
        schema: &SchemaRef,
        batches: impl IntoIterator<Item = RecordBatch>,
    ) -> Result<SpillFile> {
        self.write_tallied(schema, batches, None)
    }

    /// As [`SpillDir::write`], the file also counted in a task's `tally`.
    ///
    /// # Errors
    /// As [`SpillDir::write`].
    pub fn write_tallied(
        &self,
        schema: &SchemaRef,
        batches: impl IntoIterator<Item = RecordBatch>,
        tally: Option<&Arc<SpillStats>>,
    ) -> Result<SpillFile> {
        let mut w = self.writer_tallied(schema, tally)?;
        for b in batches {
            w.write(&b)?;
        }
        w.finish()
    }

    /// Opens a new spill file to write batches of `schema` into, one at a time.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file when it cannot be created.
    pub fn writer(&self, schema: &SchemaRef) -> Result<SpillWriter> {
        self.writer_tallied(schema, None)
    }

    /// As [`SpillDir::writer`], the file also counted in a task's `tally`.
    ///
    /// # Errors
    /// As [`SpillDir::writer`].
    pub fn writer_tallied(
        &self,
        schema: &SchemaRef,
        tally: Option<&Arc<SpillStats>>,
    ) -> Result<SpillWriter> {
        let started = Instant::now();
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.folder()?.join(format!("spill-{n}.arrows"));
        let file = File::create(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e,
        })?;
        let options = IpcWriteOptions::default()
            .try_with_compression(Some(CompressionType::LZ4_FRAME))
            .map_err(|e| ipc_error(&path, e))?;
        let writer = StreamWriter::try_new_with_options(BufWriter::new(file), schema, options)
            .map_err(|e| ipc_error(&path, e))?;
        let w = SpillWriter {
            writer,
            path,
            schema: Arc::clone(schema),
            rows: 0,
            batches: 0,
            stats: Arc::clone(&self.stats),
            tally: tally.cloned(),
            micros: 0,
        };
        Ok(w.timed(started))
    }
}

/// An IPC error on `path`, as [`Error::Io`]: the operating system's own error when there
/// is one, so that its kind (a full disk is `StorageFull`) survives.
fn ipc_error(path: &Path, e: arrow::error::ArrowError) -> Error {
    let source = match e {
        arrow::error::ArrowError::IoError(_, e) => e,
        e => std::io::Error::other(e.to_string()),
    };
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A spill file being written.
pub struct SpillWriter {
    writer: StreamWriter<BufWriter<File>>,
    path: PathBuf,
    schema: SchemaRef,
    rows: usize,
    batches: usize,
    stats: Arc<SpillStats>,
    tally: Option<Arc<SpillStats>>,
    micros: u64,
}

impl std::fmt::Debug for SpillWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SpillWriter({}, {} rows)",
            self.path.display(),
            self.rows
        )
    }
}

impl SpillWriter {
    fn timed(mut self, started: Instant) -> Self {
        self.micros += started.elapsed().as_micros() as u64;
        self
    }

    /// Appends a batch, compacted first.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let started = Instant::now();
        self.writer
            .write(&compact(batch.clone()))
            .map_err(|e| ipc_error(&self.path, e))?;
        self.rows += batch.num_rows();
        self.batches += 1;
        self.micros += started.elapsed().as_micros() as u64;
        Ok(())
    }

    /// Closes the file; it is deleted when the returned [`SpillFile`] is dropped.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file.
    pub fn finish(mut self) -> Result<SpillFile> {
        let started = Instant::now();
        self.writer.finish().map_err(|e| ipc_error(&self.path, e))?;
        let bytes = std::fs::metadata(&self.path)
            .map_err(|e| Error::Io {
                path: self.path.clone(),
                source: e,
            })?
            .len();
        let micros = self.micros + started.elapsed().as_micros() as u64;
        for s in std::iter::once(&self.stats).chain(self.tally.as_ref()) {
            s.bytes.fetch_add(bytes, Ordering::Relaxed);
            s.files.fetch_add(1, Ordering::Relaxed);
            s.micros.fetch_add(micros, Ordering::Relaxed);
        }
        Ok(SpillFile {
            path: self.path.clone(),
            schema: Arc::clone(&self.schema),
            rows: self.rows,
            batches: self.batches,
            bytes,
            stats: Arc::clone(&self.stats),
        })
    }
}

/// One spilled run of batches; deleted when dropped.
#[derive(Debug)]
pub struct SpillFile {
    path: PathBuf,
    schema: SchemaRef,
    rows: usize,
    batches: usize,
    bytes: u64,
    stats: Arc<SpillStats>,
}

impl SpillFile {
    /// Rows in the file.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Batches in the file.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The schema of its batches.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Reads the batches back, one at a time.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file when it cannot be opened or decoded.
    pub fn read(&self) -> Result<impl Iterator<Item = Result<RecordBatch>> + Send + '_> {
        let started = Instant::now();
        let path = self.path.clone();
        let err = move |e: String| Error::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        };
        let file = File::open(&self.path).map_err(|e| err(e.to_string()))?;
        let reader =
            StreamReader::try_new(BufReader::new(file), None).map_err(|e| err(e.to_string()))?;
        self.stats
            .micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        Ok(reader.map(move |b| b.map_err(|e| err(e.to_string()))))
    }
}

impl SpillFile {
    /// Reads the batches back, one at a time, owning the file: it is deleted when the
    /// reader is dropped. For a reader that must outlive the code that holds the file.
    ///
    /// # Errors
    /// As [`SpillFile::read`].
    pub fn into_read(self) -> Result<impl Iterator<Item = Result<RecordBatch>> + Send> {
        let path = self.path.clone();
        let err = move |e: String| Error::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        };
        let file = File::open(&self.path).map_err(|e| err(e.to_string()))?;
        let reader =
            StreamReader::try_new(BufReader::new(file), None).map_err(|e| err(e.to_string()))?;
        // The file lives as long as its reader.
        Ok(reader.map(move |b| {
            let _file = &self;
            b.map_err(|e| err(e.to_string()))
        }))
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        // Best effort: the folder is removed with the `SpillDir` in any case.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spill_folder_names_its_process_and_orphans_are_removed() {
        let parent = tempfile::tempdir().unwrap();
        let dir = SpillDir::new(parent.path());
        let schema: SchemaRef = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("x", arrow::datatypes::DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(arrow::array::Int64Array::from(vec![1, 2, 3]))],
        )
        .unwrap();
        let file = dir.write(&schema, [batch]).unwrap();
        let name = dir
            .path()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with(&format!("spillway-{}-", std::process::id())),
            "{name}"
        );
        // This process's folder is never an orphan.
        assert_eq!(SpillDir::remove_orphans(parent.path()), 0);
        assert!(dir.path().unwrap().exists());
        drop(file);
        drop(dir);
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
    }
    use arrow::array::{Int64Array, StringViewArray};
    use arrow::datatypes::{DataType, Field, Schema};

    fn batch(n: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("s", DataType::Utf8View, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(0..n)),
                Arc::new(StringViewArray::from_iter(
                    (0..n).map(|i| (i % 7 != 0).then(|| format!("value {i}"))),
                )),
            ],
        )
        .unwrap()
    }

    #[test]
    fn batches_round_trip_and_files_disappear() {
        let parent = tempfile::tempdir().unwrap();
        let spill = SpillDir::new(parent.path());
        assert!(spill.path().is_none(), "the folder is created on first use");
        let b = batch(10_000);
        let f = spill
            .write(b.schema_ref(), [b.clone(), b.slice(5, 10)])
            .unwrap();
        assert_eq!((f.rows(), f.batches()), (10_010, 2));
        let back: Vec<RecordBatch> = f.read().unwrap().map(Result::unwrap).collect();
        assert_eq!(back[0], b);
        assert_eq!(back[1], b.slice(5, 10));
        assert!(spill.stats().bytes.load(Ordering::Relaxed) > 0);
        let file_path = spill.path().unwrap().join("spill-0.arrows");
        assert!(file_path.exists());
        drop(f);
        assert!(!file_path.exists());
        let folder = spill.path().unwrap().to_path_buf();
        drop(spill);
        assert!(!folder.exists());
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
    }

    #[test]
    fn an_unwritable_spill_folder_is_an_error_naming_it() {
        let spill = SpillDir::new("/proc/definitely/not/here");
        let b = batch(3);
        let err = spill.write(b.schema_ref(), [b.clone()]).unwrap_err();
        assert!(
            err.to_string().contains("/proc/definitely/not/here"),
            "{err}"
        );
    }
}
