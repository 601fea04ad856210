//! Plain parallelism through the public API: `parallel_map`, delayed graphs, futures and
//! the progress setting.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use spillway::prelude::*;

fn session(threads: usize) -> Session {
    Session::builder()
        .threads(threads)
        .progress(Progress::Never)
        .build()
        .unwrap()
}

/// Sleeps a little, more for some items than others, so that completion order differs
/// from input order.
fn jitter(i: u64) {
    std::thread::sleep(Duration::from_micros((i % 7) * 60));
}

/// Counts the closures running at once and keeps the largest count seen.
#[derive(Default)]
struct Concurrency {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Concurrency {
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        let r = f();
        self.now.fetch_sub(1, Ordering::SeqCst);
        r
    }
}

/// Runs `body` on a thread of its own and fails the test if it has not finished within
/// `limit`: a deadlock fails the test instead of hanging CI. A panic in `body` is the test's.
fn within<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(body());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(RecvTimeoutError::Timeout) => panic!("not finished within {limit:?}: a deadlock"),
        Err(RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the body ended without sending its value"),
        },
    }
}

/// The sum of `1..=n` computed by the engine, in `partitions` partitions.
fn engine_sum(s: &Session, n: i64, partitions: usize) -> Result<i64> {
    s.from_vec("x", (1..=n).collect(), partitions)?
        .sum()
        .compute()
}

const WATCHDOG: Duration = Duration::from_secs(30);

// ---- parallel_map ----

#[test]
fn ordered_results_are_in_input_order_and_completion_order_is_complete() {
    let s = session(3);
    let out = s
        .parallel_map(0..100_u64, |i| {
            jitter(i);
            i * 2
        })
        .collect()
        .unwrap();
    assert_eq!(out, (0..100).map(|i| i * 2).collect::<Vec<_>>());

    let indices: Vec<usize> = s
        .parallel_map(0..100_u64, |i| {
            jitter(i);
            i
        })
        .results()
        .unwrap()
        .map(|(index, r)| {
            assert_eq!(r.unwrap(), index as u64);
            index
        })
        .collect();
    assert_eq!(indices, (0..100).collect::<Vec<_>>());

    let unordered: Vec<(usize, u64)> = s
        .parallel_map(0..100_u64, |i| {
            jitter(i);
            i
        })
        .ordered(false)
        .results()
        .unwrap()
        .map(|(index, r)| (index, r.unwrap()))
        .collect();
    assert_eq!(unordered.len(), 100);
    assert!(unordered.iter().all(|&(index, v)| index as u64 == v));
    let seen: HashSet<usize> = unordered.iter().map(|&(index, _)| index).collect();
    assert_eq!(seen.len(), 100);

    let mut collected = s
        .parallel_map(0..100_u64, |i| i)
        .ordered(false)
        .collect()
        .unwrap();
    collected.sort_unstable();
    assert_eq!(collected, (0..100).collect::<Vec<_>>());
}

#[test]
fn empty_and_single_inputs() {
    let s = session(2);
    let none: Vec<u8> = s.parallel_map(Vec::<u8>::new(), |x| x).collect().unwrap();
    assert!(none.is_empty());
    assert_eq!(
        s.parallel_map([7], |x: i32| x + 1).collect().unwrap(),
        vec![8]
    );
}

#[test]
fn n_jobs_has_joblibs_meaning_against_the_sessions_threads() {
    let s = session(4);
    let workers = |n: isize| s.parallel_map(0..1, |x: i32| x).n_jobs(n).workers();
    assert_eq!(workers(-1).unwrap(), 4);
    assert_eq!(workers(-2).unwrap(), 3);
    assert_eq!(workers(2).unwrap(), 2);
    assert_eq!(workers(100).unwrap(), 4, "never more than the pool has");
    assert_eq!(workers(-10).unwrap(), 1);
    let err = workers(0).unwrap_err();
    assert!(
        matches!(err, Error::Config(_)) && err.to_string().contains("n_jobs"),
        "{err}"
    );
    let err = s
        .parallel_map(0..3, |x: i32| x)
        .n_jobs(0)
        .collect()
        .unwrap_err();
    assert!(err.to_string().contains("n_jobs"), "{err}");
}

