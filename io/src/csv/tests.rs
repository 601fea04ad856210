//! The boundary machine and the partition reader against a sequential read.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use spillway_planner::Error;
use spillway_planner::source::{DataSource, ScanRequest};

use super::scan::{Dialect, FileIndex, Split, split_record};
use super::{CsvOptions, CsvSource};

/// Quoted newlines (`\n` and `\r\n`), delimiters and doubled quotes inside quotes, empty
/// lines, a comment line and a last line without a terminator.
const TRICKY: &str = "a,b,c\n\
    1,\"x\ny\",p\n\
    2,\"he said \"\"hi\"\"\",q\r\n\
    \n\
    3,\"line\r\nbreak, and \"\"more\"\"\n\n\",r\n\
    # a comment, \"with a quote\n\
    4,plain,s\n\
    5,\"\",t\n\
    6,\"a\nb\nc\nd\",u";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
    path.to_string_lossy().into_owned()
}

fn request(batch_rows: usize, target: usize) -> ScanRequest<'static> {
    ScanRequest {
        projection: None,
        filters: &[],
        batch_rows,
        batch_bytes: 8 << 20,
        target_partition_bytes: target,
        min_partitions: 1,
    }
}

/// Every row of every partition, each as its fields displayed.
fn rows(source: &CsvSource, request: &ScanRequest<'_>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for part in source.plan_scan(request).unwrap() {
        for batch in part.open().unwrap() {
            let batch: RecordBatch = batch.unwrap();
            assert!(batch.num_rows() <= request.batch_rows);
            for r in 0..batch.num_rows() {
                out.push(
                    batch
                        .columns()
                        .iter()
                        .map(|c| {
                            if c.is_null(r) {
                                "<null>".to_string()
                            } else {
                                arrow::util::display::array_value_to_string(c, r).unwrap()
                            }
                        })
                        .collect(),
                );
            }
        }
    }
    out
}

/// The records of `text` as the `csv` crate reads them, sequentially.
fn sequential(text: &str, comment: Option<u8>) -> Vec<Vec<String>> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .comment(comment)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| {
            r.unwrap()
                .iter()
                .map(|f| {
                    if f.is_empty() {
                        "<null>".to_string()
                    } else {
                        f.to_string()
                    }
                })
                .collect()
        })
        .collect()
}

#[test]
fn partitions_of_every_size_read_exactly_the_rows_of_a_sequential_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "tricky.csv", TRICKY);
    let options = CsvOptions::new().comment(b'#').schema(Arc::new(Schema::new(
        ["a", "b", "c"]
            .map(|n| Field::new(n, DataType::Utf8View, true))
            .to_vec(),
    )));
    let source = CsvSource::try_new(&path, options).unwrap();
    let expected = sequential(TRICKY, Some(b'#'));
    assert_eq!(expected.len(), 6);
    let mut most = 0;
    for target in 1..=TRICKY.len() + 1 {
        for batch_rows in [1, 2, 1024] {
            let parts = source.plan_scan(&request(batch_rows, target)).unwrap();
            most = most.max(parts.len());
            assert_eq!(
                rows(&source, &request(batch_rows, target)),
                expected,
                "target {target}, batch_rows {batch_rows}"
            );
        }
    }
    // The smallest targets cut at every record, empty line and comment line.
    assert_eq!(most, 8);
}

#[test]
fn cuts_are_record_starts_for_every_stride_and_chunking() {
    let bytes = TRICKY.as_bytes();
    let dialect = Dialect {
        comment: Some(b'#'),
        ..Dialect::default()
    };
    // The record starts of a sequential split (a cut may also sit before empty lines or a
    // comment, which a fresh decoder skips the same way).
    let mut starts = vec![];
    let mut at = 0;
    while let Split::Record { start, end, .. } = split_record(&bytes[at..], true, &dialect) {
        starts.push(at + start);
        at += end;
    }
    let header = 6;
    for stride in 1..=bytes.len() as u64 {
        let index = FileIndex::of_bytes(bytes, dialect, header, stride);
        assert_eq!(index.cuts[0].offset, header);
        assert_eq!(index.unterminated, None);
        for pair in index.cuts.windows(2) {
            assert!(pair[1].offset >= pair[0].offset + stride, "stride {stride}");
        }
        for cut in &index.cuts {
            let offset = cut.offset as usize;
            // Just after a `\n` that ends a record (or an empty or comment line).
            assert_eq!(bytes[offset - 1], b'\n');
            let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(cut.line, line, "stride {stride}, cut {offset}");
            // The next record from here is one of the sequential read's.
            if let Split::Record { start, .. } = split_record(&bytes[offset..], true, &dialect) {
                let first = offset + start;
                assert!(
                    starts.contains(&first),
                    "stride {stride}: cut {offset} gives a record at {first}"
                );
            }
        }
    }
}

