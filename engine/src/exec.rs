//! Runs a DataFrame [`TaskGraph`] on the [`crate::scheduler`]: ready tasks deepest stage
//! first, then in partition order, at most `threads` in flight, admitted by the memory
//! policy, outputs released once read, the first error cancelling the rest (see the
//! scheduler's documentation for the policy).
//!
//! A run has one cancel flag, [`RunEnv::cancel`]: the scheduler raises it at the first
//! failure, and the caller may raise it from any thread (the facade's `Session::cancel`).
//! Either way no task starts once it is up, a running task stops before its next batch
//! (or memory wait), and the run returns when the tasks in flight have; raised by the
//! caller with no task failed, the run ends in [`Error::Cancelled`].
//!
//! What is particular to tasks lives here: a task is an operator ([`run_task`]) given a
//! [`TaskContext`] with the run's memory pool, spill folder and cancel flag; its error or
//! panic becomes [`Error::Task`] naming the task and its partition; each task's metrics
//! and the run's spill totals make the [`ExecStats`]; and the run's private spill folder
//! is gone when [`execute_with_stats`] returns. A task that waits for memory
//! ([`TaskContext::resize_waiting`]) waits only for other running tasks of its own run,
//! none of which waits for it, and for at most its patience: nested runs share the budget
//! but not their waits.
//!
//! Progress is reported through an optional callback, `(tasks done, tasks in the graph,
//! bytes spilled so far)`, called on the scheduling thread after each finished task;
//! drawing it is the caller's business, so the engine stays free of terminal code.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::RecordBatch;
use spillway_planner::error::panic_message;
use spillway_planner::{Error, Result};

use crate::config::EngineConfig;
use crate::graph::{TaskGraph, TaskId};
use crate::memory::{Activity, MemoryPool, Tally};
use crate::ops::{Data, TaskContext, TaskTally, run_task};
use crate::scheduler::{Dag, Scheduler, Task};
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
    /// The run's cancel flag, one per run: raised by the scheduler when a task fails, or
    /// by whoever else holds it to stop the run (see the module documentation).
    pub cancel: Arc<AtomicBool>,
}

impl RunEnv {
    /// An unlimited budget, no progress and a flag nobody else holds: for tests and tools.
    pub fn unlimited() -> Self {
        RunEnv {
            memory: MemoryPool::new(usize::MAX),
            progress: None,
            cancel: Arc::default(),
        }
    }
}

impl std::fmt::Debug for RunEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunEnv")
            .field("memory", &self.memory.limit())
            .field("progress", &self.progress.is_some())
            .field("cancel", &self.cancel.load(Ordering::Relaxed))
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
    /// The most bytes this run's reservations held at once (other runs sharing the pool
    /// not counted).
    pub peak_memory: usize,
    /// The process's peak resident set size so far, in bytes, read when the run ended
    /// (`VmHWM` of `/proc/self/status`; `None` where the platform does not say): what a
    /// container's memory cap sees, beside the pool's count of what the engine believes
    /// it holds.
    pub peak_rss: Option<u64>,
    /// The most task outputs the scheduler held at once, waiting for their consumers (the
    /// graph's own outputs count until the run ends). An output is released when its last
    /// consumer finishes, so a reduction's tree holds a few partial states per level, not
    /// one per partition.
    pub peak_held_outputs: usize,
    /// How many reservations the pool refused during the run because the process's
    /// resident set, not the pool's count, had no room (memory the pool does not see:
    /// the allocator's retained free memory, batches being decoded); each made an operator
    /// spill or split earlier. Runs sharing the pool at the same time count each other's.
    pub resident_refusals: u64,
    /// Per task, by task id (default values for a task that did not finish).
    pub per_task: Vec<TaskMetrics>,
}

/// The process's peak resident set size (`VmHWM`), where `/proc` tells it.
pub fn peak_rss() -> Option<u64> {
    crate::memory::peak_resident_bytes()
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

/// Runs `graph` on `pool` and returns the batches of its outputs, in partition order
/// (empty batches are dropped).
///
/// # Errors
/// The first task error, as [`Error::Task`] naming the task and partition; the other tasks
/// are cancelled and waited for before this returns. [`Error::Cancelled`] when
/// [`RunEnv::cancel`] was raised from outside, once the tasks in flight have stopped.
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
    graph: Arc<TaskGraph>,
    cancel: Arc<AtomicBool>,
    metrics: std::sync::Mutex<Vec<Option<TaskMetrics>>>,
    memory: Arc<MemoryPool>,
    /// Bytes the run's reservations hold; each task's tally counts in it.
    held: Arc<Tally>,
    spill: Arc<SpillDir>,
    batch_rows: usize,
    activity: Activity,
}

