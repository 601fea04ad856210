//! Where a write's files wait until the run has succeeded: a hidden folder beside the
//! target, given to the target in one step at the end.
//!
//! # All or nothing
//!
//! A write into `out/` stages its files in `.out.spillway-<pid>-<random>/data/` (hidden,
//! so a reader of the parent folder skips it, and on the same file system as `out`, so
//! a rename moves it). Each file is complete under its final name there before the run
//! ends. [`Stage::commit`] then gives the files to the target by the [`WriteMode`]:
//!
//! - the target is missing or empty: one rename of `data/` onto it;
//! - [`WriteMode::Overwrite`]: the target is renamed aside, `data/` renamed onto it, and
//!   the old files removed (should the second rename fail, the first is undone);
//! - [`WriteMode::Append`]: each file is renamed into the target; the new names carry the
//!   write's id (`part-00000-<id>.parquet`), so they never meet an earlier file's, and
//!   should a rename fail the files moved so far are moved back;
//! - [`WriteMode::ErrorIfExists`] (the default) refuses a target that holds anything, both
//!   before the run and at the commit.
//!
//! A failed run removes its stage folder and leaves the target as it was. A process
//! killed mid-write leaves its stage folder; the next write into the same target removes
//! it once that process is gone (the pid is in the name).
//!
//! # Resumable writes
//!
//! A resumable write stages in `.out.spillway-resume/`, a name that does not change from
//! one attempt to the next, holding `key` (the write's id and a hash of the plan, its
//! inputs and the write's options), `data/` and `done/`. When a partition's files are
//! complete in `data/`, a marker `done/part-NNNNN` lists them with the rows written. A
//! later attempt with the same key finds the markers, removes any file of `data/` that no
//! marker lists (the partitions that were being written when the process died), and
//! writes only the partitions without a marker; an attempt with another key is refused
//! ([`Error::Resume`]). A failed resumable run keeps its stage for the next attempt; a
//! committed one removes it.

use std::collections::{BTreeMap, HashSet};
use std::hash::Hasher;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use spillway_planner::{Error, Result};

/// How a write treats a target folder that already holds files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WriteMode {
    /// Refuse a folder that holds anything: nothing is written and nothing removed (the
    /// default, as in Spark).
    #[default]
    ErrorIfExists,
    /// Replace everything the folder holds with the new files, in one swap once the run
    /// has succeeded; a failed run leaves the old files as they were.
    Overwrite,
    /// Add the new files beside those the folder holds; their names carry the write's id
    /// (`part-00000-1a2b3c4d.parquet`) so they never replace an earlier file.
    Append,
}

/// The stage folder's name prefix after `.<target name>`.
const STAGE: &str = ".spillway-";
/// The resumable stage folder's suffix after `.<target name>`.
const RESUME: &str = ".spillway-resume";

/// One write's stage folder.
#[derive(Debug)]
pub(crate) struct Stage {
    target: PathBuf,
    root: PathBuf,
    data: PathBuf,
    mode: WriteMode,
    /// `-<id>` in append mode, appended to each file's stem; empty otherwise.
    suffix: String,
    /// The partitions an earlier attempt finished, for a resumable write.
    resume: Option<Finished>,
    /// Set once committed or aborted.
    ended: Mutex<bool>,
}

/// What the attempts so far of a resumable write finished: partition → rows.
#[derive(Debug, Default)]
struct Finished {
    done: PathBuf,
    rows: BTreeMap<usize, u64>,
}

impl Stage {
    /// The stage of a write into `target`: `resume` is the key of a resumable write (what
    /// identifies the plan, its inputs and the options), `None` for a write that starts
    /// afresh.
    ///
    /// # Errors
    /// [`Error::Io`] naming the target when the mode refuses it or a folder cannot be
    /// created; [`Error::Resume`] when the target's resumable stage has another key.
    pub(crate) fn open(target: &Path, mode: WriteMode, resume: Option<&str>) -> Result<Self> {
        let (parent, name) = split(target)?;
        let target = parent.join(&name);
        check_target(&target, mode)?;
        std::fs::create_dir_all(&parent).map_err(|source| io(&target, source))?;
        remove_orphans(&parent, &name);
        match resume {
            None => {
                let root = tempfile_dir(&parent, &name)?;
                let data = root.join("data");
                std::fs::create_dir(&data).map_err(|source| io(&data, source))?;
                let suffix = append_suffix(mode, &format!("{:08x}", fastrand::u32(..)));
                Ok(Stage {
                    target,
                    root,
                    data,
                    mode,
                    suffix,
                    resume: None,
                    ended: Mutex::new(false),
                })
            }
            Some(key) => Self::open_resumable(target, &parent, &name, mode, key),
        }
    }

