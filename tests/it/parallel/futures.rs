//! Futures and callbacks, panics no caller can catch, and the progress setting.

use super::*;

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
