//! [`ParallelMap`]: joblib's `Parallel(n_jobs)(delayed(f)(x) for x in items)` over any
//! iterator, including an unbounded one.
//!
//! # The driver
//!
//! Nothing runs until results are asked for: the driver lives in [`MapResults::next`], on
//! the calling thread. It returns the next ready result; when none is ready, or a run of
//! results has been used up, it takes in what the workers finished, starts more work, and
//! waits if it must. It pulls items from the
//! iterator in *chunks* of consecutive items, hands each chunk to the session's pool and
//! receives the chunk's results over a channel. Its state:
//!
//! - `outstanding`: items pulled and not yet yielded (running, finished but waiting to be
//!   reordered, or ready). Never more than the look-ahead window: that is what keeps an
//!   unbounded iterator, and memory, bounded. Taking `k` results pulls at most
//!   `k + lookahead` items.
//! - `in_flight`: chunks on the pool, at most `workers` (from `n_jobs`). This is how `n_jobs`
//!   limits concurrency on a pool that may be wider: at most `workers` items run at once.
//! - `reorder`: for input order, finished chunks waiting for an earlier chunk (keyed by
//!   their first index). Its size is part of `outstanding`, so when a slow item holds up
//!   the head, pulling stops once the window is full rather than buffering without bound.
//! - `ready`: runs of results (one finished chunk each, never copied item by item) in the
//!   order they are to be yielded; `current` is the run being yielded.
//! - `stop_at`: shared with the workers; an item at or after this index is skipped.
//!
//! # Chunks
//!
//! One chunk is one pool task and one message, so a chunk of many tiny items costs about
//! as much overhead as one item. By default the chunk size adapts, as joblib's
//! `batch_size="auto"` does: it starts at 1, and after each finished chunk it becomes the
//! number of items that take about [`CHUNK_TARGET`], at most double the previous size and
//! at most [`AUTO_CHUNK_MAX`]. Slow items stay one per chunk; trivial ones are batched by
//! the thousand. The default window is four chunks per worker, so it grows with the chunk;
//! a fixed `lookahead(n)` also caps the chunk at `n / (2 × workers)` so that every worker
//! still gets work.
//!
//! # Where chunks run
//!
//! A map built by [`Session::parallel_map`] owns its items and closure (`'static`): its
//! chunks are spawned on the pool directly, and [`ParallelMap::results`] hands out a lazy
//! iterator that may live anywhere. A map built by [`Session::parallel_map_scoped`] may
//! borrow (`'env`): each run ([`ParallelMap::collect`], [`ParallelMap::with_results`])
//! opens a rayon scope on the session's pool and spawns its chunks in it, so no chunk
//! outlives what it borrows. Both go through the same driver with a different spawn
//! function, and wait through [`Jobs`]: inside pool work the driver runs its own chunks
//! rather than block the workers (see `spillway_engine::jobs`). A scope, as it closes,
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

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use spillway_engine::jobs::{Job, Jobs};
use spillway_planner::config::Progress;
use spillway_planner::error::panic_message;
use spillway_planner::{Error, Result};

use super::progress::Bar;
use super::{UserError, call_caught, report_unobserved};
use crate::session::Session;

/// What a chunk of items aims to take, in the adaptive chunking.
const CHUNK_TARGET: Duration = Duration::from_millis(1);
/// The largest adaptive chunk.
const AUTO_CHUNK_MAX: usize = 1024;
/// The default window, in chunks per worker.
const WINDOW_CHUNKS_PER_WORKER: usize = 4;

/// A user closure over one item.
type ItemFn<'env, T, U> = dyn Fn(T) -> std::result::Result<U, UserError> + Send + Sync + 'env;

/// How a driver hands a chunk's job to the pool: the pool's own spawn, or a scope's.
type SpawnFn<'env> = Arc<dyn Fn(Job<'env>) + Send + Sync + 'env>;

