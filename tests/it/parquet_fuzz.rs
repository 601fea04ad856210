//! A bounded fuzz of damaged Parquet files: two small files with page checksums (one
//! uncompressed, one Snappy-compressed) truncated, with bits flipped in their pages, in
//! their footer or in its length and magic, with bytes overwritten or ranges zeroed. Every
//! case must read back unchanged (the damage missed every byte that matters) or fail with
//! a typed error naming the file: never a panic, an [`Error::Internal`] or another answer.
//!
//! `SPILLWAY_FUZZ_CASES` (default 2 000) and `SPILLWAY_FUZZ_SEED` set the number of cases
//! and the seed; `benches/fuzz_parquet.sh` runs many more cases and prints the tally.

use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Instant;

use parquet::basic::Compression;
use spillway::arrow::compute::concat_batches;
use spillway::prelude::*;

use crate::parquet_faults::{read_all, rewrite, write_plain};

const CASES: usize = 2_000;
const SEED: u64 = 0x005e_ed0f_fa17;

/// A file to damage: its bytes, where its footer starts, and what it reads as.
struct Base {
    bytes: Vec<u8>,
    footer: usize,
    expected: RecordBatch,
}

/// One damage, chosen by `rng`, of `base`, and its description.
fn damage(rng: &mut fastrand::Rng, base: &Base) -> (Vec<u8>, &'static str, String) {
    let mut bytes = base.bytes.clone();
    let len = bytes.len();
    let flip = |rng: &mut fastrand::Rng, bytes: &mut Vec<u8>, range: Range<usize>| {
        let at = rng.usize(range);
        let bit = rng.u8(0..8);
        bytes[at] ^= 1 << bit;
        format!("bit {bit} of byte {at}")
    };
    let (kind, what) = match rng.u8(0..7) {
        0 => {
            let keep = rng.usize(0..len);
            bytes.truncate(keep);
            ("truncated", format!("to {keep} bytes"))
        }
        1 => {
            let what = flip(rng, &mut bytes, 4..base.footer);
            ("bit in pages", what)
        }
        2 => {
            let what = flip(rng, &mut bytes, base.footer..len - 8);
            ("bit in footer", what)
        }
        3 => {
            let what = flip(rng, &mut bytes, len - 8..len);
            ("bit in footer length or magic", what)
        }
        4 => {
            let (at, value) = (rng.usize(0..len), rng.u8(..));
            bytes[at] = value;
            ("byte overwritten", format!("byte {at} set to {value}"))
        }
        5 => {
            let at = rng.usize(0..len);
            let end = (at + rng.usize(1..=64)).min(len);
            bytes[at..end].fill(0);
            ("range zeroed", format!("bytes {at}..{end}"))
        }
        _ => {
            let n = rng.usize(2..=4);
            let what: Vec<String> = (0..n).map(|_| flip(rng, &mut bytes, 0..len)).collect();
            ("several bits", what.join(", "))
        }
    };
    (bytes, kind, what)
}

/// How the cases ended, by kind of damage.
#[derive(Default)]
struct Tally {
    unchanged: usize,
    at_open: usize,
    at_read: usize,
}

#[test]
fn damaged_parquet_files_fail_naming_the_file_or_read_unchanged() {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let cases = env("SPILLWAY_FUZZ_CASES").map_or(CASES, |n| n as usize);
    let seed = env("SPILLWAY_FUZZ_SEED").unwrap_or(SEED);
    let dir = tempfile::tempdir().unwrap();
    let s = Session::builder()
        .threads(1)
        .batch_rows(64)
        .build()
        .unwrap();
    let bases: Vec<Base> = [Compression::UNCOMPRESSED, Compression::SNAPPY]
        .into_iter()
        .enumerate()
        .map(|(i, compression)| {
            let plain = dir.path().join(format!("plain-{i}.parquet"));
            write_plain(&plain, 250, 100, compression);
            let bytes = rewrite(&plain, true, |_, _, b| b);
            let footer_len = u32::from_le_bytes(bytes[bytes.len() - 8..][..4].try_into().unwrap());
            let base = Base {
                footer: bytes.len() - 8 - footer_len as usize,
                expected: read_all(&s, &plain).unwrap(),
                bytes,
            };
            std::fs::write(&plain, &base.bytes).unwrap();
            assert_eq!(read_all(&s, &plain).unwrap(), base.expected);
            base
        })
        .collect();

    let started = Instant::now();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut tally: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut messages: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in 0..cases {
        let base = &bases[rng.usize(..bases.len())];
        let (bytes, kind, what) = damage(&mut rng, base);
        let path = dir.path().join(format!("case-{case}.parquet"));
        std::fs::write(&path, &bytes).unwrap();
        let t = tally.entry(kind).or_default();
        let fail = |why: String| format!("case {case} ({kind}: {what}): {why}");
        match catch_unwind(AssertUnwindSafe(|| opened_and_read(&s, &path))) {
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()));
                failures.push(fail(format!("panicked: {message:?}")));
            }
            Ok((_, Ok(batch))) if batch == base.expected => t.unchanged += 1,
            Ok((_, Ok(batch))) => failures.push(fail(format!(
                "a different answer, schema {:?}, {} rows",
                batch.schema(),
                batch.num_rows()
            ))),
            Ok((opened, Err(e))) => match e.root() {
                Error::Internal(_) => failures.push(fail(e.to_string())),
                root if !root.to_string().contains(&format!("case-{case}.parquet")) => {
                    failures.push(fail(format!("an error not naming the file: {e}")))
                }
                root => {
                    if opened {
                        t.at_read += 1;
                    } else {
                        t.at_open += 1;
                    }
                    *messages.entry(gist(root)).or_default() += 1;
                }
            },
        }
        std::fs::remove_file(&path).unwrap();
    }

    let elapsed = started.elapsed();
    println!("fuzz: {cases} cases, seed {seed:#x}, {elapsed:.1?}");
    for (kind, t) in &tally {
        println!(
            "fuzz: {kind:32} {:6} unchanged {:6} errors at open {:6} errors at read",
            t.unchanged, t.at_open, t.at_read
        );
    }
    let mut common: Vec<_> = messages.into_iter().collect();
    common.sort_by_key(|(m, n)| (std::cmp::Reverse(*n), m.clone()));
    for (message, n) in common.iter().take(12) {
        println!("fuzz: {n:6} × {message}");
    }
    println!("fuzz: {} failures", failures.len());
    for f in failures.iter().take(20) {
        println!("fuzz: FAILED {f}");
    }
    assert!(
        failures.is_empty(),
        "{}",
        failures[..failures.len().min(20)].join("\n")
    );
}

/// Opens `path` and reads it: whether it opened, and the rows or the error.
fn opened_and_read(s: &Session, path: &Path) -> (bool, Result<RecordBatch>) {
    let df = match s.read_parquet(path.to_string_lossy()) {
        Ok(df) => df,
        Err(e) => return (false, Err(e)),
    };
    let read = df.collect().and_then(|batches| {
        concat_batches(&df.schema(), &batches).map_err(|e| Error::Internal(e.to_string()))
    });
    (true, read)
}

/// An error's message without the file's name and numbers, to count errors by kind.
fn gist(error: &Error) -> String {
    let message = match error {
        Error::Format { message, .. } => format!("format: {message}"),
        other => other.to_string(),
    };
    let words: String = message
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect();
    let mut out = String::new();
    for c in words.chars().take(90) {
        if !(c == '#' && out.ends_with('#')) {
            out.push(c);
        }
    }
    out
}