#[test]
fn n_jobs_bounds_the_items_running_at_once() {
    let s = session(4);
    for (n_jobs, bound) in [(1, 1), (2, 2), (-3, 2)] {
        let c = Arc::new(Concurrency::default());
        let c2 = Arc::clone(&c);
        let out = s
            .parallel_map(0..24_u64, move |i| {
                c2.run(|| std::thread::sleep(Duration::from_millis(1)));
                i
            })
            .n_jobs(n_jobs)
            .collect()
            .unwrap();
        assert_eq!(out.len(), 24);
        let max = c.max.load(Ordering::SeqCst);
        assert!(max >= 1 && max <= bound, "n_jobs {n_jobs}: {max} at once");
    }
}

#[test]
fn an_unbounded_input_is_pulled_at_most_lookahead_ahead() {
    let s = session(2);
    for ordered in [true, false] {
        let pulled = Arc::new(AtomicUsize::new(0));
        let p = Arc::clone(&pulled);
        let items = (0_u64..).inspect(move |_| {
            p.fetch_add(1, Ordering::SeqCst);
        });
        let taken: Vec<(usize, Result<u64>)> = s
            .parallel_map(items, |i| i + 1)
            .ordered(ordered)
            .lookahead(8)
            .results()
            .unwrap()
            .take(20)
            .collect();
        assert_eq!(taken.len(), 20);
        let pulled = pulled.load(Ordering::SeqCst);
        assert!(pulled <= 20 + 8, "ordered {ordered}: pulled {pulled}");
    }
}

#[test]
fn the_default_lookahead_bounds_an_unbounded_input() {
    // Documented: four chunks per worker, `4 × workers` items for slow items and at most
    // `4 × workers × 1024` for trivial ones.
    let s = session(2);
    let workers = 2;
    for (slow, bound) in [(true, 4 * workers), (false, 4 * workers * 1024)] {
        let pulled = Arc::new(AtomicUsize::new(0));
        let p = Arc::clone(&pulled);
        let items = (0_u64..).inspect(move |_| {
            p.fetch_add(1, Ordering::SeqCst);
        });
        let taken = s
            .parallel_map(items, move |i| {
                if slow {
                    std::thread::sleep(Duration::from_millis(2));
                }
                i
            })
            .results()
            .unwrap()
            .take(10)
            .count();
        assert_eq!(taken, 10);
        let pulled = pulled.load(Ordering::SeqCst);
        assert!(pulled <= 10 + bound, "slow {slow}: pulled {pulled}");
    }
}

#[test]
fn completion_order_yields_a_slow_first_item_after_faster_ones() {
    let s = session(2);
    let order: Vec<usize> = s
        .parallel_map(0..10_u64, |i| {
            if i == 0 {
                std::thread::sleep(Duration::from_millis(200));
            }
            i
        })
        .n_jobs(2)
        .ordered(false)
        .results()
        .unwrap()
        .map(|(index, _)| index)
        .collect();
    assert_eq!(order.len(), 10);
    assert_ne!(order[0], 0, "the slow item came first: {order:?}");
    // In input order the same map waits for it.
    let first = s
        .parallel_map(0..10_u64, |i| i)
        .n_jobs(2)
        .results()
        .unwrap()
        .next()
        .map(|(index, _)| index);
    assert_eq!(first, Some(0));
}

#[test]
fn a_slow_head_item_stops_pulling_once_the_window_is_full() {
    // In input order, results after a slow first item wait in the reorder buffer; the
    // buffer counts against the window, so pulling stops at `lookahead` items.
    let s = session(2);
    let pulled = Arc::new(AtomicUsize::new(0));
    let p = Arc::clone(&pulled);
    let items = (0_u64..).inspect(move |_| {
        p.fetch_add(1, Ordering::SeqCst);
    });
    let mut results = s
        .parallel_map(items, |i| {
            if i == 0 {
                std::thread::sleep(Duration::from_millis(50));
            }
            i
        })
        .lookahead(6)
        .results()
        .unwrap();
    assert_eq!(results.next().unwrap().0, 0);
    let pulled = pulled.load(Ordering::SeqCst);
    assert!(pulled <= 1 + 6, "pulled {pulled}");
}

