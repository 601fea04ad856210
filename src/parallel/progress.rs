//! Progress bars: the one place that draws them.
//!
//! Every long computation (a DataFrame `collect`, `compute` or write, a `parallel_map`, a
//! delayed graph's `compute`) reports to a [`Bar`]. Whether and how it is drawn is one
//! decision, [`draw`], of three facts: the session's [`Progress`] setting (or a map's own
//! `progress(bool)`), whether standard error is a terminal, and whether the computation
//! runs on a worker of the session's pool:
//!
//! - nothing (`Never`; `Auto` when standard error is not a terminal; and any computation
//!   nested inside pool work, such as a `collect` in a `parallel_map` item, so that the
//!   outer computation's bar is the only one): every call is a no-op, and a computation
//!   without a bar pays nothing;
//! - an `indicatif` bar on standard error (`Auto` or `Always` on a terminal): done / total
//!   when the total is known (a spinner and a count otherwise), rate, elapsed time, ETA,
//!   and in its message the bytes spilled so far, for DataFrame work;
//! - plain lines on standard error (`Always` when it is a file or a pipe): one line at most
//!   every [`LINE_INTERVAL`] and one at the end, with the same counts and spilled bytes, so
//!   a log shows progress without a flood of escape codes.
//!
//! Only long work is drawn: a bar or line appears once the computation has run for the
//! session's `progress_delay` (one second by default), so a short computation leaves
//! nothing on the screen or in the log. A computation that makes no step for a long time
//! (one slow item) is revealed all the same, by one timer thread for the process, started
//! with the first bar that needs it and asleep when none does. A bar that was drawn is
//! left on screen in its final state when the computation ends.

use std::io::{IsTerminal, Write as _};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use spillway_engine::exec::ProgressFn;
use spillway_planner::config::Progress;

use crate::session::Session;

/// The shortest time between two plain progress lines.
pub(crate) const LINE_INTERVAL: Duration = Duration::from_secs(5);

/// How often a drawn bar redraws itself when no step comes (the elapsed time, the spinner).
const TICK: Duration = Duration::from_millis(200);

/// How a computation shows its progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Draw {
    Nothing,
    Bar,
    Lines,
}

/// Whether and how to draw: a pure function of the progress setting, whether standard
/// error is a terminal, and whether the computation runs on a worker of the session's
/// pool (nested in other work, whose own bar is the one to show).
pub(crate) fn draw(mode: Progress, is_terminal: bool, on_worker: bool) -> Draw {
    match (mode, is_terminal) {
        _ if on_worker => Draw::Nothing,
        (Progress::Never, _) | (Progress::Auto, false) => Draw::Nothing,
        (Progress::Auto | Progress::Always, true) => Draw::Bar,
        (Progress::Always, false) => Draw::Lines,
    }
}

/// Where one computation reports how far it has got. Cheap to clone; clones report to the
/// same bar.
#[derive(Clone)]
pub(crate) struct Bar {
    /// `None` when nothing is drawn.
    shown: Option<Arc<Shown>>,
}

/// A bar or lines that are drawn once the computation has lasted its delay.
struct Shown {
    what: &'static str,
    total: Option<u64>,
    started: Instant,
    delay: Duration,
    /// The terminal bar, drawn to a hidden target until revealed; `None` for plain lines.
    term: Option<ProgressBar>,
    state: Mutex<State>,
}

struct State {
    done: u64,
    spilled: u64,
    /// The delay has passed and the bar (or the first line) has been drawn.
    visible: bool,
    finished: bool,
    /// When the last plain line was printed.
    printed: Instant,
}

impl Bar {
    /// The bar of a computation called `what`, of `total` steps (unknown when `None`), on
    /// `session`, drawn as `mode` and the place it runs in say (see [`draw`]).
    pub(crate) fn start(
        session: &Session,
        mode: Progress,
        what: &'static str,
        total: Option<usize>,
    ) -> Bar {
        let on_worker = session.pool().current_thread_index().is_some();
        let how = draw(mode, std::io::stderr().is_terminal(), on_worker);
        Bar::new(how, session.config().progress_delay, what, total)
    }

