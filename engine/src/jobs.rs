//! [`Jobs`]: work a thread hands to a rayon pool and waits for, without deadlock when that
//! thread is itself one of the pool's workers.
//!
//! Every scheduler of Spillway (the engine's, `parallel_map`'s driver, the delayed graph's)
//! spawns jobs on the session's pool and waits for their results. Called from inside pool
//! work (a `collect` in a submitted task, a `compute` in a `parallel_map` item, a delayed
//! node that collects), the waiting thread is one of the workers that should run those
//! jobs. If it simply blocked, a pool whose workers all wait would hold the jobs in its
//! queue forever.
//!
//! # The policy: a waiting worker runs its own jobs, and only those
//!
//! Each job is *claimed* once: by the pool worker that pops it, or by the thread that waits
//! for it, whichever comes first; the other finds it empty and moves on. A thread waiting
//! for the next result of its [`Jobs`] on a worker of the pool claims its own unclaimed jobs, oldest first,
//! and runs them on its own stack; it blocks only once every job it waits for is running
//! elsewhere. Off the pool (the usual case: a program's main thread) it just blocks.
//!
//! Why not run *any* pending pool work while waiting (`rayon::yield_now`)?
//!
//! - The stack. A job taken at random may itself wait and take another: with hundreds of
//!   submitted tasks that each collect, one worker's stack would hold hundreds of nested
//!   schedulers. Running only its own jobs, a thread nests only as deep as the program's
//!   own nesting (a collect in a map item in a submitted task: three levels).
//! - Cycles. A job run on top of a waiting frame suspends that frame until the job
//!   returns. If the job waits for something the suspended frame owes (a future that
//!   frame is computing, say), neither ever ends. Running only its own jobs, every frame
//!   on a thread's stack was started by the frame below it and waits only for jobs it
//!   started itself: waits follow the tree of who spawned what, which has no cycle.
//!
//! The cost: a worker whose jobs all run elsewhere sits idle instead of running unrelated
//! work. Each job still counts against its scheduler's in-flight limit wherever it runs,
//! so a scheduler never has more than its limit of jobs started.
//!
//! A job's body runs under `catch_unwind`: a panic reaches the waiter as an `Err` with the
//! panic's message, never unwinds a pool thread.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex, PoisonError};

use spillway_planner::error::panic_message;

/// A job's body as a pool (or a scope) receives it.
pub type Job<'s> = Box<dyn FnOnce() + Send + 's>;

/// A job that runs at most once: on the pool, or on a thread that claims it first with
/// [`Claim::run_here`] (a thread about to wait for it).
pub struct Claim<'s> {
    body: Mutex<Option<Job<'s>>>,
}

impl<'s> Claim<'s> {
    /// Hands `body` to the pool through `spawn` (`|job| pool.spawn(job)`), claimable.
    pub fn spawn(spawn: impl FnOnce(Job<'s>), body: impl FnOnce() + Send + 's) -> Arc<Self> {
        let claim = Arc::new(Claim {
            body: Mutex::new(Some(Box::new(body))),
        });
        let pool_copy = Arc::clone(&claim);
        spawn(Box::new(move || {
            pool_copy.run_here();
        }));
        claim
    }

    fn is_claimed(&self) -> bool {
        self.body.lock().map_or(true, |body| body.is_none())
    }

    /// Runs the job on this thread unless it has been claimed already; whether it ran here.
    pub fn run_here(&self) -> bool {
        // Nothing runs under this lock, so a job's panic cannot poison it.
        let body = self
            .body
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        body.map(|body| body()).is_some()
    }
}

impl std::fmt::Debug for Claim<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let claimed = self.body.lock().map(|b| b.is_none()).unwrap_or(true);
        f.debug_struct("Claim").field("claimed", &claimed).finish()
    }
}

