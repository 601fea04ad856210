//! The memory policy: every share of the budget and the one waiting rule, in one place.
//!
//! The pool ([`super::MemoryPool`]) only counts bytes; *how* the budget is shared between
//! the engine's consumers is decided here, and nowhere else:
//!
//! | rule | value | who asks |
//! |---|---|---|
//! | [`MemoryPolicy::held_share`]: memory held *between* tasks (exchange buckets, sorted runs, held rows) may fill at most this share of the limit | ½ | the spillable store, when it decides to keep a batch in memory or spill it |
//! | [`MemoryPolicy::admit_bytes`]: the scheduler starts another task only while this much is free | ¼ of the limit, split over the tasks in flight | the scheduler, before each start |
//! | [`MemoryPolicy::broadcast_bytes`]: a join broadcasts its right side only when it is estimated within this; a broadcast that turns out not to fit is cut into buckets of about half of it | the session's `broadcast_limit`, at most ⅛ of the limit | lowering, for each join; the broadcast build's fallback |
//! | [`MemoryPolicy::patience`] and the waiting rule | 30 s | an operator that has split as far as it can ([`MemoryPool::resize_waiting`]) |
//! | [`MemoryPolicy::resident_floor`]: above this share of the limit, a grant must also fit beside what the process's resident set holds that no reservation counts | ½ | every [`Reservation::try_grow`] (not the waiting rule, which the count alone decides) |
//!
//! Why these shares. Held memory is capped at half the limit so that consumers (taken
//! first by the scheduler) always find room to drain what producers hold; admission asks
//! for a quarter so that a new producer does not start into a full pool (it would only
//! spill at once); a broadcast table is built in one task and probed by every left
//! partition, so it must stay small against the whole budget. An estimate can be wrong:
//! a broadcast build that does not fit falls back to a partitioned join at once (it does
//! not wait: it has something left to split), see `ops/join/fallback.rs`.
//!
//! **The waiting rule.** A reservation that cannot grow is normally answered by the
//! consumer itself (spill, split, flush). Only an operator with nothing left to split waits,
//! and only for memory held by *other running tasks that are not waiting themselves*
//! ([`Activity`]), so waiting tasks never wait on each other and the run cannot deadlock;
//! it gives up at once when the bytes exceed the whole limit or nobody else is at work,
//! and after [`MemoryPolicy::patience`] in any case.
//!
//! **The resident set.** The count is what the engine believes; the process's resident set
//! (RSS) is what a container's cap sees, and it is larger: the allocator keeps freed memory
//! (glibc's arenas kept 250 MiB after h2o q1–q9 under a 1 GiB limit, which q10's tables did
//! not reuse), scans decode batches they do not reserve, and the program itself takes
//! pages as it runs. So above `resident_floor` of the limit the pool also reads the
//! resident set (at most every 2 ms) and counts what grew since the pool was made beyond
//! its reservations as used: a consumer that can spill spills earlier instead of the
//! process growing past the limit. Below the floor the count alone decides, so every
//! operator still has half the budget whatever else the process holds, and an operator
//! that waits by the waiting rule is never refused by the resident set.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use spillway_planner::{Error, Result};

use super::{MemoryPool, Reservation, Resident};

/// How the budget is shared; see the module doc for each rule and why.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryPolicy {
    /// The share of the limit that memory held between tasks may take (0 to 1).
    pub held_share: f64,
    /// The share of the limit that must be free, split over the tasks in flight, before
    /// the scheduler starts another task.
    pub admission_share: f64,
    /// The largest share of the limit a broadcast join's table may be estimated at.
    pub broadcast_share: f64,
    /// How long an operator waits for other tasks to give memory back.
    pub patience: Duration,
    /// The share of the limit (0 to 1) above which a grant also needs room beside what the
    /// process's resident set holds that no reservation counts; 1 turns the check off.
    pub resident_floor: f64,
    /// Bytes the process may hold beyond the limit that no reservation counts, above the
    /// resident floor: the program's own pages as it runs, thread stacks, the batches
    /// being decoded and moved between operators (a fixed overhead per running task).
    pub resident_slack: usize,
}

impl Default for MemoryPolicy {
    fn default() -> Self {
        MemoryPolicy {
            held_share: 0.5,
            admission_share: 0.25,
            broadcast_share: 0.125,
            patience: Duration::from_secs(30),
            resident_floor: 0.5,
            resident_slack: 32 << 20,
        }
    }
}

