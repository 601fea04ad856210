//! The scheduler: runs a [`TaskGraph`] on a rayon pool, in the spirit of `dask/local.py`.
//!
//! The calling thread keeps the state (how many inputs each task still waits for, how many
//! consumers each output still has) and hands ready tasks to the pool; workers send their
//! results back over a channel. Ready tasks are taken deepest stage first, then in
//! partition order, so combine tasks run as soon as their inputs exist and partial results
//! do not pile up. An output is dropped as soon as its last consumer has finished; the
//! most outputs held at once is [`ExecStats::peak_held_outputs`].
//!
//! At most `threads` tasks are in flight at once, so the pool never holds more started
//! partitions than it has workers, and a task is admitted only while the memory policy's
//! admission share of the budget is free ([`crate::memory::policy`]; tasks reserve as
//! they go, and spill when they cannot). The first error raises the cancel flag: nothing new
//! is started, running tasks stop before their next batch, and the error is returned
//! naming the task and its partition. A panic anywhere in a task is caught the same way.
//!
//! The scheduling thread may itself be a worker of the pool (a `collect` inside a submitted
//! task or a `parallel_map` item). Its tasks are then [`Jobs`]: while it waits it runs its
//! own tasks that no other worker has started, so a pool whose workers all schedule still
//! makes progress, and it never runs unrelated work on top of its state (see
//! [`crate::jobs`]). The in-flight limit counts every started task wherever it runs. A task
//! that waits for memory ([`TaskContext::resize_waiting`]) waits only for other running
//! tasks of its own run, none of which waits for it, and for at
//! most its patience: nested runs share the budget but not their waits.
//!
//! Progress is reported through an optional callback, `(tasks done, tasks in the graph)`,
//! called on the scheduling thread after each finished task; drawing it is the caller's
//! business, so the engine stays free of terminal code.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use arrow::array::RecordBatch;
use spillway_planner::error::panic_message;
use spillway_planner::{Error, Result};

use crate::config::EngineConfig;
use crate::graph::{TaskGraph, TaskId};
use crate::jobs::Jobs;
use crate::memory::{Activity, MemoryPool};
use crate::ops::{Data, TaskContext, TaskTally, run_task};
use crate::spill::SpillDir;

/// A progress callback: `(tasks done, tasks in the graph, bytes spilled so far)`.
pub type ProgressFn = Arc<dyn Fn(usize, usize, u64) + Send + Sync>;

/// What a run draws on besides its settings ([`EngineConfig`]).
#[derive(Clone)]
pub struct RunEnv {
    /// The memory budget operators reserve from (the session's, shared by its runs).
    pub memory: Arc<MemoryPool>,
    /// Called on the scheduling thread after each finished task.
    pub progress: Option<ProgressFn>,
}

impl RunEnv {
    /// An unlimited budget and no progress: for tests and tools.
    pub fn unlimited() -> Self {
        RunEnv {
            memory: MemoryPool::new(usize::MAX),
            progress: None,
        }
    }
}

impl std::fmt::Debug for RunEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunEnv")
            .field("memory", &self.memory.limit())
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// What a run cost, beyond its time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecStats {
    /// Tasks run.
    pub tasks: usize,
    /// Bytes written to spill files (compressed).
    pub spilled_bytes: u64,
    /// Spill files written.
    pub spill_files: usize,
    /// Time spent writing and reading spill files, in microseconds.
    pub spill_micros: u64,
    /// The most bytes reserved at once from the memory pool (over the pool's life).
    pub peak_memory: usize,
    /// The most task outputs the scheduler held at once, waiting for their consumers (the
    /// graph's own outputs count until the run ends). An output is released when its last
    /// consumer finishes, so a reduction's tree holds a few partial states per level, not
    /// one per partition.
    pub peak_held_outputs: usize,
    /// Per task, by task id (default values for a task that did not finish).
    pub per_task: Vec<TaskMetrics>,
}

/// Bookkeeping of one run.
struct State<'g> {
    graph: &'g TaskGraph,
    /// Inputs each task still waits for.
    waiting: Vec<usize>,
    /// The tasks that read each task's output.
    dependents: Vec<Vec<TaskId>>,
    /// Consumers that still have to read each output (outputs of the graph count one more).
    unread: Vec<usize>,
    results: Vec<Option<Arc<Data>>>,
    /// How many of `results` are held now.
    held: usize,
    /// The most ever held, for [`ExecStats::peak_held_outputs`].
    peak_held: &'g AtomicUsize,
    ready: BinaryHeap<(usize, Reverse<TaskId>)>,
}

