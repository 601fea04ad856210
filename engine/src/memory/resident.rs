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
    base: u64,
    last: Option<(Instant, u64)>,
    /// The most unseen bytes read so far, and the resident growth when they were read.
    unseen: usize,
    grown_then: usize,
}

impl Watch {
    /// A watch from the resident set now; `None` where the platform does not tell it.
    pub(super) fn new() -> Option<Watch> {
        Some(Watch {
            base: resident_bytes()?,
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
                let rss = resident_bytes().unwrap_or(self.base);
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

    #[test]
    fn the_resident_set_grows_with_what_is_touched() {
        let Some(mut watch) = Watch::new() else {
            return; // not Linux
        };
        let before = watch.unseen(0);
        let block = vec![1u8; 64 << 20];
        std::thread::sleep(FRESH * 2);
        let after = watch.unseen(0);
        assert!(after >= before + (48 << 20), "{before} -> {after}");
        // Counted as reserved, the block is no longer unseen, but what was read stands
        // while the resident set does not shrink.
        std::thread::sleep(FRESH * 2);
        assert_eq!(watch.unseen(64 << 20), after);
        // Given back, the resident set shrinks, and so does the unseen memory.
        drop(block);
        std::thread::sleep(FRESH * 2);
        assert!(watch.unseen(0) < after - (32 << 20));
        assert!(peak_resident_bytes().unwrap() >= resident_bytes().unwrap());
    }
}
