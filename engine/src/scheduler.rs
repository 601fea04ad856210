//! The scheduler: runs any graph of nodes ([`Dag`]) on a rayon pool, in the spirit of
//! `dask/local.py`. The DataFrame task graph ([`crate::exec`]) and the facade's delayed
//! graphs both run on it: one loop, one ready policy, one admission rule.
//!
//! # The policy
//!
//! - **Ready order: deepest first, then lowest number.** A node is ready when all its
//!   inputs exist. Among ready nodes the one of greatest [`Dag::depth`] starts first, ties
//!   going to the lowest node number. Depth grows away from the sources (a task's stage, a
//!   delayed node's longest path from a leaf), so a node whose inputs are ready runs
//!   before new sources start: combine tasks run as soon as their inputs exist, a branch is
//!   finished (and its inputs released) before another is started, and partial results do
//!   not pile up.
//! - **Release.** An output is dropped as soon as its last reader has finished (the graph's
//!   own outputs count one reader more, and are held until the run ends); the most held at
//!   once is [`Outcome::peak_held`].
//! - **In flight.** At most [`Scheduler::threads`] nodes are started and unfinished at
//!   once, wherever they run, so the pool never holds more started work than it has
//!   workers.
//! - **Admission.** With a node in flight, another starts only while the memory policy's
//!   admission share is free ([`crate::memory::MemoryPolicy::admit_bytes`] over the
//!   [`Scheduler::memory`] pool): producers wait while held outputs fill memory, consumers
//!   (taken first) drain them. With nothing in flight a node always starts (operators
//!   spill).
//! - **Cancellation.** At the first error (or panic) nothing new starts and the graph is
//!   told ([`Dag::cancel`]: the engine's tasks see their run's flag before they begin and
//!   between batches), and once every node in flight has reported, that first error is
//!   returned. A graph may also be cancelled from outside ([`Dag::cancelled`], checked
//!   before every node starts, in both modes): nothing new starts, and the run ends in
//!   [`Error::Cancelled`] once the nodes in flight have reported. A node that reports
//!   [`Error::Cancelled`] while no error has been recorded was cancelled from outside,
//!   so that ends the run the same way; after a real error, the nodes' `Cancelled` only
//!   echo it and are ignored.
//! - **One-thread mode.** [`Scheduler::synchronous`] runs every node on the calling thread,
//!   one at a time, in the same ready order: the debugging mode.
//! - **Waiting.** The nodes are [`Jobs`]: a scheduler running on a worker of its own pool
//!   (a `collect` inside a submitted task, a `compute` inside a delayed node) runs its own
//!   unstarted nodes while it waits, so a pool whose workers all schedule still makes
//!   progress, and never runs unrelated work on top of its state (see [`crate::jobs`]).
//! - **Progress.** An optional callback, `(nodes done, nodes in the graph)`, called on the
//!   scheduling thread after each finished node.
//!
//! # The state (`State`)
//!
//! - `waiting`: inputs each node still waits for; at 0 the node joins `ready`.
//! - `dependents`: the nodes that read each node's output.
//! - `unread`: readers that still have to read each output (graph outputs count one more);
//!   at 0 the output is dropped from `results`.
//! - `results`: the outputs held now, `held` of them (`peak_held` at most).
//! - `ready` (`Ready`): the ready nodes, taken in the ready order above: the nodes ready
//!   from the start, sorted once, and a max-heap of `(depth, Reverse(node))` for those
//!   readied since.
//! - and, in the loop: the [`Jobs`] in flight, each a node's [`Task`] (holding what that
//!   node needs, not the graph), the count of nodes done, the first error.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use spillway_planner::error::panic_message;
use spillway_planner::{Error, Result};

use crate::jobs::Jobs;
use crate::memory::MemoryPool;

/// A graph the scheduler runs: nodes numbered `0..nodes()`, each reading the outputs of
/// its dependencies. It must have no cycle (a cycle is reported as an error, not a hang).
pub trait Dag {
    /// What a node outputs, shared by its readers.
    type Output: ?Sized + Send + Sync + 'static;
    /// What runs one node on a worker.
    type Task: Task<Self::Output>;

    /// How many nodes the graph has.
    fn nodes(&self) -> usize;

    /// The nodes whose outputs `node` reads, in the order [`Task::run`] receives them.
    fn deps(&self, node: usize) -> &[usize];

