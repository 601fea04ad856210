//! Record batches already in memory, cut into partitions: Dask's `from_pandas`.
//!
//! The table's rows are numbered across its batches and cut into `npartitions` contiguous
//! row ranges of nearly equal length: with `rows = q * n + r`, the first `r` partitions get
//! `q + 1` rows and the others `q` (NumPy's `array_split`; Dask's `from_pandas` uses
//! `ceil(rows / n)`-row chunks instead, which can give fewer, less even partitions).
//! A table with fewer rows than `npartitions` gets one partition per row, and an empty table
//! gets one partition that yields no batches, so a scan always has at least one partition.
//!
//! Memory: nothing is copied. The source holds the batches behind an `Arc`; a partition's
//! stream yields zero-copy [`RecordBatch::slice`]s of them (projected, at most `batch_rows`
//! rows each), which share the original buffers.

use std::fmt;
use std::hash::Hasher;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use spillway_planner::source::{BatchStream, DataSource, ScanPartition, ScanRequest};
use spillway_planner::{Error, Result};

/// An in-memory table of Arrow record batches, split into contiguous row ranges.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Int64Array, RecordBatch};
/// use spillway_io::MemorySource;
/// use spillway_planner::source::DataSource;
///
/// let n: ArrayRef = Arc::new(Int64Array::from_iter_values(0..500));
/// let batch = RecordBatch::try_from_iter([("n", n)])?;
/// let source = MemorySource::try_new(batch.schema(), vec![batch], 2)?;
/// assert_eq!(source.num_rows(), 500);
/// assert_eq!(source.name(), "memory (500 rows, 1 batch, 2 partitions)");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct MemorySource {
    schema: SchemaRef,
    table: Arc<Table>,
    npartitions: usize,
    /// Bytes of each column, summed over the batches (the estimate for a partition is its
    /// share of the projected columns' bytes).
    column_bytes: Arc<[usize]>,
}

/// The non-empty batches and the number of the first row of each.
struct Table {
    batches: Vec<RecordBatch>,
    offsets: Vec<usize>,
    rows: usize,
}

impl MemorySource {
    /// A source over `batches`, each of which must have `schema`'s columns (names, types,
    /// nullability), cut into `npartitions` row ranges.
    ///
    /// # Errors
    /// [`Error::Plan`] when `npartitions` is 0 or a batch's columns differ from `schema`.
    pub fn try_new(
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        npartitions: usize,
    ) -> Result<Self> {
        if npartitions == 0 {
            return Err(Error::Plan(
                "a memory source needs at least one partition (npartitions = 0)".into(),
            ));
        }
        for (i, batch) in batches.iter().enumerate() {
            if batch.schema().fields() != schema.fields() {
                return Err(Error::Plan(format!(
                    "batch {i} has columns {} but the memory source declares {}",
                    describe_fields(&batch.schema()),
                    describe_fields(&schema)
                )));
            }
        }
        let mut column_bytes = vec![0usize; schema.fields().len()];
        let mut table = Table {
            batches: Vec::with_capacity(batches.len()),
            offsets: Vec::with_capacity(batches.len()),
            rows: 0,
        };
        for batch in batches {
            for (bytes, column) in column_bytes.iter_mut().zip(batch.columns()) {
                *bytes = bytes.saturating_add(column.get_array_memory_size());
            }
            if batch.num_rows() > 0 {
                table.offsets.push(table.rows);
                table.rows += batch.num_rows();
                table.batches.push(batch);
            }
        }
        Ok(Self {
            schema,
            table: Arc::new(table),
            npartitions,
            column_bytes: column_bytes.into(),
        })
    }

    /// A one-column source: Dask's `from_pandas(series, npartitions)`. The column is
    /// nullable when the array has nulls.
    ///
    /// # Errors
    /// [`Error::Plan`] when `npartitions` is 0.
    pub fn from_column(name: &str, array: ArrayRef, npartitions: usize) -> Result<Self> {
        let field = Field::new(name, array.data_type().clone(), array.null_count() > 0);
        let schema = Arc::new(Schema::new(vec![field]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![array])
            .map_err(|e| Error::compute(format!("memory column '{name}'"), e))?;
        Self::try_new(schema, vec![batch], npartitions)
    }

    /// Rows in the table.
    pub fn num_rows(&self) -> usize {
        self.table.rows
    }

    /// The row ranges `[start, end)` of the partitions: `min(rows, npartitions)` ranges of
    /// nearly equal length, the first ones one row longer; one empty range for an empty table.
    pub fn partition_ranges(&self) -> Vec<(usize, usize)> {
        split_rows(self.table.rows, self.npartitions)
    }
}

/// `[start, end)` ranges cutting `rows` into `min(rows, n)` parts (at least one), the first
/// `rows % parts` of them one row longer.
fn split_rows(rows: usize, n: usize) -> Vec<(usize, usize)> {
    let parts = rows.min(n).max(1);
    let (base, extra) = (rows / parts, rows % parts);
    let mut start = 0;
    (0..parts)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let range = (start, start + len);
            start += len;
            range
        })
        .collect()
}

