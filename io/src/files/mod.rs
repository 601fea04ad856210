//! What the file formats share: finding a dataset's files, naming them, checking their
//! schemas against each other, and the encoder interface their writers implement.
//!
//! - this module: listing the files a pattern names ([`list_files`]: a file, a folder
//!   walked at any depth, or a glob), the folder they share ([`common_folder`]), how a
//!   file shows in a partition's description ([`display_path`]), how a source over files
//!   names itself ([`files_name`]), and the [`Error::Format`] naming a file
//!   ([`format_error`]);
//! - `schema`: [`check_same_schema`], the check every multi-file dataset makes, and
//!   [`view_type`], the one mapping of string and binary types to the engine's view types;
//! - `encoder`: [`Encoder`], one format's writer of one file, which the formats implement
//!   and [`FileSink`](crate::FileSink) drives.
//!
//! # A leaf
//!
//! This module imports no other module of the crate (only std, arrow, glob and the
//! planner), so every format (`csv`, `ipc`, `parquet`, `memory`) can depend on it without
//! depending on another format, and `dataset` and `sink`, which sit on top of the formats,
//! use the same code. The layering is `files` ← formats ← `dataset`, `sink`; anything two
//! formats both need belongs here, never in one of them.

mod encoder;
mod schema;

pub(crate) use encoder::Encoder;
pub(crate) use schema::{check_same_schema, view_field, view_type};

use std::fmt;
use std::path::{Path, PathBuf};

use spillway_planner::{Error, Result};

/// The files `pattern` names, sorted, without duplicates: a file; a folder, meaning every
/// file under it, at any depth, whose name ends with one of `extensions` and does not start
/// with `.` or `_`; or a glob, where a matched folder is read as a folder.
pub(crate) fn list_files(pattern: &str, extensions: &[&str]) -> Result<Vec<PathBuf>> {
    let path = Path::new(pattern);
    let mut files = Vec::new();
    if path.is_file() {
        files.push(path.to_path_buf());
    } else if path.is_dir() {
        walk(path, extensions, &mut files)?;
    } else {
        let matches = glob::glob(pattern)
            .map_err(|e| Error::Plan(format!("invalid glob pattern '{pattern}': {e}")))?;
        for entry in matches {
            let found = entry.map_err(|e| Error::Io {
                path: e.path().to_path_buf(),
                source: e.into(),
            })?;
            if found.is_dir() {
                walk(&found, extensions, &mut files)?;
            } else if found.is_file() {
                files.push(found);
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// Appends every file under `dir` whose name ends with one of `extensions`, skipping names
/// that start with `.` or `_`.
fn walk(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if path.is_dir() {
            walk(&path, extensions, out)?;
        } else if path.is_file() && extensions.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
    Ok(())
}

/// The deepest folder holding every path (empty when they share none).
pub(crate) fn common_folder(paths: &[PathBuf]) -> PathBuf {
    let mut base = paths
        .first()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    for path in paths {
        while !path.starts_with(&base) {
            base = base.parent().map(Path::to_path_buf).unwrap_or_default();
        }
    }
    base
}

/// `path` relative to the dataset's common folder `base` (the whole path when it is not
/// under `base`, or is `base`), as a partition's description shows it.
pub(crate) fn display_path(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .ok()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// How a source over files names itself in plans and errors:
/// `kind pattern (N file[s]detail)`, `detail` being `""` or `", more"`.
pub(crate) fn files_name(kind: &str, pattern: &str, files: usize, detail: &str) -> String {
    let plural = if files == 1 { "" } else { "s" };
    format!("{kind} {pattern} ({files} file{plural}{detail})")
}

/// Each file's path, length and modification time, a line each: what a source over
/// files gives as its [`fingerprint`](spillway_planner::source::DataSource::fingerprint).
pub(crate) fn files_fingerprint<'a>(
    kind: &str,
    paths: impl IntoIterator<Item = &'a Path>,
) -> Result<String> {
    let mut out = format!("{kind}\n");
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        out.push_str(&format!("{}\t{}\t{modified}\n", path.display(), meta.len()));
    }
    Ok(out)
}

/// The [`Error::Format`] for a file that is not of its format, or is corrupt.
pub(crate) fn format_error(path: &Path, error: impl fmt::Display) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field};

    use super::*;

    #[test]
    fn common_folder_and_display_path() {
        let paths = vec![
            PathBuf::from("data/a/x.parquet"),
            PathBuf::from("data/b/y.parquet"),
        ];
        let base = common_folder(&paths);
        assert_eq!(base, PathBuf::from("data"));
        assert_eq!(display_path(&paths[0], &base), "a/x.parquet");
        assert_eq!(display_path(&base, &base), "data");
        assert_eq!(common_folder(&[]), PathBuf::new());
    }

    #[test]
    fn files_name_counts_files() {
        assert_eq!(files_name("csv", "d/*.csv", 1, ""), "csv d/*.csv (1 file)");
        assert_eq!(
            files_name("ipc", "d", 2, ", 3 batches"),
            "ipc d (2 files, 3 batches)"
        );
    }

    #[test]
    fn view_type_maps_strings_and_binaries_at_any_depth() {
        assert_eq!(view_type(&DataType::LargeUtf8), DataType::Utf8View);
        assert_eq!(view_type(&DataType::Binary), DataType::BinaryView);
        assert_eq!(view_type(&DataType::Int64), DataType::Int64);
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        assert_eq!(view_type(&dict), DataType::Utf8View);
        let list = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
        let viewed = DataType::List(Arc::new(Field::new("item", DataType::Utf8View, true)));
        assert_eq!(view_type(&list), viewed);
    }
}
