//! [`Session`]: the configuration and the thread pool every computation of a program runs on.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema, SchemaRef};
use spillway_io::{MemorySource, ParquetSource};
use spillway_planner::config::SessionConfig;
use spillway_planner::logical::LogicalPlan;
use spillway_planner::source::DataSource;
use spillway_planner::udf::Element;
use spillway_planner::{Error, Result};

use crate::frame::DataFrame;
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
    pool: rayon::ThreadPool,
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

    /// Decoded bytes a source partition aims at, where the source can choose.
    pub fn target_partition_bytes(mut self, bytes: usize) -> Self {
        self.config.target_partition_bytes = bytes;
        self
    }

    /// How many partial results one combine task merges.
    pub fn fan_in(mut self, fan_in: usize) -> Self {
        self.config.fan_in = fan_in;
        self
    }

    /// Checks the configuration and starts the pool.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting that is out of range, or the pool that could
    /// not be started.
    pub fn build(self) -> Result<Session> {
        self.config.validate()?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.config.threads)
            .thread_name(|i| format!("spillway-{i}"))
            .build()
            .map_err(|e| {
                Error::Config(format!("cannot start {} threads: {e}", self.config.threads))
            })?;
        Ok(Session {
            inner: Arc::new(Inner {
                config: self.config,
                pool,
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

    pub(crate) fn pool(&self) -> &rayon::ThreadPool {
        &self.inner.pool
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
        Ok(self.read_source(Arc::new(ParquetSource::try_new(pattern)?)))
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
}