/// Jobs spawned by one scheduler, and their results: `T` or the message of the job's
/// panic. As an [`Iterator`], it waits for the next job to finish and yields its result,
/// and ends when no job is in flight (more may be spawned after); see the module
/// documentation for how it waits.
///
/// ```
/// use spillway_engine::jobs::Jobs;
///
/// let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
/// // On the pool's only worker: waiting for a job that worker would run cannot block.
/// let sum = pool.install(|| {
///     let mut jobs = Jobs::new(pool.current_thread_index().is_some());
///     for i in 0..4_u64 {
///         jobs.spawn(|job| pool.spawn(job), move || i * i);
///     }
///     let mut sum = 0;
///     while let Some(result) = jobs.next() {
///         sum += result.unwrap();
///     }
///     sum
/// });
/// assert_eq!(sum, 14);
/// ```
pub struct Jobs<'s, T> {
    /// Whether the waiting thread is a worker of the pool the jobs go to, and so runs its
    /// own unclaimed jobs while it waits.
    helping: bool,
    /// The jobs not yet known to be claimed, oldest first.
    unclaimed: VecDeque<Arc<Claim<'s>>>,
    tx: Sender<Result<T, String>>,
    rx: Receiver<Result<T, String>>,
    in_flight: usize,
}

impl<'s, T> Jobs<'s, T> {
    /// No jobs yet. `on_worker`: whether the calling thread (the one that will wait) is a
    /// worker of the pool the jobs are spawned on, as `pool.current_thread_index().is_some()`
    /// tells.
    pub fn new(on_worker: bool) -> Self {
        let (tx, rx) = channel();
        Jobs {
            helping: on_worker,
            unclaimed: VecDeque::new(),
            tx,
            rx,
            in_flight: 0,
        }
    }

    /// Tells whether the thread that waits now is a worker of the pool: for a waiter that
    /// may move between threads (a lazy iterator of results), before it waits.
    pub fn set_on_worker(&mut self, on_worker: bool) {
        self.helping = on_worker;
    }

    /// Jobs spawned whose result has not been returned yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// A finished job's result, if one is there, without waiting.
    pub fn try_next(&mut self) -> Option<Result<T, String>> {
        let result = self.rx.try_recv().ok()?;
        self.in_flight -= 1;
        Some(result)
    }
}

impl<T> Iterator for Jobs<'_, T> {
    type Item = Result<T, String>;

    /// Waits for the next job to finish and returns its result (`Err`: its panic's
    /// message), in the order they finish; `None` when no job is in flight. On a worker of
    /// the pool it runs its own unclaimed jobs meanwhile.
    fn next(&mut self) -> Option<Result<T, String>> {
        if self.in_flight == 0 {
            // Every job has reported, so every claim is spent.
            self.unclaimed.clear();
            return None;
        }
        loop {
            match self.rx.try_recv() {
                Ok(result) => {
                    self.in_flight -= 1;
                    return Some(result);
                }
                Err(TryRecvError::Empty) => {}
                // `self.tx` is alive: not reachable.
                Err(TryRecvError::Disconnected) => return None,
            }
            let own = if self.helping {
                self.unclaimed.pop_front()
            } else {
                None
            };
            match own {
                // Run here unless a worker took it first; either way, look again.
                Some(claim) => {
                    claim.run_here();
                }
                // Every job is running elsewhere (only this thread adds jobs), or this
                // thread is not one of the pool's: block.
                None => {
                    let result = self.rx.recv().ok()?;
                    self.in_flight -= 1;
                    return Some(result);
                }
            }
        }
    }
}

impl<'s, T: Send + 's> Jobs<'s, T> {
    /// Spawns `f` through `spawn` (`|job| pool.spawn(job)`, or a scope's spawn for jobs
    /// that borrow).
    pub fn spawn(&mut self, spawn: impl FnOnce(Job<'s>), f: impl FnOnce() -> T + Send + 's) {
        let tx = self.tx.clone();
        let claim = Claim::spawn(spawn, move || {
            let result = catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(&*p));
            // The receiver lives as long as these jobs' scheduler, which waits for them.
            let _ = tx.send(result);
        });
        // Kept even when not helping (the waiter may move onto a worker); those the pool
        // has claimed are let go from the front, so the queue stays about as long as the
        // jobs in flight.
        while self.unclaimed.front().is_some_and(|c| c.is_claimed()) {
            self.unclaimed.pop_front();
        }
        self.unclaimed.push_back(claim);
        self.in_flight += 1;
    }
}

