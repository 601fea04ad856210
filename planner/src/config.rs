//! Typed session configuration. Strings are parsed once, at the edge ([`SessionConfig::from_env`]
//! and the facade's builder); nothing deeper reads an environment variable.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::{Error, Result};

/// When to draw progress bars on standard error.
///
/// Parsed from `auto`, `always` or `never` (`SPILLWAY_PROGRESS`, see
/// [`SessionConfig::from_env`]).
///
/// ```
/// use spillway_planner::config::Progress;
///
/// assert_eq!("never".parse::<Progress>()?, Progress::Never);
/// assert!("sometimes".parse::<Progress>().is_err());
/// # Ok::<(), spillway_planner::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Progress {
    /// A bar only when standard error is a terminal, so logs and pipes stay clean.
    #[default]
    Auto,
    /// Always: a bar on a terminal, and plain progress lines (at most one every few
    /// seconds) when standard error is a file or a pipe.
    Always,
    /// Never.
    Never,
}

impl FromStr for Progress {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Progress::Auto),
            "always" => Ok(Progress::Always),
            "never" => Ok(Progress::Never),
            _ => Err(Error::Config(format!(
                "progress must be auto, always or never, not '{text}'"
            ))),
        }
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Progress::Auto => "auto",
            Progress::Always => "always",
            Progress::Never => "never",
        })
    }
}

/// Everything a session can be configured with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Worker threads in the session's pool (default: the machine's cores).
    pub threads: usize,
    /// Run every task on the calling thread, one at a time, in the scheduler's order: the
    /// debugging mode of Dask's synchronous scheduler.
    pub synchronous: bool,
    /// Bytes the engine may hold at once (default: half the physical memory, or 4 GiB when
    /// that cannot be read). Enforced by the memory manager.
    pub memory_limit: usize,
    /// Folder under which spill files are written (default: [`system_temp_dir`]).
    pub spill_dir: PathBuf,
    /// Largest number of rows in one batch read from a source.
    pub batch_rows: usize,
    /// Decoded bytes a batch read from a source stays near, where the source knows how
    /// wide its rows are before reading (Parquet, from its footers): a row group of very
    /// wide rows is read in batches of fewer than `batch_rows` rows (at least one).
    pub batch_bytes: usize,
    /// Decoded bytes a source partition aims at, where the source can choose.
    pub target_partition_bytes: usize,
    /// How many partial results one combine task merges (Dask's `split_every`).
    pub fan_in: usize,
    /// When to draw progress bars (default: only when standard error is a terminal).
    pub progress: Progress,
    /// How long a computation runs before its progress is drawn (default one second), so
    /// that short work leaves nothing on the screen or in the log.
    pub progress_delay: Duration,
    /// A join whose right side is estimated at most this many bytes (and at most an
    /// eighth of `memory_limit`) is a broadcast join: the right side is built into one
    /// hash table that every left partition streams through, with no shuffle of the left
    /// side. Default 64 MiB; 0 turns broadcast joins off.
    pub broadcast_limit: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            synchronous: false,
            memory_limit: default_memory_limit(),
            spill_dir: system_temp_dir(),
            batch_rows: 64 * 1024,
            batch_bytes: 8 << 20,
            target_partition_bytes: 128 << 20,
            fan_in: 8,
            progress: Progress::Auto,
            progress_delay: Duration::from_secs(1),
            broadcast_limit: 64 << 20,
        }
    }
}

/// The most worker threads a session may start: 16 per core, at least 256. Threads beyond
/// the cores only help closures that wait (on I/O, say); thousands of them take a minute
/// just to start, so more is a configuration error, not a slow start.
pub fn max_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (16 * cores).max(256)
}

/// The platform's temporary folder, as every tool finds it: `TMPDIR` on Unix (else
/// `/tmp`), `GetTempPath` on Windows. Besides [`SessionConfig::from_env`], this is the one
/// place the environment is consulted, and only for that platform convention; the default
/// spill folder and the engine's fallback both come from here.
pub fn system_temp_dir() -> PathBuf {
    std::env::temp_dir()
}

/// Half of the physical memory, read from `/proc/meminfo`; 4 GiB where it cannot be read.
fn default_memory_limit() -> usize {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024 / 2)
        })
        .unwrap_or(4 << 30)
}

/// Parses a byte size: `1073741824`, `512MiB`, `2GiB`, `1.5GB`, `64k`.
///
/// # Errors
/// [`Error::Config`] naming the text.
pub fn parse_bytes(text: &str) -> Result<usize> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| Error::Config(format!("'{text}' is not a byte size like 512MiB or 2GiB")))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(Error::Config(format!(
                "unknown unit '{other}' in byte size '{text}'"
            )));
        }
    };
    Ok((num * mult) as usize)
}

