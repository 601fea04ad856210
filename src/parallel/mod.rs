//! Plain parallelism on the session's pool: the joblib / `multiprocessing` / `dask.delayed`
//! use case, without pickling, processes or a GIL.
//!
//! - [`ParallelMap`] (from [`Session::parallel_map`]): a closure over every item of an
//!   iterator, possibly unbounded, with joblib's `n_jobs`, bounded look-ahead, results in
//!   input or completion order, fail-fast or per-item results.
//! - [`Delayed`]: lazy calls composed into a graph (`map`, `zip`, `all`), a node shared by
//!   several consumers computed once, drawn by `explain` and `to_dot`, run by `compute`.
//! - [`TaskFuture`] (from [`Session::submit`]): one closure on the pool, with `get` and
//!   success / error callbacks (`apply_async`); an error nobody retrieves is reported.
//!
//! All three run user closures under `catch_unwind`: a panic becomes
//! [`Error::UserPanic`](crate::Error::UserPanic) naming the closure (and, for a map, wrapped
//! in [`Error::Item`](crate::Error::Item) with the item's index), never an unwinding thread.
//! All three honour the session's `synchronous` setting (everything on the calling thread,
//! in order: the debugging mode) and its progress setting (see `progress.rs`).
//!
//! Waiting is done by the calling thread. When that thread is itself a worker of a rayon
//! pool (a `parallel_map` inside a submitted task, say), it runs other pool work while it
//! waits instead of blocking, so nested use cannot deadlock a pool whose workers all wait.
//!
//! [`Session::parallel_map`]: crate::Session::parallel_map
//! [`Session::submit`]: crate::Session::submit

mod delayed;
mod future;
mod map;
pub(crate) mod progress;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;

use spillway_planner::Error;
use spillway_planner::error::panic_message;

pub use delayed::Delayed;
pub use future::TaskFuture;
pub(crate) use future::submit;
pub use map::{MapResults, ParallelMap, resolve_n_jobs};

/// How long a waiting pool worker that found nothing else to do sleeps before it looks for
/// work again.
const HELP_POLL: Duration = Duration::from_micros(200);

/// Runs a user closure with panics caught: its error becomes [`Error::UserFunction`] and
/// its panic [`Error::UserPanic`], both naming `name`.
pub(crate) fn call_caught<R>(
    name: &str,
    f: impl FnOnce() -> std::result::Result<R, String>,
) -> spillway_planner::Result<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(message)) => Err(Error::UserFunction {
            function: name.to_string(),
            value: None,
            message,
        }),
        Err(payload) => Err(Error::UserPanic {
            function: name.to_string(),
            message: panic_message(payload.as_ref()),
        }),
    }
}

/// Waits for the next message; `None` when every sender is gone. On a rayon worker thread
/// it runs pending pool work while it waits (see the module documentation).
pub(crate) fn recv_helping<T>(rx: &Receiver<T>) -> Option<T> {
    if rayon::current_thread_index().is_none() {
        return rx.recv().ok();
    }
    loop {
        match rx.try_recv() {
            Ok(v) => return Some(v),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            match rx.recv_timeout(HELP_POLL) {
                Ok(v) => return Some(v),
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_panics_become_typed_errors_naming_the_function() {
        assert_eq!(call_caught("f", || Ok::<_, String>(3)).unwrap(), 3);
        let e = call_caught("f", || Err::<i32, _>("bad".to_string())).unwrap_err();
        assert!(matches!(&e, Error::UserFunction { function, message, .. }
            if function == "f" && message == "bad"));
        let e = call_caught("g", || -> std::result::Result<i32, String> {
            panic!("boom")
        })
        .unwrap_err();
        assert!(matches!(&e, Error::UserPanic { function, message }
            if function == "g" && message == "boom"));
    }
}
