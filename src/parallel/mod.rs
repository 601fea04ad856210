//! Plain parallelism on the session's pool: the joblib / `multiprocessing` / `dask.delayed`
//! use case, without pickling, processes or a GIL.
//!
//! - [`ParallelMap`] (from [`Session::parallel_map`], or [`Session::parallel_map_scoped`]
//!   when the items or the closure borrow): a closure over every item of an iterator,
//!   possibly unbounded, with joblib's `n_jobs`, bounded look-ahead, results in input or
//!   completion order, fail-fast or per-item results.
//! - [`Delayed`]: lazy calls composed into a graph (`map`, `map2`, `map3`, `zip`, `all`),
//!   a node shared by several consumers computed once, drawn by `explain` and `to_dot`,
//!   run by `compute`.
//! - [`TaskFuture`] (from [`Session::submit`]): one closure on the pool, with `get` and
//!   success / error callbacks (`apply_async`); an error nobody retrieves is reported.
//!
//! All three run user closures under `catch_unwind`: a panic becomes
//! [`Error::UserPanic`](crate::Error::UserPanic) naming the closure (and, for a map, wrapped
//! in [`Error::Item`](crate::Error::Item) with the item's index), never an unwinding thread.
//! All three honour the session's `synchronous` setting (everything on the calling thread,
//! in order: the debugging mode) and its progress setting (see `progress.rs`).
//!
//! Waiting is done by the calling thread, and all three may be used from inside pool work
//! of the same session: a `collect` in a submitted task, a `compute` in a map item, a
//! `get` in a callback. A thread that waits on a worker of the session's pool runs the
//! work it waits for that no other worker has started (its own chunks, nodes and the
//! engine's tasks, or the future it `get`s), and only that work, instead of blocking: a
//! pool whose workers all wait still makes progress, and a worker's stack grows only as
//! deep as the program nests (see `spillway_engine::jobs`). What this cannot untie is a
//! cycle in the program itself: a task that waits, directly or not, for its own result.
//!
//! [`Session::parallel_map`]: crate::Session::parallel_map
//! [`Session::parallel_map_scoped`]: crate::Session::parallel_map_scoped
//! [`Session::submit`]: crate::Session::submit

mod delayed;
mod future;
mod map;
pub(crate) mod progress;

use std::fmt;
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use spillway_planner::Error;
use spillway_planner::error::panic_message;

pub use delayed::Delayed;
pub use future::TaskFuture;
pub(crate) use future::submit;
pub use map::{MapResults, ParallelMap, resolve_n_jobs};

pub(crate) use spillway_planner::error::UserError;

/// Runs a user closure with panics caught: its error becomes [`Error::UserFunction`] (the
/// error displayed, and kept as the source) and its panic [`Error::UserPanic`], both
/// naming `name`.
pub(crate) fn call_caught<R>(
    name: &str,
    f: impl FnOnce() -> std::result::Result<R, UserError>,
) -> spillway_planner::Result<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Error::UserFunction {
            function: name.to_string(),
            value: None,
            message: e.to_string(),
            source: Some(e),
        }),
        Err(payload) => Err(Error::UserPanic {
            function: name.to_string(),
            message: panic_message(payload.as_ref()),
        }),
    }
}

/// Reports on standard error a failure that nobody else will see (a panicking callback,
/// an error never retrieved, a panicking `Drop` on a worker) and counts it in the
/// session's [`unobserved_errors`](crate::Session::unobserved_errors).
pub(crate) fn report_unobserved(counter: &AtomicUsize, message: fmt::Arguments<'_>) {
    // Nothing to do if standard error is gone.
    let _ = writeln!(std::io::stderr(), "spillway: {message}");
    counter.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_panics_become_typed_errors_naming_the_function() {
        assert_eq!(call_caught("f", || Ok::<_, UserError>(3)).unwrap(), 3);
        let e = call_caught("f", || Err::<i32, _>("bad".into())).unwrap_err();
        assert!(matches!(&e, Error::UserFunction { function, message, .. }
            if function == "f" && message == "bad"));
        let e = call_caught("g", || -> std::result::Result<i32, UserError> {
            panic!("boom")
        })
        .unwrap_err();
        assert!(matches!(&e, Error::UserPanic { function, message }
            if function == "g" && message == "boom"));
    }
}
