//! Parquet through the public API: partitions of row groups, bounded batches, pruning
//! from statistics, and errors that name the file.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use spillway::arrow::array::{AsArray, Float64Array, Int64Array, StringArray};
use spillway::arrow::datatypes::Int64Type;
use spillway::prelude::*;

/// Writes `files` files of `rows` rows each, in row groups of `group` rows; `id` counts up
/// across files, `v` is `id / 2`, `s` cycles through three strings.
fn write(dir: &Path, files: usize, rows: usize, group: usize) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("v", DataType::Float64, true),
        Field::new("s", DataType::Utf8, false),
    ]));
    for f in 0..files {
        let ids: Vec<i64> = (0..rows).map(|i| (f * rows + i) as i64).collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(ids.clone())),
                Arc::new(Float64Array::from_iter(
                    ids.iter().map(|&i| (i % 10 != 0).then_some(i as f64 / 2.0)),
                )),
                Arc::new(StringArray::from_iter_values(
                    ids.iter()
                        .map(|i| ["red", "green", "blue"][(*i % 3) as usize]),
                )),
            ],
        )
        .unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(group))
            .build();
        let file = File::create(dir.join(format!("part-{f}.parquet"))).unwrap();
        let mut w = ArrowWriter::try_new(file, Arc::clone(&schema), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
}

fn glob(dir: &Path) -> String {
    dir.join("*.parquet").to_string_lossy().into_owned()
}

#[test]
fn a_glob_of_files_reads_in_order_with_bounded_batches() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 3, 10_000, 2_500);
    for threads in [1, 2, 4] {
        let s = Session::builder()
            .threads(threads)
            .batch_rows(1_000)
            .build()
            .unwrap();
        let df = s.read_parquet(glob(dir.path())).unwrap();
        let out = df.select([col("id")]).unwrap().collect().unwrap();
        assert!(out.iter().all(|b| b.num_rows() <= 1_000));
        let ids: Vec<i64> = out
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(ids, (0..30_000).collect::<Vec<_>>());
        assert_eq!(
            df.column("id").unwrap().sum().compute::<i64>().unwrap(),
            (0..30_000_i64).sum::<i64>()
        );
        // Nulls in v: every tenth id.
        assert_eq!(
            df.column("v").unwrap().count().compute::<u64>().unwrap(),
            27_000
        );
        let strings = df
            .filter(col("s").eq(lit("blue")))
            .unwrap()
            .count_rows()
            .unwrap();
        assert_eq!(strings, 10_000);
    }
}

#[test]
fn a_row_group_of_wide_strings_is_read_in_batches_of_the_session_batch_bytes() {
    // One row group of 32 rows of 64 KiB strings (2 MiB), and a narrow column.
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("s", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from_iter_values(0..32)),
            Arc::new(StringArray::from_iter_values(
                (0..32).map(|i| format!("{i:02}{}", "w".repeat((64 << 10) - 2))),
            )),
        ],
    )
    .unwrap();
    let file = File::create(dir.path().join("wide.parquet")).unwrap();
    let mut w = ArrowWriter::try_new(file, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();

    let s = Session::builder()
        .threads(2)
        .batch_rows(16)
        .batch_bytes(256 << 10)
        .build()
        .unwrap();
    let df = s.read_parquet(glob(dir.path())).unwrap();
    // About 256 KiB: 3 rows of 64 KiB, not 16.
    let wide: Vec<usize> = df
        .collect()
        .unwrap()
        .iter()
        .map(RecordBatch::num_rows)
        .collect();
    assert_eq!(wide, [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2]);
    // The id column alone is narrow: batch_rows rows a batch.
    let narrow: Vec<usize> = df
        .select([col("id")])
        .unwrap()
        .collect()
        .unwrap()
        .iter()
        .map(RecordBatch::num_rows)
        .collect();
    assert_eq!(narrow, [16, 16]);
    assert!(Session::builder().batch_bytes(0).build().is_err());
}