fn describe_fields(schema: &Schema) -> String {
    let fields: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            let null = if f.is_nullable() { "" } else { " not null" };
            format!("{}: {}{null}", f.name(), f.data_type())
        })
        .collect();
    format!("[{}]", fields.join(", "))
}

impl fmt::Debug for MemorySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySource")
            .field("schema", &describe_fields(&self.schema))
            .field("batches", &self.table.batches.len())
            .field("rows", &self.table.rows)
            .field("npartitions", &self.npartitions)
            .finish()
    }
}

impl DataSource for MemorySource {
    fn name(&self) -> String {
        let count =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        format!(
            "memory ({}, {}, {})",
            count(self.table.rows, "row", "rows"),
            count(self.table.batches.len(), "batch", "batches"),
            count(self.partition_ranges().len(), "partition", "partitions")
        )
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// A hash of the batches' Arrow IPC encoding (the values, not where they sit in
    /// memory), and the partition count.
    fn fingerprint(&self) -> Result<String> {
        let mut hash = HashWriter(twox_hash::XxHash64::with_seed(0));
        let encode = |hash: &mut HashWriter| -> Result<(), arrow::error::ArrowError> {
            let mut writer = StreamWriter::try_new(hash, &self.schema)?;
            self.table
                .batches
                .iter()
                .try_for_each(|b| writer.write(b))?;
            writer.finish()
        };
        encode(&mut hash).map_err(|e| Error::compute("fingerprinting in-memory batches", e))?;
        Ok(format!("{} {:016x}\n", self.name(), hash.0.finish()))
    }

    fn plan_scan(&self, request: &ScanRequest<'_>) -> Result<Vec<Arc<dyn ScanPartition>>> {
        request.check(self.schema.fields().len())?;
        let projection: Option<Arc<[usize]>> = request.projection.map(Arc::from);
        let projected_bytes: usize = match &projection {
            Some(p) => p.iter().filter_map(|&i| self.column_bytes.get(i)).sum(),
            None => self.column_bytes.iter().sum(),
        };
        let total_rows = self.table.rows.max(1);
        Ok(self
            .partition_ranges()
            .into_iter()
            .map(|(start, end)| {
                // Proportional share, in u128 so that `bytes * rows` cannot overflow.
                let share = projected_bytes as u128 * (end - start) as u128 / total_rows as u128;
                Arc::new(MemoryPartition {
                    table: Arc::clone(&self.table),
                    start,
                    end,
                    projection: projection.clone(),
                    batch_rows: request.batch_rows,
                    bytes: usize::try_from(share).unwrap_or(usize::MAX),
                }) as Arc<dyn ScanPartition>
            })
            .collect())
    }
}

/// Rows `[start, end)` of a [`MemorySource`].
struct MemoryPartition {
    table: Arc<Table>,
    start: usize,
    end: usize,
    projection: Option<Arc<[usize]>>,
    batch_rows: usize,
    bytes: usize,
}

impl fmt::Debug for MemoryPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryPartition")
            .field("rows", &(self.start..self.end))
            .field("projection", &self.projection)
            .field("batch_rows", &self.batch_rows)
            .finish()
    }
}

impl ScanPartition for MemoryPartition {
    fn describe(&self) -> String {
        format!("memory rows [{}, {})", self.start, self.end)
    }

    fn estimated_rows(&self) -> Option<usize> {
        Some(self.end - self.start)
    }

    fn estimated_bytes(&self) -> Option<usize> {
        Some(self.bytes)
    }

    fn open(&self) -> Result<BatchStream> {
        // The batch holding row `start`: the last one whose first row is at or before it.
        let batch = self
            .table
            .offsets
            .partition_point(|&o| o <= self.start)
            .saturating_sub(1);
        Ok(Box::new(MemoryStream {
            table: Arc::clone(&self.table),
            batch,
            pos: self.start,
            end: self.end,
            projection: self.projection.clone(),
            batch_rows: self.batch_rows,
        }))
    }
}

