//! The memory manager: one budget, the session's `memory_limit`, for everything the engine
//! holds. Read the README beside this file for the policy in one page.
//!
//! Every consumer that buffers data (a task's output held between stages as buckets or
//! sorted runs, an exchange bucket, a hash table, a sort buffer, a join's build side) holds a
//! [`Reservation`] from the session's [`MemoryPool`] and grows it before it allocates. A
//! reservation is RAII: dropping it returns its bytes, so memory is given back on success,
//! error, panic and cancellation alike. When a reservation cannot grow, the consumer
//! decides: spill and shrink, split its input and try again, or, with nothing left to
//! split, wait for other running tasks by the waiting rule
//! ([`MemoryPool::resize_waiting`]) and then fail with [`Error::ResourcesExhausted`]
//! naming itself and the sizes. How the budget is shared (held data, admission of new
//! tasks, broadcast tables, the waiting rule) is the pool's [`MemoryPolicy`], defined in
//! one place: [`policy`].
//!
//! Streaming operators reserve nothing, so a pipeline of them runs under any limit, however
//! small: a filter, a projection, `apply`, a local limit or a partial aggregate holds one
//! batch of at most `batch_rows` rows at a time, and `map_partitions` holds the one
//! partition it is defined over. What they hand on unreserved is bounded by the plan, not
//! by the data's size: a reduction's partial states, a limit's first `n` rows, and the
//! result batches a `collect` returns (which the caller asked to hold). A task that writes
//! to a sink reserves the writer's buffer (a Parquet writer's open row group) after each
//! write, and has the writer flush early when the budget cannot cover it.
//!
//! A batch is charged for the bytes its buffers occupy, a buffer shared by several columns
//! or slices once ([`batch_bytes`](spillway_planner::batch::batch_bytes)), after its string
//! views are compacted if they refer to much more than they show
//! ([`compact`](spillway_planner::batch::compact)). The process's peak RSS is the limit plus
//! the allocator's slack, the batches being decoded, and the program itself (documented in
//! BENCHMARKS.md), which the pool bounds by reading the resident set (`resident.rs`).

pub mod policy;
mod resident;

pub use policy::{Activity, MemoryPolicy};
pub use resident::{peak_resident_bytes, resident_bytes};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use spillway_planner::{Error, Result};

/// The session's memory budget.
#[derive(Debug)]
pub struct MemoryPool {
    limit: usize,
    policy: MemoryPolicy,
    state: Mutex<PoolState>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct PoolState {
    used: usize,
    peak: usize,
    /// The process's resident set since the pool was made; `None` without a limit, with
    /// the policy's `resident_floor` at 1, or where the platform does not tell it.
    resident: Option<resident::Watch>,
    /// Grants refused because the resident set, not the count, was full.
    resident_refusals: u64,
}

/// Whether a grant also asks the resident set ([`MemoryPolicy::resident_floor`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resident {
    Watch,
    Ignore,
}

impl MemoryPool {
    /// A pool of `limit` bytes.
    pub fn new(limit: usize) -> Arc<MemoryPool> {
        Self::with_policy(limit, MemoryPolicy::default())
    }

    /// A pool of `limit` bytes shared by `policy`.
    pub fn with_policy(limit: usize, policy: MemoryPolicy) -> Arc<MemoryPool> {
        Self::watching(limit, policy, resident::resident_bytes)
    }