#[test]
fn errors_and_panics_are_reported_with_the_items_index() {
    let s = session(2);
    let err = s
        .try_parallel_map(0..50_u64, |i| {
            if i == 17 {
                Err(format!("{i} is unlucky"))
            } else {
                Ok(i)
            }
        })
        .collect()
        .unwrap_err();
    assert!(matches!(err, Error::Item { index: 17, .. }), "{err}");
    assert!(
        matches!(err.root(), Error::UserFunction { message, .. } if message == "17 is unlucky"),
        "{err}"
    );

    let err = s
        .parallel_map(0..50_u64, |i| {
            assert!(i != 23, "boom at {i}");
            i
        })
        .collect()
        .unwrap_err();
    assert!(matches!(err, Error::Item { index: 23, .. }), "{err}");
    assert!(
        matches!(err.root(), Error::UserPanic { message, .. } if message == "boom at 23"),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("item 23 failed: user function"),
        "{err}"
    );

    // The closure's own error is kept, typed, as the source.
    let err = s
        .try_parallel_map(["7", "x"], |t| t.parse::<u8>())
        .collect()
        .unwrap_err();
    let source = std::error::Error::source(err.root()).expect("the closure's error");
    assert!(
        source.downcast_ref::<std::num::ParseIntError>().is_some(),
        "{source:?}"
    );
    let err = s.try_submit(|| "300".parse::<u8>()).get().unwrap_err();
    let source = std::error::Error::source(&err).expect("the closure's error");
    assert!(source.is::<std::num::ParseIntError>(), "{source:?}");
}

#[test]
fn fail_fast_returns_the_lowest_failing_index_after_every_item_before_it_ran() {
    let s = session(3);
    for ordered in [true, false] {
        let ran_before = Arc::new(AtomicUsize::new(0));
        let r = Arc::clone(&ran_before);
        let err = s
            .try_parallel_map(0..200_u64, move |i| {
                jitter(i);
                if i < 40 {
                    r.fetch_add(1, Ordering::SeqCst);
                }
                if i == 40 || i == 90 || i == 150 {
                    Err("bad")
                } else {
                    Ok(i)
                }
            })
            .ordered(ordered)
            .collect()
            .unwrap_err();
        assert!(matches!(err, Error::Item { index: 40, .. }), "{err}");
        assert_eq!(ran_before.load(Ordering::SeqCst), 40);
    }
}

#[test]
fn fail_fast_stops_an_unbounded_map_and_without_it_every_item_reports() {
    let s = session(2);
    // Fail fast on an unbounded input: `collect` returns, so pulling stopped.
    let err = s
        .try_parallel_map(0_u64.., |i| if i == 5 { Err("five") } else { Ok(i) })
        .collect()
        .unwrap_err();
    assert!(matches!(err, Error::Item { index: 5, .. }), "{err}");

    // In input order, fail-fast results end with the failure.
    let indices: Vec<usize> = s
        .try_parallel_map(0..100_u64, |i| if i == 40 { Err("bad") } else { Ok(i) })
        .results()
        .unwrap()
        .map(|(index, _)| index)
        .collect();
    assert_eq!(indices, (0..=40).collect::<Vec<_>>());

    // Without fail-fast, every item runs and reports.
    let all: Vec<(usize, Result<u64>)> = s
        .try_parallel_map(0..100_u64, |i| if i % 10 == 3 { Err("bad") } else { Ok(i) })
        .fail_fast(false)
        .results()
        .unwrap()
        .collect();
    assert_eq!(all.len(), 100);
    let failed: Vec<usize> = all
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(failed, (0..10).map(|k| k * 10 + 3).collect::<Vec<_>>());
    // `collect` without fail-fast still runs everything, then reports the first failure.
    let ran = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&ran);
    let err = s
        .try_parallel_map(0..100_u64, move |i| {
            r.fetch_add(1, Ordering::SeqCst);
            if i % 10 == 3 { Err("bad") } else { Ok(i) }
        })
        .fail_fast(false)
        .collect()
        .unwrap_err();
    assert!(matches!(err, Error::Item { index: 3, .. }), "{err}");
    assert_eq!(ran.load(Ordering::SeqCst), 100);
}

#[test]
fn dropping_the_results_early_waits_for_the_running_items() {
    let s = session(2);
    let running = Arc::new(Concurrency::default());
    let r = Arc::clone(&running);
    let first: Vec<usize> = s
        .parallel_map(0_u64.., move |i| {
            r.run(|| std::thread::sleep(Duration::from_millis(2)));
            i
        })
        .results()
        .unwrap()
        .take(3)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(first, vec![0, 1, 2]);
    assert_eq!(
        running.now.load(Ordering::SeqCst),
        0,
        "nothing runs after the drop"
    );
}

