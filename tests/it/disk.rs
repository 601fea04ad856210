//! A full disk (issue 12): a 2 MiB tmpfs filled while spilling and while writing output
//! gives a typed error naming a path on it, leaves no file on it, and the session goes on
//! working. Mounting needs root; without it each test says it skipped, and passes.

use std::path::Path;
use std::process::Command;

use spillway::arrow::array::AsArray;
use spillway::arrow::datatypes::Int64Type;
use spillway::prelude::*;

/// A 2 MiB tmpfs mounted on a new temporary folder, unmounted when dropped.
struct TinyFs {
    dir: tempfile::TempDir,
}

impl TinyFs {
    /// The mounted file system, or `None` (having said why) where it cannot be mounted.
    fn mount() -> Option<TinyFs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(TinyFs { dir }),
            Ok(out) => {
                eprintln!(
                    "skipped: cannot mount a 2 MiB tmpfs (needs root): {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Every file on it, at any depth.
    fn files(&self) -> Vec<String> {
        crate::files::files(self.path())
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        // Before the folder itself is removed (the `TempDir` field, dropped after this);
        // lazily, so that a file a failed test left open does not keep it mounted.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// `n` random (incompressible) integers in `nparts` partitions.
fn random(s: &Session, n: usize, nparts: usize) -> DataFrame {
    let mut rng = fastrand::Rng::with_seed(12);
    let xs: Vec<i64> = (0..n).map(|_| rng.i64(..)).collect();
    s.from_vec("x", xs, nparts).unwrap().into_frame()
}

/// The path of an I/O error, whatever task wrapped it.
fn io_path(err: &Error) -> &Path {
    match err.root() {
        Error::Io { path, .. } => path,
        _ => panic!("not an I/O error: {err}"),
    }
}

/// A small sort, checked: the session still works.
fn still_works(s: &Session) {
    let out = s
        .from_vec("x", (0..10_000_i64).collect(), 4)
        .unwrap()
        .into_frame()
        .sort([col("x").desc()])
        .unwrap()
        .collect_batch()
        .unwrap();
    let xs = out.column(0).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(xs, (0..10_000_i64).rev().collect::<Vec<_>>());
    assert_eq!(s.memory().used(), 0);
}

#[test]
fn a_full_disk_while_spilling_is_an_io_error_naming_the_spill_folder() {
    let Some(tiny) = TinyFs::mount() else { return };
    // 5 MB of random integers sorted under a 256 KiB budget: the runs spill more than the
    // 2 MiB the disk holds.
    let s = Session::builder()
        .threads(2)
        .memory_limit(256 << 10)
        .spill_dir(tiny.path())
        .build()
        .unwrap();
    let err = random(&s, 600_000, 4)
        .sort([col("x").asc()])
        .unwrap()
        .collect()
        .unwrap_err();
    let path = io_path(&err);
    assert!(path.starts_with(tiny.path()), "{err}");
    let spill_folder = path.parent().unwrap().file_name().unwrap();
    assert!(
        spill_folder.to_string_lossy().starts_with("spillway-"),
        "{err}"
    );
    match err.root() {
        Error::Io { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::StorageFull, "{err}")
        }
        _ => unreachable!(),
    }
    assert!(tiny.files().is_empty(), "left: {:?}", tiny.files());
    assert_eq!(std::fs::read_dir(tiny.path()).unwrap().count(), 0);
    // The same session, on the same (now empty) disk.
    still_works(&s);
    assert!(tiny.files().is_empty(), "left: {:?}", tiny.files());
}

#[test]
fn a_full_disk_while_writing_is_an_io_error_and_leaves_no_partial_file() {
    let Some(tiny) = TinyFs::mount() else { return };
    let s = Session::builder().threads(2).build().unwrap();
    // 4.8 MB of random integers written as Parquet into a 2 MiB disk.
    let out = tiny.path().join("out");
    let err = random(&s, 600_000, 4).write_parquet(&out).unwrap_err();
    assert!(io_path(&err).starts_with(tiny.path()), "{err}");
    assert!(err.to_string().contains("No space left"), "{err}");
    // No file at all: neither a final nor a temporary one (the folder may stay, empty).
    assert!(tiny.files().is_empty(), "left: {:?}", tiny.files());
    still_works(&s);
    // The disk is usable again: a small write succeeds.
    let small = s.from_vec("x", vec![1_i64, 2, 3], 2).unwrap().into_frame();
    assert_eq!(small.write_parquet(&out).unwrap(), 3);
}
