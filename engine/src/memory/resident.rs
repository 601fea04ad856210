//! What the process's resident set says: the memory a container's cap sees.
//!
//! The pool counts what the engine reserves; the kernel counts what the process holds,
//! which is more: the allocator keeps freed memory for reuse (glibc's arenas, after a
//! phase's batches are freed, can hold hundreds of MiB the next phase does not reuse),
//! batches being decoded are not reserved, and the program itself takes its pages. The
//! pool reads the resident set ([`resident_bytes`]) above a share of its limit and counts
//! what it does not see as used (`MemoryPolicy::resident_floor`), so that the limit holds
//! for the container, whatever the allocator.

use std::time::{Duration, Instant};

/// How stale a reading of the resident set may be when the pool decides on it: reading
/// `/proc/self/status` takes about 20 µs, so a reading serves the grants of the next
/// 2 ms, during which at most a few batches are allocated.
const FRESH: Duration = Duration::from_millis(2);

/// The process's resident set size (`VmRSS`) in bytes, where `/proc` tells it.
pub fn resident_bytes() -> Option<u64> {
    status_bytes("VmRSS:")
}

/// The process's peak resident set size (`VmHWM`) in bytes, where `/proc` tells it.
pub fn peak_resident_bytes() -> Option<u64> {
    status_bytes("VmHWM:")
}

fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The process's resident set above what it was when a pool was made, read at most
/// every [`FRESH`], and the most of it the pool's reservations did not count.
#[derive(Debug)]
pub(super) struct Watch {
    read: fn() -> Option<u64>,
    base: u64,
    last: Option<(Instant, u64)>,
    /// The most unseen bytes read so far, and the resident growth when they were read.
    unseen: usize,
    grown_then: usize,
}

impl Watch {
    /// A watch over what `read` says the resident set is ([`resident_bytes`], or a test's
    /// own); `None` where the platform does not tell it.
    pub(super) fn reading(read: fn() -> Option<u64>) -> Option<Watch> {
        Some(Watch {
            read,
            base: read()?,
            last: None,
            unseen: 0,
            grown_then: 0,
        })
    }

    /// Bytes the process holds beyond what it held when the watch began.
    fn grown(&mut self) -> usize {
        let now = Instant::now();
        let rss = match self.last {
            Some((at, rss)) if now.duration_since(at) < FRESH => rss,
            _ => {
                let rss = (self.read)().unwrap_or(self.base);
                self.last = Some((now, rss));
                rss
            }
        };
        usize::try_from(rss.saturating_sub(self.base)).unwrap_or(usize::MAX)
    }

    /// Bytes the process holds that the pool's `used` bytes do not count: the most ever
    /// read, less what the resident set has shrunk by since.
    ///
    /// One reading alone says too little: a hash table reserves ahead of its growth, so
    /// while its reservation is not yet touched the reading shows the allocator's
    /// retained memory as if it were the table's. But retained memory stays until the
    /// allocator gives it back, and then the resident set shrinks; so the most unseen
    /// bytes read stand until it does.
    pub(super) fn unseen(&mut self, used: usize) -> usize {
        let grown = self.grown();
        let now = grown.saturating_sub(used);
        if now >= self.unseen {
            (self.unseen, self.grown_then) = (now, grown);
        } else if grown < self.grown_then {
            self.unseen = self.unseen.saturating_sub(self.grown_then - grown).max(now);
            self.grown_then = grown;
        }
        self.unseen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn the_process_tells_its_resident_set() {
        if let (Some(now), Some(peak)) = (resident_bytes(), peak_resident_bytes()) {
            assert!(now > 0 && peak >= now, "{now} {peak}");
        }
    }

    #[test]
    fn what_was_unseen_stands_until_the_resident_set_shrinks() {
        // A resident set of our own: the process's moves with every test's threads.
        static RSS: AtomicU64 = AtomicU64::new(100 << 20);
        let read = || Some(RSS.load(Ordering::Relaxed));
        let mut watch = Watch::reading(read).unwrap();
        let wait = || std::thread::sleep(FRESH * 2);
        assert_eq!(watch.unseen(0), 0);
        // 64 MiB touched that no reservation counts.
        RSS.store(164 << 20, Ordering::Relaxed);
        wait();
        assert_eq!(watch.unseen(0), 64 << 20);
        // Reserved now, but a reading cannot tell a reservation's memory from the
        // allocator's: what was read stands while the resident set does not shrink.
        wait();
        assert_eq!(watch.unseen(64 << 20), 64 << 20);
        // The allocator gives 40 MiB back: the unseen memory shrinks with it.
        RSS.store(124 << 20, Ordering::Relaxed);
        wait();
        assert_eq!(watch.unseen(0), 24 << 20);
        // A reading within FRESH of the last is the last.
        RSS.store(200 << 20, Ordering::Relaxed);
        assert_eq!(watch.unseen(0), 24 << 20);
    }
}
