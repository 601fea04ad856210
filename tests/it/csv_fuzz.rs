//! A bounded fuzz of the CSV reader: seeded random files (random bytes, quotes unbalanced,
//! in the middle of fields or escaped, ragged rows, invalid UTF-8, byte order marks, CRLF
//! and lone CR line ends, empty files in a glob), read with and without skipping bad rows.
//!
//! Each case must end without a panic (each runs under `catch_unwind`, so a panic is
//! reported with its seed), in rows or in a typed error naming a file of the case (and a
//! line of it for a bad row); no row may be invented or lost: every row returned is a
//! record of the input (as the `csv` crate reads it), and every record is returned or, when
//! bad rows are skipped, listed in the report.
//!
//! `SPILLWAY_FUZZ_CASES` (default 2 000) and `SPILLWAY_FUZZ_SEED` (the first case's seed)
//! run more cases or one again: `benches/fuzz_csv.sh`.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use spillway::BadRow;
use spillway::arrow::array::AsArray;
use spillway::prelude::*;

/// One case's choices.
struct Case {
    delimiter: u8,
    escape: Option<u8>,
    comment: Option<u8>,
    has_header: bool,
    skip: bool,
    /// An explicit all-string schema (rows are then compared value by value).
    strings: bool,
    ncols: usize,
    infer_rows: usize,
    files: Vec<Vec<u8>>,
}

fn field(rng: &mut fastrand::Rng, c: &Case) -> Vec<u8> {
    let d = c.delimiter;
    match rng.u8(..17) {
        0..=3 => rng.i64(-1000..1000).to_string().into_bytes(),
        4 => format!("{:.3}", rng.f64() * 100.0).into_bytes(),
        5 => Vec::new(),
        6 => b"true".to_vec(),
        7 => b"2024-01-02".to_vec(),
        8 => [b"\"a".as_slice(), &[d], b"b\nc\"\"d\r\ne\""].concat(),
        9 => b"\"unbalanced".to_vec(),
        10 => b"mid\"dle".to_vec(),
        11 => b"\"esc\\\"aped\"".to_vec(),
        12 => b"caf\xe9".to_vec(),
        13 => (0..rng.usize(1..6)).map(|_| rng.u8(..)).collect(),
        14 => b"\xef\xbb\xbf\"b,o\nm\"".to_vec(),
        15 => "é".as_bytes().to_vec(),
        _ => b"#x".to_vec(),
    }
}

fn ending(rng: &mut fastrand::Rng, style: u8) -> &'static [u8] {
    match if style == 3 { rng.u8(..3) } else { style } {
        0 => b"\n",
        1 => b"\r\n",
        _ => b"\r",
    }
}

fn file(rng: &mut fastrand::Rng, c: &Case) -> Vec<u8> {
    if rng.u8(..5) == 0 {
        return Vec::new();
    }
    let style = rng.u8(..4);
    let mut out = Vec::new();
    if rng.u8(..6) == 0 {
        out.extend_from_slice(b"\xef\xbb\xbf");
    }
    let d = [c.delimiter];
    if c.has_header {
        let mut names: Vec<Vec<u8>> = (0..c.ncols).map(|i| format!("c{i}").into_bytes()).collect();
        match rng.u8(..20) {
            0 => names.push(b"extra".to_vec()),
            1 => names[0] = field(rng, c),
            _ => {}
        }
        out.extend(names.join(d.as_slice()));
        out.extend_from_slice(ending(rng, style));
    }
    for _ in 0..rng.usize(..10) {
        if c.comment.is_some() && rng.u8(..8) == 0 {
            out.extend_from_slice(b"# a comment, \"quoted\n");
            continue;
        }
        if rng.u8(..12) == 0 {
            out.extend_from_slice(ending(rng, style));
            continue;
        }
        let n = match rng.u8(..6) {
            0 => rng.usize(1..c.ncols + 3),
            _ => c.ncols,
        };
        let row: Vec<Vec<u8>> = (0..n).map(|_| field(rng, c)).collect();
        out.extend(row.join(d.as_slice()));
        out.extend_from_slice(ending(rng, style));
    }
    if rng.u8(..4) == 0 {
        while out.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            out.pop();
        }
    }
    if rng.u8(..10) == 0 && !out.is_empty() {
        out.truncate(rng.usize(..out.len()));
    }
    out
}