    fn open_resumable(
        target: PathBuf,
        parent: &Path,
        name: &str,
        mode: WriteMode,
        key: &str,
    ) -> Result<Self> {
        let root = parent.join(format!(".{name}{RESUME}"));
        let (data, done) = (root.join("data"), root.join("done"));
        let hash = format!("{:016x}", hash(key));
        let id = match std::fs::read_to_string(root.join("key")) {
            Ok(saved) => {
                let mut lines = saved.lines();
                let (id, saved_hash) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
                if saved_hash != hash {
                    return Err(Error::Resume {
                        path: target,
                        message: format!(
                            "{} holds an unfinished write of another plan, or of inputs that \
                             changed since it began; run that plan on those inputs to finish \
                             it, or remove the folder to start again",
                            root.display()
                        ),
                    });
                }
                id.to_string()
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                // A stage without its key never wrote a file: start it again.
                if root.exists() {
                    std::fs::remove_dir_all(&root).map_err(|source| io(&root, source))?;
                }
                let id = format!("{:08x}", fastrand::u32(..));
                for dir in [&root, &data, &done] {
                    std::fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
                }
                write_atomically(&root.join("key"), &format!("{id}\n{hash}\n"))?;
                id
            }
            Err(source) => return Err(io(&root.join("key"), source)),
        };
        let rows = finished_partitions(&data, &done)?;
        Ok(Stage {
            target,
            root,
            data,
            mode,
            suffix: append_suffix(mode, &id),
            resume: Some(Finished { done, rows }),
            ended: Mutex::new(false),
        })
    }

    /// The folder the files are written into (hive folders under it).
    pub(crate) fn data(&self) -> &Path {
        &self.data
    }

    /// What goes after `part-NNNNN` in a file's name: the write's id in append mode.
    pub(crate) fn suffix(&self) -> &str {
        &self.suffix
    }

    /// The partitions earlier attempts of a resumable write finished, with their rows.
    pub(crate) fn finished(&self) -> Vec<(usize, u64)> {
        self.resume
            .as_ref()
            .map(|f| f.rows.iter().map(|(&p, &r)| (p, r)).collect())
            .unwrap_or_default()
    }

    /// Records that `partition`'s `files` (complete, under their names in
    /// [`Stage::data`]) hold `rows` rows: a resumable write's marker; nothing otherwise.
    ///
    /// # Errors
    /// [`Error::Io`] naming the marker that cannot be written.
    pub(crate) fn record(&self, partition: usize, rows: usize, files: &[PathBuf]) -> Result<()> {
        let Some(finished) = &self.resume else {
            return Ok(());
        };
        let mut text = format!("{rows}\n");
        for file in files {
            let relative = file.strip_prefix(&self.data).unwrap_or(file);
            text.push_str(&relative.to_string_lossy());
            text.push('\n');
        }
        write_atomically(&finished.done.join(marker(partition)), &text)
    }

    /// Gives the staged files to the target by the write mode and removes the stage.
    ///
    /// # Errors
    /// [`Error::Io`] naming the target (or the file) that cannot take them; the target is
    /// left as it was and, unless the write is resumable, the staged files are removed.
    pub(crate) fn commit(&self) -> Result<()> {
        *lock(&self.ended) = true;
        let swapped = self.swap();
        if swapped.is_ok() || self.resume.is_none() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
        swapped
    }

    /// Ends a failed write: removes the stage, unless the write is resumable (its finished
    /// partitions wait for the next attempt).
    pub(crate) fn abort(&self) {
        let mut ended = lock(&self.ended);
        if !*ended && self.resume.is_none() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
        *ended = true;
    }