/// Consecutive results: the index of the first, and the results.
type Run<U> = (usize, std::vec::IntoIter<Result<U>>);

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
        let on_worker = self.session.pool().current_thread_index().is_some();
        Ok(Driver {
            synchronous: self.session.config().synchronous,
            unobserved: self.session.unobserved_counter(),
            bar: Bar::start(&self.session, mode, "parallel_map", total),
            items: Some(self.items),
            pulled: 0,
            f: self.f,
            name: self.name,
            workers,
            ordered: self.ordered,
            fail_fast: self.fail_fast,
            window: Window {
                workers,
                lookahead: self.lookahead,
                fixed_chunk: self.chunk_size,
                chunk: 1,
            },
            stop_at: Arc::new(AtomicUsize::new(usize::MAX)),
            jobs: Jobs::new(on_worker),
            outstanding: 0,
            reorder: BTreeMap::new(),
            next_in_order: 0,
            ready: VecDeque::new(),
            current: None,
            finished: false,
        })
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
                driver.outstanding = driver.outstanding.saturating_sub(run.len());
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

/// The chunk size and the look-ahead window (see the module documentation).
struct Window {
    workers: usize,
    lookahead: Option<usize>,
    fixed_chunk: Option<usize>,
    /// The adaptive chunk size.
    chunk: usize,
}

impl Window {
    fn chunk(&self) -> usize {
        self.fixed_chunk.unwrap_or(self.chunk)
    }

    /// The most items outstanding at once.
    fn limit(&self) -> usize {
        self.lookahead
            .unwrap_or(WINDOW_CHUNKS_PER_WORKER * self.workers * self.chunk())
    }

    /// Adapts the chunk size to a finished chunk of `items` that took `elapsed`.
    fn record(&mut self, items: usize, elapsed: Duration) {
        if self.fixed_chunk.is_some() || items == 0 {
            return;
        }
        let per_item = (elapsed.as_nanos() / items as u128).max(1);
        let ideal = usize::try_from(CHUNK_TARGET.as_nanos() / per_item).unwrap_or(usize::MAX);
        let cap = match self.lookahead {
            Some(n) => (n / (2 * self.workers)).clamp(1, AUTO_CHUNK_MAX),
            None => AUTO_CHUNK_MAX,
        };
        self.chunk = ideal.min(self.chunk.saturating_mul(2)).clamp(1, cap);
    }
}

/// A finished chunk.
struct Done<U> {
    /// The index of its first item.
    start: usize,
    /// The results of the items that ran, from `start` on.
    results: Vec<Result<U>>,
    /// Items after those, skipped because the map was stopped.
    skipped: usize,
    elapsed: Duration,
}

/// What one chunk job needs besides its items.
struct ChunkContext<'a, T, U> {
    f: &'a ItemFn<'a, T, U>,
    name: &'a str,
    stop_at: &'a AtomicUsize,
    fail_fast: bool,
    unobserved: &'a AtomicUsize,
}

/// Runs one chunk on a worker: each item under `catch_unwind`, skipping what `stop_at`
/// excludes.
fn run_chunk<T, U>(cx: &ChunkContext<'_, T, U>, start: usize, items: Vec<T>) -> Done<U> {
    let began = Instant::now();
    let n = items.len();
    let mut results = Vec::with_capacity(n);
    let mut items = items.into_iter();
    for (k, item) in items.by_ref().enumerate() {
        let index = start + k;
        if index >= cx.stop_at.load(Ordering::Relaxed) {
            drop_skipped(cx, index, item);
            break;
        }
        let result = call_caught(cx.name, || (cx.f)(item)).map_err(|e| Error::Item {
            index,
            source: Box::new(e),
        });
        if result.is_err() && cx.fail_fast {
            cx.stop_at.fetch_min(index + 1, Ordering::Relaxed);
        }
        results.push(result);
    }
    for (k, item) in items.enumerate() {
        drop_skipped(cx, start + results.len() + 1 + k, item);
    }
    Done {
        start,
        skipped: n - results.len(),
        results,
        elapsed: began.elapsed(),
    }
}

