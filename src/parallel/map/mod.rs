//! [`ParallelMap`]: joblib's `Parallel(n_jobs)(delayed(f)(x) for x in items)` over any
//! iterator, including an unbounded one.
//!
//! How one run pulls, chunks, reorders and stops is the driver's business: see
//! [`driver`].
//!
//! # Where chunks run
//!
//! A map built by [`Session::parallel_map`] owns its items and closure (`'static`): its
//! chunks are spawned on the pool directly, and [`ParallelMap::results`] hands out a lazy
//! iterator that may live anywhere. A map built by [`Session::parallel_map_scoped`] may
//! borrow (`'env`): each run ([`ParallelMap::collect`], [`ParallelMap::with_results`])
//! opens a rayon scope on the session's pool and spawns its chunks in it, so no chunk
//! outlives what it borrows. Both go through the same driver with a different spawn
//! function, and wait through `spillway_engine::jobs`: inside pool work the driver runs
//! its own chunks rather than block the workers. A scope, as it closes,
//! may still run unrelated pool work for the instant its last chunk takes to return, as
//! rayon's scopes do; a `'static` map never does.
//!
//! # Failures
//!
//! Each item runs under `catch_unwind`; its error or panic becomes [`Error::Item`] with the
//! item's index. With `fail_fast` (the default), the first failure lowers `stop_at` to just
//! past the failed item: no new item is pulled, items after it are skipped, and items
//! before it still run. So the error [`ParallelMap::collect`] returns is the failing item
//! with the lowest index, the same on every run, and every item before it has succeeded.
//! Without `fail_fast` every item runs and every result is reported. When the results are
//! dropped early (`take(k)`), the remaining items are skipped and the running chunks
//! waited for, so no closure of the map is still running once it is gone. Items skipped
//! that way are dropped on the worker; a panic in their `Drop` is reported on standard
//! error and counted in [`Session::unobserved_errors`], never unwound.
//!
//! [`Session::parallel_map`]: crate::Session::parallel_map
//! [`Session::parallel_map_scoped`]: crate::Session::parallel_map_scoped
//! [`Session::unobserved_errors`]: crate::Session::unobserved_errors

mod driver;

use std::fmt;
use std::sync::Arc;

use spillway_engine::jobs::Job;
use spillway_planner::config::Progress;
use spillway_planner::{Error, Result};

use super::UserError;
use super::progress::Bar;
use crate::session::Session;
use driver::{Driver, Settings};

/// A user closure over one item.
type ItemFn<'env, T, U> = dyn Fn(T) -> std::result::Result<U, UserError> + Send + Sync + 'env;

/// How a driver hands a chunk's job to the pool: the pool's own spawn, or a scope's.
type SpawnFn<'env> = Arc<dyn Fn(Job<'env>) + Send + Sync + 'env>;

/// Resolves joblib's `n_jobs` against a pool of `threads` workers: a positive count is that
/// many workers (at most `threads`: the map never asks for more workers than the pool has),
/// `-1` is all of them, `-2` all but one, and in general `-k` is `threads + 1 - k`, at
/// least 1 (as joblib does when `k` exceeds the cores).
///
/// ```
/// use spillway::resolve_n_jobs;
///
/// assert_eq!(resolve_n_jobs(-1, 8)?, 8);
/// assert_eq!(resolve_n_jobs(-2, 8)?, 7);
/// assert_eq!(resolve_n_jobs(3, 8)?, 3);
/// assert_eq!(resolve_n_jobs(64, 8)?, 8);
/// assert_eq!(resolve_n_jobs(-20, 8)?, 1);
/// assert!(resolve_n_jobs(0, 8).is_err());
/// # Ok::<(), spillway::Error>(())
/// ```
///
/// # Errors
/// [`Error::Config`] naming `n_jobs` when it is 0, which joblib also refuses.
pub fn resolve_n_jobs(n_jobs: isize, threads: usize) -> Result<usize> {
    let threads = threads.max(1);
    match n_jobs {
        0 => Err(Error::Config(
            "n_jobs = 0 has no meaning: use a positive count, -1 for all the session's \
             threads, -2 for all but one"
                .into(),
        )),
        n if n > 0 => Ok(n.unsigned_abs().min(threads)),
        n => {
            let t = isize::try_from(threads).unwrap_or(isize::MAX);
            Ok(t.saturating_add(1).saturating_add(n).max(1).unsigned_abs())
        }
    }
}

