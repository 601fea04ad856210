//! Parquet source specs: files are written with `ArrowWriter` into a temporary folder.

use std::path::Path;
use std::sync::Arc;

use ::parquet::arrow::ArrowWriter;
use ::parquet::file::properties::{EnabledStatistics, WriterProperties};
use ::parquet::schema::types::ColumnPath;
use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, DictionaryArray, Float64Array, Int32Array, Int64Array,
    LargeStringArray, ListBuilder, StringArray, StringBuilder, TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Int32Type, Int64Type, TimeUnit};
use arrow::record_batch::RecordBatch;
use spillway_planner::expr::{Expr, col, lit};
use spillway_planner::source::{DataSource, FilterPushdown, ScanPartition, ScanRequest};

use super::*;

mod pruning;

/// Writes `batches` to `path` with row groups of at most `rows_per_group` rows.
fn write(path: &Path, batches: &[RecordBatch], rows_per_group: usize) {
    write_with(path, batches, rows_per_group, |p| p);
}

fn write_with(
    path: &Path,
    batches: &[RecordBatch],
    rows_per_group: usize,
    props: impl FnOnce(
        ::parquet::file::properties::WriterPropertiesBuilder,
    ) -> ::parquet::file::properties::WriterPropertiesBuilder,
) {
    let props =
        props(WriterProperties::builder().set_max_row_group_row_count(Some(rows_per_group)))
            .build();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batches[0].schema(), Some(props)).unwrap();
    for b in batches {
        writer.write(b).unwrap();
    }
    writer.close().unwrap();
}

/// `x`: 0..n (sorted), `s`: `s0000`.. (sorted), `f`: x / 2 as floats.
fn sorted(n: i64) -> RecordBatch {
    let x: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n));
    let s: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("s{i:04}")),
    ));
    let f: ArrayRef = Arc::new(Float64Array::from_iter_values(
        (0..n).map(|i| i as f64 / 2.0),
    ));
    RecordBatch::try_from_iter([("x", x), ("s", s), ("f", f)]).unwrap()
}

fn request<'a>(filters: &'a [Expr], target_partition_bytes: usize) -> ScanRequest<'a> {
    ScanRequest {
        projection: None,
        filters,
        batch_rows: 4096,
        batch_bytes: 8 << 20,
        target_partition_bytes,
        min_partitions: 1,
    }
}

fn read(part: &dyn ScanPartition) -> Vec<RecordBatch> {
    part.open().unwrap().map(|b| b.unwrap()).collect()
}

fn row_groups_read(source: &ParquetSource, filters: &[Expr]) -> Vec<String> {
    source
        .plan_scan(&request(filters, 0))
        .unwrap()
        .iter()
        .map(|p| p.describe())
        .collect()
}

/// A folder with `sorted(1000)` in row groups of 100 rows.
fn sorted_file() -> (tempfile::TempDir, ParquetSource) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sorted.parquet");
    write(&path, &[sorted(1000)], 100);
    let source = ParquetSource::try_new(path.to_str().unwrap()).unwrap();
    (dir, source)
}

fn groups(indices: std::ops::RangeInclusive<usize>) -> Vec<String> {
    indices
        .map(|i| format!("sorted.parquet row groups [{i}]"))
        .collect()
}

// ---- schema and reading ----

#[test]
fn reads_a_file_with_strings_as_views() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("part-0000.parquet");
    write(&path, &[sorted(1000)], 100);
    let source = ParquetSource::try_new(path.to_str().unwrap()).unwrap();
    let schema = source.schema();
    assert_eq!(schema.field(0).data_type(), &DataType::Int64);
    assert_eq!(schema.field(1).data_type(), &DataType::Utf8View);
    assert_eq!(source.num_rows(), 1000);
    assert_eq!(source.num_row_groups(), 10);
    assert_eq!(
        source.name(),
        format!("parquet {} (1 file, 10 row groups)", path.display())
    );

    let parts = source.plan_scan(&request(&[], usize::MAX)).unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(
        parts[0].describe(),
        "part-0000.parquet row groups [0, 1, 2, ..., 9 (10 groups)]"
    );
    assert_eq!(parts[0].estimated_rows(), Some(1000));
    let batches = read(parts[0].as_ref());
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(total, 1000);
    for b in &batches {
        assert_eq!(b.schema(), schema);
    }
    let s = batches[0].column(1).as_string_view();
    assert_eq!(s.value(7), "s0007");
}