#[test]
fn synchronous_mode_runs_every_item_on_the_calling_thread_in_order() {
    let s = Session::builder()
        .threads(2)
        .synchronous(true)
        .progress(Progress::Never)
        .build()
        .unwrap();
    let caller = std::thread::current().id();
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = Arc::clone(&order);
    let out = s
        .parallel_map(0..10_u64, move |i| {
            assert_eq!(std::thread::current().id(), caller);
            o.lock().unwrap().push(i);
            i
        })
        .collect()
        .unwrap();
    assert_eq!(out, (0..10).collect::<Vec<_>>());
    assert_eq!(*order.lock().unwrap(), out);
}

#[test]
fn a_map_inside_a_task_on_a_one_thread_pool_does_not_deadlock() {
    let s = session(1);
    let inner = s.clone();
    let fut = s.submit(move || {
        inner
            .parallel_map(0..20_u64, |i| i * i)
            .collect()
            .map(|v| v.iter().sum::<u64>())
    });
    assert_eq!(
        fut.get().unwrap().unwrap(),
        (0..20).map(|i| i * i).sum::<u64>()
    );
}

// ---- scoped maps: borrowed items and closures ----

#[test]
fn a_scoped_map_borrows_its_items_and_its_closures_data() {
    let s = session(3);
    let table: Vec<u64> = (0..100).map(|i| i * 3).collect();
    let keys: Vec<usize> = (0..100).rev().collect();
    let looked_up = s
        .parallel_map_scoped(&keys, |&k| {
            jitter(k as u64);
            table[k]
        })
        .n_jobs(2)
        .collect()
        .unwrap();
    assert_eq!(
        looked_up,
        keys.iter().map(|&k| table[k]).collect::<Vec<_>>()
    );

    let mut unordered = s
        .parallel_map_scoped(keys.as_slice(), |&k| table[k])
        .ordered(false)
        .collect()
        .unwrap();
    unordered.sort_unstable();
    assert_eq!(unordered, table);
}

#[test]
fn a_scoped_map_keeps_lookahead_order_errors_and_fail_fast() {
    let s = session(2);
    // Bounded look-ahead over an unbounded borrowed input, counted without an `Arc`.
    let pulled = AtomicUsize::new(0);
    let words = ["1", "2", "3"];
    let items = words.iter().cycle().inspect(|_| {
        pulled.fetch_add(1, Ordering::SeqCst);
    });
    let first: Vec<usize> = s
        .parallel_map_scoped(items, |w| w.len())
        .lookahead(8)
        .with_results(|results| results.take(20).map(|(i, _)| i).collect())
        .unwrap();
    assert_eq!(first, (0..20).collect::<Vec<_>>());
    assert!(pulled.load(Ordering::SeqCst) <= 20 + 8);

    // Per-item errors and panics with their index; fail-fast or every result.
    let text = vec!["4".to_string(), "x".into(), "6".into(), "boom".into()];
    let err = s
        .try_parallel_map_scoped(&text, |t| t.parse::<i64>())
        .collect()
        .unwrap_err();
    assert!(matches!(err, Error::Item { index: 1, .. }), "{err}");
    let outcomes: Vec<(usize, bool)> = s
        .parallel_map_scoped(&text, |t| {
            assert!(t != "boom", "cannot parse {t}");
            t.len()
        })
        .fail_fast(false)
        .with_results(|results| results.map(|(i, r)| (i, r.is_ok())).collect())
        .unwrap();
    assert_eq!(outcomes, vec![(0, true), (1, true), (2, true), (3, false)]);
    let err = s
        .parallel_map_scoped(&text, |t| {
            assert!(t != "boom", "cannot parse {t}");
            t.len()
        })
        .collect()
        .unwrap_err();
    assert!(
        matches!(err.root(), Error::UserPanic { message, .. } if message == "cannot parse boom"),
        "{err}"
    );
    assert!(matches!(err, Error::Item { index: 3, .. }), "{err}");
}

#[test]
fn a_scoped_map_inside_a_task_on_a_one_thread_session_finishes() {
    within(WATCHDOG, || {
        let s = session(1);
        let inner = s.clone();
        let total = s.submit(move || {
            let squares: Vec<u64> = (0..50).map(|i| i * i).collect();
            inner
                .parallel_map_scoped(&squares, |&x| x + 1)
                .collect()
                .map(|v| v.iter().sum::<u64>())
        });
        assert_eq!(
            total.get().unwrap().unwrap(),
            (0..50).map(|i| i * i + 1).sum::<u64>()
        );
    });
}