    /// The node's place in the ready order: among ready nodes, the deepest starts first
    /// (then the lowest number). Sources are shallowest; see the module documentation.
    fn depth(&self, node: usize) -> usize;

    /// The nodes whose outputs the run returns, in this order.
    fn outputs(&self) -> &[usize];

    /// The node's name, for the scheduler's own errors.
    fn name(&self, node: usize) -> String;

    /// The task that runs `node`, made on the scheduling thread as the node starts. It
    /// should hold what the node needs and no more (its own closure, say): a count that
    /// every task shares is a cache line that every start and end fights over, and at a
    /// few microseconds a node that is what a run costs.
    fn task(&self, node: usize) -> Self::Task;

    /// The run has failed: tasks still running should stop early. Called once, on the
    /// scheduling thread; nothing by default.
    fn cancel(&self) {}

    /// Whether the run has been cancelled, by [`Dag::cancel`] or from outside (another
    /// thread raising a flag the graph reads): checked before each node starts, and once
    /// it is true no node starts and the run ends in [`Error::Cancelled`] (unless a node
    /// failed first). Never, by default.
    fn cancelled(&self) -> bool {
        false
    }
}

/// One node's work, sent to a worker of the pool.
pub trait Task<O: ?Sized>: Send + 'static {
    /// Runs the node on its inputs' outputs (in [`Dag::deps`] order), which it may drop
    /// as soon as it is done with them. A task that finds the run cancelled
    /// ([`Dag::cancelled`]) returns [`Error::Cancelled`].
    ///
    /// # Errors
    /// The node's failure, naming the node; a panic should be caught and named the same
    /// way (one that escapes is reported as an internal error).
    fn run(self, inputs: Vec<Arc<O>>) -> Result<Arc<O>>;
}

/// How to run a graph: where, how wide, under which budget.
pub struct Scheduler<'a> {
    /// The pool the nodes run on.
    pub pool: &'a rayon::ThreadPool,
    /// The most nodes in flight at once (at least 1).
    pub threads: usize,
    /// Every node on the calling thread, one at a time, in the ready order.
    pub synchronous: bool,
    /// The budget admission looks at (the session's pool, shared with its other runs).
    pub memory: &'a MemoryPool,
    /// Called on the scheduling thread after each finished node: `(done, total)`.
    pub progress: Option<&'a dyn Fn(usize, usize)>,
}

/// What a run gave.
pub struct Outcome<O: ?Sized> {
    /// The outputs of [`Dag::outputs`], in order; or the first error.
    pub outputs: Result<Vec<Arc<O>>>,
    /// The most outputs held at once, waiting for their readers.
    pub peak_held: usize,
}

/// Bookkeeping of one run (see the module documentation).
struct State<'g, D: Dag> {
    dag: &'g D,
    waiting: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    unread: Vec<usize>,
    results: Vec<Option<Arc<D::Output>>>,
    held: usize,
    peak_held: usize,
    ready: Ready,
}

/// A ready node's rank: the greatest goes first (deepest, then lowest number).
type Rank = (usize, Reverse<usize>);

/// The ready nodes, in the ready order. The sources (ready from the start, often most of
/// a wide graph) are sorted once and taken from the end, one step each; the nodes readied
/// during the run go through a heap, which stays about as small as the work in flight.
struct Ready {
    /// The nodes ready from the start, the next one last.
    sources: Vec<Rank>,
    /// The nodes readied since.
    readied: BinaryHeap<Rank>,
}

impl Ready {
    fn pop(&mut self) -> Option<usize> {
        let from_heap = match (self.readied.peek(), self.sources.last()) {
            (Some(r), Some(s)) => r > s,
            (r, _) => r.is_some(),
        };
        let next = if from_heap {
            self.readied.pop()
        } else {
            self.sources.pop()
        };
        next.map(|(_, Reverse(id))| id)
    }
}