fn case(seed: u64) -> Case {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut c = Case {
        delimiter: [b',', b',', b';', b'\t'][rng.usize(..4)],
        escape: (rng.u8(..4) == 0).then_some(b'\\'),
        comment: (rng.u8(..5) == 0).then_some(b'#'),
        has_header: rng.u8(..4) != 0,
        skip: rng.bool(),
        strings: rng.u8(..3) == 0,
        ncols: rng.usize(1..4),
        infer_rows: [1, 3, 10_000][rng.usize(..3)],
        files: Vec::new(),
    };
    let files = (0..rng.usize(1..4)).map(|_| file(&mut rng, &c)).collect();
    c.files = files;
    c
}

fn options(c: &Case) -> CsvOptions {
    let mut o = CsvOptions::new()
        .delimiter(c.delimiter)
        .has_header(c.has_header)
        .infer_schema_rows(c.infer_rows)
        .skip_bad_rows(c.skip);
    if let Some(e) = c.escape {
        o = o.escape(e);
    }
    if let Some(m) = c.comment {
        o = o.comment(m);
    }
    if c.strings {
        let fields: Vec<Field> = (0..c.ncols)
            .map(|i| Field::new(format!("c{i}"), DataType::Utf8View, true))
            .collect();
        o = o
            .schema(Arc::new(Schema::new(fields)))
            .null_values(Vec::<String>::new());
    }
    o
}

/// The data records of a file as the `csv` crate reads them (the header dropped).
fn reference(bytes: &[u8], c: &Case) -> Vec<Vec<Vec<u8>>> {
    // At the end of the input `csv_core` reads a comment line without a `\n` as a record
    // of one empty field; the `\n` only ends the last record (or adds a newline to a
    // quoted field left open, a bad row either way).
    let bytes = [bytes, b"\n"].concat();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(c.delimiter)
        .escape(c.escape)
        .comment(c.comment)
        .from_reader(bytes.as_slice());
    let mut records: Vec<Vec<Vec<u8>>> = reader
        .byte_records()
        .map(|r| r.unwrap().iter().map(<[u8]>::to_vec).collect())
        .collect();
    if c.has_header && !records.is_empty() {
        records.remove(0);
    }
    records
}

/// What a case did.
enum Outcome {
    Rows {
        rows: Vec<Vec<String>>,
        bad: Vec<BadRow>,
    },
    Failed(Error),
}

fn run(session: &Session, pattern: &str, c: &Case) -> Outcome {
    let options = options(c);
    let report = options.bad_rows();
    let batches = session
        .read_csv_with(pattern, options)
        .and_then(|df| df.collect());
    match batches {
        Err(e) => Outcome::Failed(e),
        Ok(batches) => {
            let mut rows = Vec::new();
            for b in &batches {
                for r in 0..b.num_rows() {
                    rows.push(
                        b.columns()
                            .iter()
                            .map(|col| match col.data_type() {
                                DataType::Utf8View => col.as_string_view().value(r).to_string(),
                                _ => String::new(),
                            })
                            .collect(),
                    );
                }
            }
            Outcome::Rows {
                rows,
                bad: report.rows(),
            }
        }
    }
}

/// What is wrong with a case's outcome, if anything.
fn check(c: &Case, paths: &[PathBuf], outcome: &Outcome) -> Option<String> {
    let lines = |path: &Path| -> Option<u64> {
        let i = paths.iter().position(|p| p == path)?;
        Some(1 + c.files[i].iter().filter(|b| **b == b'\n').count() as u64)
    };
    let records: Vec<Vec<Vec<u8>>> = c.files.iter().flat_map(|f| reference(f, c)).collect();
    match outcome {
        Outcome::Failed(e) => match e.root() {
            Error::Malformed {
                path,
                line,
                message,
            } => match lines(path) {
                None => Some(format!("an error naming a file not of the case: {e}")),
                Some(n) if *line < 1 || *line > n => Some(format!("line out of the file: {e}")),
                Some(_) if c.skip && !message.contains("header") => {
                    Some(format!("a bad row failed the query though skipped: {e}"))
                }
                Some(_) => None,
            },
            Error::Format { path, .. } | Error::SchemaDiffers { path, .. } => lines(path)
                .is_none()
                .then(|| format!("names no file of the case: {e}")),
            _ => Some(format!("an untyped or unexpected error: {e:?}")),
        },
        Outcome::Rows { rows, bad } => {
            for b in bad {
                match lines(&b.path) {
                    Some(n) if b.line >= 1 && b.line <= n => {}
                    _ => return Some(format!("a skipped row out of the files: {b:?}")),
                }
            }
            if !c.skip && !bad.is_empty() {
                return Some(format!("rows reported though not skipping: {bad:?}"));
            }
            if rows.len() + bad.len() != records.len() {
                return Some(format!(
                    "{} rows returned and {} skipped, of {} records",
                    rows.len(),
                    bad.len(),
                    records.len()
                ));
            }
            if c.strings {
                let mut left: HashMap<Vec<String>, usize> = HashMap::new();
                for r in &records {
                    let strings: Option<Vec<String>> = r
                        .iter()
                        .map(|f| String::from_utf8(f.clone()).ok())
                        .collect();
                    if let Some(s) = strings.filter(|s| s.len() == c.ncols) {
                        *left.entry(s).or_default() += 1;
                    }
                }
                for row in rows {
                    match left.get_mut(row) {
                        Some(n) if *n > 0 => *n -= 1,
                        _ => {
                            // As bytes: a string of the row may not even be UTF-8.
                            let row: Vec<String> = row
                                .iter()
                                .map(|v| v.as_bytes().escape_ascii().to_string())
                                .collect();
                            return Some(format!("a row not in the input: {row:?}"));
                        }
                    }
                }
            }
            None
        }
    }
}