#[test]
fn large_dictionary_binary_and_nested_strings_become_views() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("types.parquet");
    let large: ArrayRef = Arc::new(LargeStringArray::from(vec!["a", "b", "a"]));
    let dict: ArrayRef = Arc::new(
        vec!["red", "blue", "red"]
            .into_iter()
            .collect::<DictionaryArray<Int32Type>>(),
    );
    let bin: ArrayRef = Arc::new(BinaryArray::from_iter_values([b"x", b"y", b"z"]));
    let mut list = ListBuilder::new(StringBuilder::new());
    list.append_value([Some("p"), None]);
    list.append_null();
    list.append_value([Some("q")]);
    let list: ArrayRef = Arc::new(list.finish());
    let when: ArrayRef =
        Arc::new(TimestampMillisecondArray::from(vec![1, 2, 3]).with_timezone("Europe/Paris"));
    let batch = RecordBatch::try_from_iter([
        ("large", large),
        ("dict", dict),
        ("bin", bin),
        ("list", list),
        ("when", when),
    ])
    .unwrap();
    write(&path, &[batch], 100);

    let source = ParquetSource::try_new(path.to_str().unwrap()).unwrap();
    let schema = source.schema();
    assert_eq!(schema.field(0).data_type(), &DataType::Utf8View);
    assert_eq!(schema.field(1).data_type(), &DataType::Utf8View);
    assert_eq!(schema.field(2).data_type(), &DataType::BinaryView);
    let DataType::List(item) = schema.field(3).data_type() else {
        panic!("{:?}", schema.field(3));
    };
    assert_eq!(item.data_type(), &DataType::Utf8View);
    // Types only the embedded Arrow schema knows survive the view-type hint.
    assert_eq!(
        schema.field(4).data_type(),
        &DataType::Timestamp(TimeUnit::Millisecond, Some("Europe/Paris".into()))
    );

    let parts = source.plan_scan(&request(&[], usize::MAX)).unwrap();
    let batch = &read(parts[0].as_ref())[0];
    assert_eq!(batch.schema(), schema);
    assert_eq!(batch.column(1).as_string_view().value(2), "red");
    let list = batch.column(3).as_list::<i32>();
    assert!(list.is_null(1));
    assert_eq!(list.value(2).as_string_view().value(0), "q");
}

#[test]
fn projection_follows_the_requested_order() {
    let (_dir, source) = sorted_file();
    let req = ScanRequest {
        projection: Some(&[2, 0]),
        ..request(&[], usize::MAX)
    };
    let parts = source.plan_scan(&req).unwrap();
    let batch = &read(parts[0].as_ref())[0];
    let names: Vec<&str> = batch
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["f", "x"]);
    assert_eq!(
        batch
            .column(0)
            .as_primitive::<arrow::datatypes::Float64Type>()
            .value(3),
        1.5
    );
    assert_eq!(batch.column(1).as_primitive::<Int64Type>().value(3), 3);

    // Fewer columns, fewer bytes.
    let all = source.plan_scan(&request(&[], usize::MAX)).unwrap();
    assert!(parts[0].estimated_bytes() < all[0].estimated_bytes());

    // No columns at all (a row count) still gives the rows.
    let none = ScanRequest {
        projection: Some(&[]),
        ..request(&[], usize::MAX)
    };
    let parts = source.plan_scan(&none).unwrap();
    let rows: usize = read(parts[0].as_ref())
        .iter()
        .map(RecordBatch::num_rows)
        .sum();
    assert_eq!(rows, 1000);
}