    fn swap(&self) -> Result<()> {
        if !holds_anything(&self.target)? {
            return rename_onto_empty(&self.data, &self.target);
        }
        match self.mode {
            WriteMode::ErrorIfExists => Err(not_empty(&self.target)),
            WriteMode::Overwrite => {
                let old = self.root.join("old");
                std::fs::rename(&self.target, &old).map_err(|source| io(&self.target, source))?;
                std::fs::rename(&self.data, &self.target).map_err(|source| {
                    let _ = std::fs::rename(&old, &self.target);
                    io(&self.target, source)
                })
            }
            WriteMode::Append => move_files(&self.data, &self.target),
        }
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        self.abort();
    }
}

fn lock(ended: &Mutex<bool>) -> std::sync::MutexGuard<'_, bool> {
    ended
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn not_empty(target: &Path) -> Error {
    io(
        target,
        std::io::Error::new(
            ErrorKind::AlreadyExists,
            "the folder is not empty: write with WriteMode::Overwrite to replace what it \
             holds, or WriteMode::Append to add to it",
        ),
    )
}

/// The target's parent folder (absolute) and name.
fn split(target: &Path) -> Result<(PathBuf, String)> {
    let mut path = std::path::absolute(target).map_err(|source| io(target, source))?;
    if path.file_name().is_none() {
        // `..` or `/`: only an existing folder can be named that way.
        path = path.canonicalize().map_err(|source| io(target, source))?;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => Ok((parent.to_path_buf(), name.to_string_lossy().into())),
        _ => Err(io(
            target,
            std::io::Error::other("cannot write into the root of the file system"),
        )),
    }
}

/// Whether `dir` holds any entry (a missing folder holds none).
fn holds_anything(dir: &Path) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(source) => Err(io(dir, source)),
    }
}

/// The checks made before anything runs: the target is a folder (or missing), and one
/// the mode may write into.
fn check_target(target: &Path, mode: WriteMode) -> Result<()> {
    if target.exists() && !target.is_dir() {
        return Err(io(
            target,
            std::io::Error::new(ErrorKind::AlreadyExists, "a file, not a folder"),
        ));
    }
    if mode == WriteMode::ErrorIfExists && holds_anything(target)? {
        return Err(not_empty(target));
    }
    Ok(())
}

fn append_suffix(mode: WriteMode, id: &str) -> String {
    if mode == WriteMode::Append {
        format!("-{id}")
    } else {
        String::new()
    }
}

fn marker(partition: usize) -> String {
    format!("part-{partition:05}")
}

/// A stable hash (the same in every process and build): xxHash64, seed 0.
fn hash(text: &str) -> u64 {
    let mut h = twox_hash::XxHash64::with_seed(0);
    h.write(text.as_bytes());
    h.finish()
}

/// A new stage folder `.<name>.spillway-<pid>-<random>` in `parent`.
fn tempfile_dir(parent: &Path, name: &str) -> Result<PathBuf> {
    let pid = std::process::id();
    for _ in 0..16 {
        let root = parent.join(format!(".{name}{STAGE}{pid}-{:08x}", fastrand::u32(..)));
        match std::fs::create_dir(&root) {
            Ok(()) => return Ok(root),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(io(&root, source)),
        }
    }
    Err(io(
        parent,
        std::io::Error::other("cannot find a free name for a stage folder"),
    ))
}

/// Removes the stage folders of writes into `parent/name` whose process is gone (killed
/// before it could clean up). Where this platform cannot tell (no `/proc`), nothing.
fn remove_orphans(parent: &Path, name: &str) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let prefix = format!(".{name}{STAGE}");
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let pid = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && !proc.join(pid.to_string()).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Writes `text` to `path` through a temporary file and a rename: never half a file.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text).map_err(|source| io(&temp, source))?;
    std::fs::rename(&temp, path).map_err(|source| io(path, source))
}