impl<'g, D: Dag> State<'g, D> {
    fn new(dag: &'g D) -> Self {
        let n = dag.nodes();
        let mut dependents = vec![Vec::new(); n];
        let mut unread = vec![0; n];
        let mut waiting = vec![0; n];
        for (id, waits) in waiting.iter_mut().enumerate() {
            let deps = dag.deps(id);
            *waits = deps.len();
            for &d in deps {
                dependents[d].push(id);
                unread[d] += 1;
            }
        }
        for &o in dag.outputs() {
            unread[o] += 1;
        }
        let mut sources: Vec<Rank> = (0..n)
            .filter(|&id| waiting[id] == 0)
            .map(|id| (dag.depth(id), Reverse(id)))
            .collect();
        sources.sort_unstable();
        State {
            dag,
            waiting,
            dependents,
            unread,
            results: (0..n).map(|_| None).collect(),
            held: 0,
            peak_held: 0,
            ready: Ready {
                sources,
                readied: BinaryHeap::new(),
            },
        }
    }

    fn push_ready(&mut self, id: usize) {
        self.ready.readied.push((self.dag.depth(id), Reverse(id)));
    }

    fn pop_ready(&mut self) -> Option<usize> {
        self.ready.pop()
    }

    fn inputs(&self, id: usize) -> Result<Vec<Arc<D::Output>>> {
        self.dag
            .deps(id)
            .iter()
            .map(|&d| {
                self.results[d].clone().ok_or_else(|| {
                    Error::Internal(format!("{} ran before its input", self.dag.name(id)))
                })
            })
            .collect()
    }

