//! Nested use: DataFrame work, graphs and futures inside pool work finish (no deadlock).

use super::*;

#[test]
fn a_collect_inside_a_task_on_a_one_thread_session_finishes() {
    within(WATCHDOG, || {
        let s = session(1);
        let frame = s.from_vec("x", (1..=100_i64).collect(), 4).unwrap();
        let rows = s.submit(move || frame.into_frame().collect().map(|b| b.len()));
        assert!(rows.get().unwrap().unwrap() >= 1);
        let inner = s.clone();
        let sum = s.submit(move || engine_sum(&inner, 100, 4));
        assert_eq!(sum.get().unwrap().unwrap(), 5050);
    });
}

#[test]
fn dataframe_work_inside_parallel_map_items_finishes() {
    // Every worker runs an item, and every item waits for the engine's tasks on the same
    // two workers.
    within(WATCHDOG, || {
        let s = session(2);
        let inner = s.clone();
        let sums = s
            .try_parallel_map(1..=8_i64, move |n| engine_sum(&inner, n * 10, 3))
            .n_jobs(2)
            .collect()
            .unwrap();
        let expected: Vec<i64> = (1..=8).map(|n| (n * 10) * (n * 10 + 1) / 2).collect();
        assert_eq!(sums, expected);
    });
}

#[test]
fn delayed_compute_and_future_get_inside_pool_tasks_finish() {
    within(WATCHDOG, || {
        let s = session(1);
        // A graph computed inside a task.
        let inner = s.clone();
        let graph = s.submit(move || {
            let a = Delayed::new(|| 20_i64);
            a.map2(&a.map(|x| x + 1), |x, y| x + y).compute(&inner)
        });
        assert_eq!(graph.get().unwrap().unwrap(), 41);
        // A future waited for inside a task.
        let inner = s.clone();
        let outer = s.submit(move || inner.submit(|| 6 * 7).get());
        assert_eq!(outer.get().unwrap().unwrap(), 42);
        // A delayed node and a callback that run DataFrame work.
        let inner = s.clone();
        let node = Delayed::try_new(move || engine_sum(&inner, 10, 2));
        let inner = s.clone();
        let (tx, rx) = mpsc::channel();
        let fut = s.submit(|| 3).on_success(move |_| {
            let _ = tx.send(engine_sum(&inner, 4, 2));
        });
        assert_eq!(node.compute(&s).unwrap(), 55);
        assert_eq!(fut.get().unwrap(), 3);
        assert_eq!(rx.recv().unwrap().unwrap(), 10);
    });
}

#[test]
fn spilling_dataframe_work_nested_in_map_items_finishes_under_a_shared_budget() {
    // Nested runs share the session's memory budget; each waits for memory only on tasks
    // of its own run, so the items spill rather than wait on each other.
    within(WATCHDOG, || {
        let dir = tempfile::tempdir().unwrap();
        let s = Session::builder()
            .threads(2)
            .batch_rows(256)
            .memory_limit(96 << 10)
            .spill_dir(dir.path())
            .progress(Progress::Never)
            .build()
            .unwrap();
        let inner = s.clone();
        let spilled = s
            .try_parallel_map(0..4_i64, move |seed| -> Result<u64> {
                let n = 20_000_i64;
                let keys = (0..n).map(|i| (i * 7919 + seed) % n).collect();
                let sorted = inner
                    .from_vec("k", keys, 4)?
                    .into_frame()
                    .sort([col("k")])?;
                let (batches, stats) = sorted.collect_with_stats()?;
                let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                assert_eq!(rows, n as usize);
                Ok(stats.spilled_bytes)
            })
            .n_jobs(2)
            .collect()
            .unwrap();
        assert!(
            spilled.iter().any(|&b| b > 0),
            "nothing spilled: {spilled:?}"
        );
    });
}

#[test]
fn map_results_started_outside_and_read_inside_a_task_finish() {
    // The results move onto the pool's only worker, which must then run the chunks itself.
    within(WATCHDOG, || {
        let s = session(1);
        let results = s.parallel_map(0..100_u64, |i| i * 2).results().unwrap();
        let total = s.submit(move || results.map(|(_, r)| r.unwrap()).sum::<u64>());
        assert_eq!(total.get().unwrap(), 9900);
    });
}

#[test]
fn many_tasks_that_each_collect_do_not_pile_up_on_one_stack() {
    // A waiting worker runs only the work it waits for, so however many tasks wait in the
    // queue, a worker's stack holds one of them at a time.
    thread_local!(static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) });
    within(WATCHDOG, || {
        let s = session(2);
        let deepest = Arc::new(AtomicUsize::new(0));
        let futures: Vec<TaskFuture<Result<i64>>> = (1..=200_i64)
            .map(|n| {
                let (inner, deepest) = (s.clone(), Arc::clone(&deepest));
                s.submit(move || {
                    let depth = DEPTH.with(|d| {
                        d.set(d.get() + 1);
                        d.get()
                    });
                    deepest.fetch_max(depth, Ordering::SeqCst);
                    let sum = engine_sum(&inner, n, 2);
                    DEPTH.with(|d| d.set(d.get() - 1));
                    sum
                })
            })
            .collect();
        for (n, f) in (1..=200_i64).zip(futures) {
            assert_eq!(f.get().unwrap().unwrap(), n * (n + 1) / 2);
        }
        assert_eq!(deepest.load(Ordering::SeqCst), 1, "tasks nested on a stack");
    });
}
