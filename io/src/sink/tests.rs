use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringViewArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use spillway_planner::sink::DataSink;

use super::*;
use crate::csv::CsvWriteOptions;
use crate::ipc::IpcWriteOptions;
use crate::parquet::ParquetWriteOptions;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("k", DataType::Utf8View, true),
    ]))
}

fn batch(keys: &[Option<&str>]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..keys.len() as i64)),
            Arc::new(StringViewArray::from_iter(keys.iter().copied())),
        ],
    )
    .unwrap()
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn formats() -> Vec<FileFormat> {
    vec![
        FileFormat::Parquet(ParquetWriteOptions::new()),
        FileFormat::Csv(CsvWriteOptions::new()),
        FileFormat::Ipc(IpcWriteOptions::new()),
    ]
}

/// A sink writing into `dir/out`.
fn sink_in(dir: &Path, format: FileFormat) -> FileSink {
    FileSink::try_new(dir.join("out"), format, WriteMode::ErrorIfExists, None).unwrap()
}

#[test]
fn a_file_is_staged_under_a_hidden_name_until_the_commit() {
    for format in formats() {
        let dir = tempfile::tempdir().unwrap();
        let ext = format.extension();
        let sink = sink_in(dir.path(), format);
        let mut w = sink.open(3, &schema()).unwrap();
        w.write(&batch(&[Some("a")])).unwrap();
        let names = files(dir.path());
        assert_eq!(names.len(), 1);
        assert!(
            names[0].starts_with(".out.spillway-")
                && names[0].contains(&format!("/data/.part-00003{ext}.tmp-")),
            "{names:?}"
        );
        assert_eq!(w.finish().unwrap(), 1);
        assert!(files(dir.path())[0].ends_with(&format!("/data/part-00003{ext}")));
        assert!(!dir.path().join("out").exists());
        sink.commit().unwrap();
        assert_eq!(files(dir.path()), vec![format!("out/part-00003{ext}")]);
    }
}

#[test]
fn a_writer_dropped_unfinished_leaves_nothing() {
    for format in formats() {
        let dir = tempfile::tempdir().unwrap();
        let sink = sink_in(dir.path(), format).partition_by(["k"]);
        let mut w = sink.open(0, &schema()).unwrap();
        w.write(&batch(&[Some("a"), Some("b"), None])).unwrap();
        assert_eq!(files(dir.path()).len(), 3);
        drop(w);
        assert_eq!(files(dir.path()), Vec::<String>::new());
    }
}

#[test]
fn a_sink_dropped_uncommitted_removes_the_finished_files() {
    for format in formats() {
        let dir = tempfile::tempdir().unwrap();
        let sink = sink_in(dir.path(), format);
        for p in 0..3 {
            let mut w = sink.open(p, &schema()).unwrap();
            w.write(&batch(&[Some("a")])).unwrap();
            w.finish().unwrap();
        }
        assert_eq!(files(dir.path()).len(), 3);
        drop(sink);
        assert_eq!(files(dir.path()), Vec::<String>::new());
    }
}

#[test]
fn partition_by_writes_one_file_per_folder_without_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let sink = FileSink::try_new(
        dir.path(),
        FileFormat::Csv(CsvWriteOptions::new()),
        WriteMode::Overwrite,
        None,
    )
    .unwrap()
    .partition_by(["k"]);
    let mut w = sink.open(7, &schema()).unwrap();
    w.write(&batch(&[Some("a/b"), Some("c"), None, Some("a/b")]))
        .unwrap();
    w.write(&batch(&[Some("c")])).unwrap();
    assert_eq!(w.finish().unwrap(), 5);
    sink.commit().unwrap();
    assert_eq!(
        files(dir.path()),
        vec![
            "k=__HIVE_DEFAULT_PARTITION__/part-00007.csv",
            "k=a%2Fb/part-00007.csv",
            "k=c/part-00007.csv"
        ]
    );
    let text = std::fs::read_to_string(dir.path().join("k=a%2Fb/part-00007.csv")).unwrap();
    assert_eq!(text, "n\n0\n3\n");
    let text = std::fs::read_to_string(dir.path().join("k=c/part-00007.csv")).unwrap();
    assert_eq!(text, "n\n1\n0\n");
}

#[test]
fn partition_by_checks_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    let sink = |cols: &[&str]| {
        sink_in(dir.path(), FileFormat::Csv(CsvWriteOptions::new()))
            .partition_by(cols.iter().copied())
    };
    let err = sink(&["nope"]).open(0, &schema()).err().unwrap();
    assert!(err.to_string().contains("'nope' not found"), "{err}");
    let err = sink(&["n", "k"]).open(0, &schema()).err().unwrap();
    assert!(err.to_string().contains("leaves no column"), "{err}");
}

#[test]
fn an_empty_csv_partition_still_has_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let sink = FileSink::try_new(
        dir.path(),
        FileFormat::Csv(CsvWriteOptions::new().delimiter(b';')),
        WriteMode::Overwrite,
        None,
    )
    .unwrap();
    let w = sink.open(0, &schema()).unwrap();
    assert_eq!(w.finish().unwrap(), 0);
    sink.commit().unwrap();
    let text = std::fs::read_to_string(dir.path().join("part-00000.csv")).unwrap();
    assert_eq!(text, "n;k\n");
}

#[test]
fn a_hive_parquet_file_closes_a_row_group_per_batch() {
    // With many folders open, no writer may keep rows buffered between batches.
    let dir = tempfile::tempdir().unwrap();
    let format = FileFormat::Parquet(ParquetWriteOptions::new());
    let sink = FileSink::try_new(dir.path(), format, WriteMode::Overwrite, None)
        .unwrap()
        .partition_by(["k"]);
    let mut w = sink.open(0, &schema()).unwrap();
    for _ in 0..3 {
        w.write(&batch(&[Some("a"), Some("b")])).unwrap();
    }
    w.finish().unwrap();
    sink.commit().unwrap();
    let file = std::fs::File::open(dir.path().join("k=a/part-00000.parquet")).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(reader.metadata().num_row_groups(), 3);
}