/// A parallel map over an iterator, built by [`Session::parallel_map`],
/// [`Session::try_parallel_map`] or their `_scoped` forms; nothing runs until
/// [`ParallelMap::collect`], [`ParallelMap::results`] or [`ParallelMap::with_results`].
/// `'env` is what the items and the closure borrow: `'static` unless the map is scoped.
///
/// ```
/// use spillway::prelude::*;
///
/// let session = Session::builder().threads(2).build()?;
/// // joblib: Parallel(n_jobs=2)(delayed(sqrt)(i**2) for i in range(10))
/// let roots = session
///     .parallel_map(0..10_i64, |i| ((i * i) as f64).sqrt())
///     .n_jobs(2)
///     .collect()?;
/// assert_eq!(roots, (0..10).map(|i| i as f64).collect::<Vec<_>>());
/// # Ok::<(), spillway::Error>(())
/// ```
///
/// [`Session::parallel_map`]: crate::Session::parallel_map
/// [`Session::try_parallel_map`]: crate::Session::try_parallel_map
#[must_use = "a ParallelMap does nothing until `collect`, `results` or `with_results`"]
pub struct ParallelMap<'env, I: Iterator, U> {
    session: Session,
    items: I,
    f: Arc<ItemFn<'env, I::Item, U>>,
    name: Arc<str>,
    /// The pool's own spawn for a `'static` map; `None` for a scoped one, whose runs open a
    /// scope (see the module documentation).
    spawn: Option<SpawnFn<'env>>,
    n_jobs: isize,
    ordered: bool,
    lookahead: Option<usize>,
    chunk_size: Option<usize>,
    fail_fast: bool,
    progress: Option<bool>,
}

impl<I, U> ParallelMap<'static, I, U>
where
    I: Iterator,
    I::Item: Send + 'static,
    U: Send + 'static,
{
    /// A map whose chunks go straight to the session's pool.
    pub(crate) fn new(
        session: Session,
        items: I,
        f: Arc<ItemFn<'static, I::Item, U>>,
        name: String,
    ) -> Self {
        let pool = session.clone();
        let spawn: SpawnFn<'static> = Arc::new(move |job| pool.pool().spawn(job));
        ParallelMap::with_spawn(session, items, f, name, Some(spawn))
    }

    /// Starts the map and returns its results as they arrive: `(index, result)` pairs, in
    /// input order or in completion order (see [`ParallelMap::ordered`]). Lazy: items are
    /// pulled and run as the results are consumed, at most `lookahead` ahead, so the input
    /// may be unbounded. Dropping the iterator skips the remaining items and waits for the
    /// running ones. Only for a map that borrows nothing; a scoped map has
    /// [`ParallelMap::with_results`].
    ///
    /// In input order with `fail_fast`, the results end with the first failure; in
    /// completion order they end once the items before the failure have finished.
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let squares: Vec<(usize, Result<u64>)> = session
    ///     .parallel_map(0_u64.., |i| i * i) // an unbounded input
    ///     .results()?
    ///     .take(4)
    ///     .collect();
    /// assert_eq!(squares[3].0, 3);
    /// assert_eq!(*squares[3].1.as_ref().unwrap(), 9);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] when `n_jobs`, `lookahead` or `chunk_size` is 0. Failures of items
    /// are in the results, as [`Error::Item`].
    pub fn results(mut self) -> Result<MapResults<I, U>> {
        let spawn = match self.spawn.take() {
            Some(spawn) => spawn,
            None => {
                let pool = self.session.clone();
                Arc::new(move |job| pool.pool().spawn(job))
            }
        };
        Ok(MapResults {
            driver: self.start()?,
            spawn,
        })
    }
}

