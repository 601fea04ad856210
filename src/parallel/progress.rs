//! Progress bars: the one place that draws them.
//!
//! Every long computation (a DataFrame `collect`, a `parallel_map`, a delayed graph's
//! `compute`) reports to a [`Bar`], which the session's [`Progress`] setting makes one of:
//!
//! - hidden (`Never`, or `Auto` when standard error is not a terminal): every call is a
//!   no-op, so a computation without a bar pays nothing;
//! - an `indicatif` bar on standard error (`Auto` or `Always` on a terminal): done / total
//!   when the total is known (a spinner and a count otherwise), rate, elapsed time, ETA;
//! - plain lines on standard error (`Always` when it is a file or a pipe): one line at most
//!   every [`LINE_INTERVAL`] and one at the end, so a log shows progress without a flood of
//!   escape codes.
//!
//! Spilled bytes: the engine's progress callback passes the bytes the computation has
//! spilled so far, and a terminal bar shows them in its `{msg}` (plain lines do not).

use std::io::{IsTerminal, Write as _};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use spillway_engine::exec::ProgressFn;
use spillway_planner::config::Progress;

/// The shortest time between two plain progress lines.
pub(crate) const LINE_INTERVAL: Duration = Duration::from_secs(5);

/// Where one computation reports how far it has got. Cheap to clone; clones report to the
/// same bar.
#[derive(Clone)]
pub(crate) struct Bar {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Hidden,
    Term(ProgressBar),
    Lines(Arc<Lines>),
}

/// The plain-lines form: what it counts, and when it last printed.
struct Lines {
    what: &'static str,
    total: Option<u64>,
    started: Instant,
    state: Mutex<LinesState>,
}

struct LinesState {
    done: u64,
    printed: Instant,
    finished: bool,
}

impl Bar {
    /// A bar for `total` steps (unknown when `None`) of the computation called `what`.
    pub(crate) fn new(mode: Progress, what: &'static str, total: Option<usize>) -> Bar {
        let total = total.map(|t| t as u64);
        let terminal = std::io::stderr().is_terminal();
        let kind = match (mode, terminal) {
            (Progress::Never, _) | (Progress::Auto, false) => Kind::Hidden,
            (Progress::Auto | Progress::Always, true) => Kind::Term(term_bar(what, total)),
            (Progress::Always, false) => Kind::Lines(Arc::new(Lines {
                what,
                total,
                started: Instant::now(),
                state: Mutex::new(LinesState {
                    done: 0,
                    printed: Instant::now(),
                    finished: false,
                }),
            })),
        };
        Bar { kind }
    }

    /// `steps` more steps are done.
    pub(crate) fn inc(&self, steps: usize) {
        match &self.kind {
            Kind::Hidden => {}
            Kind::Term(bar) => bar.inc(steps as u64),
            Kind::Lines(lines) => lines.update(|done| done + steps as u64),
        }
    }

    /// `done` steps are done in all.
    pub(crate) fn set(&self, done: usize) {
        match &self.kind {
            Kind::Hidden => {}
            Kind::Term(bar) => bar.set_position(done as u64),
            Kind::Lines(lines) => lines.update(|_| done as u64),
        }
    }

    /// Shows the bytes spilled so far (on a terminal bar; plain lines leave them out).
    pub(crate) fn spilled(&self, bytes: u64) {
        if let (Kind::Term(bar), true) = (&self.kind, bytes > 0) {
            bar.set_message(format!(
                "spilled {:.1} MiB",
                bytes as f64 / (1 << 20) as f64
            ));
        }
    }

    /// The engine's progress callback drawing on this bar; `None` when hidden, so the
    /// engine does not even call it.
    pub(crate) fn callback(&self) -> Option<ProgressFn> {
        match &self.kind {
            Kind::Hidden => None,
            _ => {
                let bar = self.clone();
                Some(Arc::new(move |done, _total, spilled| {
                    bar.set(done);
                    bar.spilled(spilled);
                }))
            }
        }
    }

    /// The computation is over (finished or failed): draws the final state once.
    pub(crate) fn finish(&self) {
        match &self.kind {
            Kind::Hidden => {}
            Kind::Term(bar) => {
                if !bar.is_finished() {
                    bar.abandon();
                }
            }
            Kind::Lines(lines) => {
                let mut s = lines.state.lock().unwrap_or_else(PoisonError::into_inner);
                if !s.finished {
                    s.finished = true;
                    lines.print(s.done);
                }
            }
        }
    }
}

fn term_bar(what: &'static str, total: Option<u64>) -> ProgressBar {
    // `{msg}` is reserved for spilled bytes (see the module documentation).
    let (bar, template) = match total {
        Some(n) => (
            ProgressBar::new(n),
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta}) {msg}",
        ),
        None => (
            ProgressBar::no_length(),
            "{spinner} {prefix} [{elapsed_precise}] {pos} done ({per_sec}) {msg}",
        ),
    };
    let style = ProgressStyle::with_template(template).unwrap_or_else(|_| {
        if total.is_some() {
            ProgressStyle::default_bar()
        } else {
            ProgressStyle::default_spinner()
        }
    });
    bar.with_style(style).with_prefix(what)
}

impl Lines {
    fn update(&self, f: impl FnOnce(u64) -> u64) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.done = f(s.done);
        if !s.finished && s.printed.elapsed() >= LINE_INTERVAL {
            s.printed = Instant::now();
            self.print(s.done);
        }
    }

    fn print(&self, done: u64) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 {
            done as f64 / elapsed
        } else {
            0.0
        };
        let total = self.total.map(|t| format!("/{t}")).unwrap_or_default();
        // A progress line that cannot be written is not worth failing (or panicking) for.
        let _ = writeln!(
            std::io::stderr(),
            "{}: {done}{total} done in {elapsed:.1} s ({rate:.1}/s)",
            self.what
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hidden_bar_has_no_callback_and_ignores_updates() {
        let bar = Bar::new(Progress::Never, "test", Some(3));
        assert!(bar.callback().is_none());
        bar.inc(1);
        bar.set(3);
        bar.finish();
    }

    #[test]
    fn a_shown_bar_counts_and_finishes_once() {
        // `Always` draws a bar on a terminal and plain lines elsewhere; both count.
        let bar = Bar::new(Progress::Always, "test", Some(3));
        let callback = bar.callback().expect("a shown bar has a callback");
        callback(2, 3, 1 << 20);
        bar.inc(1);
        match &bar.kind {
            Kind::Term(b) => assert_eq!(b.position(), 3),
            Kind::Lines(l) => assert_eq!(l.state.lock().unwrap().done, 3),
            Kind::Hidden => panic!("`Always` is never hidden"),
        }
        bar.finish();
        bar.finish();
    }
}
