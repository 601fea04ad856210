//! [`ParquetSink`]: a computation's output as a folder of Parquet files, one per output
//! partition (`part-00000.parquet`, ...), each written by the task that produces it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use spillway_planner::sink::{DataSink, PartitionWriter};
use spillway_planner::{Error, Result};

/// Rows per row group: small enough that a writer's buffered row group stays a few
/// megabytes per column, large enough for good compression and pruning.
const ROW_GROUP_ROWS: usize = 256 * 1024;

/// Writes each output partition to `<folder>/part-NNNNN.parquet` (snappy-compressed).
#[derive(Debug)]
pub struct ParquetSink {
    folder: PathBuf,
    properties: WriterProperties,
}

impl ParquetSink {
    /// A sink writing into `folder`, created if missing. Files of an earlier write with the
    /// same names are replaced.
    ///
    /// # Errors
    /// [`Error::Io`] naming the folder when it cannot be created.
    pub fn try_new(folder: impl Into<PathBuf>) -> Result<Self> {
        let folder = folder.into();
        std::fs::create_dir_all(&folder).map_err(|e| Error::Io {
            path: folder.clone(),
            source: e,
        })?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        Ok(ParquetSink { folder, properties })
    }

    /// The folder written into.
    pub fn folder(&self) -> &Path {
        &self.folder
    }
}

impl DataSink for ParquetSink {
    fn name(&self) -> String {
        format!("parquet {}", self.folder.display())
    }

    fn open(&self, partition: usize, schema: &SchemaRef) -> Result<Box<dyn PartitionWriter>> {
        let path = self.folder.join(format!("part-{partition:05}.parquet"));
        let file = File::create(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e,
        })?;
        let writer = ArrowWriter::try_new(file, Arc::clone(schema), Some(self.properties.clone()))
            .map_err(|e| write_error(&path, e))?;
        Ok(Box::new(ParquetPartitionWriter {
            writer,
            path,
            rows: 0,
        }))
    }
}

fn write_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    }
}

struct ParquetPartitionWriter {
    writer: ArrowWriter<File>,
    path: PathBuf,
    rows: usize,
}

impl PartitionWriter for ParquetPartitionWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer
            .write(batch)
            .map_err(|e| write_error(&self.path, e))?;
        self.rows += batch.num_rows();
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<usize> {
        let ParquetPartitionWriter { writer, path, rows } = *self;
        writer.close().map_err(|e| write_error(&path, e))?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parquet::ParquetSource;
    use arrow::array::{Int64Array, StringViewArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use spillway_planner::source::{DataSource, ScanRequest};

    #[test]
    fn partitions_become_files_that_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let sink = ParquetSink::try_new(&out).unwrap();
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
        let source = ParquetSource::try_new(out.to_string_lossy()).unwrap();
        assert_eq!(source.num_rows(), 300);
        assert_eq!(source.schema().field(1).data_type(), &DataType::Utf8View);
        let req = ScanRequest {
            projection: None,
            filters: &[],
            batch_rows: 1024,
            target_partition_bytes: 1 << 30,
            min_partitions: 1,
        };
        assert_eq!(source.plan_scan(&req).unwrap().len(), 3);
    }

    #[test]
    fn an_unwritable_folder_is_an_error_naming_it() {
        let err = ParquetSink::try_new("/proc/no/such/folder").unwrap_err();
        assert!(err.to_string().contains("/proc/no/such/folder"), "{err}");
    }
}