/// Yields slices of the table's batches from row `pos` up to row `end`.
struct MemoryStream {
    table: Arc<Table>,
    /// The batch holding row `pos`.
    batch: usize,
    pos: usize,
    end: usize,
    projection: Option<Arc<[usize]>>,
    batch_rows: usize,
}

impl MemoryStream {
    fn next_slice(&mut self) -> Result<RecordBatch> {
        let (Some(batch), Some(&first)) = (
            self.table.batches.get(self.batch),
            self.table.offsets.get(self.batch),
        ) else {
            return Err(Error::Internal(format!(
                "memory partition reads row {} past the table's {} rows",
                self.pos, self.table.rows
            )));
        };
        let offset = self.pos.saturating_sub(first);
        let len = (batch.num_rows().saturating_sub(offset))
            .min(self.end - self.pos)
            .min(self.batch_rows);
        if len == 0 {
            return Err(Error::Internal(format!(
                "memory partition found no rows at row {} of batch {}",
                self.pos, self.batch
            )));
        }
        let slice = match &self.projection {
            Some(p) => batch
                .project(p)
                .map_err(|e| Error::Internal(format!("memory partition projection: {e}")))?
                .slice(offset, len),
            None => batch.slice(offset, len),
        };
        self.pos += len;
        if offset + len == batch.num_rows() {
            self.batch += 1;
        }
        Ok(slice)
    }
}

impl Iterator for MemoryStream {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.end {
            return None;
        }
        let result = self.next_slice();
        if result.is_err() {
            // Stop after an error rather than report it again.
            self.pos = self.end;
        }
        Some(result)
    }
}