/// Drops an item the map skipped; a panic in its `Drop` is reported, not unwound.
fn drop_skipped<T, U>(cx: &ChunkContext<'_, T, U>, index: usize, item: T) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(item))) {
        report_unobserved(
            cx.unobserved,
            format_args!(
                "item {index} of {}, skipped, panicked when dropped: {}",
                cx.name,
                panic_message(&*payload)
            ),
        );
    }
}

/// The state of one run of a map, kept by the thread that consumes the results (see the
/// module documentation). Spawning goes through the function each call is given, so the
/// same driver serves a map on the pool and a map in a scope.
struct Driver<'env, I: Iterator, U> {
    synchronous: bool,
    /// `None` once exhausted or stopped.
    items: Option<I>,
    /// Items pulled so far: the index of the next one.
    pulled: usize,
    f: Arc<ItemFn<'env, I::Item, U>>,
    name: Arc<str>,
    workers: usize,
    ordered: bool,
    fail_fast: bool,
    window: Window,
    stop_at: Arc<AtomicUsize>,
    /// The chunks on the pool: at most `workers`.
    jobs: Jobs<'env, Done<U>>,
    outstanding: usize,
    reorder: BTreeMap<usize, Done<U>>,
    next_in_order: usize,
    ready: VecDeque<Run<U>>,
    current: Option<Run<U>>,
    finished: bool,
    bar: Bar,
    unobserved: Arc<AtomicUsize>,
}

