//! Parquet output: [`ParquetWriteOptions`] and the encoder a
//! [`FileSink`](crate::FileSink) writes Parquet files with.

use std::fs::File;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::files::Encoder;

/// Rows per row group by default: small enough that a writer's buffered row group stays a
/// few megabytes per column, large enough for good compression and pruning.
const ROW_GROUP_ROWS: usize = 256 * 1024;

/// How Parquet files are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParquetCompression {
    /// No compression.
    None,
    /// Snappy (the default: fast, moderate ratio).
    Snappy,
    /// LZ4 (raw, as the Parquet format defines `LZ4_RAW`).
    Lz4,
    /// Zstandard at a level from 1 to 22.
    Zstd(i32),
}

/// Options of the Parquet writer: compression (Snappy by default) and rows per row group
/// (262,144 by default).
///
/// ```
/// use spillway_io::parquet::{ParquetCompression, ParquetWriteOptions};
///
/// let options = ParquetWriteOptions::new()
///     .compression(ParquetCompression::Zstd(3))
///     .row_group_rows(100_000);
/// assert_eq!(options.row_group_rows_value(), 100_000);
/// ```
#[derive(Clone, Debug)]
pub struct ParquetWriteOptions {
    compression: ParquetCompression,
    row_group_rows: usize,
}

impl Default for ParquetWriteOptions {
    fn default() -> Self {
        Self {
            compression: ParquetCompression::Snappy,
            row_group_rows: ROW_GROUP_ROWS,
        }
    }
}

impl ParquetWriteOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The compression codec.
    pub fn compression(mut self, compression: ParquetCompression) -> Self {
        self.compression = compression;
        self
    }

    /// The most rows in one row group (at least 1).
    pub fn row_group_rows(mut self, rows: usize) -> Self {
        self.row_group_rows = rows.max(1);
        self
    }

    /// The most rows in one row group.
    pub fn row_group_rows_value(&self) -> usize {
        self.row_group_rows
    }

    fn properties(&self) -> Result<WriterProperties, String> {
        let compression = match self.compression {
            ParquetCompression::None => Compression::UNCOMPRESSED,
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Lz4 => Compression::LZ4_RAW,
            ParquetCompression::Zstd(level) => Compression::ZSTD(
                ZstdLevel::try_new(level).map_err(|e| format!("zstd level {level}: {e}"))?,
            ),
        };
        Ok(WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(self.row_group_rows))
            .build())
    }
}

/// A Parquet encoder; with `flush_each_batch` every batch closes a row group, so the writer
/// holds no rows between batches.
pub(crate) fn encoder(
    options: &ParquetWriteOptions,
    file: File,
    schema: &SchemaRef,
    flush_each_batch: bool,
) -> Result<Box<dyn Encoder>, String> {
    let writer = ArrowWriter::try_new(file, Arc::clone(schema), Some(options.properties()?))
        .map_err(|e| e.to_string())?;
    Ok(Box::new(ParquetEncoder {
        writer,
        flush_each_batch,
    }))
}

struct ParquetEncoder {
    writer: ArrowWriter<File>,
    flush_each_batch: bool,
}

impl Encoder for ParquetEncoder {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        self.writer.write(batch).map_err(|e| e.to_string())?;
        if self.flush_each_batch {
            self.writer.flush().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// The open row group: its encoded pages and the column writers' page buffers.
    fn buffered_bytes(&self) -> usize {
        self.writer.memory_size()
    }

    /// Closes the open row group early.
    fn flush(&mut self) -> Result<(), String> {
        self.writer.flush().map_err(|e| e.to_string())
    }

    fn finish(self: Box<Self>) -> Result<(), String> {
        self.writer.close().map(drop).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parquet::ParquetSource;
    use crate::sink::{FileFormat, FileSink, WriteMode};
    use arrow::array::{Int64Array, StringViewArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use spillway_planner::sink::DataSink;
    use spillway_planner::source::{DataSource, ScanRequest};

    #[test]
    fn partitions_become_files_that_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let format = FileFormat::Parquet(ParquetWriteOptions::new());
        let sink = FileSink::try_new(&out, format, WriteMode::ErrorIfExists, None).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("s", DataType::Utf8View, true),
        ]));
        for p in 0..3 {
            let mut w = sink.open(p, &schema).unwrap();
            let n: Vec<i64> = (0..100).map(|i| p as i64 * 100 + i).collect();
            let b = RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from(n)),
                    Arc::new(StringViewArray::from_iter(
                        (0..100).map(|i| (i % 3 != 0).then_some("x")),
                    )),
                ],
            )
            .unwrap();
            w.write(&b).unwrap();
            assert_eq!(w.finish().unwrap(), 100);
        }
        sink.commit().unwrap();
        let source = ParquetSource::try_new(out.to_string_lossy()).unwrap();
        assert_eq!(source.num_rows(), 300);
        assert_eq!(source.schema().field(1).data_type(), &DataType::Utf8View);
        let req = ScanRequest {
            projection: None,
            filters: &[],
            batch_rows: 1024,
            batch_bytes: 8 << 20,
            target_partition_bytes: 1 << 30,
            min_partitions: 1,
        };
        assert_eq!(source.plan_scan(&req).unwrap().len(), 3);
    }

    #[test]
    fn a_writer_reports_its_open_row_group_and_flushes_it_early() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let format = FileFormat::Parquet(ParquetWriteOptions::new());
        let sink = FileSink::try_new(&out, format, WriteMode::ErrorIfExists, None).unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch = |from: i64| {
            let n: Vec<i64> = (from..from + 10_000).collect();
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(Int64Array::from(n))]).unwrap()
        };
        let mut w = sink.open(0, &schema).unwrap();
        w.write(&batch(0)).unwrap();
        let open = w.buffered_bytes();
        assert!(open >= 10_000 * 8, "{open}");
        w.flush().unwrap();
        assert!(w.buffered_bytes() < open);
        w.write(&batch(10_000)).unwrap();
        assert_eq!(w.finish().unwrap(), 20_000);
        sink.commit().unwrap();

        let source = ParquetSource::try_new(out.to_string_lossy()).unwrap();
        assert_eq!((source.num_row_groups(), source.num_rows()), (2, 20_000));
    }

    #[test]
    fn an_unwritable_folder_is_an_error_naming_it() {
        let err = FileSink::try_new(
            "/proc/no/such/folder",
            FileFormat::Parquet(ParquetWriteOptions::new()),
            WriteMode::ErrorIfExists,
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("/proc/no/such/folder"), "{err}");
    }
}