#[test]
fn batches_are_bounded_by_batch_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.parquet");
    write(&path, &[sorted(10_000)], 10_000);
    let source = ParquetSource::try_new(path.to_str().unwrap()).unwrap();
    assert_eq!(source.num_row_groups(), 1);
    let req = ScanRequest {
        batch_rows: 1000,
        ..request(&[], usize::MAX)
    };
    let parts = source.plan_scan(&req).unwrap();
    let sizes: Vec<usize> = read(parts[0].as_ref())
        .iter()
        .map(RecordBatch::num_rows)
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), 10_000);
    assert!(sizes.iter().all(|&n| n <= 1000), "{sizes:?}");
}

// ---- partitions ----

#[test]
fn row_groups_are_grouped_up_to_the_target_size() {
    let (_dir, source) = sorted_file();
    let sizes: Vec<usize> = source.files[0]
        .row_groups()
        .iter()
        .map(|rg| to_usize(rg.total_byte_size()))
        .collect();

    // Target 0: one row group per partition.
    assert_eq!(source.plan_scan(&request(&[], 0)).unwrap().len(), 10);

    // About three row groups: each partition reaches the target with its last group and
    // not before it.
    let target = sizes[0] * 3 - 1;
    let parts = source.plan_scan(&request(&[], target)).unwrap();
    assert!(parts.len() >= 3 && parts.len() <= 5, "{parts:?}");
    let mut next = 0;
    for (i, p) in parts.iter().enumerate() {
        let n = p.estimated_rows().unwrap() / 100;
        let bytes: usize = sizes[next..next + n].iter().sum();
        // Cut by the uncompressed sizes, estimated at the decoded ones.
        let file = &source.files[0];
        let decoded: usize = file.row_groups()[next..next + n]
            .iter()
            .map(|rg| super::estimate::decoded_bytes(rg, file.reader.schema().fields(), None))
            .sum();
        assert_eq!(p.estimated_bytes(), Some(decoded));
        if i + 1 < parts.len() {
            assert!(bytes >= target);
            assert!(bytes - sizes[next + n - 1] < target);
        }
        next += n;
    }
    assert_eq!(next, 10);
}

#[test]
fn partitions_never_span_files_and_folders_are_read_in_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("year=2021")).unwrap();
    write(&dir.path().join("b.parquet"), &[sorted(300)], 100);
    write(&dir.path().join("a.parquet"), &[sorted(200)], 100);
    write(&dir.path().join("year=2021/c.parquet"), &[sorted(100)], 100);
    std::fs::write(dir.path().join("_SUCCESS"), b"").unwrap();
    std::fs::write(dir.path().join(".a.parquet.crc"), b"junk").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"junk").unwrap();

    let source = ParquetSource::try_new(dir.path().to_str().unwrap()).unwrap();
    let names: Vec<String> = source
        .paths()
        .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["a.parquet", "b.parquet", "year=2021/c.parquet"]);
    let described: Vec<String> = source
        .plan_scan(&request(&[], usize::MAX))
        .unwrap()
        .iter()
        .map(|p| p.describe())
        .collect();
    assert_eq!(
        described,
        [
            "a.parquet row groups [0, 1]",
            "b.parquet row groups [0, 1, 2]",
            "year=2021/c.parquet row groups [0]",
        ]
    );
    assert!(
        source.name().ends_with("(3 files, 6 row groups)"),
        "{}",
        source.name()
    );

    let glob = format!("{}/*.parquet", dir.path().display());
    let source = ParquetSource::try_new(&glob).unwrap();
    assert_eq!(source.paths().len(), 2);
    assert_eq!(source.num_rows(), 500);
}

// ---- pruning ----

#[test]
fn a_pattern_matching_nothing_is_no_files() {
    let dir = tempfile::tempdir().unwrap();
    for pattern in [
        format!("{}/*.parquet", dir.path().display()),
        format!("{}/missing.parquet", dir.path().display()),
        dir.path().display().to_string(),
    ] {
        match ParquetSource::try_new(&pattern) {
            Err(Error::NoFiles { pattern: p }) => assert_eq!(p, pattern),
            other => panic!("{pattern}: {other:?}"),
        }
    }
    assert!(matches!(
        ParquetSource::try_new("data/[.parquet"),
        Err(Error::Plan(_))
    ));
}

