//! [`TaskFuture`]: one closure submitted to the session's pool, with `get` and callbacks,
//! as `multiprocessing`'s `apply_async` (`callback` / `error_callback`) and Ray's `ray.get`.
//!
//! The task and its handle share a slot: a mutex over the result and the callbacks still
//! to call, and a condition variable for `get`. Callbacks attached before the task ends
//! run on the worker, right after the task, as results arrive; a callback attached after
//! it ended runs at once on the attaching thread (as `concurrent.futures`'
//! `add_done_callback` does). Either way each runs exactly once, and only the kind that
//! matches the outcome runs.
//!
//! No error is silently dropped. An error is *observed* when `get` returns it or an error
//! callback receives it. When the handle is gone and the task has failed without its
//! error being observed (whichever of the two happens last), the error is reported on
//! standard error, naming the task, and counted in
//! [`Session::unobserved_errors`](crate::Session::unobserved_errors): asyncio's "Task
//! exception was never retrieved". A callback that panics does not change the task's
//! result; its panic is reported and counted the same way, as is a panic in the `Drop` of
//! a result that the worker drops last (its handle gone).
//!
//! `get` from inside pool work (a task waiting for another) cannot deadlock the pool: the
//! task is a [`Claim`], and a waiting worker runs it at once if no worker has started it,
//! then waits for it only when it is running elsewhere.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use spillway_engine::jobs::Claim;
use spillway_planner::error::panic_message;
use spillway_planner::{Error, Result};

use super::{UserError, call_caught, report_unobserved};
use crate::session::Session;

type SuccessFn<R> = Box<dyn FnOnce(&R) + Send>;
type ErrorFn = Box<dyn FnOnce(&Error) + Send>;

/// The handle of a closure submitted by [`Session::submit`] or [`Session::try_submit`].
///
/// ```
/// use spillway::prelude::*;
/// use std::sync::mpsc;
///
/// let session = Session::builder().threads(2).build()?;
/// let (tx, rx) = mpsc::channel();
/// let squared = session.submit(|| 7 * 7).on_success(move |v| tx.send(*v).unwrap());
/// assert_eq!(squared.get()?, 49);
/// assert_eq!(rx.recv().unwrap(), 49); // the callback ran too
/// # Ok::<(), spillway::Error>(())
/// ```
///
/// [`Session::submit`]: crate::Session::submit
/// [`Session::try_submit`]: crate::Session::try_submit
#[must_use = "an error of a task whose future is dropped unread is reported on stderr"]
pub struct TaskFuture<R> {
    slot: Arc<Slot<R>>,
    /// The task on the pool; `None` in synchronous mode, where it has already run.
    claim: Option<Arc<Claim<'static>>>,
}

struct Slot<R> {
    /// `name[number]`, numbered per session.
    name: String,
    unobserved: Arc<AtomicUsize>,
    state: Mutex<State<R>>,
    finished: Condvar,
}

struct State<R> {
    /// The outcome, once the task has ended (until `get` takes it).
    result: Option<Result<R>>,
    finished: bool,
    on_success: Vec<SuccessFn<R>>,
    on_error: Vec<ErrorFn>,
    /// `get` returned the error, or an error callback received it.
    error_seen: bool,
    handle_dropped: bool,
}

/// Submits `f` (named `name`) to the session's pool, or runs it at once in synchronous
/// mode.
pub(crate) fn submit<R, F>(session: &Session, name: String, f: F) -> TaskFuture<R>
where
    R: Send + 'static,
    F: FnOnce() -> std::result::Result<R, UserError> + Send + 'static,
{
    let slot = Arc::new(Slot {
        name,
        unobserved: session.unobserved_counter(),
        state: Mutex::new(State {
            result: None,
            finished: false,
            on_success: Vec::new(),
            on_error: Vec::new(),
            error_seen: false,
            handle_dropped: false,
        }),
        finished: Condvar::new(),
    });
    let task_slot = Arc::clone(&slot);
    let (name, unobserved) = (slot.name.clone(), session.unobserved_counter());
    let task = move || {
        // The outcome, the callbacks, and the slot itself: if the handle is gone, this is
        // its last owner, and the result's `Drop` runs here.
        let ran = catch_unwind(AssertUnwindSafe(move || {
            let result = call_caught(&task_slot.name, f);
            task_slot.complete(result);
        }));
        if let Err(payload) = ran {
            let message = panic_message(&*payload);
            report_unobserved(
                &unobserved,
                format_args!("task {name} panicked after it ended (its result's Drop?): {message}"),
            );
        }
    };
    let claim = if session.config().synchronous {
        task();
        None
    } else {
        Some(Claim::spawn(|job| session.pool().spawn(job), task))
    };
    TaskFuture { slot, claim }
}

impl<R> Slot<R> {
    fn lock(&self) -> MutexGuard<'_, State<R>> {
        // Callbacks run under `catch_unwind`, so nothing panics while holding the lock;
        // recover the state anyway rather than propagate a poison.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores the task's outcome, after running the callbacks attached so far (and any
    /// attached while they ran) without holding the lock.
    fn complete(&self, result: Result<R>) {
        let mut state = self.lock();
        loop {
            let on_success = std::mem::take(&mut state.on_success);
            let on_error = std::mem::take(&mut state.on_error);
            if on_success.is_empty() && on_error.is_empty() {
                break;
            }
            drop(state);
            let saw_error = self.run_callbacks(&result, on_success, on_error);
            state = self.lock();
            state.error_seen |= saw_error;
        }
        if let Err(e) = &result
            && state.handle_dropped
            && !state.error_seen
        {
            self.report_unobserved(e);
        }
        state.result = Some(result);
        state.finished = true;
        drop(state);
        self.finished.notify_all();
    }