#[test]
fn row_groups_are_pruned_from_statistics() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 2, 10_000, 1_000);
    // One row group per partition, so pruning shows in the task count.
    let s = Session::builder()
        .target_partition_bytes(1)
        .build()
        .unwrap();
    let df = s.read_parquet(glob(dir.path())).unwrap();
    assert_eq!(df.task_graph().unwrap().stages[0].tasks.len(), 20);
    let high = df.filter(col("id").gt_eq(lit(17_500))).unwrap();
    let graph = high.task_graph().unwrap();
    assert_eq!(graph.stages[0].tasks.len(), 3, "{graph}");
    let explain = high.explain().unwrap();
    assert!(explain.contains("pruning with"), "{explain}");
    // The filter still applies to the rows of the kept row groups.
    assert_eq!(high.count_rows().unwrap(), 2_500);
    // A literal on the left, and a filter that matches nothing.
    let low = df.filter(lit(999).gt_eq(col("id"))).unwrap();
    assert_eq!(low.task_graph().unwrap().stages[0].tasks.len(), 1);
    assert_eq!(low.count_rows().unwrap(), 1_000);
    let none = df.filter(col("id").lt(lit(-5))).unwrap();
    assert!(none.collect().unwrap().is_empty());
    assert_eq!(
        none.column("id").unwrap().sum().compute::<i64>().unwrap(),
        0
    );
    // A filter with a closure is never pushed into the scan, and is still applied.
    let odd = df.filter(col("id").apply(|i: i64| i % 2 == 1)).unwrap();
    assert_eq!(odd.task_graph().unwrap().stages[0].tasks.len(), 20);
    assert_eq!(odd.count_rows().unwrap(), 10_000);
}

#[test]
fn a_glob_that_matches_nothing_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let pattern = dir.path().join("*.parquet").to_string_lossy().into_owned();
    let err = Session::new().unwrap().read_parquet(&pattern).unwrap_err();
    assert!(
        matches!(&err, Error::NoFiles { pattern: p } if *p == pattern),
        "{err}"
    );
}

#[test]
fn truncated_and_corrupt_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 1, 1_000, 500);
    let good = dir.path().join("part-0.parquet");
    let bytes = std::fs::read(&good).unwrap();

    let truncated = dir.path().join("truncated.parquet");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = Session::new()
        .unwrap()
        .read_parquet(truncated.to_string_lossy())
        .unwrap_err();
    assert!(
        matches!(&err, Error::Format { path, .. } if *path == truncated),
        "{err}"
    );
    assert!(err.to_string().contains("truncated.parquet"), "{err}");

    let text = dir.path().join("notes.parquet");
    std::fs::write(&text, "this is not parquet at all").unwrap();
    let err = Session::new()
        .unwrap()
        .read_parquet(text.to_string_lossy())
        .unwrap_err();
    assert!(err.to_string().contains("notes.parquet"), "{err}");

    // A corrupt data page (the footer intact) fails when the data is read, naming the
    // file, the task and the partition.
    let mut broken = bytes.clone();
    for b in &mut broken[4..bytes.len() / 3] {
        *b = 0xAB;
    }
    let damaged = dir.path().join("damaged.parquet");
    std::fs::write(&damaged, &broken).unwrap();
    let df = Session::new()
        .unwrap()
        .read_parquet(damaged.to_string_lossy())
        .unwrap();
    let err = df.collect().unwrap_err();
    assert!(matches!(&err, Error::Task { .. }), "{err}");
    assert!(
        matches!(err.root(), Error::Format { path, .. } if *path == damaged),
        "{err}"
    );
}