impl MemoryPolicy {
    /// Bytes that must be free before another task starts, with `max_in_flight` tasks
    /// allowed at once.
    pub fn admit_bytes(&self, limit: usize, max_in_flight: usize) -> usize {
        (limit as f64 * self.admission_share) as usize / max_in_flight.max(1)
    }

    /// The ceiling of the pool's total that held memory may grow to.
    pub fn held_ceiling(&self, limit: usize) -> usize {
        (limit as f64 * self.held_share.clamp(0.0, 1.0)) as usize
    }

    /// The pool's total up to which grants are decided by the count alone
    /// ([`MemoryPolicy::resident_floor`] of `limit`).
    pub fn resident_floor_bytes(&self, limit: usize) -> usize {
        (limit as f64 * self.resident_floor.clamp(0.0, 1.0)) as usize
    }

    /// The largest estimated right side a join broadcasts: `broadcast_limit`, at most the
    /// broadcast share of `limit`.
    pub fn broadcast_bytes(&self, limit: usize, broadcast_limit: usize) -> usize {
        broadcast_limit.min((limit as f64 * self.broadcast_share) as usize)
    }
}

/// How many of a run's tasks are running, and how many of those wait for memory: the
/// input of the waiting rule (see the module doc).
#[derive(Debug, Default)]
pub struct Activity {
    running: AtomicUsize,
    waiting: AtomicUsize,
}

impl Activity {
    /// Runs `f` counted as running.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let _running = Counted::new(&self.running);
        f()
    }

    /// Whether a task other than the waiting ones is running.
    fn others_at_work(&self) -> bool {
        self.running.load(Ordering::SeqCst) > self.waiting.load(Ordering::SeqCst)
    }
}

/// One in a counter while alive (also through a panic).
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Counted(counter)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl MemoryPool {
    /// Resizes `mem` to `bytes`, waiting, by the waiting rule, for other tasks of the run
    /// (`activity`) to give memory back when the pool is short. `check` is called between
    /// waits and ends the wait with its error (a cancelled run).
    ///
    /// # Errors
    /// The last [`Error::ResourcesExhausted`] when `bytes` exceed the whole limit, when no
    /// other task is at work, or after the policy's patience; `check`'s error.
    pub fn resize_waiting(
        &self,
        mem: &mut Reservation,
        bytes: usize,
        activity: &Activity,
        check: impl Fn() -> Result<()>,
    ) -> Result<()> {
        let deadline = Instant::now() + self.policy().patience;
        let _waiting = Counted::new(&activity.waiting);
        loop {
            // Nothing left to split: the count decides, not the resident set.
            let err: Error = match mem.try_resize_as(bytes, Resident::Ignore) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if bytes > self.limit() || !activity.others_at_work() || Instant::now() >= deadline {
                return Err(err);
            }
            check()?;
            self.wait_for(bytes.saturating_sub(mem.size()), Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shares_of_the_default_policy() {
        let p = MemoryPolicy::default();
        assert_eq!(p.admit_bytes(1000, 2), 125);
        assert_eq!(p.admit_bytes(1000, 0), 250);
        assert_eq!(p.held_ceiling(1000), 500);
        assert_eq!(p.broadcast_bytes(1000, 64), 64);
        assert_eq!(p.broadcast_bytes(1000, 1 << 30), 125);
    }

    #[test]
    fn a_task_waits_for_memory_only_while_another_task_works() {
        let pool = MemoryPool::new(100);
        let activity = Activity::default();
        let ok = || Ok(());
        let mut other = pool.reserve("other");
        other.try_grow(80).unwrap();
        // Alone: nobody will give memory back, so the answer is at once an error.
        let started = Instant::now();
        let err = activity.run(|| {
            let mut mem = pool.reserve("table");
            pool.resize_waiting(&mut mem, 50, &activity, ok)
        });
        assert!(
            matches!(err, Err(Error::ResourcesExhausted { .. })),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        // With another task at work that lets go, the wait ends in the memory.
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel();
            s.spawn(|| {
                activity.run(move || {
                    tx.send(()).unwrap();
                    std::thread::sleep(Duration::from_millis(100));
                    drop(other);
                })
            });
            rx.recv().unwrap();
            let got = activity.run(|| {
                let mut mem = pool.reserve("table");
                pool.resize_waiting(&mut mem, 50, &activity, ok)
                    .map(|()| mem.size())
            });
            assert_eq!(got.unwrap(), 50);
        });
        // Beyond the whole limit there is nothing to wait for.
        let mut mem = pool.reserve("table");
        assert!(pool.resize_waiting(&mut mem, 101, &activity, ok).is_err());
    }
}
