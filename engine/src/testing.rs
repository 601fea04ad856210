//! A small in-memory source for the engine's unit tests (the real sources live in `io`).

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use spillway_planner::Result;
use spillway_planner::source::{BatchStream, DataSource, ScanPartition, ScanRequest};

/// Partitions given as batches, one batch per partition.
#[derive(Debug)]
pub(crate) struct Batches {
    schema: SchemaRef,
    parts: Vec<RecordBatch>,
}

impl Batches {
    /// `0..rows` as column `x`, in `parts` partitions of equal size.
    pub(crate) fn numbers(rows: i64, parts: i64) -> Arc<dyn DataSource> {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let per = rows / parts;
        let parts = (0..parts)
            .map(|p| {
                let values: Int64Array = (p * per..(p + 1) * per).collect();
                RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(values)]).unwrap()
            })
            .collect();
        Arc::new(Batches { schema, parts })
    }
}

#[derive(Debug)]
struct Part(RecordBatch);

impl DataSource for Batches {
    fn name(&self) -> String {
        "test batches".into()
    }
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
    fn plan_scan(&self, _: &ScanRequest<'_>) -> Result<Vec<Arc<dyn ScanPartition>>> {
        Ok(self
            .parts
            .iter()
            .map(|b| Arc::new(Part(b.clone())) as Arc<dyn ScanPartition>)
            .collect())
    }
}

impl ScanPartition for Part {
    fn describe(&self) -> String {
        format!("{} rows", self.0.num_rows())
    }
    fn estimated_rows(&self) -> Option<usize> {
        Some(self.0.num_rows())
    }
    fn estimated_bytes(&self) -> Option<usize> {
        None
    }
    fn open(&self) -> Result<BatchStream> {
        Ok(Box::new(std::iter::once(Ok(self.0.clone()))))
    }
}