fn expect_format_error(path: &Path) -> String {
    match ParquetSource::try_new(path.to_str().unwrap()) {
        Err(e @ Error::Format { .. }) => {
            let Error::Format { path: p, .. } = &e else {
                unreachable!()
            };
            assert_eq!(p, path);
            e.to_string()
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_truncated_file_is_a_format_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("half.parquet");
    write(&path, &[sorted(1000)], 100);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let message = expect_format_error(&path);
    assert!(message.contains("half.parquet"), "{message}");

    std::fs::write(&path, b"").unwrap();
    expect_format_error(&path);
}

#[test]
fn a_text_file_is_a_format_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.parquet");
    std::fs::write(&path, "a,b\n1,2\n".repeat(100)).unwrap();
    expect_format_error(&path);
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&path, random).unwrap();
    expect_format_error(&path);
}

#[test]
fn corrupt_pages_are_a_format_error_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pages.parquet");
    write(&path, &[sorted(1000)], 100);
    let source = ParquetSource::try_new(path.to_str().unwrap()).unwrap();
    // The footer is intact; the first page header (right after the magic) is not.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[4..64].fill(0xFF);
    std::fs::write(&path, &bytes).unwrap();
    let parts = source.plan_scan(&request(&[], 0)).unwrap();
    let error = parts[0]
        .open()
        .and_then(|stream| stream.collect::<Result<Vec<_>>>())
        .unwrap_err();
    match &error {
        Error::Format { path: p, .. } => assert_eq!(p, &path),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_panic_of_the_parquet_crate_is_a_format_error_naming_the_file() {
    let path = Path::new("data/odd.parquet");
    let error =
        faults::guarded(path, || -> Result<()> { panic!("index out of bounds") }).unwrap_err();
    match &error {
        Error::Format { path: p, message } => {
            assert_eq!(p, path);
            assert!(message.contains("index out of bounds"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(faults::guarded(path, || Ok(7)).unwrap(), 7);
}

#[test]
fn files_with_different_schemas_are_named() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.parquet"), &[sorted(10)], 100);
    let other = RecordBatch::try_from_iter([
        ("x", Arc::new(Int32Array::from(vec![1])) as ArrayRef),
        ("s", Arc::new(StringArray::from(vec!["a"])) as ArrayRef),
        ("f", Arc::new(Float64Array::from(vec![1.0])) as ArrayRef),
    ])
    .unwrap();
    write(&dir.path().join("b.parquet"), &[other], 100);
    match ParquetSource::try_new(dir.path().to_str().unwrap()) {
        Err(Error::SchemaDiffers {
            first,
            path,
            message,
        }) => {
            assert_eq!(first, dir.path().join("a.parquet"));
            assert_eq!(path, dir.path().join("b.parquet"));
            assert_eq!(message, "column 'x' is Int32 where the first has Int64");
        }
        other => panic!("{other:?}"),
    }

    let fewer =
        RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)])
            .unwrap();
    write(&dir.path().join("b.parquet"), &[fewer], 100);
    let e = ParquetSource::try_new(dir.path().to_str().unwrap()).unwrap_err();
    assert!(
        e.to_string()
            .contains("it has 1 columns [x] where the first has 3 [x, s, f]"),
        "{e}"
    );
}

#[test]
fn nullability_may_differ_between_files() {
    let dir = tempfile::tempdir().unwrap();
    let with_null = RecordBatch::try_from_iter([
        (
            "x",
            Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef,
        ),
        ("s", Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef),
        (
            "f",
            Arc::new(Float64Array::from(vec![1.0, 2.0])) as ArrayRef,
        ),
    ])
    .unwrap();
    // `try_from_iter` makes every column nullable; make `a.parquet`'s not.
    let strict = sorted(10);
    let schema = Arc::new(arrow::datatypes::Schema::new(
        strict
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(false))
            .collect::<Vec<_>>(),
    ));
    let strict = RecordBatch::try_new(schema, strict.columns().to_vec()).unwrap();
    write(&dir.path().join("a.parquet"), &[strict], 100);
    write(&dir.path().join("b.parquet"), &[with_null], 100);
    let source = ParquetSource::try_new(dir.path().to_str().unwrap()).unwrap();
    assert!(source.schema().field(0).is_nullable());
    for part in source.plan_scan(&request(&[], 0)).unwrap() {
        for batch in read(part.as_ref()) {
            assert_eq!(batch.schema(), source.schema());
        }
    }
}