#[test]
fn a_quote_open_at_the_end_is_found_by_the_pre_pass() {
    let text = b"a,b\n1,2\n3,\"open\n4,5\n6,7\n";
    let index = FileIndex::of_bytes(text, Dialect::default(), 4, 1);
    assert_eq!(index.unterminated, Some(8));
    // No cut inside the open field.
    assert!(index.cuts.iter().all(|c| c.offset <= 8), "{:?}", index.cuts);
    let escaped = Dialect {
        escape: Some(b'\\'),
        ..Dialect::default()
    };
    let text = b"a,b\n1,\"x\\\"\ny\"\n2,z\n";
    let index = FileIndex::of_bytes(text, escaped, 4, 1);
    assert_eq!(index.unterminated, None);
    let offsets: Vec<u64> = index.cuts.iter().map(|c| c.offset).collect();
    assert_eq!(offsets, vec![4, 14]);
}

#[test]
fn split_record_counts_fields_and_sees_open_quotes() {
    let d = Dialect::default();
    assert_eq!(
        split_record(b"\n\na,\"b,c\",d\nx", true, &d),
        Split::Record {
            start: 2,
            end: 12,
            fields: 3,
            closed: true
        }
    );
    assert_eq!(split_record(b"a,\"b\n", false, &d), Split::NeedMore);
    assert_eq!(
        split_record(b"a,\"b\n", true, &d),
        Split::Record {
            start: 0,
            end: 5,
            fields: 2,
            closed: false
        }
    );
    assert_eq!(split_record(b"\r\n\n", true, &d), Split::Done);
}

#[test]
fn errors_name_the_absolute_line_in_every_partition() {
    let dir = tempfile::tempdir().unwrap();
    // Line numbers shift by the quoted newlines above the bad row.
    let mut text = String::from("id,s\n");
    for i in 0..50 {
        text.push_str(&format!("{i},\"two\nlines\"\n"));
    }
    text.push_str("oops,x\n"); // line 2 + 100 = 102
    for i in 0..20 {
        text.push_str(&format!("{i},y\n"));
    }
    let path = write(dir.path(), "bad.csv", &text);
    let options = CsvOptions::new().dtype("id", DataType::Int64);
    let source = CsvSource::try_new(&path, options).unwrap();
    for target in [1, 50, 333, 1 << 20] {
        for batch_rows in [1, 7, 1000] {
            let mut error = None;
            for part in source.plan_scan(&request(batch_rows, target)).unwrap() {
                for batch in part.open().unwrap() {
                    if let Err(e) = batch {
                        error = Some(e);
                    }
                }
            }
            match error {
                Some(Error::Malformed { line, message, .. }) => {
                    assert_eq!(line, 102, "target {target}: {message}");
                    assert!(message.contains("'oops'"), "{message}");
                    assert!(!message.contains("at line"), "{message}");
                }
                other => panic!("target {target}: {other:?}"),
            }
        }
    }
}

#[test]
fn skipped_rows_are_reported_once_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let text = "a,b\n1,2\n3\n4,x\n5,6\n7,8,9\n10,\"open\n11,12\n";
    let path = write(dir.path(), "skip.csv", text);
    let options = CsvOptions::new()
        .dtype("b", DataType::Int64)
        .skip_bad_rows(true);
    let report = options.bad_rows();
    let source = CsvSource::try_new(&path, options).unwrap();
    for target in [1, 10, 1000] {
        let got = rows(&source, &request(2, target));
        assert_eq!(got, vec![vec!["1", "2"], vec!["5", "6"]], "target {target}");
    }
    assert_eq!(report.lines(&path), vec![3, 4, 6, 7]);
    let messages: Vec<String> = report.rows().into_iter().map(|r| r.message).collect();
    assert!(
        messages[0].contains("expected 2 fields, found 1"),
        "{messages:?}"
    );
    assert!(messages[1].contains("'x'"), "{messages:?}");
    assert!(messages[3].contains("unterminated quote"), "{messages:?}");
    // The first column was inferred as integers; strings in it are bad rows too.
    let first = source.schema();
    assert_eq!(first.field(0).data_type(), &DataType::Int64);
    let projected = ScanRequest {
        projection: Some(&[0]),
        ..request(1024, 1 << 20)
    };
    let values: Vec<i64> = source
        .plan_scan(&projected)
        .unwrap()
        .into_iter()
        .flat_map(|p| p.open().unwrap())
        .flat_map(|b| {
            b.unwrap()
                .column(0)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .values()
                .to_vec()
        })
        .collect();
    // Column b is not read, so the row with 'x' in it is not bad for this scan.
    assert_eq!(values, vec![1, 4, 5]);
}

#[test]
fn partitions_estimate_their_decoded_rows_not_their_text() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("a,b\n{}", "1,2\n".repeat(10_000));
    let path = write(dir.path(), "ints.csv", &text);
    let source = CsvSource::try_new(&path, CsvOptions::default()).unwrap();
    let parts = source.plan_scan(&request(1024, 4096)).unwrap();
    assert!(parts.len() > 1);
    let decoded: usize = parts.iter().map(|p| p.estimated_bytes().unwrap()).sum();
    // Two Int64 columns: 16 bytes a row (and the validity bitmaps), 4 of text.
    assert!(
        (160_000..=165_000).contains(&decoded),
        "{decoded} estimated for 10 000 rows"
    );
}
