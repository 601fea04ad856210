//! `parallel_map`: order, `n_jobs`, look-ahead, errors and fail-fast; scoped maps over borrowed data.

use super::*;

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