impl<'env, I, U> ParallelMap<'env, I, U>
where
    I: Iterator,
    I::Item: Send + 'env,
    U: Send + 'env,
{
    /// A map that may borrow: its runs open a scope on the session's pool.
    pub(crate) fn scoped(
        session: Session,
        items: I,
        f: Arc<ItemFn<'env, I::Item, U>>,
        name: String,
    ) -> Self {
        ParallelMap::with_spawn(session, items, f, name, None)
    }

    fn with_spawn(
        session: Session,
        items: I,
        f: Arc<ItemFn<'env, I::Item, U>>,
        name: String,
        spawn: Option<SpawnFn<'env>>,
    ) -> Self {
        ParallelMap {
            session,
            items,
            f,
            name: name.into(),
            spawn,
            n_jobs: -1,
            ordered: true,
            lookahead: None,
            chunk_size: None,
            fail_fast: true,
            progress: None,
        }
    }

    /// How many workers, with joblib's meaning (see [`resolve_n_jobs`]): a positive count,
    /// `-1` for all the session's threads (the default), `-2` for all but one. Never more
    /// than the session's pool has.
    pub fn n_jobs(mut self, n_jobs: isize) -> Self {
        self.n_jobs = n_jobs;
        self
    }

    /// Results in input order (`true`, the default) or in the order they finish.
    pub fn ordered(mut self, ordered: bool) -> Self {
        self.ordered = ordered;
        self
    }

    /// The most items pulled from the iterator and not yet handed to the consumer: running,
    /// waiting to be put in order, or ready. Default: four chunks per worker (see the
    /// module documentation): `4 × workers` items while items are slow (a millisecond or
    /// more each), growing with the chunk to at most `4 × workers × 1024` for trivial ones.
    /// Lower it when items or results are large.
    pub fn lookahead(mut self, items: usize) -> Self {
        self.lookahead = Some(items);
        self
    }

    /// Items per pool task. Default: adaptive, from 1 up to 1024 items, aiming at about a
    /// millisecond per chunk, so slow items run one by one and trivial ones in batches.
    pub fn chunk_size(mut self, items: usize) -> Self {
        self.chunk_size = Some(items);
        self
    }

    /// Stop at the first failure (`true`, the default): nothing new is pulled, items after
    /// the failed one are skipped. With `false` every item runs and every result is
    /// reported.
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.fail_fast = fail_fast;
        self
    }

    /// Draw a progress bar (`true`) or not (`false`), whatever the session's setting.
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = Some(show);
        self
    }

    /// The number of workers the map will use: `n_jobs` resolved against the session's
    /// threads.
    ///
    /// # Errors
    /// [`Error::Config`] when `n_jobs` is 0.
    pub fn workers(&self) -> Result<usize> {
        resolve_n_jobs(self.n_jobs, self.session.config().threads)
    }

    /// Checks the settings and sets up the driver; nothing runs yet.
    fn start(self) -> Result<Driver<'env, I, U>> {
        let workers = self.workers()?;
        if self.lookahead == Some(0) {
            return Err(Error::Config("lookahead must be at least 1".into()));
        }
        if self.chunk_size == Some(0) {
            return Err(Error::Config("chunk_size must be at least 1".into()));
        }
        let mode = match self.progress {
            Some(true) => Progress::Always,
            Some(false) => Progress::Never,
            None => self.session.config().progress,
        };
        let (lo, hi) = self.items.size_hint();
        let total = (hi == Some(lo)).then_some(lo);
        let settings = Settings {
            workers,
            ordered: self.ordered,
            fail_fast: self.fail_fast,
            lookahead: self.lookahead,
            chunk_size: self.chunk_size,
            synchronous: self.session.config().synchronous,
        };
        Ok(Driver::new(
            self.session.clone(),
            settings,
            self.items,
            self.f,
            self.name,
            Bar::start(&self.session, mode, "parallel_map", total),
            self.session.unobserved_counter(),
        ))
    }

    /// Runs `body` with the spawn function of this map: the pool's own, or a scope's opened
    /// around `body` (and closed only once every chunk has returned).
    fn run<R>(
        self,
        body: impl FnOnce(&mut Driver<'env, I, U>, &dyn Fn(Job<'env>)) -> R,
    ) -> Result<R> {
        let spawn = self.spawn.clone();
        let session = self.session.clone();
        let mut driver = self.start()?;
        let out = match spawn {
            Some(spawn) => body(&mut driver, &*spawn),
            None => session.pool().in_place_scope(|scope| {
                let spawn = |job: Job<'env>| scope.spawn(move |_| job());
                let out = body(&mut driver, &spawn);
                driver.stop();
                out
            }),
        };
        Ok(out)
    }

    /// Runs the map to the end and returns every result: in input order, or in completion
    /// order when [`ParallelMap::ordered`] is `false`.
    ///
    /// With `fail_fast(false)` every item still runs, but only the first failure (the
    /// lowest index) is returned; [`ParallelMap::results`] (or
    /// [`ParallelMap::with_results`]) reports every item's result.
    ///
    /// # Errors
    /// [`Error::Config`] as for [`ParallelMap::results`]; otherwise the failed item with the
    /// lowest index, as [`Error::Item`] with the closure's error or panic inside
    /// ([`Error::root`] gives it). With `fail_fast` (the default) the map stops at the first
    /// failure; the running items are waited for before this returns.
    pub fn collect(self) -> Result<Vec<U>> {
        self.run(|driver, spawn| {
            let mut out = Vec::new();
            let mut first_error: Option<(usize, Error)> = None;
            // Whole runs at a time: the per-item work of the driver is what bounds the
            // rate of trivial items.
            while let Some((start, run)) = driver.next_run(spawn) {
                driver.yielded(run.len());
                for (k, result) in run.enumerate() {
                    match result {
                        Ok(v) if first_error.is_none() => out.push(v),
                        Ok(_) => {}
                        Err(e) => {
                            let index = start + k;
                            if first_error.as_ref().is_none_or(|(i, _)| index < *i) {
                                first_error = Some((index, e));
                            }
                        }
                    }
                }
            }
            match first_error {
                Some((_, e)) => Err(e),
                None => Ok(out),
            }
        })?
    }

    /// Runs the map and hands its results, as they arrive, to `consume`: the same
    /// `(index, result)` pairs as [`ParallelMap::results`], for a scoped map too. When
    /// `consume` returns, the remaining items are skipped and the running ones waited for.
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let words = vec!["apple".to_string(), "kiwi".into(), "fig".into()];
    /// let short: Vec<usize> = session
    ///     .parallel_map_scoped(&words, |w| w.len())
    ///     .with_results(|results| {
    ///         results.filter(|(_, n)| *n.as_ref().unwrap() < 5).map(|(i, _)| i).collect()
    ///     })?;
    /// assert_eq!(short, vec![1, 2]);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] as for [`ParallelMap::results`]; failures of items are in the
    /// results, as [`Error::Item`].
    pub fn with_results<R>(
        self,
        consume: impl FnOnce(&mut dyn Iterator<Item = (usize, Result<U>)>) -> R,
    ) -> Result<R> {
        self.run(|driver, spawn| {
            let mut results = Feed { driver, spawn };
            let out = consume(&mut results);
            results.driver.stop();
            out
        })
    }
}

