//! [`DataFrame`]: a lazy, partitioned table. Nothing runs until [`DataFrame::collect`].

use std::sync::Arc;

use arrow::array::AsArray;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::datatypes::UInt64Type;
use spillway_engine::exec::{ExecStats, RunEnv, execute_with_stats};
use spillway_engine::graph::TaskGraph;
use spillway_engine::lower::{lower, lower_to_sink};
use spillway_io::{CsvWriteOptions, FileSink, IpcWriteOptions, ParquetWriteOptions};
use spillway_planner::agg::AggExpr;
use spillway_planner::expr::{Expr, col};
use spillway_planner::logical::{JoinType, LogicalPlan, Partitioning};
use spillway_planner::optimizer::optimize;
use spillway_planner::sort::SortKey;
use spillway_planner::udf::PartitionFn;
use spillway_planner::{Error, Result};

use crate::parallel::progress::Bar;
use crate::series::Series;
use crate::session::Session;

mod columns;
mod combine;
mod reshape;
mod summary;
mod write;

pub use write::WriteOptions;

/// A lazy table: a logical plan and the session it will run on.
///
/// Every method builds a new plan node and checks it at once, so an unknown column or a
/// type error is reported when the frame is built, naming the column and the columns that
/// exist. Frames are cheap to clone and to build on.
///
/// ```
/// use spillway::prelude::*;
///
/// let session = Session::builder().threads(2).build()?;
/// let df = session.from_vec("x", (1..=100_i64).collect(), 4)?.into_frame();
/// let out = df
///     .filter(col("x").gt(lit(90)))?
///     .with_column((col("x") * lit(2)).alias("y"))?
///     .collect()?;
/// let rows: usize = out.iter().map(|b| b.num_rows()).sum();
/// assert_eq!(rows, 10);
/// assert!(df.select([col("typo")]).is_err());
/// # Ok::<(), spillway::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct DataFrame {
    session: Session,
    plan: Arc<LogicalPlan>,
}

impl DataFrame {
    pub(crate) fn new(session: Session, plan: LogicalPlan) -> Self {
        DataFrame {
            session,
            plan: Arc::new(plan),
        }
    }

    fn then(&self, plan: LogicalPlan) -> DataFrame {
        DataFrame::new(self.session.clone(), plan)
    }

    /// The schema of the result.
    pub fn schema(&self) -> SchemaRef {
        self.plan.schema()
    }

    /// The logical plan, as built.
    pub fn logical_plan(&self) -> &LogicalPlan {
        &self.plan
    }

    /// The session the frame runs on.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Keeps or computes the given columns, in this order.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] or [`Error::Type`] naming the expression; [`Error::Plan`]
    /// when two outputs have the same name or there are none.
    pub fn select(&self, exprs: impl IntoIterator<Item = Expr>) -> Result<DataFrame> {
        let exprs: Vec<Expr> = exprs.into_iter().collect();
        Ok(self.then(LogicalPlan::project(Arc::clone(&self.plan), exprs)?))
    }