// ---- nested use: DataFrame work, graphs and futures inside pool work ----

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

// ---- delayed ----

#[test]
fn a_shared_delayed_node_is_computed_once_per_compute() {
    //    load        (counted)
    //   /    \
    // sum    count
    //   \    /
    //    zip
    //     |
    //    mean
    for synchronous in [false, true] {
        let s = Session::builder()
            .threads(2)
            .synchronous(synchronous)
            .progress(Progress::Never)
            .build()
            .unwrap();
        let loads = Arc::new(AtomicUsize::new(0));
        let l = Arc::clone(&loads);
        let load = Delayed::new(move || {
            l.fetch_add(1, Ordering::SeqCst);
            vec![1.0_f64, 2.0, 3.0, 6.0]
        })
        .named("load");
        let sum = load.map(|v| v.iter().sum::<f64>()).named("sum");
        let count = load.map(|v| v.len() as f64).named("count");
        let mean = sum.zip(&count).map(|(t, n)| t / n).named("mean");
        assert_eq!(mean.compute(&s).unwrap(), 3.0);
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(mean.compute(&s).unwrap(), 3.0);
        assert_eq!(loads.load(Ordering::SeqCst), 2, "once per compute");
    }
}

#[test]
fn map2_and_map3_read_inputs_of_different_types_in_place() {
    // `Table` is not `Clone`: the inputs can only be read in place.
    struct Table(Vec<u64>);
    let s = session(2);
    let table = Delayed::new(|| Table((1..=4).collect())).named("table");
    let label = Delayed::value("sum".to_string()).named("label");
    let scale = Delayed::value(10_u8).named("scale");
    let scaled = table.map2(&scale, |t, k| {
        t.0.iter().map(|v| v * u64::from(*k)).sum::<u64>()
    });
    let report = table
        .map3(&label, &scale, |t, l, k| {
            format!("{l} x{k} = {}", t.0.iter().sum::<u64>() * u64::from(*k))
        })
        .named("report");
    let both = scaled.map2(&report, |n, r| format!("{n}; {r}"));
    assert_eq!(both.compute(&s).unwrap(), "100; sum x10 = 100");
    // Topological order: `scaled` reads table and scale before `label` is reached.
    assert!(
        both.explain()
            .contains("report[4]: String <- table[0], label[3], scale[1]"),
        "{}",
        both.explain()
    );
}

#[test]
fn a_node_named_after_it_is_shared_is_still_computed_once() {
    let s = session(2);
    let loads = Arc::new(AtomicUsize::new(0));
    let l = Arc::clone(&loads);
    let load = Delayed::new(move || {
        l.fetch_add(1, Ordering::SeqCst);
        7_i64
    });
    let double = load.map(|x| x * 2);
    // Named once already an input of `double`: the same node, under its new name.
    let load = load.named("load");
    let total = load.map2(&double, |x, d| x + d).named("total");
    assert_eq!(total.compute(&s).unwrap(), 21);
    assert_eq!(loads.load(Ordering::SeqCst), 1, "load ran more than once");
    let text = total.explain();
    assert!(text.starts_with("delayed graph: 3 nodes"), "{text}");
    assert!(text.contains("load[0]: i64\n"), "{text}");
}

#[test]
fn independent_delayed_branches_run_at_the_same_time() {
    // Each branch hands the other a token and waits for the other's: this can only
    // finish if both run at once.
    let s = session(2);
    let (to_a, from_b) = mpsc::channel::<()>();
    let (to_b, from_a) = mpsc::channel::<()>();
    let branch = |tx: mpsc::Sender<()>, rx: mpsc::Receiver<()>| {
        let rx = Mutex::new(rx);
        Delayed::try_new(move || {
            tx.send(()).map_err(|e| e.to_string())?;
            rx.lock()
                .map_err(|e| e.to_string())?
                .recv_timeout(Duration::from_secs(10))
                .map_err(|_| "the other branch never ran alongside".to_string())
        })
    };
    let a = branch(to_b, from_b).named("a");
    let b = branch(to_a, from_a).named("b");
    let both = Delayed::all([a, b]);
    assert_eq!(both.compute(&s).unwrap().len(), 2);
}