/// Parses a duration: `1.5s`, `500ms`, `2m`, or a bare number of seconds (`0`, `2.5`).
///
/// ```
/// use spillway_planner::config::parse_duration;
/// use std::time::Duration;
///
/// assert_eq!(parse_duration("500ms")?, Duration::from_millis(500));
/// assert_eq!(parse_duration("2")?, Duration::from_secs(2));
/// assert!(parse_duration("soon").is_err());
/// # Ok::<(), spillway_planner::Error>(())
/// ```
///
/// # Errors
/// [`Error::Config`] naming the text.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || Error::Config(format!("'{text}' is not a duration like 500ms, 1.5s or 2m"));
    let num: f64 = num.parse().map_err(|_| bad())?;
    let seconds = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" => num,
        "ms" => num / 1000.0,
        "m" | "min" => num * 60.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| bad())
}

impl SessionConfig {
    /// The defaults, overridden by `SPILLWAY_THREADS`, `SPILLWAY_MEMORY_LIMIT` (a byte size
    /// such as `2GiB`), `SPILLWAY_SPILL_DIR`, `SPILLWAY_BATCH_ROWS`, `SPILLWAY_BATCH_BYTES`
    /// (a byte size), `SPILLWAY_PROGRESS` (`auto`, `always` or `never`) and
    /// `SPILLWAY_PROGRESS_DELAY` (a duration such as `500ms` or `2s`). The only place
    /// Spillway reads its own settings from the environment (the platform's temp folder
    /// aside: [`system_temp_dir`]).
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable whose value cannot be parsed.
    pub fn from_env() -> Result<Self> {
        let mut c = SessionConfig::default();
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let int = |k: &str, v: String| {
            v.parse::<usize>()
                .map_err(|_| Error::Config(format!("{k}='{v}' is not a whole number")))
        };
        if let Some(v) = var("SPILLWAY_THREADS") {
            c.threads = int("SPILLWAY_THREADS", v)?;
        }
        if let Some(v) = var("SPILLWAY_MEMORY_LIMIT") {
            c.memory_limit = parse_bytes(&v)
                .map_err(|e| Error::Config(format!("SPILLWAY_MEMORY_LIMIT: {e}")))?;
        }
        if let Some(v) = var("SPILLWAY_SPILL_DIR") {
            c.spill_dir = PathBuf::from(v);
        }
        if let Some(v) = var("SPILLWAY_BATCH_ROWS") {
            c.batch_rows = int("SPILLWAY_BATCH_ROWS", v)?;
        }
        if let Some(v) = var("SPILLWAY_BATCH_BYTES") {
            c.batch_bytes =
                parse_bytes(&v).map_err(|e| Error::Config(format!("SPILLWAY_BATCH_BYTES: {e}")))?;
        }
        if let Some(v) = var("SPILLWAY_PROGRESS") {
            c.progress = v
                .parse()
                .map_err(|e| Error::Config(format!("SPILLWAY_PROGRESS: {e}")))?;
        }
        if let Some(v) = var("SPILLWAY_PROGRESS_DELAY") {
            c.progress_delay = parse_duration(&v)
                .map_err(|e| Error::Config(format!("SPILLWAY_PROGRESS_DELAY: {e}")))?;
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks that every value is in range.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("threads", self.threads),
            ("batch_rows", self.batch_rows),
            ("batch_bytes", self.batch_bytes),
            ("memory_limit", self.memory_limit),
            ("target_partition_bytes", self.target_partition_bytes),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(Error::Config(format!("{name} must be at least 1")));
            }
        }
        if self.fan_in < 2 {
            return Err(Error::Config("fan_in must be at least 2".into()));
        }
        let most = max_threads();
        if self.threads > most {
            return Err(Error::Config(format!(
                "threads must be at most {most} on this machine (16 per core, at least 256; \
                 each is an operating-system thread started with the session), got {}",
                self.threads
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("1.5k").unwrap(), 1536);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("3 parsecs").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(
            parse_duration(" 250ms ").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "soon", "5 fortnights", "1e999"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.to_string().contains("duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn progress_settings() {
        assert_eq!(SessionConfig::default().progress, Progress::Auto);
        assert_eq!(
            SessionConfig::default().progress_delay,
            Duration::from_secs(1)
        );
        for p in [Progress::Auto, Progress::Always, Progress::Never] {
            assert_eq!(p.to_string().parse::<Progress>().unwrap(), p);
        }
        assert_eq!(" ALWAYS ".parse::<Progress>().unwrap(), Progress::Always);
        let err = "yes".parse::<Progress>().unwrap_err();
        assert!(err.to_string().contains("auto, always or never"), "{err}");
    }

    #[test]
    fn defaults_are_valid() {
        SessionConfig::default().validate().unwrap();
        let bad = SessionConfig {
            threads: 0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("threads"));
        let bad = SessionConfig {
            batch_bytes: 0,
            ..Default::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("batch_bytes")
        );
    }
}