impl<'g> State<'g> {
    fn new(graph: &'g TaskGraph, peak_held: &'g AtomicUsize) -> Self {
        let n = graph.tasks.len();
        let mut dependents = vec![Vec::new(); n];
        let mut unread = vec![0; n];
        let mut waiting = vec![0; n];
        for (id, t) in graph.tasks.iter().enumerate() {
            waiting[id] = t.deps.len();
            for &d in &t.deps {
                dependents[d].push(id);
                unread[d] += 1;
            }
        }
        for &o in &graph.outputs {
            unread[o] += 1;
        }
        let mut s = State {
            graph,
            waiting,
            dependents,
            unread,
            results: (0..n).map(|_| None).collect(),
            held: 0,
            peak_held,
            ready: BinaryHeap::new(),
        };
        for id in 0..n {
            if s.waiting[id] == 0 {
                s.push_ready(id);
            }
        }
        s
    }

    fn push_ready(&mut self, id: TaskId) {
        self.ready.push((self.graph.tasks[id].stage, Reverse(id)));
    }

    fn pop_ready(&mut self) -> Option<TaskId> {
        self.ready.pop().map(|(_, Reverse(id))| id)
    }

    fn inputs(&self, id: TaskId) -> Result<Vec<Arc<Data>>> {
        self.graph.tasks[id]
            .deps
            .iter()
            .map(|&d| {
                self.results[d].clone().ok_or_else(|| {
                    Error::Internal(format!("{} ran before its input", self.graph.task_name(id)))
                })
            })
            .collect()
    }

    /// Records a finished task: releases the inputs it was the last reader of and
    /// readies the tasks that waited only for it.
    fn finish(&mut self, id: TaskId, data: Data) {
        self.results[id] = Some(Arc::new(data));
        self.held += 1;
        self.peak_held.fetch_max(self.held, Ordering::Relaxed);
        for i in 0..self.graph.tasks[id].deps.len() {
            let d = self.graph.tasks[id].deps[i];
            self.unread[d] -= 1;
            if self.unread[d] == 0 && self.results[d].take().is_some() {
                self.held -= 1;
            }
        }
        for i in 0..self.dependents[id].len() {
            let t = self.dependents[id][i];
            self.waiting[t] -= 1;
            if self.waiting[t] == 0 {
                self.push_ready(t);
            }
        }
    }

    fn into_batches(mut self) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        for &o in &self.graph.outputs {
            let data = self.results[o]
                .take()
                .ok_or_else(|| Error::Internal(format!("{} never ran", self.graph.task_name(o))))?;
            match data.as_ref() {
                Data::Batches(b) => out.extend(b.iter().filter(|b| b.num_rows() > 0).cloned()),
                Data::States(_) | Data::Buckets(_) | Data::Runs(_) | Data::Table(_) => {
                    return Err(Error::Internal("the graph ends in partial states".into()));
                }
            }
        }
        Ok(out)
    }
}

/// Wraps a task's error with the task's name and partition; a cancellation stays as is.
fn in_task(graph: &TaskGraph, id: TaskId, e: Error) -> Error {
    match e {
        Error::Cancelled | Error::Task { .. } => e,
        e => Error::Task {
            task: graph.task_name(id),
            partition: graph.tasks[id].partition,
            source: Box::new(e),
        },
    }
}

/// Runs one task with panics caught.
fn run_caught(graph: &TaskGraph, id: TaskId, deps: &[Arc<Data>], run: &Run) -> Result<Data> {
    if run.cancel.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    let kind = &graph.tasks[id].kind;
    let started = std::time::Instant::now();
    let tally = TaskTally::default();
    let ctx = TaskContext {
        name: graph.task_name(id),
        cancel: &run.cancel,
        memory: &run.memory,
        spill: &run.spill,
        batch_rows: run.batch_rows,
        partition: graph.tasks[id].partition,
        output_schema: &graph.written_schema,
        tally: &tally,
        activity: &run.activity,
    };
    let ran = run
        .activity
        .run(|| catch_unwind(AssertUnwindSafe(|| run_task(kind, deps, &ctx))));
    match ran {
        Ok(Ok(data)) => {
            let metrics = TaskMetrics {
                stage: graph.tasks[id].stage,
                partition: graph.tasks[id].partition,
                rows: data.rows(),
                micros: started.elapsed().as_micros() as u64,
                peak_memory: tally.memory.peak(),
                spilled_bytes: tally.spill.bytes.load(Ordering::Relaxed),
            };
            if let Ok(mut m) = run.metrics.lock() {
                m[id] = Some(metrics);
            }
            Ok(data)
        }
        Ok(Err(e)) => Err(in_task(graph, id, e)),
        Err(payload) => Err(in_task(
            graph,
            id,
            Error::Internal(format!(
                "task panicked: {}",
                panic_message(payload.as_ref())
            )),
        )),
    }
}

