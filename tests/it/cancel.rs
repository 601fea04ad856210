//! Cancelling computations from another thread (`Session::cancel`), and a failure that a
//! slow partition must not hold back (issue 12): the run returns within a second, with no
//! task running and no spill file left, and the session stays usable.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use spillway::arrow::array::AsArray;
use spillway::arrow::datatypes::Int64Type;
use spillway::prelude::*;

/// Rows per batch: a slow closure sleeps once per batch.
const BATCH_ROWS: usize = 10;
/// What a slow closure sleeps per batch.
const PER_BATCH: Duration = Duration::from_millis(20);
/// How soon a cancelled or failed run must return.
const PROMPTLY: Duration = Duration::from_secs(1);

/// A closure's calls: all of them, and those running now.
#[derive(Default)]
struct Calls {
    all: AtomicUsize,
    running: AtomicUsize,
}

impl Calls {
    /// `x`, counted, after sleeping [`PER_BATCH`] on the first row of each batch.
    fn slow(&self, x: i64) -> i64 {
        self.running.fetch_add(1, Ordering::SeqCst);
        self.all.fetch_add(1, Ordering::SeqCst);
        if x % BATCH_ROWS as i64 == 0 {
            std::thread::sleep(PER_BATCH);
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        x
    }

    /// Asserts that no call runs now and none starts later.
    fn assert_ended(&self) {
        assert_eq!(self.running.load(Ordering::SeqCst), 0, "a call still runs");
        let calls = self.all.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(self.all.load(Ordering::SeqCst), calls, "calls went on");
    }
}

/// `x` = `0..n` in `nparts` partitions, with `y` = `x` through `calls.slow`.
fn slow_frame(s: &Session, n: i64, nparts: usize, calls: &Arc<Calls>) -> DataFrame {
    let c = Arc::clone(calls);
    s.from_vec("x", (0..n).collect(), nparts)
        .unwrap()
        .into_frame()
        .with_column(col("x").apply(move |x: i64| c.slow(x)).alias("y"))
        .unwrap()
}

/// The files in the spill folders (`spillway-*`) under `dir`.
fn spilled_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("spillway-"))
        .map(|e| std::fs::read_dir(e.path()).map_or(0, Iterator::count))
        .sum()
}

/// Cancels `session` from another thread once `ready` holds and at least `after` has
/// passed; joined, the thread gives the instant of the cancel. Never ready, it cancels
/// after 10 s and panics.
fn cancel_when(
    session: &Session,
    after: Duration,
    ready: impl Fn() -> bool + Send + 'static,
) -> std::thread::JoinHandle<Instant> {
    let (s, started) = (session.clone(), Instant::now());
    std::thread::spawn(move || {
        let mut was_ready = false;
        while !(was_ready && started.elapsed() >= after)
            && started.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(5));
            was_ready = was_ready || ready();
        }
        let at = Instant::now();
        s.cancel();
        assert!(was_ready, "the run never got ready to be cancelled");
        at
    })
}

