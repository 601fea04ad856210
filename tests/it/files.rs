//! Files in and out through the public API: Parquet, CSV and Arrow IPC written and read
//! back (also split into hive folders), atomic writes, and bad inputs named by file.

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use spillway::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, Int64Array, StringViewArray,
};
use spillway::arrow::compute::{sort_to_indices, take_record_batch};
use spillway::arrow::datatypes::{Float64Type, Int64Type};
use spillway::prelude::*;

fn session(threads: usize) -> Session {
    Session::builder().threads(threads).build().unwrap()
}

/// Every file under `dir`, relative, sorted (hidden ones included).
pub(crate) fn files(dir: &Path) -> Vec<String> {
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

fn formats() -> Vec<(&'static str, WriteOptions)> {
    vec![
        ("parquet", WriteOptions::parquet(ParquetWriteOptions::new())),
        ("csv", WriteOptions::csv(CsvWriteOptions::new())),
        ("ipc", WriteOptions::ipc(IpcWriteOptions::new())),
    ]
}

#[test]
fn a_run_that_panics_midway_leaves_the_folder_as_it_was() {
    for (name, options) in formats() {
        for hive in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("out");
            let s = Session::builder()
                .threads(2)
                .batch_rows(100)
                .build()
                .unwrap();
            // 8 partitions of 1000 rows; the closure panics on a value of partition 5, after
            // other partitions have finished their files.
            let n = s
                .from_vec("n", (0..8000_i64).collect(), 8)
                .unwrap()
                .apply(|v: i64| {
                    assert!(v != 5500, "boom at {v}");
                    v * 2
                })
                .unwrap()
                .into_frame()
                .with_column(col("n").gt(lit(7000)).alias("k"))
                .unwrap();
            let options = if hive {
                options.clone().partition_by(["k"])
            } else {
                options.clone()
            };
            // Into a new folder: nothing at all is left.
            let err = n.write(&out, options.clone()).unwrap_err();
            assert!(err.to_string().contains("boom at 5500"), "{name}: {err}");
            assert_eq!(
                files(dir.path()),
                Vec::<String>::new(),
                "{name} hive={hive}"
            );
            // Over an earlier output: it stays as it was.
            std::fs::create_dir(&out).unwrap();
            std::fs::write(out.join("earlier.txt"), b"kept").unwrap();
            let err = n
                .write(&out, options.mode(WriteMode::Overwrite))
                .unwrap_err();
            assert!(err.to_string().contains("boom at 5500"), "{name}: {err}");
            assert_eq!(files(dir.path()), ["out/earlier.txt"], "{name} hive={hive}");
        }
    }
}

/// A random table: a unique `id`, then nullable ints, floats, strings (with delimiters,
/// quotes, slashes, `=`, `%`, non-ASCII), booleans and dates, and a small `key` to split by.
fn table() -> impl Strategy<Value = RecordBatch> {
    let row = (
        proptest::option::of(any::<i64>()),
        proptest::option::of(-1e12..1e12_f64),
        proptest::option::of("[a-z,;\"'/=%é \\n]{1,8}"),
        proptest::option::of(any::<bool>()),
        proptest::option::of(-20_000..40_000_i32),
        0..4_i64,
    );
    proptest::collection::vec(row, 0..60).prop_map(|rows| {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("i", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
            Field::new("s", DataType::Utf8View, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("d", DataType::Date32, true),
            Field::new("key", DataType::Int64, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(0..rows.len() as i64)),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.0))),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.1))),
            Arc::new(StringViewArray::from_iter(rows.iter().map(|r| r.2.clone()))),
            Arc::new(BooleanArray::from_iter(rows.iter().map(|r| r.3))),
            Arc::new(Date32Array::from_iter(rows.iter().map(|r| r.4))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.5))),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    })
}

/// The frame's rows sorted by `id`, as one batch.
fn sorted(frame: &DataFrame) -> RecordBatch {
    let batch = frame.collect_batch().unwrap();
    let id = batch.schema().index_of("id").unwrap();
    let order = sort_to_indices(batch.column(id), None, None).unwrap();
    take_record_batch(&batch, &order).unwrap()
}

