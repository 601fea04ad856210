//! [`WriteOptions`]: how [`DataFrame::write`](crate::DataFrame::write) writes.

use spillway_io::{CsvWriteOptions, FileFormat, IpcWriteOptions, ParquetWriteOptions, WriteMode};

/// How [`DataFrame::write`](crate::DataFrame::write) writes: the format with its options, and
/// the hive columns.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    pub(super) format: FileFormat,
    pub(super) partition_by: Vec<String>,
    pub(super) mode: WriteMode,
    pub(super) resumable: bool,
}

impl WriteOptions {
    /// Parquet files with `options` (compression, rows per row group).
    pub fn parquet(options: ParquetWriteOptions) -> Self {
        Self::new(FileFormat::Parquet(options))
    }

    /// CSV files with `options` (delimiter, header, null text).
    pub fn csv(options: CsvWriteOptions) -> Self {
        Self::new(FileFormat::Csv(options))
    }

    /// Arrow IPC files with `options` (compression).
    pub fn ipc(options: IpcWriteOptions) -> Self {
        Self::new(FileFormat::Ipc(options))
    }

    /// Files of `format`, one per output partition.
    pub fn new(format: FileFormat) -> Self {
        Self {
            format,
            partition_by: Vec::new(),
            mode: WriteMode::default(),
            resumable: false,
        }
    }

    /// What to do with the files the folder already holds: refuse to write
    /// ([`WriteMode::ErrorIfExists`], the default), replace them all
    /// ([`WriteMode::Overwrite`]) or add beside them ([`WriteMode::Append`]). Either way
    /// nothing changes in the folder until the whole run has succeeded.
    pub fn mode(mut self, mode: WriteMode) -> Self {
        self.mode = mode;
        self
    }

    /// Makes the write resumable: each output partition is recorded as it is finished,
    /// and when a run fails or its process is killed, the same write of the same plan
    /// over the same inputs (and the same settings) writes only the partitions not yet
    /// finished. The finished partitions wait in a hidden folder beside the target
    /// (`.<name>.spillway-resume`) until the write completes. A write of another plan, or
    /// over inputs that changed (a file's length or modification time, in-memory
    /// batches' values), is refused with [`Error::Resume`](crate::Error::Resume). A closure counts by its name:
    /// change a closure's code and remove that folder to start again.
    pub fn resumable(mut self, resumable: bool) -> Self {
        self.resumable = resumable;
        self
    }

    /// Splits the rows into hive folders by these columns, in this order (`a=1/b=x/`);
    /// values are escaped as Hive escapes them, a null is `__HIVE_DEFAULT_PARTITION__`,
    /// and the columns are not stored in the files. Each task writes its own file in each
    /// folder its rows fall into.
    pub fn partition_by<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.partition_by = columns.into_iter().map(Into::into).collect();
        self
    }
}
