//! [`Session`]: the configuration and the thread pool every computation of a program runs on.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema, SchemaRef};
use spillway_engine::config::EngineConfig;
use spillway_engine::memory::MemoryPool;
use spillway_io::dataset::{DatasetFormat, DatasetOptions, open_dataset};
use spillway_io::{CsvOptions, MemorySource};
use spillway_planner::config::{Progress, SessionConfig};
use spillway_planner::error::panic_message;
use spillway_planner::logical::LogicalPlan;
use spillway_planner::source::DataSource;
use spillway_planner::udf::{Element, short_type_name};
use spillway_planner::{Error, Result};

use crate::frame::DataFrame;
use crate::parallel::{self, Delayed, ParallelMap, TaskFuture, UserError, report_unobserved};
use crate::series::Series;

/// The entry point: owns the configuration and a rayon pool of `threads` workers.
///
/// Cheap to clone; clones share the pool. Every [`DataFrame`] keeps its session, so a
/// computation always runs on the pool of the session that created it.
///
/// ```
/// use spillway::prelude::*;
///
/// let session = Session::builder().threads(2).build()?;
/// let sizes = session.from_vec("n", vec![1_i64, 2, 3, 4], 2)?;
/// let total: i64 = sizes.sum().compute()?;
/// assert_eq!(total, 10);
/// # Ok::<(), spillway::Error>(())
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    config: SessionConfig,
    /// The engine's settings, derived once from `config`.
    engine: EngineConfig,
    pool: rayon::ThreadPool,
    /// Failed tasks whose error nobody retrieved, and panicked callbacks.
    unobserved: Arc<AtomicUsize>,
    /// Numbers submitted tasks, for their names.
    tasks: AtomicUsize,
    /// The one memory budget of every computation of the session.
    memory: Arc<MemoryPool>,
    /// The cancel flags of the runs in progress (a run's flag is dropped when it ends),
    /// raised by [`Session::cancel`].
    runs: Mutex<Vec<Weak<AtomicBool>>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Session`]; every setting starts at [`SessionConfig::default`].
#[derive(Clone, Debug, Default)]
pub struct SessionBuilder {
    config: SessionConfig,
}

impl SessionBuilder {
    /// Starts from a whole configuration, e.g. [`SessionConfig::from_env`].
    pub fn config(mut self, config: SessionConfig) -> Self {
        self.config = config;
        self
    }

    /// Worker threads in the session's pool.
    pub fn threads(mut self, threads: usize) -> Self {
        self.config.threads = threads;
        self
    }

    /// Run every task on the calling thread, one at a time (for debugging).
    pub fn synchronous(mut self, synchronous: bool) -> Self {
        self.config.synchronous = synchronous;
        self
    }

    /// Bytes the engine may hold at once.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.config.memory_limit = bytes;
        self
    }

    /// Folder under which spill files are written.
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.spill_dir = dir.into();
        self
    }

    /// Largest number of rows in one batch read from a source.
    pub fn batch_rows(mut self, rows: usize) -> Self {
        self.config.batch_rows = rows;
        self
    }

    /// Decoded bytes a batch read from a source stays near, where the source knows its
    /// rows' width before reading (Parquet): wide rows make batches of fewer than
    /// `batch_rows` rows (default 8 MiB).
    pub fn batch_bytes(mut self, bytes: usize) -> Self {
        self.config.batch_bytes = bytes;
        self
    }

    /// Decoded bytes a source partition aims at, where the source can choose.
    pub fn target_partition_bytes(mut self, bytes: usize) -> Self {
        self.config.target_partition_bytes = bytes;
        self
    }

    /// The largest estimated right side a join broadcasts instead of shuffling both
    /// sides (default 64 MiB, and never more than an eighth of the memory limit; 0 turns
    /// broadcast joins off).
    pub fn broadcast_limit(mut self, bytes: usize) -> Self {
        self.config.broadcast_limit = bytes;
        self
    }

    /// How many partial results one combine task merges.
    pub fn fan_in(mut self, fan_in: usize) -> Self {
        self.config.fan_in = fan_in;
        self
    }

    /// When to draw progress bars (default [`Progress::Auto`]: when standard error is a
    /// terminal).
    pub fn progress(mut self, progress: Progress) -> Self {
        self.config.progress = progress;
        self
    }

    /// How long a computation runs before its progress is drawn (default one second):
    /// shorter work leaves nothing on screen. Zero draws at once.
    pub fn progress_delay(mut self, delay: std::time::Duration) -> Self {
        self.config.progress_delay = delay;
        self
    }

    /// Checks the configuration and the spill folder, removes the spill folders that
    /// processes killed before they could clean up left there, and starts the pool.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting that is out of range (`threads` at most
    /// [`max_threads`](spillway_planner::config::max_threads)), or the pool that could not
    /// be started; [`Error::Io`] naming a spill folder that is missing, not a folder, or
    /// not writable.
    pub fn build(self) -> Result<Session> {
        self.config.validate()?;
        spillway_engine::spill::SpillDir::check(&self.config.spill_dir)?;
        // Spill folders of killed processes (SIGKILL, the OOM killer) are removed here.
        spillway_engine::spill::SpillDir::remove_orphans(&self.config.spill_dir);
        let unobserved = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&unobserved);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.config.threads)
            .thread_name(|i| format!("spillway-{i}"))
            // Every job catches its user code's panics; one that still escapes (a `Drop`
            // no job could see) is reported, where rayon would abort the process.
            .panic_handler(move |payload| {
                report_unobserved(
                    &counter,
                    format_args!(
                        "a job on the session's pool panicked: {}",
                        panic_message(&*payload)
                    ),
                );
            })
            .build()
            .map_err(|e| {
                Error::Config(format!("cannot start {} threads: {e}", self.config.threads))
            })?;
        let engine = EngineConfig::from_session(&self.config);
        Ok(Session {
            inner: Arc::new(Inner {
                memory: MemoryPool::with_policy(engine.memory_limit, engine.policy.clone()),
                engine,
                config: self.config,
                pool,
                unobserved,
                tasks: AtomicUsize::new(0),
                runs: Mutex::default(),
            }),
        })
    }
}

impl Session {
    /// A builder starting from the default configuration.
    pub fn builder() -> SessionBuilder {
        SessionBuilder::default()
    }

    /// A session with the default configuration.
    ///
    /// # Errors
    /// When the pool cannot be started.
    pub fn new() -> Result<Session> {
        Session::builder().build()
    }

    /// A session configured from `SPILLWAY_*` environment variables (see
    /// [`SessionConfig::from_env`]).
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable that cannot be parsed.
    pub fn from_env() -> Result<Session> {
        Session::builder()
            .config(SessionConfig::from_env()?)
            .build()
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    /// The engine's settings, derived from [`Session::config`] when the session was built.
    pub(crate) fn engine_config(&self) -> &EngineConfig {
        &self.inner.engine
    }

    pub(crate) fn pool(&self) -> &rayon::ThreadPool {
        &self.inner.pool
    }

    /// The session's memory budget: every computation reserves from it.
    pub fn memory(&self) -> &Arc<MemoryPool> {
        &self.inner.memory
    }

    /// A lazy frame over any [`DataSource`].
    pub fn read_source(&self, source: Arc<dyn DataSource>) -> DataFrame {
        DataFrame::new(self.clone(), LogicalPlan::scan(source))
    }

    /// A lazy frame over Parquet files: a file, a folder (its `*.parquet` files) or a glob.
    /// Only the footers are read now; a partition is one or more row groups.
    ///
    /// # Errors
    /// [`Error::NoFiles`] when nothing matches; [`Error::Format`] naming a file whose footer
    /// cannot be read; [`Error::SchemaDiffers`] when the files' schemas differ.
    pub fn read_parquet(&self, pattern: impl AsRef<str>) -> Result<DataFrame> {
        self.read_dataset(pattern, DatasetFormat::Parquet, DatasetOptions::new())
    }

    /// A lazy frame over Arrow IPC files (the file format): a file, a folder (its
    /// `*.arrow`, `*.ipc` and `*.feather` files) or a glob. Only the footers are read now;
    /// a partition is one or more record batches of one file.
    ///
    /// ```
    /// use spillway::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let out = dir.path().join("out");
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// session.from_vec("n", (1..=10_i64).collect(), 3)?.into_frame().write_ipc(&out)?;
    /// let back = session.read_ipc(out.to_str().unwrap())?;
    /// let total: i64 = back.column("n")?.sum().compute()?;
    /// assert_eq!(total, 55);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NoFiles`] when nothing matches; [`Error::Format`] naming a file that is not
    /// Arrow IPC or is truncated; [`Error::SchemaDiffers`] when the files' schemas differ.
    pub fn read_ipc(&self, pattern: impl AsRef<str>) -> Result<DataFrame> {
        self.read_dataset(pattern, DatasetFormat::Ipc, DatasetOptions::new())
    }

    /// A lazy frame over CSV files with the default [`CsvOptions`] (a header, `,`, `"`,
    /// empty fields as null): a file, a folder (its `*.csv` and `*.tsv` files) or a glob.
    /// The schema is inferred now from the first data rows of the files, in order (an empty
    /// or header-only file does not decide the types; with no data row anywhere every
    /// column is a string); partitions are byte ranges of the files cut at record
    /// boundaries, read in parallel.
    ///
    /// ```no_run
    /// use spillway::prelude::*;
    ///
    /// let session = Session::new()?;
    /// let trips = session.read_csv("data/trips-*.csv")?;
    /// println!("{}", trips.count_rows()?);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Session::read_csv_with`].
    pub fn read_csv(&self, pattern: impl AsRef<str>) -> Result<DataFrame> {
        self.read_csv_with(pattern, CsvOptions::default())
    }

    /// A lazy frame over CSV files read with `options`: the dialect, header, null markers,
    /// type overrides, and whether bad rows are skipped. A bad row (wrong number of fields,
    /// a value that does not parse as its column's type, a quote open at the end of the
    /// file) fails the query with [`Error::Malformed`] naming the file and line, unless the
    /// options skip bad rows: they are then listed in [`CsvOptions::bad_rows`], a handle to
    /// read once the query has run.
    ///
    /// ```
    /// use spillway::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("prices.csv");
    /// # std::fs::write(&path, "item;price\napple;1.5\npear;n/a\nplum;2\n").unwrap();
    /// # let path = path.to_str().unwrap();
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let options = CsvOptions::new().delimiter(b';').skip_bad_rows(true);
    /// let rejected = options.bad_rows();
    /// let prices = session
    ///     .read_csv_with(path, options.dtype("price", DataType::Float64))?;
    /// let total: f64 = prices.column("price")?.sum().compute()?;
    /// assert_eq!(total, 3.5);
    /// assert_eq!(rejected.lines(path), vec![3]); // "pear;n/a"
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// Now: [`Error::NoFiles`] when nothing matches; [`Error::Io`] for a file that cannot be
    /// opened; [`Error::Format`] when every file is empty or for a sample that cannot be
    /// parsed; [`Error::Malformed`] for a header, or a sampled row (unless bad rows are
    /// skipped), that is not UTF-8;
    /// [`Error::SchemaDiffers`] when the files' headers differ; [`Error::Config`] for
    /// contradictory options. When the query runs: [`Error::Malformed`].
    pub fn read_csv_with(
        &self,
        pattern: impl AsRef<str>,
        options: CsvOptions,
    ) -> Result<DataFrame> {
        self.read_dataset(pattern, DatasetFormat::Csv(options), DatasetOptions::new())
    }

    /// A lazy frame over a dataset of `format` files with `options`: a file, a folder or a
    /// glob, whose `key=value` folders (hive partitioning) become columns after the files'
    /// own, typed as [`DatasetOptions::hive_type`] gives or inferred (`Int64` when every
    /// value parses as one, else strings). A filter on those columns drops the files that
    /// cannot match before any is opened. Files whose schemas differ are an error, unless
    /// [`DatasetOptions::unify_schemas`] merges them by column name. `read_parquet`,
    /// `read_ipc` and `read_csv(_with)` are this with the default options.
    ///
    /// ```
    /// use spillway::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let out = dir.path().join("sales");
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let frame = session.from_vec("n", (0..10_i64).collect(), 2)?.into_frame();
    /// let frame = frame.with_column(col("n").gt(lit(6)).alias("big"))?;
    /// frame.write(&out, WriteOptions::parquet(ParquetWriteOptions::new()).partition_by(["big"]))?;
    ///
    /// let options = DatasetOptions::new().hive_type("big", DataType::Boolean);
    /// let back = session.read_dataset(out.to_str().unwrap(), DatasetFormat::Parquet, options)?;
    /// let big = back.filter(col("big").eq(lit(true)))?;   // reads big=true/ only
    /// assert_eq!(big.count_rows()?, 3);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// As the format's own reader; [`Error::SchemaDiffers`] naming both files and the
    /// difference; [`Error::Format`] naming a file whose hive keys differ from the first
    /// file's; [`Error::Type`] for a folder value that does not convert to its type.
    pub fn read_dataset(
        &self,
        pattern: impl AsRef<str>,
        format: DatasetFormat,
        options: DatasetOptions,
    ) -> Result<DataFrame> {
        Ok(self.read_source(open_dataset(pattern.as_ref(), format, options)?))
    }

    /// A lazy frame over in-memory batches, cut into `npartitions` partitions of
    /// (nearly) equal row counts, as `dask.dataframe.from_pandas` does.
    ///
    /// # Errors
    /// [`Error::Plan`] when `npartitions` is 0 or a batch's schema is not `schema`.
    pub fn from_batches(
        &self,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        npartitions: usize,
    ) -> Result<DataFrame> {
        let source = MemorySource::try_new(schema, batches, npartitions)?;
        Ok(self.read_source(Arc::new(source)))
    }

    /// A lazy frame over a Polars `DataFrame` (cargo feature `polars`), cut into
    /// `npartitions` partitions of (nearly) equal row counts: Dask's
    /// `from_pandas(df, npartitions)`. The columns' buffers are shared with Polars through
    /// the Arrow C data interface, not copied.
    ///
    /// # Errors
    /// [`Error::Plan`] when `npartitions` is 0, the frame has no columns, or a column's
    /// type cannot cross the interface.
    #[cfg(feature = "polars")]
    pub fn from_polars(
        &self,
        frame: &polars_core::prelude::DataFrame,
        npartitions: usize,
    ) -> Result<DataFrame> {
        let (schema, batches) = crate::polars::batches_from_polars(frame)?;
        self.from_batches(schema, batches, npartitions)
    }

    /// A lazy one-column frame over an Arrow array, cut into `npartitions` partitions.
    ///
    /// # Errors
    /// [`Error::Plan`] when `npartitions` is 0.
    pub fn from_array(&self, name: &str, values: ArrayRef, npartitions: usize) -> Result<Series> {
        let schema = Arc::new(Schema::new(vec![Field::new(
            name,
            values.data_type().clone(),
            values.null_count() > 0,
        )]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![values])
            .map_err(|e| Error::compute("from_array", e))?;
        self.from_batches(schema, vec![batch], npartitions)?
            .column(name)
    }

    /// A lazy series over Rust values, cut into `npartitions` partitions: the
    /// `from_pandas(series, npartitions)` of Dask.
    ///
    /// # Errors
    /// [`Error::Plan`] when `npartitions` is 0.
    pub fn from_vec<T: Element>(
        &self,
        name: &str,
        values: Vec<T>,
        npartitions: usize,
    ) -> Result<Series> {
        self.from_array(name, T::build(values.into_iter().map(Some)), npartitions)
    }

    // ---- plain parallelism ----

    /// A parallel map of `f` over `items`: joblib's `Parallel(n_jobs)(delayed(f)(x) for x in
    /// items)` on this session's pool. `items` may be any iterator, unbounded too: it is
    /// consumed as results are, with bounded look-ahead. Configure the returned
    /// [`ParallelMap`] (`n_jobs`, `ordered`, `lookahead`, `fail_fast`, `progress`) and run it
    /// with `collect` or `results`. A panic in `f` is caught and reported with the item's
    /// index.
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let lengths = session.parallel_map(["a", "bb", "ccc"], str::len).collect()?;
    /// assert_eq!(lengths, vec![1, 2, 3]);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    pub fn parallel_map<I, F, R>(&self, items: I, f: F) -> ParallelMap<'static, I::IntoIter, R>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        let name = short_type_name::<F>();
        ParallelMap::new(
            self.clone(),
            items.into_iter(),
            Arc::new(move |x| Ok(f(x))),
            name,
        )
    }

    /// A parallel map of a closure that can fail: its `Err` is the item's error
    /// ([`Error::Item`] around [`Error::UserFunction`], which keeps the closure's error as
    /// its `source`), stopping the map unless `fail_fast(false)`. The error may be any
    /// `std::error::Error + Send + Sync`, or a `&str` or `String`. Otherwise as
    /// [`Session::parallel_map`].
    ///
    /// ```
    /// use spillway::prelude::*;
    /// use std::num::ParseIntError;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let parsed = session.try_parallel_map(["1", "2", "x"], |s| s.parse::<i64>()).collect();
    /// let err = parsed.unwrap_err();
    /// assert!(matches!(err, Error::Item { index: 2, .. }), "{err}");
    /// // The closure's own error, typed:
    /// let cause = std::error::Error::source(err.root()).unwrap();
    /// assert!(cause.downcast_ref::<ParseIntError>().is_some());
    /// # Ok::<(), spillway::Error>(())
    /// ```
    pub fn try_parallel_map<I, F, U, E>(
        &self,
        items: I,
        f: F,
    ) -> ParallelMap<'static, I::IntoIter, U>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> std::result::Result<U, E> + Send + Sync + 'static,
        U: Send + 'static,
        E: Into<UserError>,
    {
        let name = short_type_name::<F>();
        let f = move |x| f(x).map_err(Into::into);
        ParallelMap::new(self.clone(), items.into_iter(), Arc::new(f), name)
    }

    /// A parallel map whose items and closure may borrow (`&paths`, a closure reading a
    /// local table): as [`Session::parallel_map`], with every run ([`ParallelMap::collect`],
    /// [`ParallelMap::with_results`]) inside a scope on the session's pool, so that no item
    /// outlives what it borrows. The same `n_jobs`, look-ahead, order, fail-fast and
    /// per-item errors with their index; only the lazy [`ParallelMap::results`], which
    /// could outlive the borrow, is for `'static` maps.
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let names = vec!["ada".to_string(), "grace".into(), "alan".into()];
    /// let prefix = String::from("dr. ");
    /// let titled = session
    ///     .parallel_map_scoped(&names, |n| format!("{prefix}{n}"))
    ///     .collect()?;
    /// assert_eq!(titled[1], "dr. grace");
    /// # Ok::<(), spillway::Error>(())
    /// ```
    pub fn parallel_map_scoped<'env, I, F, R>(
        &self,
        items: I,
        f: F,
    ) -> ParallelMap<'env, I::IntoIter, R>
    where
        I: IntoIterator,
        I::Item: Send + 'env,
        F: Fn(I::Item) -> R + Send + Sync + 'env,
        R: Send + 'env,
    {
        let name = short_type_name::<F>();
        ParallelMap::scoped(
            self.clone(),
            items.into_iter(),
            Arc::new(move |x| Ok(f(x))),
            name,
        )
    }

    /// [`Session::try_parallel_map`] whose items and closure may borrow, as
    /// [`Session::parallel_map_scoped`].
    pub fn try_parallel_map_scoped<'env, I, F, U, E>(
        &self,
        items: I,
        f: F,
    ) -> ParallelMap<'env, I::IntoIter, U>
    where
        I: IntoIterator,
        I::Item: Send + 'env,
        F: Fn(I::Item) -> std::result::Result<U, E> + Send + Sync + 'env,
        U: Send + 'env,
        E: Into<UserError>,
    {
        let name = short_type_name::<F>();
        let f = move |x| f(x).map_err(Into::into);
        ParallelMap::scoped(self.clone(), items.into_iter(), Arc::new(f), name)
    }

    /// A lazy call of `f`, the leaf of a delayed graph: the same as [`Delayed::new`], here
    /// to read like joblib's and Dask's `delayed(f)`. Compose it with `map`, `zip` and
    /// `Delayed::all`, and run it with `compute(&session)`.
    pub fn delayed<T, F>(&self, f: F) -> Delayed<T>
    where
        T: Send + Sync + 'static,
        F: Fn() -> T + Send + Sync + 'static,
    {
        Delayed::new(f)
    }

    /// Runs `f` on the session's pool and returns its handle at once (`apply_async`,
    /// Ray's `f.remote()`). Wait with [`TaskFuture::get`]; attach callbacks with
    /// [`TaskFuture::on_success`] and [`TaskFuture::on_error`]. A panic in `f` becomes
    /// [`Error::UserPanic`] naming the task; if nobody retrieves it, it is reported (see
    /// [`Session::unobserved_errors`]).
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let futures: Vec<TaskFuture<u64>> =
    ///     (1..=3_u64).map(|n| session.submit(move || n * 10)).collect();
    /// let values = futures.into_iter().map(TaskFuture::get).collect::<Result<Vec<_>>>()?;
    /// assert_eq!(values, vec![10, 20, 30]);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    pub fn submit<R, F>(&self, f: F) -> TaskFuture<R>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let name = self.task_name::<F>();
        parallel::submit(self, name, move || Ok(f()))
    }

    /// As [`Session::submit`], for a closure that can fail: its `Err` is the future's
    /// error, as [`Error::UserFunction`] naming the task and keeping the closure's error
    /// as its `source`.
    pub fn try_submit<R, E, F>(&self, f: F) -> TaskFuture<R>
    where
        R: Send + 'static,
        E: Into<UserError>,
        F: FnOnce() -> std::result::Result<R, E> + Send + 'static,
    {
        let name = self.task_name::<F>();
        parallel::submit(self, name, move || f().map_err(Into::into))
    }

    /// Cancels every computation of this session in progress, from any thread: each
    /// `collect`, `compute`, `write`, `explain_analyze` and delayed `compute` running now
    /// returns [`Error::Cancelled`] (its [`Error::root`]) as soon as its running tasks
    /// reach their next batch, having started nothing new, with every task ended and its
    /// spill files and partly written output removed. Computations started afterwards run
    /// normally; one that finished meanwhile keeps its result.
    ///
    /// A user closure's call is never interrupted: a task stops after the call it is in
    /// (an `apply` over one batch, a `map_partitions` over one partition, a delayed node),
    /// so a single call that runs for minutes holds the cancel back that long. A parallel
    /// map ([`Session::parallel_map`]) and a submitted task ([`Session::submit`]) are not
    /// cancelled; the computations they run inside are.
    ///
    /// ```
    /// use spillway::prelude::*;
    /// use std::time::Duration;
    ///
    /// let session = Session::builder().threads(2).batch_rows(100).build()?;
    /// let (started, first_call) = std::sync::mpsc::channel();
    /// // 1000 batches of 100 rows, 10 ms each: five seconds on two threads.
    /// let slow = session.from_vec("x", (0..100_000_i64).collect(), 2)?.apply(move |x: i64| {
    ///     let _ = started.send(());
    ///     if x % 100 == 0 {
    ///         std::thread::sleep(Duration::from_millis(10));
    ///     }
    ///     x
    /// })?;
    /// let canceller = session.clone();
    /// let watcher = std::thread::spawn(move || {
    ///     first_call.recv().unwrap();
    ///     canceller.cancel();
    /// });
    /// let err = slow.sum().compute::<i64>().unwrap_err();
    /// watcher.join().unwrap();
    /// assert!(matches!(err.root(), Error::Cancelled), "{err}");
    /// // The session is as good as new.
    /// assert_eq!(session.from_vec("n", vec![1_i64, 2], 1)?.sum().compute::<i64>()?, 3);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    pub fn cancel(&self) {
        for run in self.runs().drain(..) {
            if let Some(flag) = run.upgrade() {
                flag.store(true, Ordering::Relaxed);
            }
        }
    }

    /// A new computation's cancel flag, raised by [`Session::cancel`] while the
    /// computation holds it.
    pub(crate) fn run_flag(&self) -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(false));
        let mut runs = self.runs();
        runs.retain(|r| r.strong_count() > 0);
        runs.push(Arc::downgrade(&flag));
        flag
    }

    fn runs(&self) -> std::sync::MutexGuard<'_, Vec<Weak<AtomicBool>>> {
        // Nothing that can panic runs under this lock.
        self.inner
            .runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// How many errors nobody observed: submitted tasks that failed while no
    /// [`TaskFuture::get`] and no [`TaskFuture::on_error`] received the error before the
    /// future was dropped, callbacks that panicked, and panics in a `Drop` run on a worker
    /// (a result whose handle was gone, an item a stopped map skipped) or otherwise
    /// escaping a job of the session's pool. Each is also reported on standard error when
    /// it happens, naming the task.
    pub fn unobserved_errors(&self) -> usize {
        self.inner.unobserved.load(Ordering::Relaxed)
    }

    pub(crate) fn unobserved_counter(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.inner.unobserved)
    }

    /// `closure[7]`: the closure's type name and the task's number in this session.
    fn task_name<F>(&self) -> String {
        let n = self.inner.tasks.fetch_add(1, Ordering::Relaxed);
        format!("{}[{n}]", short_type_name::<F>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_escaping_a_pool_job_is_counted_not_an_abort() {
        let session = Session::builder().threads(1).build().unwrap();
        session.pool().spawn(|| panic!("escaped"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while session.unobserved_errors() == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(session.unobserved_errors(), 1);
        // The worker survived.
        assert_eq!(session.pool().install(|| 5), 5);
    }
}