/// `got` holds the same columns as `want` (by name), with the same types and values.
fn assert_same(got: &RecordBatch, want: &RecordBatch, what: &str) {
    assert_eq!(got.num_rows(), want.num_rows(), "{what}: rows");
    assert_eq!(got.num_columns(), want.num_columns(), "{what}: columns");
    for (field, column) in want.schema().fields().iter().zip(want.columns()) {
        let i = got.schema().index_of(field.name()).unwrap();
        let back = got.column(i);
        assert_eq!(
            back.data_type(),
            field.data_type(),
            "{what}: type of {}",
            field.name()
        );
        assert_eq!(
            back.as_ref(),
            column.as_ref(),
            "{what}: column {}",
            field.name()
        );
    }
}

/// Reads back what `name` wrote into `dir` (`schema` for CSV).
fn read_back(s: &Session, name: &str, dir: &Path, schema: &SchemaRef) -> DataFrame {
    let path = dir.to_str().unwrap();
    match name {
        "parquet" => s.read_parquet(path).unwrap(),
        "ipc" => s.read_ipc(path).unwrap(),
        _ => s
            .read_csv_with(path, CsvOptions::new().schema(Arc::clone(schema)))
            .unwrap(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn random_tables_round_trip_through_every_format(
        batch in table(),
        parts in 1..5_usize,
        threads in 1..3_usize,
    ) {
        let s = session(threads);
        let dir = tempfile::tempdir().unwrap();
        let frame = s.from_batches(batch.schema(), vec![batch.clone()], parts).unwrap();
        for (name, options) in formats() {
            let out = dir.path().join(name);
            prop_assert_eq!(frame.write(&out, options).unwrap(), batch.num_rows());
            let back = sorted(&read_back(&s, name, &out, &batch.schema()));
            assert_same(&back, &batch, name);
        }
    }

    #[test]
    fn partition_by_puts_each_row_in_its_key_folder(batch in table(), parts in 1..4_usize) {
        let s = session(2);
        let dir = tempfile::tempdir().unwrap();
        let frame = s.from_batches(batch.schema(), vec![batch.clone()], parts).unwrap();
        let keys = batch.schema().index_of("key").unwrap();
        let rest: Vec<usize> = (0..batch.num_columns()).filter(|&i| i != keys).collect();
        let file_schema = Arc::new(batch.schema().project(&rest).unwrap());
        for (name, options) in formats() {
            let out = dir.path().join(name);
            let written = frame.write(&out, options.partition_by(["key"])).unwrap();
            prop_assert_eq!(written, batch.num_rows());
            // Each folder holds exactly the rows of its key, without the key column.
            for key in 0..4_i64 {
                let want = frame.filter(col("key").eq(lit(key))).unwrap().select([
                    col("id"), col("i"), col("f"), col("s"), col("b"), col("d"),
                ]).unwrap();
                let want = sorted(&want);
                let folder = out.join(format!("key={key}"));
                if want.num_rows() == 0 {
                    prop_assert!(!folder.exists());
                    continue;
                }
                let back = sorted(&read_back(&s, name, &folder, &file_schema));
                assert_same(&back, &want, &format!("{name} key={key}"));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Written with `partition_by(["key", "s"])` and read back as a hive dataset: the
    /// folder values come back as columns (`key` inferred as Int64, `s` as strings, escaped
    /// characters and nulls included).
    #[test]
    fn hive_datasets_round_trip_through_every_format(batch in table(), parts in 1..4_usize) {
        let s = session(2);
        let dir = tempfile::tempdir().unwrap();
        let frame = s.from_batches(batch.schema(), vec![batch.clone()], parts).unwrap();
        let files_schema = Arc::new(Schema::new(
            batch
                .schema()
                .fields()
                .iter()
                .filter(|f| f.name() != "key" && f.name() != "s")
                .cloned()
                .collect::<Vec<_>>(),
        ));
        for (name, options) in formats() {
            let out = dir.path().join(name);
            let written = frame.write(&out, options.partition_by(["key", "s"])).unwrap();
            prop_assert_eq!(written, batch.num_rows());
            if batch.num_rows() == 0 {
                continue;
            }
            let path = out.to_str().unwrap();
            let format = match name {
                "parquet" => DatasetFormat::Parquet,
                "ipc" => DatasetFormat::Ipc,
                _ => DatasetFormat::Csv(CsvOptions::new().schema(Arc::clone(&files_schema))),
            };
            let back = s.read_dataset(path, format, DatasetOptions::new()).unwrap();
            let names: Vec<String> =
                back.schema().fields().iter().map(|f| f.name().clone()).collect();
            prop_assert_eq!(&names[names.len() - 2..], &["key".to_string(), "s".to_string()]);
            assert_same(&sorted(&back), &batch, &format!("{name} hive"));
        }
    }
}

fn write_keys(s: &Session, out: &Path) -> DataFrame {
    let n = s
        .from_vec("n", (0..300_i64).collect(), 3)
        .unwrap()
        .into_frame();
    let frame = n
        .with_column((col("n") / lit(100)).cast(DataType::Int64).alias("key"))
        .unwrap();
    frame
        .write(
            out,
            WriteOptions::parquet(ParquetWriteOptions::new()).partition_by(["key"]),
        )
        .unwrap();
    frame
}

#[test]
fn a_filter_on_a_hive_column_skips_the_other_folders_files() {
    let s = session(2);
    let dir = tempfile::tempdir().unwrap();
    write_keys(&s, dir.path());
    let frame = s.read_parquet(dir.path().to_str().unwrap()).unwrap();
    assert_eq!(frame.schema().field(1).data_type(), &DataType::Int64);
    // Once the dataset is open, the other folders' files are replaced by garbage: a scan
    // that opened them would fail.
    for key in [0, 2] {
        for e in std::fs::read_dir(dir.path().join(format!("key={key}"))).unwrap() {
            std::fs::write(e.unwrap().path(), b"not parquet").unwrap();
        }
    }
    let one = frame.filter(col("key").eq(lit(1_i64))).unwrap();
    let total: i64 = one.column("n").unwrap().sum().compute().unwrap();
    assert_eq!(total, (100..200).sum::<i64>());
    let plan = one.explain().unwrap();
    assert!(!plan.contains("key=0/"), "{plan}");
    // Without the filter the garbage is read, and named.
    let err = frame.collect().unwrap_err();
    assert!(err.to_string().contains("key=0/part-0000"), "{err}");
}

#[test]
fn hive_types_can_be_given_and_a_bad_value_is_named() {
    let s = session(2);
    let dir = tempfile::tempdir().unwrap();
    write_keys(&s, dir.path());
    let path = dir.path().to_str().unwrap();
    let options = DatasetOptions::new().hive_type("key", DataType::Utf8View);
    let frame = s
        .read_dataset(path, DatasetFormat::Parquet, options)
        .unwrap();
    assert_eq!(frame.schema().field(1).data_type(), &DataType::Utf8View);
    assert_eq!(
        frame
            .filter(col("key").eq(lit("2")))
            .unwrap()
            .count_rows()
            .unwrap(),
        100
    );
    let options = DatasetOptions::new().hive_type("key", DataType::Boolean);
    let err = s
        .read_dataset(path, DatasetFormat::Parquet, options)
        .unwrap_err();
    assert!(err.to_string().contains("hive column 'key'"), "{err}");
}

#[test]
fn files_whose_schemas_differ_are_refused_or_unified_by_name() {
    let s = session(2);
    let dir = tempfile::tempdir().unwrap();
    let a = s.from_vec("x", vec![1_i32, 2], 1).unwrap().into_frame();
    let a = a.with_column(lit("a").alias("tag")).unwrap();
    a.write_parquet(dir.path().join("a")).unwrap();
    let b = s.from_vec("x", vec![3_i64], 1).unwrap().into_frame();
    let b = b.with_column(lit(0.5).alias("w")).unwrap();
    b.write_parquet(dir.path().join("b")).unwrap();
    let path = dir.path().to_str().unwrap();

    let err = s.read_parquet(path).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::SchemaDiffers { .. }), "{text}");
    assert!(
        text.contains("a/part-00000.parquet") && text.contains("b/part-00000.parquet"),
        "{text}"
    );

    let options = DatasetOptions::new().unify_schemas(true);
    let frame = s
        .read_dataset(path, DatasetFormat::Parquet, options)
        .unwrap();
    let names: Vec<String> = frame
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["x", "tag", "w"]);
    assert_eq!(frame.schema().field(0).data_type(), &DataType::Int64);
    let batch = frame.collect_batch().unwrap();
    let x: Vec<Option<i64>> = batch.column(0).as_primitive::<Int64Type>().iter().collect();
    assert_eq!(x, [Some(1), Some(2), Some(3)]);
    assert_eq!(batch.column(1).null_count(), 1);
    let w: Vec<Option<f64>> = batch
        .column(2)
        .as_primitive::<Float64Type>()
        .iter()
        .collect();
    assert_eq!(w, [None, None, Some(0.5)]);

    // Types that do not unify are still an error naming both files.
    let c = s.from_vec("x", vec![true], 1).unwrap().into_frame();
    c.write_parquet(dir.path().join("c")).unwrap();
    let options = DatasetOptions::new().unify_schemas(true);
    let err = s
        .read_dataset(path, DatasetFormat::Parquet, options)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("c/part-00000.parquet") && text.contains("'x'"),
        "{text}"
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let s = session(1);
    let dir = tempfile::tempdir().unwrap();
    for (name, format) in [
        ("nope.arrow", DatasetFormat::Ipc),
        ("nope.parquet", DatasetFormat::Parquet),
        ("nope.csv", DatasetFormat::Csv(CsvOptions::new())),
    ] {
        let missing = dir.path().join(name);
        let options = DatasetOptions::new().unify_schemas(true);
        let err = s
            .read_dataset(missing.to_str().unwrap(), format, options)
            .unwrap_err();
        assert!(matches!(err, Error::NoFiles { .. }), "{err}");
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn a_hive_csv_dataset_counts_and_filters_on_folder_values_alone() {
    let s = session(2);
    let dir = tempfile::tempdir().unwrap();
    let n = s
        .from_vec("n", (0..300_i64).collect(), 3)
        .unwrap()
        .into_frame();
    let frame = n
        .with_column((col("n") / lit(100)).cast(DataType::Int64).alias("key"))
        .unwrap();
    let options = WriteOptions::csv(CsvWriteOptions::new().delimiter(b';')).partition_by(["key"]);
    frame.write(dir.path(), options).unwrap();
    let back = s
        .read_csv_with(
            dir.path().to_str().unwrap(),
            CsvOptions::new().delimiter(b';'),
        )
        .unwrap();
    assert_eq!(back.count_rows().unwrap(), 300);
    let two = back.filter(col("key").gt_eq(lit(2_i64))).unwrap();
    assert_eq!(two.count_rows().unwrap(), 100);
    let keys = two.select([col("key")]).unwrap().collect_batch().unwrap();
    let keys: Vec<i64> = keys.column(0).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(keys, vec![2; 100]);
}

#[test]
fn a_truncated_ipc_file_is_an_error_naming_it() {
    let s = session(1);
    let dir = tempfile::tempdir().unwrap();
    let frame = s
        .from_vec("n", (0..10_000_i64).collect(), 1)
        .unwrap()
        .into_frame();
    frame.write_ipc(dir.path()).unwrap();
    let path = dir.path().join("part-00000.arrow");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let err = s.read_ipc(dir.path().to_str().unwrap()).unwrap_err();
    assert!(matches!(err.root(), Error::Format { .. }), "{err}");
    assert!(err.to_string().contains("part-00000.arrow"), "{err}");
}

#[test]
fn ipc_files_whose_schemas_differ_are_an_error_naming_both() {
    let s = session(1);
    let dir = tempfile::tempdir().unwrap();
    let a = s.from_vec("n", vec![1_i64, 2], 1).unwrap().into_frame();
    let b = s.from_vec("n", vec![1.5_f64], 1).unwrap().into_frame();
    a.write_ipc(dir.path().join("a")).unwrap();
    b.write_ipc(dir.path().join("b")).unwrap();
    let err = s.read_ipc(dir.path().to_str().unwrap()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::SchemaDiffers { .. }), "{text}");
    assert!(
        text.contains("a/part-00000.arrow") && text.contains("b/part-00000.arrow"),
        "{text}"
    );
    assert!(text.contains("Float64") && text.contains("Int64"), "{text}");
}

#[test]
fn an_unreadable_folder_is_an_error_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let s = session(1);
    let dir = tempfile::tempdir().unwrap();
    let frame = s.from_vec("n", vec![1_i64, 2], 1).unwrap().into_frame();
    let inner = dir.path().join("locked");
    frame.write_ipc(&inner).unwrap();
    std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o000)).unwrap();
    let result = s.read_ipc(dir.path().to_str().unwrap());
    // Root reads a folder whatever its mode, so the error can only be asserted when the
    // tests do not run as root: detect that by trying to list the folder ourselves.
    let readable = std::fs::read_dir(&inner).is_ok();
    std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o755)).unwrap();
    if readable {
        assert!(result.is_ok(), "root reads it anyway");
    } else {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert!(err.to_string().contains("locked"), "{err}");
    }
}