/// A [`std::io::Write`] that hashes what is written.
struct HashWriter(twox_hash::XxHash64);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::hash::Hasher::write(&mut self.0, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringViewArray};
    use arrow::datatypes::DataType;

    fn request(projection: Option<&[usize]>, batch_rows: usize) -> ScanRequest<'_> {
        ScanRequest {
            projection,
            filters: &[],
            batch_rows,
            batch_bytes: 8 << 20,
            target_partition_bytes: 1 << 20,
            min_partitions: 1,
        }
    }

    fn ints(range: std::ops::Range<i64>) -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(range))
    }

    /// Reads every partition and returns, per partition, the values of column 0.
    fn read_all(source: &MemorySource, req: &ScanRequest<'_>) -> Vec<Vec<i64>> {
        source
            .plan_scan(req)
            .unwrap()
            .iter()
            .map(|p| {
                let mut values = Vec::new();
                for batch in p.open().unwrap() {
                    let batch = batch.unwrap();
                    assert!(batch.num_rows() <= req.batch_rows);
                    assert!(batch.num_rows() > 0, "no empty batches");
                    let col = batch.column(0).as_any().downcast_ref::<Int64Array>();
                    values.extend(col.unwrap().values().iter().copied());
                }
                assert_eq!(Some(values.len()), p.estimated_rows());
                values
            })
            .collect()
    }

    #[test]
    fn splits_rows_like_array_split() {
        assert_eq!(split_rows(10, 1), vec![(0, 10)]);
        assert_eq!(split_rows(10, 3), vec![(0, 4), (4, 7), (7, 10)]);
        assert_eq!(split_rows(500, 2), vec![(0, 250), (250, 500)]);
        // Fewer rows than partitions: one row each.
        assert_eq!(split_rows(2, 5), vec![(0, 1), (1, 2)]);
        // Empty table: one empty partition.
        assert_eq!(split_rows(0, 4), vec![(0, 0)]);
    }

    #[test]
    fn one_partition_reads_everything_across_batches() {
        let a = RecordBatch::try_from_iter([("n", ints(0..3))]).unwrap();
        let b = RecordBatch::try_from_iter([("n", ints(3..10))]).unwrap();
        let source = MemorySource::try_new(a.schema(), vec![a, b], 1).unwrap();
        assert_eq!(
            read_all(&source, &request(None, 100)),
            vec![(0..10).collect::<Vec<_>>()]
        );
    }

    #[test]
    fn three_partitions_cut_across_batch_boundaries() {
        let a = RecordBatch::try_from_iter([("n", ints(0..3))]).unwrap();
        let empty = RecordBatch::try_from_iter([("n", ints(0..0))]).unwrap();
        let b = RecordBatch::try_from_iter([("n", ints(3..10))]).unwrap();
        let source = MemorySource::try_new(a.schema(), vec![a, empty, b], 3).unwrap();
        let parts = read_all(&source, &request(None, 2));
        assert_eq!(parts, vec![vec![0, 1, 2, 3], vec![4, 5, 6], vec![7, 8, 9]]);
        let described: Vec<String> = source
            .plan_scan(&request(None, 2))
            .unwrap()
            .iter()
            .map(|p| p.describe())
            .collect();
        assert_eq!(
            described,
            [
                "memory rows [0, 4)",
                "memory rows [4, 7)",
                "memory rows [7, 10)"
            ]
        );
    }

    #[test]
    fn more_partitions_than_rows_gives_one_row_each() {
        let source = MemorySource::from_column("n", ints(0..3), 8).unwrap();
        assert_eq!(
            read_all(&source, &request(None, 10)),
            vec![vec![0], vec![1], vec![2]]
        );
    }

    #[test]
    fn empty_table_has_one_partition_without_batches() {
        let source = MemorySource::from_column("n", ints(0..0), 4).unwrap();
        let parts = source.plan_scan(&request(None, 10)).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].estimated_rows(), Some(0));
        assert_eq!(parts[0].open().unwrap().count(), 0);
        let no_batches = MemorySource::try_new(source.schema(), vec![], 2).unwrap();
        assert_eq!(
            read_all(&no_batches, &request(None, 10)),
            vec![Vec::<i64>::new()]
        );
    }

    #[test]
    fn batches_are_bounded_by_batch_rows() {
        let source = MemorySource::from_column("n", ints(0..1000), 2).unwrap();
        let parts = source.plan_scan(&request(None, 128)).unwrap();
        let sizes: Vec<usize> = parts[0]
            .open()
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .collect();
        assert_eq!(sizes, [128, 128, 128, 116]);
    }

    #[test]
    fn projection_follows_the_requested_order() {
        let batch = RecordBatch::try_from_iter([
            ("a", ints(0..5)),
            (
                "b",
                Arc::new(StringViewArray::from_iter_values(["v"; 5])) as ArrayRef,
            ),
            ("c", ints(10..15)),
        ])
        .unwrap();
        let source = MemorySource::try_new(batch.schema(), vec![batch], 2).unwrap();
        let parts = source.plan_scan(&request(Some(&[2, 0]), 10)).unwrap();
        let out = parts[1].open().unwrap().next().unwrap().unwrap();
        let names: Vec<&str> = out
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, ["c", "a"]);
        assert_eq!(out.column(0).as_ref(), &Int64Array::from(vec![13, 14]));
        assert_eq!(out.column(1).as_ref(), &Int64Array::from(vec![3, 4]));
        // The estimate counts the projected columns only.
        let all = source.plan_scan(&request(None, 10)).unwrap();
        assert!(parts[0].estimated_bytes() < all[0].estimated_bytes());
    }

    #[test]
    fn errors_for_zero_partitions_and_mismatched_batches() {
        let e = MemorySource::from_column("n", ints(0..3), 0).unwrap_err();
        assert!(matches!(e, Error::Plan(_)), "{e}");
        let a = RecordBatch::try_from_iter([("n", ints(0..3))]).unwrap();
        let b = RecordBatch::try_from_iter([(
            "n",
            Arc::new(StringViewArray::from_iter_values(["x"])) as ArrayRef,
        )])
        .unwrap();
        let e = MemorySource::try_new(a.schema(), vec![a, b], 1).unwrap_err();
        assert!(
            e.to_string()
                .contains("batch 1 has columns [n: Utf8View not null] but the memory source declares [n: Int64 not null]"),
            "{e}"
        );
        let source = MemorySource::from_column("n", ints(0..3), 1).unwrap();
        assert!(matches!(
            source.plan_scan(&request(Some(&[1]), 10)),
            Err(Error::Internal(_))
        ));
        assert!(matches!(
            source.plan_scan(&request(None, 0)),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn from_column_is_nullable_only_with_nulls() {
        let source = MemorySource::from_column("n", ints(0..3), 1).unwrap();
        assert!(!source.schema().field(0).is_nullable());
        let with_null: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None]));
        let source = MemorySource::from_column("n", with_null, 1).unwrap();
        assert!(source.schema().field(0).is_nullable());
        assert_eq!(source.schema().field(0).data_type(), &DataType::Int64);
    }
}