impl<T> std::fmt::Debug for Jobs<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs")
            .field("helping", &self.helping)
            .field("in_flight", &self.in_flight)
            .field("unclaimed", &self.unclaimed.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    /// Waits for jobs, nested `depth` deep, from inside the pool: each level spawns two
    /// jobs, one of which nests again.
    fn nested(pool: &Arc<rayon::ThreadPool>, depth: usize) -> usize {
        let mut jobs = Jobs::new(pool.current_thread_index().is_some());
        for leaf in [true, false] {
            let p = Arc::clone(pool);
            jobs.spawn(
                |job| pool.spawn(job),
                move || {
                    if leaf || depth == 0 {
                        1
                    } else {
                        nested(&p, depth - 1)
                    }
                },
            );
        }
        jobs.by_ref().map(Result::unwrap).sum()
    }

    #[test]
    fn waiting_on_the_pools_only_worker_runs_its_own_jobs() {
        let pool = Arc::new(pool(1));
        let p = Arc::clone(&pool);
        let leaves = pool.install(move || nested(&p, 10));
        assert_eq!(leaves, 12);
        // Off the pool, the same waits simply block.
        assert_eq!(nested(&pool, 3), 5);
    }

    #[test]
    fn a_waiting_worker_does_not_run_unrelated_work() {
        // A long job queued behind ours: a worker waiting for its own jobs must not pick it
        // up (it would sit on top of the wait for the whole sleep).
        let pool = pool(1);
        let (slow_started, slow_seen) = std::sync::mpsc::channel();
        let waited = pool.install(|| {
            let started = std::time::Instant::now();
            let mut jobs = Jobs::new(true);
            jobs.spawn(|job| pool.spawn(job), || 7);
            // Queued last, so a worker taking any local work would take it first.
            pool.spawn(move || {
                let _ = slow_started.send(());
                std::thread::sleep(Duration::from_millis(300));
            });
            let got = jobs.next().unwrap().unwrap();
            (got, started.elapsed())
        });
        assert_eq!(waited.0, 7);
        assert!(waited.1 < Duration::from_millis(200), "{:?}", waited.1);
        slow_seen.recv().unwrap();
    }

    #[test]
    fn each_job_runs_once_and_panics_come_back_as_messages() {
        let pool = pool(2);
        let runs = Arc::new(AtomicUsize::new(0));
        let results: Vec<Result<usize, String>> = pool.install(|| {
            let mut jobs = Jobs::new(true);
            for i in 0..100 {
                let r = Arc::clone(&runs);
                jobs.spawn(
                    |job| pool.spawn(job),
                    move || {
                        r.fetch_add(1, Ordering::SeqCst);
                        assert!(i != 50, "job {i} fails");
                        i
                    },
                );
            }
            assert_eq!(jobs.in_flight(), 100);
            jobs.by_ref().collect()
        });
        assert_eq!(results.len(), 100);
        assert_eq!(runs.load(Ordering::SeqCst), 100);
        let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(failed, vec!["job 50 fails"]);
    }

    #[test]
    fn jobs_in_a_scope_may_borrow() {
        let pool = pool(2);
        let words = vec!["a".to_string(), "bb".into(), "ccc".into()];
        let total: usize = pool.in_place_scope(|scope| {
            let mut jobs = Jobs::new(pool.current_thread_index().is_some());
            for w in &words {
                jobs.spawn(|job| scope.spawn(move |_| job()), move || w.len());
            }
            jobs.by_ref().map(Result::unwrap).sum()
        });
        assert_eq!(total, 6);
    }
}