#[test]
fn wide_rows_are_read_in_batches_near_batch_bytes_and_narrow_ones_by_batch_rows() {
    // One row group of 64 rows: `x` (8 bytes a row) and `s`, 64 KiB strings. Pages of one
    // value each, not dictionary-encoded, so that a batch's buffers hold its own rows only
    // (the reader's string views point into the pages they were decoded from).
    const WIDTH: usize = 64 << 10;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.parquet");
    let x: ArrayRef = Arc::new(Int64Array::from_iter_values(0..64));
    let s: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..64).map(|i| format!("{i:05}{}", "w".repeat(WIDTH - 5))),
    ));
    let batch = RecordBatch::try_from_iter([("x", x), ("s", s)]).unwrap();
    write_with(&path, &[batch], 64, |p| {
        p.set_dictionary_enabled(false)
            .set_data_page_size_limit(WIDTH)
            .set_write_batch_size(1)
    });
    let source = ParquetSource::try_new(path.to_str().unwrap()).unwrap();
    assert_eq!(source.num_row_groups(), 1);

    let target = 512 << 10;
    let scan = |projection: Option<&[usize]>| {
        let req = ScanRequest {
            projection,
            batch_rows: 16,
            batch_bytes: target,
            ..request(&[], usize::MAX)
        };
        let parts = source.plan_scan(&req).unwrap();
        assert_eq!(parts.len(), 1);
        let batches = read(parts[0].as_ref());
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 64);
        batches
    };
    // Wide: 7 rows of 64 KiB make a batch near 512 KiB, not 16 rows (1 MiB).
    for projection in [None, Some(&[1][..]), Some(&[1, 0][..])] {
        let batches = scan(projection);
        let (last, full) = batches.split_last().unwrap();
        for b in full {
            let bytes = b.get_array_memory_size();
            assert_eq!(b.num_rows(), target / (WIDTH + 8), "{projection:?}");
            assert!(
                bytes <= target + target / 8 && bytes >= target * 3 / 4,
                "{projection:?}: {} rows, {bytes} bytes",
                b.num_rows()
            );
        }
        assert!(last.get_array_memory_size() <= target + target / 8);
    }
    // Narrow: the projected column alone is 8 bytes a row, so batch_rows bounds it.
    let sizes: Vec<usize> = scan(Some(&[0])).iter().map(RecordBatch::num_rows).collect();
    assert_eq!(sizes, [16; 4]);
    // A row wider than the whole target is still read, one row a batch.
    let req = ScanRequest {
        projection: None,
        batch_rows: 16,
        batch_bytes: 1,
        ..request(&[], usize::MAX)
    };
    let parts = source.plan_scan(&req).unwrap();
    let rows: Vec<usize> = read(parts[0].as_ref())
        .iter()
        .map(RecordBatch::num_rows)
        .collect();
    assert_eq!(rows, [1; 64]);
    // And a request for batches of no bytes is refused.
    let req = ScanRequest {
        batch_bytes: 0,
        ..request(&[], usize::MAX)
    };
    assert!(matches!(source.plan_scan(&req), Err(Error::Config(_))));
}

#[test]
fn partitions_are_cut_finer_so_that_every_worker_has_one() {
    let (_dir, source) = sorted_file();
    let groups = source.num_row_groups();
    // One partition under a large target, unless more workers want one each.
    assert_eq!(
        source.plan_scan(&request(&[], usize::MAX)).unwrap().len(),
        1
    );
    for workers in [2, 4] {
        let req = ScanRequest {
            min_partitions: workers,
            ..request(&[], usize::MAX)
        };
        let parts = source.plan_scan(&req).unwrap();
        assert!(parts.len() >= workers.min(groups), "{workers}: {parts:?}");
    }
    // Never finer than one row group.
    let req = ScanRequest {
        min_partitions: 1000,
        ..request(&[], usize::MAX)
    };
    assert_eq!(source.plan_scan(&req).unwrap().len(), groups);
}