/// Runs `graph` on `pool` and returns the batches of its outputs, in partition order
/// (empty batches are dropped).
///
/// # Errors
/// The first task error, as [`Error::Task`] naming the task and partition; the other tasks
/// are cancelled and waited for before this returns.
pub fn execute(
    graph: Arc<TaskGraph>,
    pool: &rayon::ThreadPool,
    config: &EngineConfig,
    env: RunEnv,
) -> Result<Vec<RecordBatch>> {
    execute_with_stats(graph, pool, config, env).map(|(batches, _)| batches)
}

/// What one task did, for `explain_analyze`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskMetrics {
    /// Its stage.
    pub stage: usize,
    /// Its place in the stage.
    pub partition: usize,
    /// Rows it output (rows written, for a writing task; 1 for a partial aggregate).
    pub rows: usize,
    /// Time it ran, in microseconds.
    pub micros: u64,
    /// The most bytes its reservations held at once.
    pub peak_memory: usize,
    /// Bytes it wrote to spill files.
    pub spilled_bytes: u64,
}

/// What every task of one run shares.
struct Run {
    metrics: std::sync::Mutex<Vec<Option<TaskMetrics>>>,
    cancel: AtomicBool,
    memory: Arc<MemoryPool>,
    spill: Arc<SpillDir>,
    batch_rows: usize,
    activity: Activity,
    /// The most task outputs held at once.
    peak_held: AtomicUsize,
}

/// As [`execute`], with what the run cost. The run's spill folder is removed before this
/// returns, whether the run succeeded or not.
///
/// # Errors
/// As [`execute`].
pub fn execute_with_stats(
    graph: Arc<TaskGraph>,
    pool: &rayon::ThreadPool,
    config: &EngineConfig,
    env: RunEnv,
) -> Result<(Vec<RecordBatch>, ExecStats)> {
    let run = Arc::new(Run {
        metrics: std::sync::Mutex::new(vec![None; graph.tasks.len()]),
        cancel: AtomicBool::new(false),
        memory: env.memory,
        spill: SpillDir::new(config.spill_dir.clone()),
        batch_rows: config.batch_rows.max(1),
        activity: Activity::default(),
        peak_held: AtomicUsize::new(0),
    });
    let out = schedule(&graph, pool, config, env.progress.as_ref(), &run);
    let spill = run.spill.stats();
    let stats = ExecStats {
        tasks: graph.tasks.len(),
        spilled_bytes: spill.bytes.load(Ordering::Relaxed),
        spill_files: spill.files.load(Ordering::Relaxed),
        spill_micros: spill.micros.load(Ordering::Relaxed),
        peak_memory: run.memory.peak(),
        peak_held_outputs: run.peak_held.load(Ordering::Relaxed),
        per_task: run
            .metrics
            .lock()
            .map(|m| m.iter().map(|t| t.clone().unwrap_or_default()).collect())
            .unwrap_or_default(),
    };
    // Every output and spill file has been dropped by now: the folder goes with `run`.
    drop(run);
    out.map(|batches| (batches, stats))
}