    fn new(how: Draw, delay: Duration, what: &'static str, total: Option<usize>) -> Bar {
        let total = total.map(|t| t as u64);
        let term = match how {
            Draw::Nothing => return Bar { shown: None },
            Draw::Bar => Some(term_bar(what, total)),
            Draw::Lines => None,
        };
        let now = Instant::now();
        let shown = Arc::new(Shown {
            what,
            total,
            started: now,
            delay,
            term,
            state: Mutex::new(State {
                done: 0,
                spilled: 0,
                visible: false,
                finished: false,
                printed: now,
            }),
        });
        if delay.is_zero() {
            shown.reveal(&mut shown.lock());
        } else {
            reveal_later(now + delay, Arc::downgrade(&shown));
        }
        Bar { shown: Some(shown) }
    }

    /// `steps` more steps are done.
    pub(crate) fn inc(&self, steps: usize) {
        if let Some(s) = &self.shown {
            s.update(|state| state.done += steps as u64);
        }
    }

    /// `done` steps are done in all, and `spilled` bytes spilled so far.
    fn set(&self, done: usize, spilled: u64) {
        if let Some(s) = &self.shown {
            s.update(|state| {
                state.done = done as u64;
                state.spilled = spilled;
            });
        }
    }

    /// The engine's progress callback drawing on this bar; `None` when nothing is drawn,
    /// so the engine does not even call it.
    pub(crate) fn callback(&self) -> Option<ProgressFn> {
        self.shown.as_ref()?;
        let bar = self.clone();
        Some(Arc::new(move |done, _total, spilled| {
            bar.set(done, spilled)
        }))
    }

    /// The computation is over (finished or failed): a bar that was drawn shows its final
    /// state; one that was not never will.
    pub(crate) fn finish(&self) {
        if let Some(s) = &self.shown {
            s.finish();
        }
    }
}

impl Shown {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics under this lock but writing to standard error, which is ignored.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        let mut state = self.lock();
        if state.finished {
            return;
        }
        f(&mut state);
        if let Some(bar) = &self.term {
            bar.set_position(state.done);
            if state.spilled > 0 {
                bar.set_message(format!("spilled {}", mib(state.spilled)));
            }
        }
        if !state.visible {
            if self.started.elapsed() >= self.delay {
                self.reveal(&mut state);
            }
        } else if self.term.is_none() && state.printed.elapsed() >= LINE_INTERVAL {
            self.print(&mut state);
        }
    }

    /// Draws the bar, or the first line, unless the computation is over.
    fn reveal(&self, state: &mut State) {
        if state.visible || state.finished {
            return;
        }
        state.visible = true;
        match &self.term {
            Some(bar) => {
                bar.set_draw_target(ProgressDrawTarget::stderr());
                bar.enable_steady_tick(TICK);
            }
            None => self.print(state),
        }
    }

    fn finish(&self) {
        let mut state = self.lock();
        if state.finished {
            return;
        }
        state.finished = true;
        if !state.visible {
            return;
        }
        match &self.term {
            Some(bar) => bar.abandon(),
            None => self.print(&mut state),
        }
    }

    fn print(&self, state: &mut State) {
        state.printed = Instant::now();
        let text = line(
            self.what,
            state.done,
            self.total,
            self.started.elapsed(),
            state.spilled,
        );
        // A progress line that cannot be written is not worth failing (or panicking) for.
        let _ = writeln!(std::io::stderr(), "{text}");
    }
}

/// One plain progress line: `collect: 12/40 done in 6.0 s (2.0/s), spilled 3.5 MiB`.
fn line(what: &str, done: u64, total: Option<u64>, elapsed: Duration, spilled: u64) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let total = total.map(|t| format!("/{t}")).unwrap_or_default();
    let spilled = if spilled > 0 {
        format!(", spilled {}", mib(spilled))
    } else {
        String::new()
    };
    format!("{what}: {done}{total} done in {secs:.1} s ({rate:.1}/s){spilled}")
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// A terminal bar, drawn nowhere until revealed.
fn term_bar(what: &'static str, total: Option<u64>) -> ProgressBar {
    // `{msg}` is reserved for spilled bytes (see the module documentation).
    let template = match total {
        Some(_) => {
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta}) {msg}"
        }
        None => "{spinner} {prefix} [{elapsed_precise}] {pos} done ({per_sec}) {msg}",
    };
    let style = ProgressStyle::with_template(template).unwrap_or_else(|_| {
        if total.is_some() {
            ProgressStyle::default_bar()
        } else {
            ProgressStyle::default_spinner()
        }
    });
    ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden())
        .with_style(style)
        .with_prefix(what)
}

/// A bar to reveal at a time, if it is still running then.
struct Due {
    at: Instant,
    bar: Weak<Shown>,
}