#[test]
fn delayed_errors_and_panics_name_the_node_and_stop_its_dependents() {
    let s = session(2);
    let after = Arc::new(AtomicUsize::new(0));
    let a2 = Arc::clone(&after);
    let text = Delayed::value("12x".to_string()).named("text");
    let parsed = text.try_map(|t| t.parse::<i64>()).named("parse");
    let doubled = parsed
        .map(move |n| {
            a2.fetch_add(1, Ordering::SeqCst);
            n * 2
        })
        .named("double");
    let err = doubled.compute(&s).unwrap_err();
    assert!(
        matches!(&err, Error::UserFunction { function, .. } if function == "parse[1]"),
        "{err}"
    );
    assert!(err.to_string().contains("invalid digit"), "{err}");
    assert_eq!(after.load(Ordering::SeqCst), 0);

    let boom = s
        .delayed(|| 1_i32)
        .map(|_| -> i32 { panic!("kaboom") })
        .named("explode");
    let err = boom.compute(&s).unwrap_err();
    assert!(
        matches!(&err, Error::UserPanic { function, message } if function == "explode[1]" && message == "kaboom"),
        "{err}"
    );
}

#[test]
fn explain_and_dot_draw_the_graph_with_the_errors_numbers() {
    let a = Delayed::value(2_i64).named("a");
    let b = a.map(|x| x * x).named("square");
    let c = a.map(|x| x + 1).named("inc");
    let d = Delayed::all([b, c]).named("gather");
    let text = d.explain();
    assert_eq!(
        text,
        "delayed graph: 4 nodes, output gather[3]\n  a[0]: i64\n  square[1]: i64 <- a[0]\n  \
         inc[2]: i64 <- a[0]\n  gather[3]: Vec<i64> <- square[1], inc[2]\n"
    );
    let dot = d.to_dot();
    assert!(dot.starts_with("digraph delayed {"), "{dot}");
    for edge in ["n0 -> n1;", "n0 -> n2;", "n1 -> n3;", "n2 -> n3;"] {
        assert!(dot.contains(edge), "{edge} missing from\n{dot}");
    }
    assert!(
        dot.contains("n3 [label=\"gather[3]\\nVec<i64>\"];"),
        "{dot}"
    );
    assert_eq!(d.compute(&session(2)).unwrap(), vec![4, 3]);
}

// ---- futures ----