/// The scheduling loop.
fn schedule(
    graph: &Arc<TaskGraph>,
    pool: &rayon::ThreadPool,
    config: &EngineConfig,
    progress: Option<&ProgressFn>,
    run: &Arc<Run>,
) -> Result<Vec<RecordBatch>> {
    let cancel = &run.cancel;
    let mut state = State::new(graph, &run.peak_held);
    let total = graph.tasks.len();
    let report = |done: usize| {
        if let Some(p) = progress {
            p(done, total, run.spill.stats().bytes.load(Ordering::Relaxed));
        }
    };
    if config.synchronous {
        let mut done = 0usize;
        while let Some(id) = state.pop_ready() {
            let deps = state.inputs(id)?;
            let data = run_caught(graph, id, &deps, run)?;
            drop(deps);
            state.finish(id, data);
            done += 1;
            report(done);
        }
        return state.into_batches();
    }

    // Tasks in flight are `jobs.in_flight()`: started and not yet reported.
    let mut jobs: Jobs<'static, (TaskId, Result<Data>)> =
        Jobs::new(pool.current_thread_index().is_some());
    let max_in_flight = config.threads.max(1);
    let admit = run
        .memory
        .policy()
        .admit_bytes(run.memory.limit(), max_in_flight);
    let mut done = 0usize;
    let mut first_error: Option<Error> = None;
    loop {
        while first_error.is_none() && jobs.in_flight() < max_in_flight {
            // Admission: a task starts only when its share of the budget is free, so that
            // producers wait while held outputs fill memory and consumers (taken first)
            // drain them. With nothing running, a task always starts: operators spill.
            if jobs.in_flight() > 0 && run.memory.available() < admit {
                break;
            }
            let Some(id) = state.pop_ready() else { break };
            let deps = match state.inputs(id) {
                Ok(d) => d,
                Err(e) => {
                    first_error = Some(e);
                    cancel.store(true, Ordering::Relaxed);
                    break;
                }
            };
            let (g, shared) = (Arc::clone(graph), Arc::clone(run));
            jobs.spawn(
                |job| pool.spawn(job),
                move || {
                    let result = run_caught(&g, id, &deps, &shared);
                    // Let go of the inputs and the run before reporting, so that the run's
                    // spill folder is gone when `execute` returns.
                    drop(deps);
                    drop(shared);
                    (id, result)
                },
            );
        }
        // `None`: nothing in flight, and nothing more could start.
        let Some(finished) = jobs.next() else { break };
        let (id, result) = match finished {
            Ok(finished) => finished,
            // `run_caught` catches the task's panics; this is one in the scheduler's own code.
            Err(panic) => {
                if first_error.is_none() {
                    first_error = Some(Error::Internal(format!("a task's job panicked: {panic}")));
                    cancel.store(true, Ordering::Relaxed);
                }
                continue;
            }
        };
        match result {
            Ok(data) if first_error.is_none() => {
                done += 1;
                state.finish(id, data);
                report(done);
            }
            Ok(_) | Err(Error::Cancelled) => {}
            Err(e) => {
                if first_error.is_none() {
                    first_error = Some(e);
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    if done != graph.tasks.len() {
        return Err(Error::Internal(format!(
            "{} of {} tasks ran; the graph has a cycle",
            done,
            graph.tasks.len()
        )));
    }
    state.into_batches()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::lower;
    use crate::testing::Batches;
    use spillway_planner::expr::col;
    use spillway_planner::logical::LogicalPlan;
    use std::sync::atomic::AtomicUsize;
    use std::sync::mpsc;

    /// Counts the closure's calls. Partitions after the failing one are held back until
    /// the failure is `GRACE` old, so the counts show what the scheduler guarantees rather
    /// than how threads happened to race.
    #[derive(Default)]
    struct Calls {
        all: AtomicUsize,
        later: AtomicUsize,
        failed_at: std::sync::OnceLock<std::time::Instant>,
    }

    impl Calls {
        const GRACE: std::time::Duration = std::time::Duration::from_millis(200);

        fn hold(&self) {
            self.later.fetch_add(1, Ordering::Relaxed);
            let started = std::time::Instant::now();
            while self
                .failed_at
                .get()
                .is_none_or(|t| t.elapsed() < Self::GRACE)
                && started.elapsed() < std::time::Duration::from_secs(10)
            {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }

    /// `sum(apply(x))` over 20 partitions of 50 rows (one batch each); the closure panics
    /// at `fails_at`.
    fn graph(fails_at: i64, calls: Arc<Calls>) -> Arc<TaskGraph> {
        let scan = Arc::new(LogicalPlan::scan(Batches::numbers(1000, 20)));
        let p = LogicalPlan::project(
            scan,
            vec![
                col("x")
                    .apply(move |x: i64| {
                        calls.all.fetch_add(1, Ordering::Relaxed);
                        if x == fails_at {
                            let _ = calls.failed_at.set(std::time::Instant::now());
                            panic!("boom at {x}");
                        }
                        if fails_at >= 0 && x >= (fails_at / 50 + 1) * 50 {
                            calls.hold();
                        }
                        x
                    })
                    .alias("y"),
            ],
        )
        .unwrap();
        let a = LogicalPlan::aggregate(Arc::new(p), vec![col("y").sum()]).unwrap();
        Arc::new(lower(&a, &EngineConfig::default()).unwrap())
    }

    #[test]
    fn every_scheduler_mode_gives_the_answer() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        for (synchronous, max_in_flight) in [(true, 1), (false, 1), (false, 3), (false, 100)] {
            let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
            let s = Arc::clone(&seen);
            let config = EngineConfig {
                synchronous,
                threads: max_in_flight,
                ..EngineConfig::default()
            };
            let env = RunEnv {
                progress: Some(Arc::new(move |done, total, _spilled| {
                    s.lock().unwrap().push((done, total))
                })),
                ..RunEnv::unlimited()
            };
            let g = graph(-1, Arc::default());
            let n = g.tasks.len();
            let out = execute(g, &pool, &config, env).unwrap();
            let sum = spillway_planner::scalar::ScalarValue::from_array_index(out[0].column(0), 0);
            assert_eq!(sum.to_value::<i64>().unwrap(), 499_500);
            // One report per task, counting up to the graph's size.
            let expected: Vec<(usize, usize)> = (1..=n).map(|d| (d, n)).collect();
            assert_eq!(*seen.lock().unwrap(), expected);
        }
    }

    /// A graph whose 20 scan tasks each sleep a millisecond inside `running`, which counts
    /// the tasks running at once.
    fn counted_graph(running: Arc<(AtomicUsize, AtomicUsize)>) -> Arc<TaskGraph> {
        let scan = Arc::new(LogicalPlan::scan(Batches::numbers(1000, 20)));
        let p = LogicalPlan::project(
            scan,
            vec![
                col("x")
                    .apply(move |x: i64| {
                        if x % 50 == 0 {
                            let now = running.0.fetch_add(1, Ordering::SeqCst) + 1;
                            running.1.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(1));
                            running.0.fetch_sub(1, Ordering::SeqCst);
                        }
                        x
                    })
                    .alias("y"),
            ],
        )
        .unwrap();
        let a = LogicalPlan::aggregate(Arc::new(p), vec![col("y").sum()]).unwrap();
        Arc::new(lower(&a, &EngineConfig::default()).unwrap())
    }

    #[test]
    fn a_scheduler_on_a_worker_of_its_own_pool_finishes_within_its_limit() {
        // Every worker schedules a run and waits for it: each runs its own tasks, and the
        // in-flight limit still holds.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let pool = Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(2)
                    .build()
                    .unwrap(),
            );
            let running = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
            let runs = pool.install(|| {
                let (g1, g2) = (
                    counted_graph(Arc::clone(&running)),
                    graph(-1, Arc::default()),
                );
                let config = |threads| EngineConfig {
                    threads,
                    ..EngineConfig::default()
                };
                rayon::join(
                    || execute(g1, &pool, &config(1), RunEnv::unlimited()).is_ok(),
                    || execute(g2, &pool, &config(2), RunEnv::unlimited()).is_ok(),
                )
            });
            let _ = tx.send((runs, running.1.load(Ordering::SeqCst)));
        });
        // A panic in the thread above drops `tx`, which fails this as well.
        let (runs, most_at_once) = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("a scheduler inside its own pool deadlocked or panicked");
        assert_eq!(runs, (true, true));
        assert_eq!(most_at_once, 1, "max_in_flight 1 ran tasks side by side");
    }

    #[test]
    fn the_first_failure_is_returned_with_its_task_and_the_rest_cancelled() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for synchronous in [true, false] {
            let config = EngineConfig {
                synchronous,
                threads: 2,
                ..EngineConfig::default()
            };
            let calls = Arc::new(Calls::default());
            let err = execute(
                graph(510, Arc::clone(&calls)),
                &pool,
                &config,
                RunEnv::unlimited(),
            )
            .unwrap_err();
            assert!(
                matches!(&err, Error::Task { task, partition: 10, .. } if task == "scan-apply-partial[10]"),
                "{err}"
            );
            assert!(err.to_string().contains("boom at 510"), "{err}");
            // Tasks start in partition order, two at once; no later partition finishes
            // before the failure is heard, and then nothing starts: at most one later
            // partition (one batch of 50 rows) ran beside partition 10. One at a time,
            // nothing after it ran.
            let (all, later) = (
                calls.all.load(Ordering::Relaxed),
                calls.later.load(Ordering::Relaxed),
            );
            if synchronous {
                assert_eq!((all, later), (511, 0));
            } else {
                assert!(later <= 50 && all <= 511 + 50, "{all} calls, {later} later");
            }
        }
    }
}