/// A case, to reproduce it by hand (`SPILLWAY_FUZZ_SHOW=1`).
fn show(c: &Case) -> String {
    let files: Vec<String> = c
        .files
        .iter()
        .map(|f| format!("  \"{}\"", f.escape_ascii()))
        .collect();
    format!(
        "delimiter '{}' escape {:?} comment {:?} header {} skip {} strings {} ncols {} \
         infer_rows {}\n{}",
        c.delimiter.escape_ascii(),
        c.escape,
        c.comment,
        c.has_header,
        c.skip,
        c.strings,
        c.ncols,
        c.infer_rows,
        files.join("\n")
    )
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn random_csv_files_never_panic_invent_or_lose_rows() {
    let cases = env("SPILLWAY_FUZZ_CASES", 2_000);
    let first = env("SPILLWAY_FUZZ_SEED", 0x5EED_C5F0);
    let sessions: Vec<Session> = [(2, 1 << 20, 1024), (2, 16, 3), (1, 5, 1)]
        .into_iter()
        .map(|(threads, target, batch_rows)| {
            Session::builder()
                .threads(threads)
                .target_partition_bytes(target)
                .batch_rows(batch_rows)
                .build()
                .unwrap()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (mut read, mut failed, mut rows, mut skipped) = (0, 0, 0, 0);
    let mut kinds: HashMap<String, usize> = HashMap::new();
    let mut findings = Vec::new();
    for seed in first..first + cases {
        let c = case(seed);
        let folder = dir.path().join(format!("{seed}"));
        std::fs::create_dir(&folder).unwrap();
        let paths: Vec<PathBuf> = c
            .files
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                let path = folder.join(format!("f{i}.csv"));
                std::fs::write(&path, bytes).unwrap();
                path
            })
            .collect();
        let pattern = folder.join("*.csv").to_string_lossy().into_owned();
        let session = &sessions[(seed % 3) as usize];
        let outcome = catch_unwind(AssertUnwindSafe(|| run(session, &pattern, &c)));
        let finding = match &outcome {
            Err(panic) => Some(format!(
                "panic: {}",
                panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("?")
            )),
            Ok(outcome) => {
                match outcome {
                    Outcome::Rows { rows: r, bad } => {
                        read += 1;
                        rows += r.len();
                        skipped += bad.len();
                    }
                    Outcome::Failed(e) => {
                        failed += 1;
                        let kind = match e.root() {
                            Error::Malformed { .. } => "malformed".to_string(),
                            Error::Format { message, .. } => {
                                format!("format: {}", message.split(':').next().unwrap_or(""))
                            }
                            Error::SchemaDiffers { .. } => "schema differs".to_string(),
                            _ => "other".to_string(),
                        };
                        *kinds.entry(kind).or_default() += 1;
                    }
                }
                catch_unwind(AssertUnwindSafe(|| check(&c, &paths, outcome)))
                    .unwrap_or_else(|_| Some("the check panicked".into()))
            }
        };
        if let Some(finding) = finding {
            if std::env::var_os("SPILLWAY_FUZZ_SHOW").is_some() {
                println!("{}", show(&c));
            }
            findings.push(format!("seed {seed}: {finding}"));
        }
        std::fs::remove_dir_all(&folder).unwrap();
    }
    let mut kinds: Vec<_> = kinds.into_iter().collect();
    kinds.sort();
    println!(
        "csv fuzz: {cases} cases (seeds {first}..{}) in {:.1} s: {read} read ({rows} rows, \
         {skipped} skipped), {failed} typed errors {kinds:?}, {} findings",
        first + cases,
        started.elapsed().as_secs_f64(),
        findings.len()
    );
    for f in &findings {
        println!("csv fuzz finding: {f}");
    }
    assert!(
        findings.is_empty(),
        "{} findings, first: {}",
        findings.len(),
        findings[0]
    );
}