#[test]
fn a_cancel_from_another_thread_stops_a_spilling_run_within_a_second() {
    // Two partitions of 10 000 rows, 1 000 batches each at 20 ms a batch: 20 s of work,
    // sorted under a 2 KiB budget, so that it spills from the first batches. Cancelled
    // once something has spilled and 200 ms have passed.
    for synchronous in [false, true] {
        let spill = tempfile::tempdir().unwrap();
        let s = Session::builder()
            .threads(2)
            .synchronous(synchronous)
            .batch_rows(BATCH_ROWS)
            .memory_limit(2_048)
            .spill_dir(spill.path())
            .build()
            .unwrap();
        // A session leaves nothing in its spill folder when nothing runs.
        assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
        let calls = Arc::new(Calls::default());
        let sorted = slow_frame(&s, 20_000, 2, &calls)
            .sort([col("y").desc()])
            .unwrap();
        let dir = spill.path().to_path_buf();
        let canceller = cancel_when(&s, Duration::from_millis(200), move || {
            spilled_files(&dir) > 0
        });
        let started = Instant::now();
        let err = sorted.collect().unwrap_err();
        let returned = Instant::now();
        let cancelled = canceller.join().unwrap();
        assert!(matches!(err.root(), Error::Cancelled), "{err}");
        assert!(
            returned.duration_since(cancelled) < PROMPTLY,
            "returned {:?} after the cancel (synchronous: {synchronous})",
            returned.duration_since(cancelled)
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        calls.assert_ended();
        // The run's spill folder went with it, and its memory.
        assert_eq!(
            std::fs::read_dir(spill.path()).unwrap().count(),
            0,
            "spill files left"
        );
        assert_eq!(s.memory().used(), 0);

        // Runs started after the cancel run normally, spilling included.
        let out = s
            .from_vec("x", (0..1_000_i64).collect(), 4)
            .unwrap()
            .into_frame()
            .sort([col("x").desc()])
            .unwrap()
            .collect_batch()
            .unwrap();
        let xs = out.column(0).as_primitive::<Int64Type>();
        assert_eq!(
            xs.values().to_vec(),
            (0..1_000_i64).rev().collect::<Vec<_>>()
        );
        assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    }
}

#[test]
fn a_cancel_with_nothing_running_cancels_nothing_later() {
    let s = Session::builder().threads(2).build().unwrap();
    s.cancel();
    let total: i64 = s
        .from_vec("n", vec![1_i64, 2, 3], 2)
        .unwrap()
        .sum()
        .compute()
        .unwrap();
    assert_eq!(total, 6);
}

#[test]
fn a_cancelled_write_leaves_no_file() {
    // One partition of 1 000 batches at 20 ms: 20 s of writing, cancelled after 200 ms.
    let out = tempfile::tempdir().unwrap();
    let s = Session::builder()
        .threads(2)
        .batch_rows(BATCH_ROWS)
        .build()
        .unwrap();
    let calls = Arc::new(Calls::default());
    let frame = slow_frame(&s, 10_000, 1, &calls);
    let canceller = cancel_when(&s, Duration::from_millis(200), || true);
    let err = frame.write_parquet(out.path().join("slow")).unwrap_err();
    let returned = Instant::now();
    let cancelled = canceller.join().unwrap();
    assert!(matches!(err.root(), Error::Cancelled), "{err}");
    assert!(returned.duration_since(cancelled) < PROMPTLY);
    calls.assert_ended();
    let files = crate::files::files(out.path());
    assert!(files.is_empty(), "files left: {files:?}");
}

#[test]
fn a_cancel_stops_a_delayed_graph_between_nodes() {
    // A chain of 100 nodes of 20 ms each (while `slow`): 2 s, cancelled after 100 ms.
    let s = Session::builder().threads(2).build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let slow = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut node = Delayed::new(|| 0_u64);
    for _ in 0..100 {
        let (ran, slow) = (Arc::clone(&ran), Arc::clone(&slow));
        node = node.map(move |x| {
            ran.fetch_add(1, Ordering::SeqCst);
            if slow.load(Ordering::SeqCst) {
                std::thread::sleep(PER_BATCH);
            }
            x + 1
        });
    }
    let canceller = cancel_when(&s, Duration::from_millis(100), || true);
    let err = node.compute(&s).unwrap_err();
    let returned = Instant::now();
    let cancelled = canceller.join().unwrap();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert!(returned.duration_since(cancelled) < PROMPTLY);
    let ran_then = ran.load(Ordering::SeqCst);
    assert!(ran_then < 100, "{ran_then} nodes ran");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        ran.load(Ordering::SeqCst),
        ran_then,
        "nodes ran after the return"
    );
    // Computed again, it runs to the end.
    slow.store(false, Ordering::SeqCst);
    assert_eq!(node.compute(&s).unwrap(), 100);
}

#[test]
fn a_failure_is_not_held_back_by_a_slow_partition() {
    // Partition 0 takes 10 s (500 batches at 20 ms); partition 1 fails on its first row.
    let s = Session::builder()
        .threads(2)
        .batch_rows(BATCH_ROWS)
        .build()
        .unwrap();
    let calls = Arc::new(Calls::default());
    let c = Arc::clone(&calls);
    let frame = s
        .from_vec("x", (0..10_000_i64).collect(), 2)
        .unwrap()
        .into_frame()
        .with_column(
            col("x")
                .apply(move |x: i64| {
                    if x == 5_000 {
                        return Err(format!("partition 1 failed at {x}"));
                    }
                    Ok(c.slow(x))
                })
                .alias("y"),
        )
        .unwrap();
    let started = Instant::now();
    let err = frame.collect().unwrap_err();
    assert!(
        started.elapsed() < PROMPTLY,
        "the failure took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(&err, Error::Task { partition: 1, .. }),
        "wrong error: {err}"
    );
    assert!(
        err.to_string().contains("partition 1 failed at 5000"),
        "{err}"
    );
    calls.assert_ended();
}