/// The run's task graph as the scheduler sees it.
struct Tasks(Arc<Run>);

impl Dag for Tasks {
    type Output = Data;
    type Task = RunTask;

    fn nodes(&self) -> usize {
        self.0.graph.tasks.len()
    }

    fn deps(&self, node: usize) -> &[usize] {
        &self.0.graph.tasks[node].deps
    }

    /// Stages are numbered from the scans down: deepest stage first.
    fn depth(&self, node: usize) -> usize {
        self.0.graph.tasks[node].stage
    }

    fn outputs(&self) -> &[usize] {
        &self.0.graph.outputs
    }

    fn name(&self, node: usize) -> String {
        self.0.graph.task_name(node)
    }

    fn task(&self, node: usize) -> RunTask {
        RunTask {
            run: Arc::clone(&self.0),
            id: node,
        }
    }

    fn cancel(&self) {
        self.0.cancel.store(true, Ordering::Relaxed);
    }

    fn cancelled(&self) -> bool {
        self.0.cancel.load(Ordering::Relaxed)
    }
}

/// One task of the run, on a worker.
struct RunTask {
    run: Arc<Run>,
    id: TaskId,
}

impl Task<Data> for RunTask {
    fn run(self, deps: Vec<Arc<Data>>) -> Result<Arc<Data>> {
        if self.run.cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        // `deps` and `self.run` are dropped on return, before the scheduler hears of it,
        // so the run's spill folder is gone when `execute` returns.
        self.run.run_caught(self.id, &deps).map(Arc::new)
    }
}

impl Run {
    /// Runs one task with panics caught.
    fn run_caught(&self, id: TaskId, deps: &[Arc<Data>]) -> Result<Data> {
        let graph = &*self.graph;
        let task = &graph.tasks[id];
        let started = std::time::Instant::now();
        let tally = TaskTally {
            memory: Arc::new(Tally::within(&self.held)),
            ..TaskTally::default()
        };
        let ctx = TaskContext {
            name: graph.task_name(id),
            cancel: &self.cancel,
            memory: &self.memory,
            spill: &self.spill,
            batch_rows: self.batch_rows,
            partition: task.partition,
            place: task.place,
            output_schema: &graph.written_schema,
            tally: &tally,
            activity: &self.activity,
        };
        let ran = self
            .activity
            .run(|| catch_unwind(AssertUnwindSafe(|| run_task(&task.kind, deps, &ctx))));
        match ran {
            Ok(Ok(data)) => {
                let metrics = TaskMetrics {
                    stage: task.stage,
                    partition: task.partition,
                    rows: data.rows(),
                    micros: started.elapsed().as_micros() as u64,
                    peak_memory: tally.memory.peak(),
                    spilled_bytes: tally.spill.bytes.load(Ordering::Relaxed),
                };
                if let Ok(mut m) = self.metrics.lock() {
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
        graph,
        cancel: env.cancel,
        memory: env.memory,
        held: Arc::default(),
        spill: SpillDir::new(config.spill_dir.clone()),
        batch_rows: config.batch_rows.max(1),
        activity: Activity::default(),
    });
    let spilled = || run.spill.stats().bytes.load(Ordering::Relaxed);
    let progress = env
        .progress
        .map(|p| move |done, total| p(done, total, spilled()));
    let refusals_before = run.memory.resident_refusals();
    let outcome = Scheduler {
        pool,
        threads: config.threads,
        synchronous: config.synchronous,
        memory: &run.memory,
        progress: progress.as_ref().map(|p| p as &dyn Fn(usize, usize)),
    }
    .run(&Tasks(Arc::clone(&run)));
    let out = outcome.outputs.and_then(|outputs| into_batches(&outputs));
    drop(progress);
    let spill = run.spill.stats();
    let stats = ExecStats {
        tasks: run.graph.tasks.len(),
        spilled_bytes: spill.bytes.load(Ordering::Relaxed),
        spill_files: spill.files.load(Ordering::Relaxed),
        spill_micros: spill.micros.load(Ordering::Relaxed),
        peak_memory: run.held.peak(),
        peak_rss: peak_rss(),
        peak_held_outputs: outcome.peak_held,
        resident_refusals: run.memory.resident_refusals() - refusals_before,
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

/// The batches of the graph's outputs, in order (empty batches dropped).
fn into_batches(outputs: &[Arc<Data>]) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for data in outputs {
        match data.as_ref() {
            Data::Batches(b) => out.extend(b.iter().filter(|b| b.num_rows() > 0).cloned()),
            Data::States(_)
            | Data::Buckets(_)
            | Data::Runs(_)
            | Data::Table(_)
            | Data::RowStarts(_) => {
                return Err(Error::Internal("the graph ends in partial states".into()));
            }
        }
    }
    Ok(out)
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
