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
    /// What each partition says its decoded bytes are (`None`: it does not know).
    estimate: Option<usize>,
}

impl Batches {
    /// A source of `parts`, one batch per partition (all of `schema`).
    pub(crate) fn of(schema: SchemaRef, parts: Vec<RecordBatch>) -> Arc<dyn DataSource> {
        Self::estimated(schema, parts, None)
    }

    /// As [`Batches::of`], each partition estimating its decoded bytes at `estimate`
    /// (right or wrong).
    pub(crate) fn estimated(
        schema: SchemaRef,
        parts: Vec<RecordBatch>,
        estimate: Option<usize>,
    ) -> Arc<dyn DataSource> {
        Arc::new(Batches {
            schema,
            parts,
            estimate,
        })
    }

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
        Self::of(schema, parts)
    }
}

#[derive(Debug)]
struct Part(RecordBatch, Option<usize>);

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
            .map(|b| Arc::new(Part(b.clone(), self.estimate)) as Arc<dyn ScanPartition>)
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
        self.1
    }
    fn open(&self) -> Result<BatchStream> {
        Ok(Box::new(std::iter::once(Ok(self.0.clone()))))
    }
}

/// A task context for testing one operator alone: its own memory pool (of `limit` bytes),
/// spill folder, cancel flag and tally.
///
/// ```ignore
/// let t = TestContext::new(64 << 10);
/// let runs = sort::runs(stream, &spec, &t.ctx())?;
/// assert!(t.spilled_bytes() > 0);
/// ```
pub(crate) struct TestContext {
    pub(crate) cancel: std::sync::atomic::AtomicBool,
    pub(crate) memory: Arc<crate::memory::MemoryPool>,
    pub(crate) spill: Arc<crate::spill::SpillDir>,
    pub(crate) tally: crate::ops::TaskTally,
    pub(crate) activity: crate::memory::Activity,
    pub(crate) schema: SchemaRef,
    pub(crate) batch_rows: usize,
}

impl TestContext {
    /// A context whose pool holds `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        TestContext {
            cancel: std::sync::atomic::AtomicBool::new(false),
            memory: crate::memory::MemoryPool::new(limit),
            spill: crate::spill::SpillDir::new(spillway_planner::config::system_temp_dir()),
            tally: crate::ops::TaskTally::default(),
            activity: crate::memory::Activity::default(),
            schema: Arc::new(Schema::empty()),
            batch_rows: 1024,
        }
    }

    /// The context an operator is called with, named `t[0]`.
    pub(crate) fn ctx(&self) -> crate::ops::TaskContext<'_> {
        crate::ops::TaskContext {
            name: "t[0]".into(),
            cancel: &self.cancel,
            memory: &self.memory,
            spill: &self.spill,
            batch_rows: self.batch_rows,
            partition: 0,
            place: 0,
            output_schema: &self.schema,
            tally: &self.tally,
            activity: &self.activity,
        }
    }

    /// Bytes the operator wrote to spill files.
    pub(crate) fn spilled_bytes(&self) -> u64 {
        self.tally
            .spill
            .bytes
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// `batches` as an operator's input stream.
pub(crate) fn stream(batches: Vec<RecordBatch>) -> crate::ops::Batches<'static> {
    Box::new(batches.into_iter().map(Ok))
}

/// A stream that yields `good` batches, then an error.
pub(crate) fn failing(good: Vec<RecordBatch>) -> crate::ops::Batches<'static> {
    Box::new(
        good.into_iter()
            .map(Ok)
            .chain(std::iter::once(Err(spillway_planner::Error::Io {
                path: "test input".into(),
                source: std::io::Error::other("disk gone"),
            }))),
    )
}

/// Batches of `(k, v)` Int64 columns: `rows` rows cut into batches of `per` rows, with key
/// `i % keys` and value `i`.
pub(crate) fn keyed(rows: i64, keys: i64, per: usize) -> Vec<RecordBatch> {
    let schema = keyed_schema();
    let all: Vec<i64> = (0..rows).collect();
    all.chunks(per.max(1))
        .map(|c| {
            let k: Int64Array = c.iter().map(|i| i % keys).collect();
            let v: Int64Array = c.iter().copied().collect();
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(k), Arc::new(v)]).unwrap()
        })
        .collect()
}

/// As [`keyed`], but the key is null in three rows of four (those with `i % 4 != 0`).
pub(crate) fn keyed_with_nulls(rows: i64, keys: i64, per: usize) -> Vec<RecordBatch> {
    let schema = keyed_schema();
    let all: Vec<i64> = (0..rows).collect();
    all.chunks(per.max(1))
        .map(|c| {
            let k: Int64Array = c.iter().map(|i| (i % 4 == 0).then_some(i % keys)).collect();
            let v: Int64Array = c.iter().copied().collect();
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(k), Arc::new(v)]).unwrap()
        })
        .collect()
}

/// The spec of a `how` join of `(k, v)` with `(k, v)` on `k`, each side in two partitions
/// (so two buckets).
pub(crate) fn join_spec(how: spillway_planner::logical::JoinType) -> Arc<crate::graph::JoinSpec> {
    use spillway_planner::logical::LogicalPlan;
    let side = || scan_of(keyed(4, 2, 2));
    let plan = LogicalPlan::join(side(), side(), vec!["k".into()], vec!["k".into()], how);
    let g = lowered(plan.unwrap());
    g.tasks
        .iter()
        .find_map(|t| match &t.kind {
            crate::graph::TaskKind::HashJoin { spec, .. } => Some(Arc::clone(spec)),
            _ => None,
        })
        .unwrap()
}

/// The schema of [`keyed`]: `k`, `v`, both Int64.
pub(crate) fn keyed_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new("v", DataType::Int64, true),
    ]))
}

/// The graph of `plan`, lowered with the default engine config.
pub(crate) fn lowered(plan: spillway_planner::logical::LogicalPlan) -> crate::graph::TaskGraph {
    crate::lower::lower(&plan, &crate::config::EngineConfig::default()).unwrap()
}

/// A scan of `batches` (one per partition) as a plan's input.
pub(crate) fn scan_of(batches: Vec<RecordBatch>) -> Arc<spillway_planner::logical::LogicalPlan> {
    let schema = batches.first().map_or_else(keyed_schema, |b| b.schema());
    Arc::new(spillway_planner::logical::LogicalPlan::scan(Batches::of(
        schema, batches,
    )))
}

/// Every `(k, v)` row of `batches`, sorted.
pub(crate) fn pairs(batches: &[RecordBatch]) -> Vec<(Option<i64>, Option<i64>)> {
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    let mut out: Vec<_> = batches
        .iter()
        .flat_map(|b| {
            let k = b.column(0).as_primitive::<Int64Type>().clone();
            let v = b.column(1).as_primitive::<Int64Type>().clone();
            (0..b.num_rows())
                .map(move |i| {
                    use arrow::array::Array;
                    let get = |a: &Int64Array| (!a.is_null(i)).then(|| a.value(i));
                    (get(&k), get(&v))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out
}