    /// Keeps the rows where `predicate` is true (a null counts as false).
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`], or [`Error::Type`] when the predicate is not Boolean.
    pub fn filter(&self, predicate: Expr) -> Result<DataFrame> {
        Ok(self.then(LogicalPlan::filter(Arc::clone(&self.plan), predicate)?))
    }

    /// Adds a column, or replaces the column of the same name (the expression's output
    /// name: its alias, or the column it is computed from).
    ///
    /// # Errors
    /// As [`DataFrame::select`].
    pub fn with_column(&self, expr: Expr) -> Result<DataFrame> {
        self.with_columns([expr])
    }

    /// Adds or replaces several columns, each computed from the input (not from each other).
    ///
    /// # Errors
    /// As [`DataFrame::select`].
    pub fn with_columns(&self, exprs: impl IntoIterator<Item = Expr>) -> Result<DataFrame> {
        let mut new: Vec<Option<Expr>> = exprs.into_iter().map(Some).collect();
        let names: Vec<String> = new.iter().flatten().map(Expr::output_name).collect();
        let schema = self.schema();
        let mut out: Vec<Expr> = Vec::with_capacity(schema.fields().len() + new.len());
        for f in schema.fields() {
            match names.iter().position(|n| n == f.name()) {
                Some(i) => out.extend(new[i].take()),
                None => out.push(col(f.name().as_str())),
            }
        }
        out.extend(new.into_iter().flatten());
        self.select(out)
    }

    /// Runs `f` over each whole partition. `schema` is what `f` promises to return; it is
    /// checked on every partition, and a mismatch is an error naming the partition.
    /// `f` may be called with an empty partition.
    pub fn map_partitions<F, E>(&self, schema: SchemaRef, f: F) -> DataFrame
    where
        F: Fn(RecordBatch) -> std::result::Result<RecordBatch, E> + Send + Sync + 'static,
        E: Into<spillway_planner::error::UserError>,
    {
        let func = PartitionFn::new(schema, f);
        self.then(LogicalPlan::map_partitions(Arc::clone(&self.plan), func))
    }

    /// Runs `f` over each partition as a Polars `DataFrame` (cargo feature `polars`): the
    /// pandas-style per-partition code of Dask's `map_partitions`, in Polars. `f` must
    /// return frames whose columns are `schema` (checked on every partition; a mismatch
    /// is an error naming the partition). Batches cross to Polars and back through the
    /// Arrow C data interface, without copying buffers.
    #[cfg(feature = "polars")]
    pub fn map_polars<F, E>(&self, schema: SchemaRef, f: F) -> DataFrame
    where
        F: Fn(
                polars_core::prelude::DataFrame,
            ) -> std::result::Result<polars_core::prelude::DataFrame, E>
            + Send
            + Sync
            + 'static,
        E: Into<spillway_planner::error::UserError>,
    {
        let func = PartitionFn::named(
            &spillway_planner::udf::short_type_name::<F>(),
            schema,
            crate::polars::partition_closure(f),
        );
        self.then(LogicalPlan::map_partitions(Arc::clone(&self.plan), func))
    }

    /// Computes the frame into one Polars `DataFrame` (cargo feature `polars`), each
    /// partition's batches becoming chunks of its columns without copying buffers.
    ///
    /// # Errors
    /// As [`DataFrame::collect`], or [`Error::Plan`] for a type Polars cannot hold.
    #[cfg(feature = "polars")]
    pub fn to_polars(&self) -> Result<polars_core::prelude::DataFrame> {
        let batches = self.collect()?;
        crate::polars::batches_to_polars(&self.schema(), &batches)
    }

    /// The first `n` rows, in partition order.
    pub fn limit(&self, n: usize) -> DataFrame {
        self.then(LogicalPlan::limit(Arc::clone(&self.plan), n))
    }

    /// The first `n` rows, in partition order (as [`DataFrame::limit`]).
    pub fn head(&self, n: usize) -> DataFrame {
        self.limit(n)
    }

    /// Global aggregates: a one-row frame, one column per aggregate.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] or [`Error::Type`] (e.g. `mean` of a string column).
    pub fn agg(&self, aggs: impl IntoIterator<Item = AggExpr>) -> Result<DataFrame> {
        let aggs: Vec<AggExpr> = aggs.into_iter().collect();
        Ok(self.then(LogicalPlan::aggregate(Arc::clone(&self.plan), aggs)?))
    }

    /// Joins with `right` where `left_on[i] == right_on[i]` for every key (null keys never
    /// match). `how`: inner, left, right, full, semi or anti (or cross, with no keys: see
    /// [`DataFrame::cross_join`]). The output has this frame's
    /// columns, then `right`'s other than its keys (renamed with `_right` where a name is
    /// taken); keys are coalesced. Both sides are hash-partitioned and each bucket is joined
    /// within the memory limit, its build side split again and spilled when it does not
    /// fit (grace hash join). Row order is not defined.
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let s = Session::builder().threads(2).build()?;
    /// let orders = s.from_vec("customer", vec![1_i64, 2, 2, 3], 2)?.into_frame();
    /// let vip = s.from_vec("customer", vec![2_i64, 4], 1)?.into_frame();
    /// let n = orders.join(&vip, ["customer"], ["customer"], JoinType::Inner)?.count_rows()?;
    /// assert_eq!(n, 2);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// Keys of different types are compared in their common type, the one `=` uses:
    /// an `Int32` key joins an `Int64` one as `Int64`, decimals of different scales at the
    /// larger, any two string types as `Utf8View`; the key column has that type.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] naming a key; [`Error::Type`] for keys whose types have no
    /// common type (a string and a number).
    pub fn join<L, R>(
        &self,
        right: &DataFrame,
        left_on: impl IntoIterator<Item = L>,
        right_on: impl IntoIterator<Item = R>,
        how: JoinType,
    ) -> Result<DataFrame>
    where
        L: Into<String>,
        R: Into<String>,
    {
        let left_on: Vec<String> = left_on.into_iter().map(Into::into).collect();
        let right_on: Vec<String> = right_on.into_iter().map(Into::into).collect();
        let (l, r) = combine::join_sides(self, right, &left_on, &right_on)?;
        Ok(self.then(LogicalPlan::join(l, r, left_on, right_on, how)?))
    }

    /// The same rows in the same order, in `n` partitions (Dask's
    /// `repartition(npartitions=n)`): with fewer partitions neighbours are joined, with
    /// more each partition is cut into pieces of equal row counts. Use it to spread work
    /// that follows over more tasks, or to write `n` files. The rows in between are held
    /// within the memory limit (spilled when they do not fit).
    ///
    /// # Errors
    /// [`Error::Plan`] when `n` is 0.
    pub fn repartition(&self, n: usize) -> Result<DataFrame> {
        Ok(self.then(LogicalPlan::repartition(
            Arc::clone(&self.plan),
            Partitioning::Count(n),
        )?))
    }

    /// The same rows in the same order, in partitions of about `bytes` decoded bytes each
    /// (Dask's `repartition(partition_size=...)`). The count of partitions comes from the
    /// sources' size estimates when the plan runs (filters are taken to keep every row);
    /// where a source cannot tell, the partitioning is kept.
    ///
    /// # Errors
    /// [`Error::Plan`] when `bytes` is 0.
    pub fn repartition_by_size(&self, bytes: usize) -> Result<DataFrame> {
        Ok(self.then(LogicalPlan::repartition(
            Arc::clone(&self.plan),
            Partitioning::Bytes(bytes),
        )?))
    }

    /// One row per element of list column `column` (e.g. a `top_k` aggregate), the other
    /// columns repeated; an empty or null list gives one row with a null element.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`], or [`Error::Type`] when the column is not a list.
    pub fn explode(&self, column: &str) -> Result<DataFrame> {
        Ok(self.then(LogicalPlan::explode(
            Arc::clone(&self.plan),
            column.to_string(),
        )?))
    }

    /// Sorts all rows by `keys` (`col("x")`, `col("x").desc()`, `.nulls_first()`),
    /// stably: rows with equal keys keep their input order. The sort is external: runs
    /// that do not fit the memory limit are spilled and merged from disk. Followed by
    /// [`DataFrame::head`], only the first rows are kept from each partition (top-k).
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let df = session.from_vec("x", vec![3_i64, 1, 2], 2)?.into_frame();
    /// let top = df.sort([col("x").desc()])?.head(2).collect_batch()?;
    /// assert_eq!(top.num_rows(), 2);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] or [`Error::Type`] naming the key.
    pub fn sort<K: Into<SortKey>>(&self, keys: impl IntoIterator<Item = K>) -> Result<DataFrame> {
        let keys: Vec<SortKey> = keys.into_iter().map(Into::into).collect();
        Ok(self.then(LogicalPlan::sort(Arc::clone(&self.plan), keys, None)?))
    }

    /// Groups the rows by `keys` (columns or expressions); [`GroupBy::agg`] computes the
    /// aggregates per group. Nulls form a group of their own. The groups come out in no
    /// defined order (hash buckets), as in Polars and DuckDB; sort them to compare.
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let df = session.from_vec("x", (0..100_i64).collect(), 4)?.into_frame();
    /// let by_parity = df
    ///     .group_by([(col("x") % lit(2)).alias("odd")])
    ///     .agg([col("x").sum(), col("x").count().alias("n")])?;
    /// assert_eq!(by_parity.collect_batch()?.num_rows(), 2);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    pub fn group_by(&self, keys: impl IntoIterator<Item = Expr>) -> GroupBy {
        GroupBy {
            frame: self.clone(),
            keys: keys.into_iter().collect(),
        }
    }

    /// The distinct rows (all columns as the key), in no defined order.
    ///
    /// # Errors
    /// [`Error::Type`] for a column type that cannot be a key.
    pub fn distinct(&self) -> Result<DataFrame> {
        let keys: Vec<Expr> = self
            .schema()
            .fields()
            .iter()
            .map(|f| col(f.name().as_str()))
            .collect();
        self.group_by(keys).agg([])
    }

    /// One row per distinct combination of the `subset` columns, the first in partition
    /// order (pandas' `drop_duplicates(subset, keep="first")`, Polars' `unique(subset)`);
    /// the columns keep their order, the rows come in no defined order. An empty subset
    /// means every column, as [`DataFrame::distinct`].
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] for a column not in the frame; [`Error::Type`] for a
    /// column type that cannot be a key.
    pub fn drop_duplicates<S: Into<String>>(
        &self,
        subset: impl IntoIterator<Item = S>,
    ) -> Result<DataFrame> {
        let subset: Vec<String> = subset.into_iter().map(Into::into).collect();
        if subset.is_empty() {
            return self.distinct();
        }
        let schema = self.schema();
        for name in &subset {
            if schema.field_with_name(name).is_err() {
                return Err(Error::ColumnNotFound {
                    name: name.clone(),
                    available: schema.fields().iter().map(|f| f.name().clone()).collect(),
                });
            }
        }
        let rest = schema
            .fields()
            .iter()
            .filter(|f| !subset.contains(f.name()))
            .map(|f| col(f.name().as_str()).first().alias(f.name().as_str()));
        let kept = self
            .group_by(subset.iter().map(|n| col(n.as_str())))
            .agg(rest)?;
        kept.select(schema.fields().iter().map(|f| col(f.name().as_str())))
    }

    /// One column, as a [`Series`].
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] naming the columns that exist.
    pub fn column(&self, name: &str) -> Result<Series> {
        Ok(Series::new(self.select([col(name)])?))
    }

    /// The optimized plan, lowered to the task graph that `collect` would run. Reads
    /// sources' metadata (Parquet footers), not their data.
    ///
    /// # Errors
    /// A source whose metadata cannot be read.
    pub fn task_graph(&self) -> Result<TaskGraph> {
        let optimized = optimize(&self.plan)?;
        lower(&optimized, self.session.engine_config())
    }

    /// How many partitions the result has (Dask's `npartitions`): the tasks whose
    /// outputs make it. Reads sources' metadata, not their data.
    ///
    /// # Errors
    /// As [`DataFrame::task_graph`].
    pub fn npartitions(&self) -> Result<usize> {
        Ok(self.task_graph()?.outputs.len())
    }

    /// The logical plan as built, the optimized plan and the task graph, as text.
    ///
    /// # Errors
    /// As [`DataFrame::task_graph`].
    pub fn explain(&self) -> Result<String> {
        let optimized = optimize(&self.plan)?;
        let graph = lower(&optimized, self.session.engine_config())?;
        Ok(format!(
            "== logical plan ==\n{}\n== optimized plan ==\n{}\n== task graph ==\n{}",
            self.plan, optimized, graph
        ))
    }

    /// Runs the plan (discarding its result) and returns the task graph with what each
    /// stage did: tasks, rows out, time (summed over tasks, and the slowest task), the
    /// largest memory one task held, and bytes spilled; and for the whole run, the most
    /// task outputs held at once.
    ///
    /// # Errors
    /// As [`DataFrame::collect`].
    pub fn explain_analyze(&self) -> Result<String> {
        let optimized = optimize(&self.plan)?;
        let graph = lower(&optimized, self.session.engine_config())?;
        let started = std::time::Instant::now();
        let (batches, stats) = self.run(graph.clone(), "analyze")?;
        let elapsed = started.elapsed();
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let mut out = format!(
            "== optimized plan ==\n{optimized}\n== task graph, analyzed ==\n{} rows in {:.3} s; {} tasks, at most {} outputs held at once; memory reserved at peak {} of the {} limit (process peak RSS {}); spilled {} in {} files\n",
            rows,
            elapsed.as_secs_f64(),
            stats.tasks,
            stats.peak_held_outputs,
            human_bytes(stats.peak_memory as u64),
            human_bytes(self.session.config().memory_limit as u64),
            stats
                .peak_rss
                .map_or_else(|| "unknown".to_string(), human_bytes),
            human_bytes(stats.spilled_bytes),
            stats.spill_files,
        );
        if stats.resident_refusals > 0 {
            out += &format!(
                "{} reservations refused because the process's resident set was full (memory the pool does not see: the allocator's retained memory, batches being decoded)\n",
                stats.resident_refusals
            );
        }
        for (i, stage) in graph.stages.iter().enumerate() {
            let m: Vec<_> = stats.per_task.iter().filter(|t| t.stage == i).collect();
            let rows: usize = m.iter().map(|t| t.rows).sum();
            let total: u64 = m.iter().map(|t| t.micros).sum();
            let slowest = m.iter().map(|t| t.micros).max().unwrap_or(0);
            let peak = m.iter().map(|t| t.peak_memory).max().unwrap_or(0);
            let spilled: u64 = m.iter().map(|t| t.spilled_bytes).sum();
            out += &format!(
                "  stage {i} {}: {} tasks, {rows} rows out, time {:.3} s (slowest task {:.3} s), peak task memory {}, spilled {}\n    {}\n",
                stage.name,
                stage.tasks.len(),
                total as f64 / 1e6,
                slowest as f64 / 1e6,
                human_bytes(peak as u64),
                human_bytes(spilled),
                stage.detail,
            );
        }
        Ok(out)
    }

    /// Runs the plan and returns the result's batches in partition order (empty batches
    /// are left out). A progress bar counts the tasks when the session shows progress.
    ///
    /// # Errors
    /// The first failure, as [`Error::Task`] naming the task and partition, with the cause
    /// inside ([`Error::root`] gives it); the rest of the graph is cancelled.
    pub fn collect(&self) -> Result<Vec<RecordBatch>> {
        self.collect_with_stats().map(|(batches, _)| batches)
    }

    /// As [`DataFrame::collect`], with what the run cost: tasks, bytes and files spilled,
    /// the memory pool's peak, the most task outputs held at once.
    ///
    /// # Errors
    /// As [`DataFrame::collect`].
    pub fn collect_with_stats(&self) -> Result<(Vec<RecordBatch>, ExecStats)> {
        self.run(self.task_graph()?, "collect")
    }

    /// Writes the result to `folder` as Parquet files (Snappy), one per output partition
    /// (`part-00000.parquet`, ...), each written by the task that produces it, so the
    /// result is never gathered in memory. Returns the rows written.
    ///
    /// All or nothing: the files are written into a hidden folder beside `folder` and
    /// given to it in one rename once the whole run has succeeded; a run that fails
    /// leaves `folder` as it was. `folder` must be missing or empty: see
    /// [`DataFrame::write`] with [`WriteOptions::mode`] to replace or add to what it holds,
    /// and [`WriteOptions::resumable`] for a write that a killed process can finish later.
    ///
    /// # Errors
    /// As [`DataFrame::collect`]; [`Error::Io`] naming the folder when it holds files, or
    /// the folder or file that cannot be written.
    pub fn write_parquet(&self, folder: impl AsRef<std::path::Path>) -> Result<usize> {
        self.write(folder, WriteOptions::parquet(ParquetWriteOptions::new()))
    }

    /// As [`DataFrame::write_parquet`], with what the run cost.
    ///
    /// # Errors
    /// As [`DataFrame::write_parquet`].
    pub fn write_parquet_with_stats(
        &self,
        folder: impl AsRef<std::path::Path>,
    ) -> Result<(usize, ExecStats)> {
        self.write_with_stats(folder, WriteOptions::parquet(ParquetWriteOptions::new()))
    }

    /// Writes the result to `folder` as CSV files (`part-00000.csv`, ...; `,`, a header,
    /// nulls as empty fields), as [`DataFrame::write_parquet`] does. Returns the rows
    /// written.
    ///
    /// # Errors
    /// As [`DataFrame::write_parquet`].
    pub fn write_csv(&self, folder: impl AsRef<std::path::Path>) -> Result<usize> {
        self.write(folder, WriteOptions::csv(CsvWriteOptions::new()))
    }

    /// Writes the result to `folder` as Arrow IPC files (`part-00000.arrow`, ...,
    /// uncompressed), as [`DataFrame::write_parquet`] does. Returns the rows written.
    ///
    /// # Errors
    /// As [`DataFrame::write_parquet`].
    pub fn write_ipc(&self, folder: impl AsRef<std::path::Path>) -> Result<usize> {
        self.write(folder, WriteOptions::ipc(IpcWriteOptions::new()))
    }

    /// Writes the result to `folder` in the format and layout `options` give: Parquet, CSV
    /// or IPC with their options, one file per output partition or, with
    /// [`WriteOptions::partition_by`], hive folders `col=value/part-NNNNN.ext` holding
    /// every column but those. Returns the rows written.
    ///
    /// ```
    /// use spillway::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let out = dir.path().join("out");
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let frame = session.from_vec("n", (0..10_i64).collect(), 2)?.into_frame();
    /// let frame = frame.with_column(col("n").gt(lit(6)).alias("big"))?;
    /// let options = WriteOptions::csv(CsvWriteOptions::new().delimiter(b';'))
    ///     .partition_by(["big"]);
    /// assert_eq!(frame.write(&out, options)?, 10);
    /// assert!(out.join("big=true").join("part-00001.csv").exists());
    /// assert!(out.join("big=false").join("part-00000.csv").exists());
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`DataFrame::write_parquet`]; [`Error::ColumnNotFound`] for a `partition_by`
    /// column the result does not have; [`Error::Plan`] when it would leave no column in
    /// the files, or for a resumable write over a source that cannot tell whether its data
    /// changed; [`Error::Resume`] when `folder` holds an unfinished resumable write of
    /// another plan or of inputs that changed since.
    pub fn write(
        &self,
        folder: impl AsRef<std::path::Path>,
        options: WriteOptions,
    ) -> Result<usize> {
        self.write_with_stats(folder, options).map(|(rows, _)| rows)
    }

    /// As [`DataFrame::write`], with what the run cost.
    ///
    /// # Errors
    /// As [`DataFrame::write`].
    pub fn write_with_stats(
        &self,
        folder: impl AsRef<std::path::Path>,
        options: WriteOptions,
    ) -> Result<(usize, ExecStats)> {
        let schema = self.schema();
        for name in &options.partition_by {
            if schema.column_with_name(name).is_none() {
                return Err(Error::ColumnNotFound {
                    name: name.clone(),
                    available: schema.fields().iter().map(|f| f.name().clone()).collect(),
                });
            }
        }
        let optimized = optimize(&self.plan)?;
        let engine = self.session.engine_config();
        // The graph's shape is part of a resumable write's key: other settings may cut
        // the output into other partitions.
        let resume = if options.resumable {
            let shape = lower_to_sink(&optimized, engine, Arc::new(Probe))?.to_string();
            Some(format!(
                "{}\n{shape}\n{:?}\n{:?}\n{:?}",
                optimized.fingerprint()?,
                options.format,
                options.partition_by,
                options.mode
            ))
        } else {
            None
        };
        let sink = Arc::new(
            FileSink::try_new(
                folder.as_ref(),
                options.format,
                options.mode,
                resume.as_deref(),
            )?
            .partition_by(options.partition_by),
        );
        let mut graph = lower_to_sink(&optimized, engine, Arc::clone(&sink) as _)?;
        // A resumed write runs only what its earlier attempts did not finish.
        let finished = sink.finished();
        if !finished.is_empty() {
            let done: std::collections::HashSet<usize> = finished.iter().map(|&(p, _)| p).collect();
            graph = graph.without_outputs(|p| done.contains(&p));
        }
        // Every task has ended when the run returns, so on failure the files completed so far
        // are all in the sink's list, and removed.
        let (batches, stats) = match self.run(graph, "write") {
            Ok(done) => done,
            Err(e) => {
                sink.abort();
                return Err(e);
            }
        };
        sink.commit()?;
        let rows = batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<UInt64Type>().values().to_vec())
            .chain(finished.iter().map(|&(_, rows)| rows))
            .sum::<u64>();
        Ok((rows as usize, stats))
    }

    fn run(&self, graph: TaskGraph, what: &'static str) -> Result<(Vec<RecordBatch>, ExecStats)> {
        let graph = Arc::new(graph);
        let config = self.session.config();
        let bar = Bar::start(
            &self.session,
            config.progress,
            what,
            Some(graph.tasks.len()),
        );
        let env = RunEnv {
            memory: Arc::clone(self.session.memory()),
            progress: bar.callback(),
            cancel: self.session.run_flag(),
        };
        let engine = self.session.engine_config();
        let out = execute_with_stats(graph, self.session.pool(), engine, env);
        bar.finish();
        out
    }

    /// Runs the plan and returns the result as one batch.
    ///
    /// # Errors
    /// As [`DataFrame::collect`].
    pub fn collect_batch(&self) -> Result<RecordBatch> {
        // Compacted first: the concatenation lists every batch's string-view buffers.
        let batches: Vec<RecordBatch> = self
            .collect()?
            .into_iter()
            .map(spillway_planner::batch::compact)
            .collect();
        arrow::compute::concat_batches(&self.schema(), &batches)
            .map_err(|e| Error::compute("collect", e))
    }

    /// The number of rows.
    ///
    /// # Errors
    /// As [`DataFrame::collect`].
    pub fn count_rows(&self) -> Result<usize> {
        let n: u64 = self
            .agg([spillway_planner::expr::lit(1_i64).count().alias("n")])?
            .collect_batch()
            .and_then(|b| {
                spillway_planner::scalar::ScalarValue::try_from_array(Arc::clone(b.column(0)))
            })?
            .to_value()?;
        usize::try_from(n).map_err(|_| Error::Internal("row count overflow".into()))
    }
}

/// A [`DataFrame`] grouped by keys, waiting for its aggregates.
#[derive(Clone, Debug)]
pub struct GroupBy {
    frame: DataFrame,
    keys: Vec<Expr>,
}

impl GroupBy {
    /// One row per group: the keys, then the aggregates.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] or [`Error::Type`] naming the key or aggregate;
    /// [`Error::Plan`] for duplicate output names.
    pub fn agg(&self, aggs: impl IntoIterator<Item = AggExpr>) -> Result<DataFrame> {
        let plan = LogicalPlan::group_by(
            Arc::clone(&self.frame.plan),
            self.keys.clone(),
            aggs.into_iter().collect(),
        )?;
        Ok(self.frame.then(plan))
    }
}

/// A sink that is never written to: lowering a write to learn the graph's shape.
#[derive(Debug)]
struct Probe;

impl spillway_planner::sink::DataSink for Probe {
    fn name(&self) -> String {
        "probe".into()
    }

    fn open(
        &self,
        _: usize,
        _: &arrow::datatypes::SchemaRef,
    ) -> Result<Box<dyn spillway_planner::sink::PartitionWriter>> {
        Err(Error::Internal("a probe sink was opened".into()))
    }
}

/// `1.5 MiB`.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
