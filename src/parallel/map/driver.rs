//! The driver of a [`ParallelMap`](super::ParallelMap): the state of one run, kept by the
//! thread that consumes the results.
//!
//! Nothing runs until results are asked for: the driver runs in [`Driver::next_item`]
//! (the iterator of `MapResults` and of `with_results`) or [`Driver::next_run`] (`collect`),
//! on the calling thread. It returns the next ready result; when none is ready, or a run of
//! results has been used up, it takes in what the workers finished, starts more work, and
//! waits if it must. It pulls items from the iterator in *chunks* of consecutive items and
//! hands each chunk to the pool as one of its [`Jobs`], through the spawn function it is
//! given. Its state:
//!
//! - `outstanding`: items pulled and not yet yielded (running, finished but waiting to be
//!   reordered, or ready). Never more than the look-ahead window: that is what keeps an
//!   unbounded iterator, and memory, bounded. Taking `k` results pulls at most
//!   `k + lookahead` items.
//! - `jobs`: the chunks on the pool, at most `workers` (from `n_jobs`). This is how `n_jobs`
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

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use spillway_engine::jobs::{Job, Jobs};
use spillway_planner::error::panic_message;
use spillway_planner::{Error, Result};

use super::ItemFn;
use crate::parallel::progress::Bar;
use crate::parallel::{call_caught, report_unobserved};
use crate::session::Session;

/// What a chunk of items aims to take, in the adaptive chunking.
const CHUNK_TARGET: Duration = Duration::from_millis(1);
/// The largest adaptive chunk.
const AUTO_CHUNK_MAX: usize = 1024;
/// The default window, in chunks per worker.
const WINDOW_CHUNKS_PER_WORKER: usize = 4;

/// Consecutive results: the index of the first, and the results.
pub(super) type Run<U> = (usize, std::vec::IntoIter<Result<U>>);

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

/// What a run is set to do, checked by `ParallelMap`.
pub(super) struct Settings {
    pub(super) workers: usize,
    pub(super) ordered: bool,
    pub(super) fail_fast: bool,
    pub(super) lookahead: Option<usize>,
    pub(super) chunk_size: Option<usize>,
    pub(super) synchronous: bool,
}

/// The state of one run of a map, kept by the thread that consumes the results (see the
/// module documentation). Spawning goes through the function each call is given, so the
/// same driver serves a map on the pool and a map in a scope.
pub(super) struct Driver<'env, I: Iterator, U> {
    /// For its pool: whether the thread consuming the results now is one of its workers
    /// (the results may move between threads).
    session: Session,
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
    /// A run over `items`; nothing is pulled yet.
    pub(super) fn new(
        session: Session,
        settings: Settings,
        items: I,
        f: Arc<ItemFn<'env, I::Item, U>>,
        name: Arc<str>,
        bar: Bar,
        unobserved: Arc<AtomicUsize>,
    ) -> Self {
        let on_worker = session.pool().current_thread_index().is_some();
        Driver {
            session,
            synchronous: settings.synchronous,
            items: Some(items),
            pulled: 0,
            f,
            name,
            workers: settings.workers,
            ordered: settings.ordered,
            fail_fast: settings.fail_fast,
            window: Window {
                workers: settings.workers,
                lookahead: settings.lookahead,
                fixed_chunk: settings.chunk_size,
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
            bar,
            unobserved,
        }
    }

    /// `n` results of a run from [`Driver::next_run`] were handed to the consumer.
    pub(super) fn yielded(&mut self, n: usize) {
        self.outstanding = self.outstanding.saturating_sub(n);
    }

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
    pub(super) fn next_run(&mut self, spawn: &dyn Fn(Job<'env>)) -> Option<Run<U>> {
        self.jobs
            .set_on_worker(self.session.pool().current_thread_index().is_some());
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

    /// The next `(index, result)`: the iterator of `MapResults` and of `with_results`.
    pub(super) fn next_item(&mut self, spawn: &dyn Fn(Job<'env>)) -> Option<(usize, Result<U>)> {
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
    pub(super) fn stop(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.stop_at.store(0, Ordering::Relaxed);
        self.items = None;
        self.jobs
            .set_on_worker(self.session.pool().current_thread_index().is_some());
        while self.jobs.next().is_some() {}
        self.reorder.clear();
        self.ready.clear();
        self.current = None;
        self.bar.finish();
    }
}

impl<I: Iterator, U> fmt::Debug for Driver<'_, I, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("function", &self.name)
            .field("workers", &self.workers)
            .field("pulled", &self.pulled)
            .field("outstanding", &self.outstanding)
            .field("in_flight", &self.jobs.in_flight())
            .finish_non_exhaustive()
    }
}

impl<I: Iterator, U> Drop for Driver<'_, I, U> {
    fn drop(&mut self) {
        self.stop();
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