impl<I: Iterator, U> fmt::Debug for ParallelMap<'_, I, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParallelMap")
            .field("function", &self.name)
            .field("scoped", &self.spawn.is_none())
            .field("n_jobs", &self.n_jobs)
            .field("ordered", &self.ordered)
            .field("lookahead", &self.lookahead)
            .field("chunk_size", &self.chunk_size)
            .field("fail_fast", &self.fail_fast)
            .finish_non_exhaustive()
    }
}

/// The results of a [`ParallelMap`], as they arrive: `(index, result)` pairs. Made by
/// [`ParallelMap::results`]; see there.
#[must_use = "a MapResults runs items only as it is iterated"]
pub struct MapResults<I: Iterator, U> {
    driver: Driver<'static, I, U>,
    spawn: SpawnFn<'static>,
}

impl<I, U> Iterator for MapResults<I, U>
where
    I: Iterator,
    I::Item: Send + 'static,
    U: Send + 'static,
{
    type Item = (usize, Result<U>);

    fn next(&mut self) -> Option<Self::Item> {
        self.driver.next_item(&*self.spawn)
    }
}

impl<I: Iterator, U> fmt::Debug for MapResults<I, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapResults")
            .field("driver", &self.driver)
            .finish_non_exhaustive()
    }
}

/// The results of a run, for [`ParallelMap::with_results`].
struct Feed<'a, 'env, I: Iterator, U> {
    driver: &'a mut Driver<'env, I, U>,
    spawn: &'a dyn Fn(Job<'env>),
}

impl<'env, I, U> Iterator for Feed<'_, 'env, I, U>
where
    I: Iterator,
    I::Item: Send + 'env,
    U: Send + 'env,
{
    type Item = (usize, Result<U>);

    fn next(&mut self) -> Option<Self::Item> {
        self.driver.next_item(self.spawn)
    }
}