/// The partitions whose markers list files all present in `data`, with their rows; every
/// other file of `data` (a partition being written when the process died) is removed, and
/// so is every marker that lists a missing file.
fn finished_partitions(data: &Path, done: &Path) -> Result<BTreeMap<usize, u64>> {
    let mut rows = BTreeMap::new();
    let mut keep = HashSet::new();
    let entries = std::fs::read_dir(done).map_err(|source| io(done, source))?;
    for entry in entries {
        let path = entry.map_err(|source| io(done, source))?.path();
        let partition = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("part-"))
            .and_then(|n| n.parse::<usize>().ok());
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut lines = text.lines();
        let count = lines.next().and_then(|n| n.parse::<u64>().ok());
        let files: Vec<PathBuf> = lines.map(|l| data.join(l)).collect();
        match (partition, count) {
            (Some(p), Some(n)) if files.iter().all(|f| f.is_file()) => {
                rows.insert(p, n);
                keep.extend(files);
            }
            _ => std::fs::remove_file(&path).map_err(|source| io(&path, source))?,
        }
    }
    for file in files_under(data)? {
        if !keep.contains(&file) {
            std::fs::remove_file(&file).map_err(|source| io(&file, source))?;
        }
    }
    Ok(rows)
}

/// Every file under `dir`, at any depth.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).map_err(|source| io(&folder, source))? {
            let entry = entry.map_err(|source| io(&folder, source))?;
            let is_dir = entry
                .file_type()
                .map_err(|source| io(&entry.path(), source))?
                .is_dir();
            if is_dir {
                folders.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Renames `from` onto `to`, a folder that is missing or empty.
fn rename_onto_empty(from: &Path, to: &Path) -> Result<()> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        // Where a rename cannot replace an empty folder, remove it first.
        Err(_) if to.is_dir() => {
            std::fs::remove_dir(to).map_err(|source| io(to, source))?;
            std::fs::rename(from, to).map_err(|source| io(to, source))
        }
        Err(source) => Err(io(to, source)),
    }
}

/// Moves every file under `from` to the same place under `to`, creating folders as
/// needed: all of them, or, should one fail, none (those moved are moved back and the
/// folders created removed).
fn move_files(from: &Path, to: &Path) -> Result<()> {
    let moves: Vec<(PathBuf, PathBuf)> = files_under(from)?
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(from).unwrap_or(&file).to_path_buf();
            (file, to.join(relative))
        })
        .collect();
    if let Some((_, taken)) = moves.iter().find(|(_, dest)| dest.exists()) {
        return Err(io(
            taken,
            std::io::Error::new(ErrorKind::AlreadyExists, "an earlier file has this name"),
        ));
    }
    let mut created: Vec<PathBuf> = Vec::new();
    let mut moved = 0;
    let outcome = moves.iter().try_for_each(|(file, dest)| {
        if let Some(folder) = dest.parent() {
            create_folders(folder, to, &mut created)?;
        }
        std::fs::rename(file, dest).map_err(|source| io(dest, source))?;
        moved += 1;
        Ok(())
    });
    if outcome.is_err() {
        for (file, dest) in moves[..moved].iter().rev() {
            let _ = std::fs::rename(dest, file);
        }
        for folder in created.iter().rev() {
            let _ = std::fs::remove_dir(folder);
        }
    }
    outcome
}

