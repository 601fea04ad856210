use std::sync::Arc;

use arrow::array::{AsArray, Int64Array, RecordBatch, StringViewArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use spillway_planner::sink::DataSink;
use spillway_planner::source::{DataSource, ScanRequest};

use super::*;
use crate::sink::{FileFormat, FileSink, WriteMode};

fn request(projection: Option<&[usize]>, target: usize) -> ScanRequest<'_> {
    ScanRequest {
        projection,
        filters: &[],
        batch_rows: 40,
        batch_bytes: 8 << 20,
        target_partition_bytes: target,
        min_partitions: 1,
    }
}

/// Writes one file of `batches` batches of 100 rows with `compression`.
fn write(dir: &Path, batches: i64, compression: IpcCompression) -> PathBuf {
    let schema = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("s", DataType::Utf8View, true),
    ]));
    let sink = FileSink::try_new(
        dir,
        FileFormat::Ipc(IpcWriteOptions::new().compression(compression)),
        WriteMode::Overwrite,
        None,
    )
    .unwrap();
    let mut w = sink.open(0, &schema).unwrap();
    for b in 0..batches {
        let n: Vec<i64> = (b * 100..(b + 1) * 100).collect();
        let s = StringViewArray::from_iter(n.iter().map(|i| (i % 5 != 0).then(|| i.to_string())));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from(n)), Arc::new(s)],
        )
        .unwrap();
        w.write(&batch).unwrap();
    }
    w.finish().unwrap();
    sink.commit().unwrap();
    dir.join("part-00000.arrow")
}

fn read_all(source: &IpcSource, req: &ScanRequest<'_>) -> (usize, Vec<RecordBatch>) {
    let parts = source.plan_scan(req).unwrap();
    let batches = parts
        .iter()
        .flat_map(|p| p.open().unwrap())
        .collect::<Result<Vec<_>>>()
        .unwrap();
    (parts.len(), batches)
}

#[test]
fn batches_group_into_partitions_and_read_back_in_order() {
    for compression in [
        IpcCompression::None,
        IpcCompression::Lz4,
        IpcCompression::Zstd,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), 6, compression);
        let source = IpcSource::try_new(path.to_string_lossy()).unwrap();
        assert_eq!(source.num_batches(), 6);
        let (one, _) = read_all(&source, &request(None, usize::MAX));
        assert_eq!(one, 1);
        let (parts, batches) = read_all(&source, &request(None, 1));
        assert_eq!(parts, 6);
        assert!(batches.iter().all(|b| b.num_rows() <= 40));
        let n: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(n, (0..600).collect::<Vec<_>>());
    }
}

#[test]
fn a_projection_reads_the_columns_asked_in_their_order() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 2, IpcCompression::None);
    let source = IpcSource::try_new(dir.path().to_string_lossy()).unwrap();
    let (_, batches) = read_all(&source, &request(Some(&[1, 0]), usize::MAX));
    assert_eq!(batches[0].schema().field(0).name(), "s");
    assert_eq!(batches[0].column(1).as_primitive::<Int64Type>().value(0), 0);
    let (_, batches) = read_all(&source, &request(Some(&[]), usize::MAX));
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 200);
    assert_eq!(batches[0].num_columns(), 0);
}

#[test]
fn a_truncated_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), 3, IpcCompression::None);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = IpcSource::try_new(path.to_string_lossy()).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err}");
    assert!(err.to_string().contains("part-00000.arrow"), "{err}");
}

#[test]
fn files_whose_schemas_differ_are_an_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a"), 1, IpcCompression::None);
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Float64, false)]));
    let sink = FileSink::try_new(
        dir.path().join("b"),
        FileFormat::Ipc(IpcWriteOptions::new()),
        WriteMode::Overwrite,
        None,
    )
    .unwrap();
    sink.open(0, &schema).unwrap().finish().unwrap();
    sink.commit().unwrap();
    let err = IpcSource::try_new(dir.path().to_string_lossy()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("a/part-00000.arrow") && text.contains("b/part-00000.arrow"),
        "{text}"
    );
    assert!(
        text.contains("2 columns") || text.contains("1 columns"),
        "{text}"
    );
}