    /// Runs the callbacks that match the outcome (the others are dropped unrun); returns
    /// whether an error callback received the error.
    fn run_callbacks(
        &self,
        result: &Result<R>,
        on_success: Vec<SuccessFn<R>>,
        on_error: Vec<ErrorFn>,
    ) -> bool {
        match result {
            Ok(v) => {
                for f in on_success {
                    self.guard(|| f(v));
                }
                false
            }
            Err(e) => {
                let any = !on_error.is_empty();
                for f in on_error {
                    self.guard(|| f(e));
                }
                any
            }
        }
    }

    /// Runs a callback; a panic is reported and counted instead of unwinding.
    fn guard(&self, f: impl FnOnce()) {
        if let Err(e) = call_caught(&format!("a callback of task {}", self.name), || {
            f();
            Ok(())
        }) {
            report_unobserved(&self.unobserved, format_args!("{e}"));
        }
    }

    fn report_unobserved(&self, e: &Error) {
        report_unobserved(
            &self.unobserved,
            format_args!(
                "task {} failed and its error was never retrieved (no get(), no on_error \
                 callback): {e}",
                self.name
            ),
        );
    }

    /// Waits until the task has ended.
    fn wait(&self) -> MutexGuard<'_, State<R>> {
        let mut state = self.lock();
        while !state.finished {
            state = self
                .finished
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state
    }
}

impl<R> TaskFuture<R> {
    /// The task's name: its closure's type and a number, as `sample[3]`.
    pub fn name(&self) -> &str {
        &self.slot.name
    }

    /// Whether the task has ended (successfully or not).
    pub fn is_done(&self) -> bool {
        self.slot.lock().finished
    }

    /// Waits for the task and returns its value (`ray.get`, `AsyncResult.get`).
    ///
    /// # Errors
    /// [`Error::UserFunction`] when a `try_submit` closure returned an error,
    /// [`Error::UserPanic`] when the closure panicked; both name the task.
    pub fn get(self) -> Result<R> {
        // On a worker, run the task here if no worker has started it: blocking instead
        // could leave it in the queue of a pool whose workers all wait.
        if let Some(claim) = &self.claim
            && rayon::current_thread_index().is_some()
        {
            claim.run_here();
        }
        let mut state = self.slot.wait();
        state.error_seen = true;
        state.result.take().unwrap_or_else(|| {
            Err(Error::Internal(format!(
                "the result of task {} was already taken",
                self.slot.name
            )))
        })
    }

    /// Calls `f` with the value if the task succeeds (`apply_async`'s `callback`): on the
    /// worker right after the task, or at once on this thread if the task has already
    /// ended. Called exactly once, or never if the task fails.
    pub fn on_success(self, f: impl FnOnce(&R) + Send + 'static) -> Self {
        let mut state = self.slot.lock();
        if !state.finished {
            state.on_success.push(Box::new(f));
        } else if let Some(Ok(v)) = &state.result {
            // The task has ended, so its worker no longer touches the slot: holding the
            // lock while the callback runs blocks nobody.
            self.slot.guard(|| f(v));
        }
        drop(state);
        self
    }

    /// Calls `f` with the error if the task fails (`apply_async`'s `error_callback`): on
    /// the worker right after the task, or at once on this thread if the task has already
    /// failed. Called exactly once, or never if the task succeeds. An error received here
    /// counts as observed.
    pub fn on_error(self, f: impl FnOnce(&Error) + Send + 'static) -> Self {
        let mut state = self.slot.lock();
        if !state.finished {
            state.on_error.push(Box::new(f));
        } else if let Some(Err(e)) = &state.result {
            self.slot.guard(|| f(e));
            state.error_seen = true;
        }
        drop(state);
        self
    }
}

impl<R> Drop for TaskFuture<R> {
    fn drop(&mut self) {
        let mut state = self.slot.lock();
        state.handle_dropped = true;
        if state.finished
            && !state.error_seen
            && let Some(Err(e)) = &state.result
        {
            self.slot.report_unobserved(e);
        }
    }
}

impl<R> fmt::Debug for TaskFuture<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskFuture")
            .field("name", &self.slot.name)
            .field("done", &self.is_done())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    fn session(synchronous: bool) -> Session {
        Session::builder()
            .threads(2)
            .synchronous(synchronous)
            .build()
            .unwrap()
    }

    #[test]
    fn callbacks_attached_after_the_end_run_at_once_and_only_the_matching_kind() {
        for synchronous in [true, false] {
            let s = session(synchronous);
            let calls = Arc::new(AtomicUsize::new(0));
            let fut = s.submit(|| 5);
            while !fut.is_done() {
                std::thread::yield_now();
            }
            let (c1, c2) = (Arc::clone(&calls), Arc::clone(&calls));
            let fut = fut
                .on_success(move |v| {
                    c1.fetch_add(*v, Ordering::SeqCst);
                })
                .on_error(move |_| {
                    c2.fetch_add(100, Ordering::SeqCst);
                });
            assert_eq!(calls.load(Ordering::SeqCst), 5);
            assert_eq!(fut.get().unwrap(), 5);
            assert_eq!(calls.load(Ordering::SeqCst), 5);
        }
    }

    #[test]
    fn a_panicking_callback_is_counted_and_leaves_the_result_alone() {
        let s = session(false);
        let fut = s.submit(|| 1).on_success(|_| panic!("callback boom"));
        assert_eq!(fut.get().unwrap(), 1);
        assert_eq!(s.unobserved_errors(), 1);
    }
}