#[test]
fn results_are_written_partition_by_partition_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 3, 5_000, 1_000);
    let spill = tempfile::tempdir().unwrap();
    for limit in [8_192_usize, 1 << 30] {
        let s = Session::builder()
            .threads(2)
            .batch_rows(512)
            .memory_limit(limit)
            .spill_dir(spill.path())
            .build()
            .unwrap();
        let df = s.read_parquet(glob(dir.path())).unwrap();

        // A filter: one file per scan partition.
        let out = dir.path().join(format!("filtered-{limit}"));
        let rows = df
            .filter(col("id").lt(lit(7_000)))
            .unwrap()
            .write_parquet(&out)
            .unwrap();
        assert_eq!(rows, 7_000);
        let back = s.read_parquet(out.to_string_lossy()).unwrap();
        assert_eq!(back.count_rows().unwrap(), 7_000);
        assert_eq!(
            back.column("id").unwrap().sum().compute::<i64>().unwrap(),
            (0..7_000_i64).sum::<i64>()
        );

        // A group-by: its final tasks write their groups as they finish them, spilling
        // under the small limit.
        let out = dir.path().join(format!("grouped-{limit}"));
        let grouped = df
            .group_by([(col("id") % lit(1_000)).alias("k")])
            .agg([col("id").count().alias("n"), col("v").sum().alias("v")])
            .unwrap();
        let (rows, stats) = grouped.write_parquet_with_stats(&out).unwrap();
        assert_eq!(rows, 1_000);
        if limit == 8_192 {
            assert!(stats.spilled_bytes > 0, "{stats:?}");
        }
        let back = s.read_parquet(out.to_string_lossy()).unwrap();
        assert_eq!(back.count_rows().unwrap(), 1_000);
        assert_eq!(
            back.column("n").unwrap().sum().compute::<u64>().unwrap(),
            15_000
        );
        assert_eq!(
            back.column("v").unwrap().sum().compute::<f64>().unwrap(),
            grouped.column("v").unwrap().sum().compute::<f64>().unwrap()
        );
        assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
        assert_eq!(s.memory().used(), 0);
    }
}

/// Row groups of each Parquet file in `folder`, in file-name order.
fn row_groups_per_file(folder: &Path) -> Vec<usize> {
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            parquet::file::reader::FileReader::num_row_groups(
                &parquet::file::reader::SerializedFileReader::new(File::open(p).unwrap()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_writers_open_row_group_is_reserved_and_flushed_early_when_memory_is_short() {
    let dir = tempfile::tempdir().unwrap();
    let spill = tempfile::tempdir().unwrap();
    let n = 100_000_i64;
    let mut groups = Vec::new();
    for limit in [256 << 10, 1 << 30] {
        let s = Session::builder()
            .threads(2)
            .batch_rows(4_096)
            .memory_limit(limit)
            .spill_dir(spill.path())
            .build()
            .unwrap();
        let df = s
            .from_vec("id", (0..n).collect(), 2)
            .unwrap()
            .into_frame()
            .with_column((col("id") * lit(3)).alias("v"))
            .unwrap();
        let out = dir.path().join(format!("out-{limit}"));
        let (rows, stats) = df.write_parquet_with_stats(&out).unwrap();
        assert_eq!(rows, n as usize);
        // The open row group (well over the small limit at 50,000 rows) is reserved from
        // the pool, so the pool sees it: under the ample limit it is held whole.
        let task_peak = stats.per_task.iter().map(|t| t.peak_memory).max().unwrap();
        assert!(task_peak > 0, "{stats:?}");
        assert!(stats.peak_memory <= limit, "{stats:?}");
        assert_eq!(s.memory().used(), 0);

        let back = s.read_parquet(out.to_string_lossy()).unwrap();
        assert_eq!(back.count_rows().unwrap(), n as usize);
        assert_eq!(
            back.column("v").unwrap().sum().compute::<i64>().unwrap(),
            3 * (0..n).sum::<i64>()
        );
        groups.push(row_groups_per_file(&out));
    }
    // Under the small limit the writers close their row groups early: the same rows in
    // more, smaller row groups; under the ample one each file is one row group.
    assert_eq!(groups[1], vec![1, 1]);
    assert!(groups[0].iter().all(|&g| g > 1), "{groups:?}");
}
