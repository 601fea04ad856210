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

mod delayed;
mod futures;
mod map;
mod nested;