/// Reveals `bar` at `at` even if it makes no step by then, through the process's timer
/// thread. If that thread cannot be started, bars are revealed at their next step only.
fn reveal_later(at: Instant, bar: Weak<Shown>) {
    static TIMER: OnceLock<Option<Mutex<Sender<Due>>>> = OnceLock::new();
    let timer = TIMER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Due>();
        std::thread::Builder::new()
            .name("spillway-progress".into())
            .spawn(move || run_timer(&rx))
            .ok()
            .map(|_| Mutex::new(tx))
    });
    if let Some(tx) = timer {
        let _ = tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(Due { at, bar });
    }
}

/// The timer thread: sleeps until the next bar is due (or forever when none is), reveals
/// the bars that are due and still running, forgets those that have ended.
fn run_timer(rx: &mpsc::Receiver<Due>) {
    let mut pending: Vec<Due> = Vec::new();
    loop {
        let next = pending.iter().map(|d| d.at).min();
        let received = match next {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
        };
        match received {
            Ok(due) => pending.push(due),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        pending.retain(|due| {
            let Some(bar) = due.bar.upgrade() else {
                return false;
            };
            if due.at > now {
                return true;
            }
            bar.reveal(&mut bar.lock());
            false
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawing_depends_on_the_setting_the_terminal_and_nesting() {
        use Draw::{Bar, Lines, Nothing};
        use Progress::{Always, Auto, Never};
        // (mode, is_terminal, on_worker) -> how
        let cases = [
            ((Auto, true, false), Bar),
            ((Auto, false, false), Nothing), // off when not a terminal in Auto mode
            ((Always, true, false), Bar),
            ((Always, false, false), Lines),
            ((Never, true, false), Nothing),
            ((Never, false, false), Nothing),
            // Nested in pool work: the outer computation's bar is the only one.
            ((Auto, true, true), Nothing),
            ((Always, true, true), Nothing),
            ((Always, false, true), Nothing),
        ];
        for ((mode, terminal, worker), expected) in cases {
            assert_eq!(
                draw(mode, terminal, worker),
                expected,
                "{mode:?} terminal={terminal} on_worker={worker}"
            );
        }
    }

    fn visible(bar: &super::Bar) -> bool {
        bar.shown.as_ref().is_some_and(|s| s.lock().visible)
    }

    #[test]
    fn nothing_drawn_has_no_callback_and_ignores_updates() {
        let bar = Bar::new(Draw::Nothing, Duration::ZERO, "test", Some(3));
        assert!(bar.callback().is_none());
        bar.inc(1);
        bar.finish();
        assert!(!visible(&bar));
    }

    #[test]
    fn short_work_is_never_drawn_and_long_work_is_drawn_after_the_delay() {
        for how in [Draw::Bar, Draw::Lines] {
            // Done before its delay: nothing is ever drawn.
            let short = Bar::new(how, Duration::from_secs(60), "test", Some(3));
            let callback = short.callback().expect("a drawn bar has a callback");
            callback(2, 3, 1 << 20);
            short.inc(1);
            short.finish();
            assert!(!visible(&short), "{how:?}");
            // Without a delay, drawn at once; counted either way.
            let at_once = Bar::new(how, Duration::ZERO, "test", Some(3));
            assert!(visible(&at_once), "{how:?}");
            at_once.callback().unwrap()(2, 3, 0);
            at_once.inc(1);
            let shown = at_once.shown.as_ref().unwrap();
            assert_eq!(shown.lock().done, 3);
            if let Some(term) = &shown.term {
                assert_eq!(term.position(), 3);
            }
            at_once.finish();
            at_once.finish();
            assert!(shown.lock().finished);
        }
    }

    #[test]
    fn a_bar_without_steps_is_revealed_by_the_timer_once_its_delay_has_passed() {
        let bar = Bar::new(Draw::Bar, Duration::from_millis(20), "test", None);
        assert!(!visible(&bar));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !visible(&bar) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(visible(&bar), "no step came, but the delay passed");
        bar.finish();
    }

    #[test]
    fn plain_lines_count_rate_and_spilled_bytes() {
        assert_eq!(
            line("collect", 12, Some(40), Duration::from_secs(6), 3 << 20),
            "collect: 12/40 done in 6.0 s (2.0/s), spilled 3.0 MiB"
        );
        assert_eq!(
            line("parallel_map", 5, None, Duration::from_secs(1), 0),
            "parallel_map: 5 done in 1.0 s (5.0/s)"
        );
    }
}