/// Creates `folder` (under `root`, which exists) and its missing parents, noting each one
/// created in `created`, outermost first.
fn create_folders(folder: &Path, root: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    let mut missing = Vec::new();
    let mut at = folder;
    while at != root && !at.exists() {
        missing.push(at.to_path_buf());
        match at.parent() {
            Some(parent) => at = parent,
            None => break,
        }
    }
    for dir in missing.into_iter().rev() {
        std::fs::create_dir(&dir).map_err(|source| io(&dir, source))?;
        created.push(dir);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    fn names(dir: &Path) -> Vec<String> {
        files_under(dir)
            .unwrap()
            .iter()
            .map(|f| f.strip_prefix(dir).unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn an_append_that_fails_half_way_moves_every_file_back() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        for f in ["k=0/a", "k=0/b", "k=1/c", "k=2/d"] {
            touch(&from.join(f));
        }
        touch(&to.join("old"));
        // `k=1` is a file in the target: the third move cannot create its folder.
        touch(&to.join("k=1"));
        let err = move_files(&from, &to).unwrap_err();
        assert!(err.to_string().contains("k=1"), "{err}");
        assert_eq!(names(&from), ["k=0/a", "k=0/b", "k=1/c", "k=2/d"]);
        assert_eq!(names(&to), ["k=1", "old"]);
        assert!(!to.join("k=0").exists(), "a folder created was left");
        // With the obstacle gone, every file moves.
        std::fs::remove_file(to.join("k=1")).unwrap();
        move_files(&from, &to).unwrap();
        assert_eq!(names(&to), ["k=0/a", "k=0/b", "k=1/c", "k=2/d", "old"]);
        assert!(names(&from).is_empty());
    }

    #[test]
    fn an_append_onto_an_existing_name_moves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        touch(&from.join("a"));
        touch(&from.join("b"));
        touch(&to.join("b"));
        let err = move_files(&from, &to).unwrap_err();
        assert!(err.to_string().contains("an earlier file"), "{err}");
        assert_eq!(names(&from), ["a", "b"]);
    }

    #[test]
    fn a_stage_is_hidden_beside_the_target_and_removed_when_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let stage = Stage::open(&out, WriteMode::ErrorIfExists, None).unwrap();
        assert!(stage.data().starts_with(dir.path()));
        let root = stage.root.clone();
        assert!(
            root.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".out.spillway-")
        );
        touch(&stage.data().join("part-00000.csv"));
        stage.commit().unwrap();
        assert!(!root.exists());
        assert_eq!(names(&out), ["part-00000.csv"]);
        // A second write is refused: the folder is not empty.
        let err = Stage::open(&out, WriteMode::ErrorIfExists, None).unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
        // An aborted one leaves nothing.
        let stage = Stage::open(&out, WriteMode::Overwrite, None).unwrap();
        touch(&stage.data().join("part-00000.csv"));
        let root = stage.root.clone();
        drop(stage);
        assert!(!root.exists());
        assert_eq!(names(dir.path()), ["out/part-00000.csv"]);
    }

    #[test]
    fn the_stage_of_a_killed_writer_is_removed_by_the_next_write() {
        if !Path::new("/proc/self").exists() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let orphan = dir.path().join(format!(".out.spillway-{dead}-0badf00d"));
        touch(&orphan.join("data/part-00000.csv"));
        // Another target's stage, and a live process's, stay.
        let other = dir.path().join(format!(".other.spillway-{dead}-0badf00d"));
        touch(&other.join("data/x"));
        let live = dir
            .path()
            .join(format!(".out.spillway-{}-12345678", std::process::id()));
        touch(&live.join("data/x"));
        let stage = Stage::open(&dir.path().join("out"), WriteMode::Overwrite, None).unwrap();
        assert!(!orphan.exists());
        assert!(other.exists() && live.exists());
        drop(stage);
    }

    #[test]
    fn a_resumable_stage_keeps_finished_partitions_and_refuses_another_key() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let stage = Stage::open(&out, WriteMode::ErrorIfExists, Some("plan A")).unwrap();
        let (a, b) = (
            stage.data().join("part-00000.csv"),
            stage.data().join("part-00001.csv"),
        );
        touch(&a);
        stage.record(0, 10, std::slice::from_ref(&a)).unwrap();
        touch(&b); // never recorded: its partition died half-way
        stage.abort();
        drop(stage);
        let again = Stage::open(&out, WriteMode::ErrorIfExists, Some("plan A")).unwrap();
        assert_eq!(again.finished(), [(0, 10)]);
        assert!(a.exists() && !b.exists());
        drop(again);
        let err = Stage::open(&out, WriteMode::ErrorIfExists, Some("plan B")).unwrap_err();
        assert!(matches!(err, Error::Resume { .. }), "{err}");
        assert!(err.to_string().contains("another plan"), "{err}");
        let last = Stage::open(&out, WriteMode::ErrorIfExists, Some("plan A")).unwrap();
        last.commit().unwrap();
        assert_eq!(names(dir.path()), ["out/part-00000.csv"]);
    }
}