    /// Records a finished node: releases the inputs it was the last reader of and
    /// readies the nodes that waited only for it.
    fn finish(&mut self, id: usize, output: Arc<D::Output>) {
        self.results[id] = Some(output);
        self.held += 1;
        self.peak_held = self.peak_held.max(self.held);
        for &d in self.dag.deps(id) {
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

    /// The graph's outputs, once `done` nodes have finished.
    fn into_outputs(self, done: usize) -> Result<Vec<Arc<D::Output>>> {
        if done != self.dag.nodes() {
            return Err(Error::Internal(format!(
                "{done} of {} nodes ran; the graph has a cycle",
                self.dag.nodes()
            )));
        }
        let mut results = self.results;
        self.dag
            .outputs()
            .iter()
            .map(|&o| {
                results[o]
                    .take()
                    .ok_or_else(|| Error::Internal(format!("{} never ran", self.dag.name(o))))
            })
            .collect()
    }
}

impl Scheduler<'_> {
    /// Runs `dag` and returns its outputs (see the module documentation for how).
    pub fn run<D: Dag>(&self, dag: &D) -> Outcome<D::Output> {
        let mut state = State::new(dag);
        let outputs = if self.synchronous {
            self.run_here(&mut state)
        } else {
            self.run_on_pool(dag, &mut state)
        };
        let peak_held = state.peak_held;
        Outcome {
            outputs: outputs.and_then(|done| state.into_outputs(done)),
            peak_held,
        }
    }

    fn report(&self, done: usize, total: usize) {
        if let Some(progress) = self.progress {
            progress(done, total);
        }
    }

    /// The one-thread mode: every node on this thread, in the ready order. The nodes done.
    fn run_here<D: Dag>(&self, state: &mut State<'_, D>) -> Result<usize> {
        let (dag, total) = (state.dag, state.dag.nodes());
        let mut done = 0;
        while let Some(id) = state.pop_ready() {
            if dag.cancelled() {
                return Err(Error::Cancelled);
            }
            let (task, inputs) = (dag.task(id), state.inputs(id)?);
            let output =
                catch_unwind(AssertUnwindSafe(|| task.run(inputs))).unwrap_or_else(|payload| {
                    Err(Error::Internal(format!(
                        "{} panicked: {}",
                        dag.name(id),
                        panic_message(payload.as_ref())
                    )))
                })?;
            state.finish(id, output);
            done += 1;
            self.report(done, total);
        }
        Ok(done)
    }

    /// The nodes on the pool, at most `threads` in flight, admitted by the memory policy.
    /// The nodes done.
    fn run_on_pool<D: Dag>(&self, dag: &D, state: &mut State<'_, D>) -> Result<usize> {
        let mut first_error: Option<Error> = None;
        let fail = |first_error: &mut Option<Error>, e: Error| {
            if first_error.is_none() {
                *first_error = Some(e);
                dag.cancel();
            }
        };
        // Nodes in flight are `jobs.in_flight()`: started and not yet reported.
        let mut jobs: Jobs<'static, (usize, Result<Arc<D::Output>>)> =
            Jobs::new(self.pool.current_thread_index().is_some());
        let max_in_flight = self.threads.max(1);
        let admit = self
            .memory
            .policy()
            .admit_bytes(self.memory.limit(), max_in_flight);
        let (total, mut done) = (dag.nodes(), 0);
        loop {
            while first_error.is_none() && jobs.in_flight() < max_in_flight {
                if jobs.in_flight() > 0 && self.memory.available() < admit {
                    break;
                }
                let Some(id) = state.pop_ready() else { break };
                if dag.cancelled() {
                    fail(&mut first_error, Error::Cancelled);
                    break;
                }
                let inputs = match state.inputs(id) {
                    Ok(inputs) => inputs,
                    Err(e) => {
                        fail(&mut first_error, e);
                        break;
                    }
                };
                let task = dag.task(id);
                // The task (and what it holds) is gone before the result is reported.
                jobs.spawn(|job| self.pool.spawn(job), move || (id, task.run(inputs)));
            }
            // `None`: nothing in flight, and nothing more could start.
            let Some(finished) = jobs.next() else { break };
            match finished {
                Ok((id, Ok(output))) if first_error.is_none() => {
                    state.finish(id, output);
                    done += 1;
                    self.report(done, total);
                }
                // Late results, and cancellations echoing the error recorded first.
                Ok((_, Ok(_))) => {}
                Ok((_, Err(Error::Cancelled))) if first_error.is_some() => {}
                // With no error recorded, a `Cancelled` came from outside: it is the run's.
                Ok((_, Err(e))) => fail(&mut first_error, e),
                // A task catches its node's panics: this one escaped it.
                Err(panic) => fail(
                    &mut first_error,
                    Error::Internal(format!("a node's job panicked: {panic}")),
                ),
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scheduler over `pool` and `memory` with no progress callback.
    fn on<'a>(
        pool: &'a rayon::ThreadPool,
        memory: &'a Arc<MemoryPool>,
        threads: usize,
        synchronous: bool,
    ) -> Scheduler<'a> {
        Scheduler {
            pool,
            threads,
            synchronous,
            memory,
            progress: None,
        }
    }
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// A graph drawn in each test: node `i` reads `deps[i]`, has depth `depth[i]`, and
    /// outputs 1 + the sum of its inputs. Its tasks log the order nodes start in, count
    /// the nodes running at once, and fail at `fails`.
    struct Drawn {
        deps: Vec<Vec<usize>>,
        depth: Vec<usize>,
        outputs: Vec<usize>,
        log: Arc<Log>,
    }

    #[derive(Default)]
    struct Log {
        fails: Option<usize>,
        /// The node that raises the cancel flag as it runs (as another thread would), and
        /// the node that returns `Cancelled` (as an engine task that saw the flag does).
        cancels: Option<usize>,
        returns_cancelled: Option<usize>,
        /// What [`Dag::cancelled`] reads, raised by [`Dag::cancel`] too.
        flag: AtomicBool,
        started: Mutex<Vec<usize>>,
        running: AtomicUsize,
        most_running: AtomicUsize,
    }

    impl Drawn {
        fn new(deps: Vec<Vec<usize>>, depth: Vec<usize>, outputs: Vec<usize>) -> Self {
            Drawn {
                deps,
                depth,
                outputs,
                log: Arc::default(),
            }
        }

        fn with(self, log: Log) -> Self {
            Drawn {
                log: Arc::new(log),
                ..self
            }
        }

        fn failing_at(self, node: usize) -> Self {
            self.with(Log {
                fails: Some(node),
                ..Log::default()
            })
        }

        fn order(&self) -> Vec<usize> {
            self.log.started.lock().unwrap().clone()
        }

        fn most_running(&self) -> usize {
            self.log.most_running.load(Ordering::SeqCst)
        }
    }

    struct DrawnTask {
        node: usize,
        log: Arc<Log>,
    }

    impl Task<usize> for DrawnTask {
        fn run(self, inputs: Vec<Arc<usize>>) -> Result<Arc<usize>> {
            let (node, log) = (self.node, &self.log);
            log.started.lock().unwrap().push(node);
            let now = log.running.fetch_add(1, Ordering::SeqCst) + 1;
            log.most_running.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(2));
            log.running.fetch_sub(1, Ordering::SeqCst);
            if log.fails == Some(node) {
                return Err(Error::Internal(format!("n[{node}] failed")));
            }
            if log.cancels == Some(node) {
                log.flag.store(true, Ordering::SeqCst);
            }
            if log.returns_cancelled == Some(node) {
                return Err(Error::Cancelled);
            }
            Ok(Arc::new(1 + inputs.iter().map(|v| **v).sum::<usize>()))
        }
    }

    impl Dag for Drawn {
        type Output = usize;
        type Task = DrawnTask;

        fn nodes(&self) -> usize {
            self.deps.len()
        }

        fn deps(&self, node: usize) -> &[usize] {
            &self.deps[node]
        }

        fn depth(&self, node: usize) -> usize {
            self.depth[node]
        }

        fn outputs(&self) -> &[usize] {
            &self.outputs
        }

        fn name(&self, node: usize) -> String {
            format!("n[{node}]")
        }

        fn task(&self, node: usize) -> DrawnTask {
            DrawnTask {
                node,
                log: Arc::clone(&self.log),
            }
        }

        fn cancel(&self) {
            self.log.flag.store(true, Ordering::SeqCst);
        }

        fn cancelled(&self) -> bool {
            self.log.flag.load(Ordering::SeqCst)
        }
    }

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    /// Runs `dag` on one thread, synchronously and on a pool: both must agree. The order,
    /// the outputs and the peak of held outputs.
    fn on_one_thread(dag: impl Fn() -> Drawn) -> (Vec<usize>, Vec<usize>, usize) {
        let (pool, memory) = (pool(1), MemoryPool::new(usize::MAX));
        let mut seen = Vec::new();
        for synchronous in [true, false] {
            let dag = dag();
            let scheduler = on(&pool, &memory, 1, synchronous);
            let out = scheduler.run(&dag);
            let outputs = out.outputs.unwrap().iter().map(|v| **v).collect();
            seen.push((dag.order(), outputs, out.peak_held));
        }
        assert_eq!(seen[0], seen[1], "synchronous and one-thread runs differ");
        seen.pop().unwrap()
    }

    #[test]
    fn a_diamond_runs_top_down_and_holds_two_outputs() {
        //     0          depth 0
        //    / \
        //   1   2        depth 1
        //    \ /
        //     3          depth 2
        //
        // Order 0, 1, 2, 3. A finishing node's output counts beside its inputs until they
        // are released: 0 goes when 2 (its last reader) finishes, so at most three are
        // held (0, 1, 2), never all four.
        let (order, outputs, peak) = on_one_thread(|| {
            Drawn::new(
                vec![vec![], vec![0], vec![0], vec![1, 2]],
                vec![0, 1, 1, 2],
                vec![3],
            )
        });
        assert_eq!(order, [0, 1, 2, 3]);
        assert_eq!(outputs, [5]);
        assert_eq!(peak, 3);
    }

    #[test]
    fn two_independent_chains_run_one_after_the_other() {
        //   0     1       depth 0
        //   |     |
        //   2     3       depth 1
        //   |     |
        //   4     5       depth 2   (both outputs of the graph)
        //
        // Numbered across the chains, yet run chain by chain: 0 makes 2 ready, which is
        // deeper than 1, and so on. Order 0, 2, 4, 1, 3, 5; held: the first chain's end
        // and, while a node of the second finishes, it and its input: 3 at most.
        let (order, outputs, peak) = on_one_thread(|| {
            Drawn::new(
                vec![vec![], vec![], vec![0], vec![1], vec![2], vec![3]],
                vec![0, 0, 1, 1, 2, 2],
                vec![4, 5],
            )
        });
        assert_eq!(order, [0, 2, 4, 1, 3, 5]);
        assert_eq!(outputs, [3, 3]);
        assert_eq!(peak, 3);
    }

    #[test]
    fn a_reduction_tree_combines_before_it_reads_more() {
        //   0   1   2   3     depth 0
        //    \ /     \ /
        //     4       5       depth 1
        //      \     /
        //         6           depth 2
        //
        // Order 0, 1, 4, 2, 3, 5, 6: 4 runs as soon as 0 and 1 exist, before 2 and 3 are
        // read, so at most 4 outputs are held (4, 2, 3 and 5 as it finishes). Leaves
        // first (lowest number only) would hold the four leaves and 4: 5.
        let (order, outputs, peak) = on_one_thread(|| {
            Drawn::new(
                vec![
                    vec![],
                    vec![],
                    vec![],
                    vec![],
                    vec![0, 1],
                    vec![2, 3],
                    vec![4, 5],
                ],
                vec![0, 0, 0, 0, 1, 1, 2],
                vec![6],
            )
        });
        assert_eq!(order, [0, 1, 4, 2, 3, 5, 6]);
        assert_eq!(outputs, [7]);
        assert_eq!(peak, 4);
    }

    /// Eight independent leaves gathered by one node.
    fn wide() -> Drawn {
        let mut deps = vec![vec![]; 8];
        deps.push((0..8).collect());
        let mut depth = vec![0; 8];
        depth.push(1);
        Drawn::new(deps, depth, vec![8])
    }

    #[test]
    fn at_most_threads_nodes_run_at_once_and_progress_counts_them() {
        let (pool, memory) = (pool(4), MemoryPool::new(usize::MAX));
        let seen = Mutex::new(Vec::new());
        let progress = |done, total| seen.lock().unwrap().push((done, total));
        let dag = wide();
        let out = Scheduler {
            pool: &pool,
            threads: 2,
            synchronous: false,
            memory: &memory,
            progress: Some(&progress),
        }
        .run(&dag);
        assert_eq!(*out.outputs.unwrap()[0], 9);
        assert_eq!(dag.most_running(), 2);
        let expected: Vec<(usize, usize)> = (1..=9).map(|d| (d, 9)).collect();
        assert_eq!(*seen.lock().unwrap(), expected);
    }

    #[test]
    fn a_full_budget_admits_one_node_at_a_time() {
        // 1000 bytes, 900 held elsewhere: 100 free is less than the admission share
        // (a quarter over 2 in flight, 125), so a node starts only when none runs.
        let (pool, memory) = (pool(2), MemoryPool::new(1000));
        let mut held = memory.reserve("elsewhere");
        held.try_grow(900).unwrap();
        let dag = wide();
        let scheduler = on(&pool, &memory, 2, false);
        assert_eq!(*scheduler.run(&dag).outputs.unwrap()[0], 9);
        assert_eq!(dag.most_running(), 1);
        // With the memory back, two at once.
        held.free();
        let dag = wide();
        assert_eq!(*scheduler.run(&dag).outputs.unwrap()[0], 9);
        assert_eq!(dag.most_running(), 2);
    }

    #[test]
    fn the_first_error_stops_the_run_and_nothing_new_starts() {
        let (pool, memory) = (pool(2), MemoryPool::new(usize::MAX));
        for synchronous in [true, false] {
            let dag = wide().failing_at(2);
            let scheduler = on(&pool, &memory, 1, synchronous);
            let err = scheduler.run(&dag).outputs.unwrap_err();
            assert!(err.to_string().contains("n[2] failed"), "{err}");
            assert_eq!(dag.order(), [0, 1, 2], "synchronous: {synchronous}");
        }
    }

    #[test]
    fn a_cancel_from_outside_ends_the_run_as_cancelled_and_nothing_new_starts() {
        // `wide()`: leaves 0..8, then 8 gathering them; one node at a time.
        let (pool, memory) = (pool(2), MemoryPool::new(usize::MAX));
        for synchronous in [true, false] {
            // The flag is raised while 2 runs, 2 itself succeeds: nothing after it starts.
            let raised = Log {
                cancels: Some(2),
                ..Log::default()
            };
            // 2 saw the flag and returned `Cancelled`, no error recorded: the same.
            let returned = Log {
                returns_cancelled: Some(2),
                ..Log::default()
            };
            for log in [raised, returned] {
                let dag = wide().with(log);
                let scheduler = on(&pool, &memory, 1, synchronous);
                let err = scheduler.run(&dag).outputs.unwrap_err();
                assert!(matches!(err, Error::Cancelled), "{err}");
                assert_eq!(dag.order(), [0, 1, 2], "synchronous: {synchronous}");
            }
        }
    }

    #[test]
    fn a_cycle_is_an_error_not_a_hang() {
        let (pool, memory) = (pool(1), MemoryPool::new(usize::MAX));
        for synchronous in [true, false] {
            let dag = Drawn::new(vec![vec![], vec![2], vec![1]], vec![0, 1, 1], vec![2]);
            let scheduler = on(&pool, &memory, 1, synchronous);
            let err = scheduler.run(&dag).outputs.unwrap_err();
            assert!(err.to_string().contains("1 of 3 nodes ran"), "{err}");
        }
    }
}