impl<'env, I, U> Driver<'env, I, U>
where
    I: Iterator,
    I::Item: Send + 'env,
    U: Send + 'env,
{
    /// Starts chunks while there are free workers, room in the window and items.
    fn fill(&mut self, spawn: &dyn Fn(Job<'env>)) {
        if self.finished || self.stop_at.load(Ordering::Relaxed) != usize::MAX {
            return;
        }
        while self.jobs.in_flight() < self.workers {
            let limit = self.window.limit();
            if self.outstanding >= limit {
                break;
            }
            let want = self.window.chunk().min(limit - self.outstanding);
            let Some(items) = self.items.as_mut() else {
                break;
            };
            let chunk: Vec<I::Item> = items.by_ref().take(want).collect();
            if chunk.len() < want {
                self.items = None;
            }
            if chunk.is_empty() {
                break;
            }
            let start = self.pulled;
            self.pulled += chunk.len();
            self.outstanding += chunk.len();
            let (f, name, stop_at, unobserved) = (
                Arc::clone(&self.f),
                Arc::clone(&self.name),
                Arc::clone(&self.stop_at),
                Arc::clone(&self.unobserved),
            );
            let fail_fast = self.fail_fast;
            let job = move || {
                let cx = ChunkContext {
                    f: &*f,
                    name: &name,
                    stop_at: &stop_at,
                    fail_fast,
                    unobserved: &unobserved,
                };
                run_chunk(&cx, start, chunk)
            };
            if self.synchronous {
                let done = job();
                self.absorb(done);
                break;
            }
            self.jobs.spawn(spawn, job);
        }
    }

    /// Takes in a finished chunk.
    fn absorb(&mut self, done: Done<U>) {
        self.outstanding -= done.skipped;
        self.bar.inc(done.results.len());
        self.window.record(done.results.len(), done.elapsed);
        if !self.ordered {
            if !done.results.is_empty() {
                self.ready.push_back((done.start, done.results.into_iter()));
            }
            return;
        }
        self.reorder.insert(done.start, done);
        while let Some(d) = self.reorder.remove(&self.next_in_order) {
            self.next_in_order += d.results.len() + d.skipped;
            if !d.results.is_empty() {
                self.ready.push_back((d.start, d.results.into_iter()));
            }
        }
    }

    /// The next run of results, taking in finished chunks, starting more and waiting as
    /// needed; `None` at the end. The run's items still count as outstanding.
    fn next_run(&mut self, spawn: &dyn Fn(Job<'env>)) -> Option<Run<U>> {
        loop {
            if let Some(run) = self.ready.pop_front() {
                return Some(run);
            }
            while let Some(done) = self.jobs.try_next() {
                self.take_in(done);
            }
            self.fill(spawn);
            if !self.ready.is_empty() {
                continue;
            }
            // Nothing running, nothing ready, nothing more to start.
            let Some(done) = self.jobs.next() else {
                self.stop();
                return None;
            };
            self.take_in(done);
        }
    }

    /// Takes in a chunk's outcome. A chunk whose job panicked outside its items (a bug:
    /// items' panics are caught one by one) stops the map, whose last result is then an
    /// internal error.
    fn take_in(&mut self, done: std::result::Result<Done<U>, String>) {
        match done {
            Ok(done) => self.absorb(done),
            Err(panic) => {
                self.stop();
                let lost = Error::Internal(format!("a parallel_map chunk panicked: {panic}"));
                self.ready
                    .push_back((self.pulled, vec![Err(lost)].into_iter()));
            }
        }
    }

    /// The next `(index, result)`: the iterator of [`MapResults`] and of
    /// [`ParallelMap::with_results`].
    fn next_item(&mut self, spawn: &dyn Fn(Job<'env>)) -> Option<(usize, Result<U>)> {
        loop {
            if let Some((index, run)) = &mut self.current
                && let Some(result) = run.next()
            {
                let i = *index;
                *index += 1;
                self.outstanding = self.outstanding.saturating_sub(1);
                if result.is_err() && self.fail_fast && self.ordered {
                    // In input order the results end with the first failure: every item
                    // before it has been yielded.
                    self.stop();
                }
                return Some((i, result));
            }
            // The current run is used up: the moment to take in finished chunks and start
            // more, so the workers keep busy even when the consumer is slow.
            self.current = None;
            self.current = Some(self.next_run(spawn)?);
        }
    }
}

impl<I: Iterator, U> Driver<'_, I, U> {
    /// Ends the map: skips what has not run, waits for the running chunks, drops what was
    /// not yielded.
    fn stop(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.stop_at.store(0, Ordering::Relaxed);
        self.items = None;
        while self.jobs.next().is_some() {}
        self.reorder.clear();
        self.ready.clear();
        self.current = None;
        self.bar.finish();
    }
}

impl<I: Iterator, U> Drop for Driver<'_, I, U> {
    fn drop(&mut self) {
        self.stop();
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
        let d = &self.driver;
        f.debug_struct("MapResults")
            .field("function", &d.name)
            .field("workers", &d.workers)
            .field("pulled", &d.pulled)
            .field("outstanding", &d.outstanding)
            .field("in_flight", &d.jobs.in_flight())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn window(workers: usize, lookahead: Option<usize>) -> Window {
        Window {
            workers,
            lookahead,
            fixed_chunk: None,
            chunk: 1,
        }
    }

    #[test]
    fn chunks_grow_by_doubling_for_fast_items_and_shrink_at_once_for_slow_ones() {
        let mut w = window(2, None);
        // 10 ns an item: the ideal is 100 000 items, reached by doubling, capped.
        let sizes: Vec<usize> = (0..12)
            .map(|_| {
                w.record(w.chunk(), Duration::from_nanos(10 * w.chunk() as u64));
                w.chunk()
            })
            .collect();
        assert_eq!(
            sizes,
            vec![2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1024, 1024]
        );
        assert_eq!(w.limit(), WINDOW_CHUNKS_PER_WORKER * 2 * AUTO_CHUNK_MAX);
        // 10 ms an item: one item a chunk.
        w.record(4, Duration::from_millis(40));
        assert_eq!(w.chunk(), 1);
        assert_eq!(w.limit(), WINDOW_CHUNKS_PER_WORKER * 2);
    }

    #[test]
    fn a_fixed_lookahead_caps_the_chunk_so_every_worker_gets_one() {
        let mut w = window(2, Some(12));
        for _ in 0..10 {
            w.record(w.chunk(), Duration::from_nanos(1));
        }
        assert_eq!(w.chunk(), 3);
        assert_eq!(w.limit(), 12);
        let fixed = Window {
            fixed_chunk: Some(5),
            ..window(2, None)
        };
        assert_eq!((fixed.chunk(), fixed.limit()), (5, 40));
    }
}