#[test]
fn futures_return_values_errors_and_panics() {
    let s = session(2);
    let ok = s.submit(|| 6 * 7);
    assert_eq!(ok.get().unwrap(), 42);

    let failed = s.try_submit(|| "x".parse::<i32>());
    let name = failed.name().to_string();
    let err = failed.get().unwrap_err();
    assert!(
        matches!(&err, Error::UserFunction { function, .. } if *function == name),
        "{err}"
    );

    let panicked = s.submit(|| -> i32 { panic!("task boom") });
    let err = panicked.get().unwrap_err();
    assert!(
        matches!(&err, Error::UserPanic { message, .. } if message == "task boom"),
        "{err}"
    );

    let slow = s.submit(|| std::thread::sleep(Duration::from_millis(20)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !slow.is_done() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(slow.is_done());
    slow.get().unwrap();
    assert_eq!(s.unobserved_errors(), 0, "every error above was retrieved");
}

#[test]
fn callbacks_are_called_exactly_once_per_task_and_only_the_matching_kind() {
    let s = session(2);
    let n = 40;
    let successes: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
    let errors: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
    let futures: Vec<TaskFuture<usize>> = (0..n)
        .map(|i| {
            let (ok, bad) = (Arc::clone(&successes), Arc::clone(&errors));
            s.try_submit(move || {
                if i % 3 == 0 {
                    Err("multiple of three")
                } else {
                    Ok(i)
                }
            })
            .on_success(move |v| {
                ok[*v].fetch_add(1, Ordering::SeqCst);
            })
            .on_error(move |_| {
                bad[i].fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for (i, f) in futures.into_iter().enumerate() {
        assert_eq!(f.get().is_ok(), i % 3 != 0);
    }
    for i in 0..n {
        let (ok, bad) = (
            successes[i].load(Ordering::SeqCst),
            errors[i].load(Ordering::SeqCst),
        );
        assert_eq!(
            (ok, bad),
            if i % 3 == 0 { (0, 1) } else { (1, 0) },
            "task {i}"
        );
    }
}

#[test]
fn an_error_nobody_retrieves_is_reported_not_dropped() {
    let s = session(2);
    // Retrieved by get, or received by an error callback: not reported.
    assert!(s.try_submit(|| Err::<(), _>("seen by get")).get().is_err());
    let (tx, rx) = mpsc::channel();
    drop(
        s.try_submit(|| Err::<(), _>("seen by a callback"))
            .on_error(move |e| tx.send(e.to_string()).unwrap()),
    );
    assert!(rx.recv().unwrap().contains("seen by a callback"));
    // Dropped unread: reported, whether the task ends before or after the drop.
    drop(s.try_submit(|| Err::<(), _>("never retrieved")));
    let late = s.try_submit(|| {
        std::thread::sleep(Duration::from_millis(20));
        Err::<(), _>("never retrieved either")
    });
    drop(late);
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.unobserved_errors() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(s.unobserved_errors(), 2);
}

// ---- panics where no caller can catch them ----

/// A value whose `Drop` panics unless it was defused.
struct Bomb {
    id: u64,
    armed: bool,
}

impl Bomb {
    fn new(id: u64) -> Self {
        Bomb { id, armed: true }
    }

    fn defuse(mut self) -> u64 {
        self.armed = false;
        self.id
    }
}

impl Drop for Bomb {
    fn drop(&mut self) {
        assert!(!self.armed, "bomb {} went off", self.id);
    }
}

/// Waits until the session has counted `n` unobserved errors (at most ten seconds).
fn await_unobserved(s: &Session, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.unobserved_errors() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    s.unobserved_errors()
}

#[test]
fn a_result_whose_drop_panics_on_a_worker_is_reported_not_an_abort() {
    // The handle is dropped before the task ends, so the worker drops the result: its panic
    // would abort the process if it unwound out of the pool's job.
    let s = session(2);
    drop(s.submit(|| {
        std::thread::sleep(Duration::from_millis(20));
        Bomb::new(1)
    }));
    assert_eq!(await_unobserved(&s, 1), 1);
    // The pool still works.
    assert_eq!(s.submit(|| 2).get().unwrap(), 2);
}

#[test]
fn skipped_items_whose_drop_panics_are_reported_not_an_abort() {
    // One chunk of ten on one worker: item 0 fails, so items 1..10 are skipped and dropped
    // on the worker, each panicking.
    let s = session(2);
    let err = s
        .try_parallel_map((0..10).map(Bomb::new), |b| {
            let id = b.defuse();
            if id == 0 { Err("first") } else { Ok(id) }
        })
        .n_jobs(1)
        .chunk_size(10)
        .collect()
        .unwrap_err();
    assert!(matches!(err, Error::Item { index: 0, .. }), "{err}");
    assert_eq!(s.unobserved_errors(), 9);
}

// ---- progress ----

#[test]
fn progress_is_set_from_text_or_the_builder_and_bars_do_not_change_results() {
    assert_eq!("auto".parse::<Progress>().unwrap(), Progress::Auto);
    assert_eq!("Never".parse::<Progress>().unwrap(), Progress::Never);
    assert!(
        "loud"
            .parse::<Progress>()
            .unwrap_err()
            .to_string()
            .contains("progress")
    );
    assert_eq!(SessionConfig::default().progress, Progress::Auto);

    let s = Session::builder()
        .threads(2)
        .progress(Progress::Always)
        .build()
        .unwrap();
    assert_eq!(s.config().progress, Progress::Always);
    let squares = s.parallel_map(0..50_u64, |i| i * i).collect().unwrap();
    assert_eq!(squares[7], 49);
    let hidden = s
        .parallel_map(0..50_u64, |i| i * i)
        .progress(false)
        .collect()
        .unwrap();
    assert_eq!(hidden, squares);
    let total: i64 = s
        .from_vec("x", (1..=100_i64).collect(), 4)
        .unwrap()
        .sum()
        .compute()
        .unwrap();
    assert_eq!(total, 5050);
    assert_eq!(Delayed::value(3_u8).map(|x| x * 2).compute(&s).unwrap(), 6);

    // Drawn at once, with DataFrame work nested in the map's items (whose own bars are
    // hidden): the same answers.
    let s = Session::builder()
        .threads(2)
        .progress(Progress::Always)
        .progress_delay(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(s.config().progress_delay, Duration::ZERO);
    let inner = s.clone();
    let sums = s
        .try_parallel_map(1..=4_i64, move |n| engine_sum(&inner, n, 2))
        .collect()
        .unwrap();
    assert_eq!(sums, vec![1, 3, 6, 10]);
}