    /// As [`MemoryPool::with_policy`], reading the resident set with `read`.
    fn watching(limit: usize, policy: MemoryPolicy, read: fn() -> Option<u64>) -> Arc<MemoryPool> {
        let watched = limit != usize::MAX && policy.resident_floor < 1.0;
        let state = PoolState {
            resident: watched.then(|| resident::Watch::reading(read)).flatten(),
            ..PoolState::default()
        };
        Arc::new(MemoryPool {
            limit,
            policy,
            state: Mutex::new(state),
            freed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // A panic while holding this lock leaves plain counters behind, still consistent.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The budget in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes reserved now.
    pub fn used(&self) -> usize {
        self.lock().used
    }

    /// Bytes free now.
    pub fn available(&self) -> usize {
        self.limit.saturating_sub(self.used())
    }

    /// The most bytes ever reserved at once.
    pub fn peak(&self) -> usize {
        self.lock().peak
    }

    /// How many grants were refused because the process's resident set, not the pool's
    /// count, had no room ([`MemoryPolicy::resident_floor`]).
    pub fn resident_refusals(&self) -> u64 {
        self.lock().resident_refusals
    }

    /// How the budget is shared.
    pub fn policy(&self) -> &MemoryPolicy {
        &self.policy
    }

    /// An empty reservation for `consumer` (named in errors and in `explain_analyze`).
    pub fn reserve(self: &Arc<Self>, consumer: impl Into<String>) -> Reservation {
        Reservation {
            pool: Arc::clone(self),
            consumer: consumer.into(),
            size: 0,
            tally: None,
        }
    }

    /// As [`MemoryPool::reserve`], also counted in a task's `tally`.
    pub fn reserve_tallied(
        self: &Arc<Self>,
        consumer: impl Into<String>,
        tally: &Arc<Tally>,
    ) -> Reservation {
        Reservation {
            pool: Arc::clone(self),
            consumer: consumer.into(),
            size: 0,
            tally: Some(Arc::clone(tally)),
        }
    }

    /// Waits until `bytes` are free, or `timeout` passes; returns whether they are free
    /// (the waiting rule's wait, [`MemoryPool::resize_waiting`]).
    /// The bytes are not reserved: the caller grows its reservation next (and may still
    /// lose the race, which it must handle).
    pub fn wait_for(&self, bytes: usize, timeout: Duration) -> bool {
        let state = self.lock();
        let (state, _) = self
            .freed
            .wait_timeout_while(state, timeout, |s| {
                self.limit.saturating_sub(s.used) < bytes
            })
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.limit.saturating_sub(state.used) >= bytes
    }

    /// Takes `bytes` if the pool's total stays within `ceiling` and the limit and, above
    /// the policy's resident floor, if what the process holds beyond the reservations
    /// leaves room for them too; otherwise the bytes that could be taken.
    fn try_take(
        &self,
        bytes: usize,
        ceiling: usize,
        resident: Resident,
    ) -> std::result::Result<(), usize> {
        let mut s = self.lock();
        let ceiling = ceiling.min(self.limit);
        let free = ceiling.saturating_sub(s.used);
        if bytes > free {
            return Err(free);
        }
        let floor = self.policy.resident_floor_bytes(self.limit);
        if resident == Resident::Watch && s.used + bytes > floor {
            let used = s.used;
            // What the process holds that no reservation counts: the allocator's retained
            // memory, batches being decoded, the program's own growth.
            if let Some(unseen) = s.resident.as_mut().map(|w| w.unseen(used)) {
                let room = self.limit.saturating_add(self.policy.resident_slack);
                if used + bytes + unseen > room {
                    s.resident_refusals += 1;
                    let room = floor.max(room.saturating_sub(unseen)).min(ceiling);
                    return Err(room.saturating_sub(used));
                }
            }
        }
        s.used += bytes;
        s.peak = s.peak.max(s.used);
        Ok(())
    }

    fn give_back(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let mut s = self.lock();
        s.used = s.used.saturating_sub(bytes);
        drop(s);
        self.freed.notify_all();
    }
}

/// Bytes held by every reservation of one task (for `explain_analyze`), or of one run:
/// a task's tally counts in its run's ([`Tally::within`]), so that a run reports its own
/// peak, not the shared pool's.
#[derive(Debug, Default)]
pub struct Tally {
    current: AtomicUsize,
    peak: AtomicUsize,
    parent: Option<Arc<Tally>>,
}

impl Tally {
    /// A tally whose bytes also count in `parent`.
    pub fn within(parent: &Arc<Tally>) -> Tally {
        Tally {
            parent: Some(Arc::clone(parent)),
            ..Tally::default()
        }
    }

    fn add(&self, bytes: usize) {
        let now = self.current.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
        if let Some(p) = &self.parent {
            p.add(bytes);
        }
    }

    fn sub(&self, bytes: usize) {
        self.current.fetch_sub(bytes, Ordering::Relaxed);
        if let Some(p) = &self.parent {
            p.sub(bytes);
        }
    }

    /// The most bytes held at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}

/// Bytes held by one consumer; returned to the pool when dropped.
#[derive(Debug)]
pub struct Reservation {
    pool: Arc<MemoryPool>,
    consumer: String,
    size: usize,
    tally: Option<Arc<Tally>>,
}

impl Reservation {
    /// Bytes held.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The consumer's name.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// The pool it draws from.
    pub fn pool(&self) -> &Arc<MemoryPool> {
        &self.pool
    }

    /// Grows by `bytes` if they are free.
    ///
    /// # Errors
    /// [`Error::ResourcesExhausted`] naming the consumer, the bytes asked for, the bytes
    /// free and the limit; the reservation is unchanged.
    ///
    /// Above the policy's resident floor ([`MemoryPolicy::resident_floor`]) the bytes
    /// must also fit beside what the process holds that no reservation counts, so a
    /// consumer that can spill spills before the container's cap is reached.
    pub fn try_grow(&mut self, bytes: usize) -> Result<()> {
        self.try_grow_below(bytes, usize::MAX, Resident::Watch)
    }

    /// Grows by `bytes` if the pool's total stays within the policy's held share of its
    /// limit ([`MemoryPolicy::held_share`]): for memory held between tasks (exchange
    /// buckets, sorted runs), which must leave the rest of the budget to the tasks that
    /// consume it.
    ///
    /// # Errors
    /// As [`Reservation::try_grow`].
    pub fn try_grow_held(&mut self, bytes: usize) -> Result<()> {
        let ceiling = self.pool.policy.held_ceiling(self.pool.limit);
        self.try_grow_below(bytes, ceiling, Resident::Watch)
    }

    fn try_grow_below(&mut self, bytes: usize, ceiling: usize, resident: Resident) -> Result<()> {
        self.pool
            .try_take(bytes, ceiling, resident)
            .map_err(|available| Error::ResourcesExhausted {
                consumer: self.consumer.clone(),
                requested: bytes,
                available,
                limit: self.pool.limit,
            })?;
        self.size += bytes;
        if let Some(t) = &self.tally {
            t.add(bytes);
        }
        Ok(())
    }

    /// Returns `bytes` (at most what is held) to the pool.
    pub fn shrink(&mut self, bytes: usize) {
        let bytes = bytes.min(self.size);
        self.size -= bytes;
        if let Some(t) = &self.tally {
            t.sub(bytes);
        }
        self.pool.give_back(bytes);
    }

    /// Grows or shrinks to exactly `bytes`.
    ///
    /// # Errors
    /// As [`Reservation::try_grow`] when growing.
    pub fn try_resize(&mut self, bytes: usize) -> Result<()> {
        self.try_resize_as(bytes, Resident::Watch)
    }

    fn try_resize_as(&mut self, bytes: usize, resident: Resident) -> Result<()> {
        if bytes > self.size {
            self.try_grow_below(bytes - self.size, usize::MAX, resident)
        } else {
            self.shrink(self.size - bytes);
            Ok(())
        }
    }

    /// Returns everything held; the reservation stays usable.
    pub fn free(&mut self) {
        self.shrink(self.size);
    }

    /// Splits off a reservation of `bytes` (at most what is held) for another consumer,
    /// without going through the pool: memory changes hands, the total stays.
    pub fn split(&mut self, bytes: usize, consumer: impl Into<String>) -> Reservation {
        let bytes = bytes.min(self.size);
        self.size -= bytes;
        Reservation {
            pool: Arc::clone(&self.pool),
            consumer: consumer.into(),
            size: bytes,
            tally: self.tally.clone(),
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(t) = &self.tally {
            t.sub(self.size);
        }
        self.pool.give_back(self.size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_hold_and_return_their_bytes() {
        let pool = MemoryPool::new(1000);
        let mut a = pool.reserve("a");
        a.try_grow(600).unwrap();
        let mut b = pool.reserve("hash table");
        let err = b.try_grow(500).unwrap_err();
        assert_eq!(
            err.to_string(),
            "resources exhausted in hash table: needs 500 bytes, 400 of the 1000-byte limit available"
        );
        assert_eq!(b.size(), 0);
        b.try_grow(400).unwrap();
        assert_eq!(pool.used(), 1000);
        a.shrink(100);
        assert_eq!(pool.available(), 100);
        let c = a.split(200, "output");
        assert_eq!((a.size(), c.size(), pool.used()), (300, 200, 900));
        drop(a);
        drop(c);
        b.try_resize(10).unwrap();
        assert_eq!(pool.used(), 10);
        assert_eq!(pool.peak(), 1000);
        drop(b);
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn above_the_floor_memory_the_pool_does_not_see_counts_as_used() {
        let policy = |floor| MemoryPolicy {
            resident_floor: floor,
            resident_slack: 0,
            ..MemoryPolicy::default()
        };
        // A resident set of the test's own: the process's moves with every test's threads.
        static RSS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1 << 30);
        let read = || Some(RSS.load(std::sync::atomic::Ordering::Relaxed));
        let watched = MemoryPool::watching(64 << 20, policy(0.5), read);
        let blind = MemoryPool::watching(64 << 20, policy(1.0), read);
        // 64 MiB touched that no reservation counts, as an allocator's retained memory.
        RSS.fetch_add(64 << 20, std::sync::atomic::Ordering::Relaxed);
        // Up to the floor (half the limit), the count alone decides.
        let held: Vec<Reservation> = [&watched, &blind]
            .into_iter()
            .map(|pool| {
                let mut r = pool.reserve("table");
                r.try_grow(30 << 20).unwrap();
                r
            })
            .collect();
        let mut r = watched.reserve("table");
        let err = r.try_grow(8 << 20).unwrap_err();
        assert!(matches!(err, Error::ResourcesExhausted { .. }), "{err}");
        assert_eq!(watched.resident_refusals(), 1);
        let mut r = blind.reserve("table");
        r.try_grow(30 << 20).unwrap();
        assert_eq!(blind.resident_refusals(), 0);
        // The waiting rule is decided by the count alone.
        let mut r = watched.reserve("table");
        let activity = Activity::default();
        watched
            .resize_waiting(&mut r, 30 << 20, &activity, || Ok(()))
            .unwrap();
        drop(held);
    }

    #[test]
    fn a_panic_returns_the_bytes_and_waiters_wake() {
        let pool = MemoryPool::new(100);
        let p = Arc::clone(&pool);
        let holder = std::thread::spawn(move || {
            let mut r = p.reserve("doomed");
            r.try_grow(100).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            panic!("task failed while holding memory");
        });
        std::thread::sleep(Duration::from_millis(10));
        assert!(pool.wait_for(100, Duration::from_secs(10)));
        assert!(holder.join().is_err());
        assert_eq!(pool.used(), 0);
        assert!(!pool.wait_for(101, Duration::from_millis(1)));
    }
}
