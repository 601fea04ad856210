//! CSV through the public API: round trips over many partitions, quoted newlines cut at
//! random places, and every bad input named by file and line.

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use spillway::arrow::array::{
    Array, AsArray, BooleanArray, Float64Array, Int64Array, StringArray, StringViewArray,
};
use spillway::arrow::compute::{cast, concat_batches};
use spillway::arrow::csv::WriterBuilder;
use spillway::arrow::datatypes::Int64Type;
use spillway::prelude::*;

fn session(threads: usize, target: usize, batch_rows: usize) -> Session {
    Session::builder()
        .threads(threads)
        .target_partition_bytes(target)
        .batch_rows(batch_rows)
        .build()
        .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// A random table: ints, floats, strings with delimiters, quotes and newlines, booleans,
/// each column with nulls.
fn random_table(rows: usize, seed: u64) -> RecordBatch {
    let mut rng = fastrand::Rng::with_seed(seed);
    let null = |rng: &mut fastrand::Rng| rng.u8(..10) == 0;
    let ints: Int64Array = (0..rows)
        .map(|_| (!null(&mut rng)).then(|| rng.i64(-1_000_000..1_000_000)))
        .collect();
    let floats: Float64Array = (0..rows)
        .map(|_| (!null(&mut rng)).then(|| rng.f64() * 1e6 - 5e5))
        .collect();
    let pieces = [
        "a",
        "b,c",
        "say \"hi\"",
        "two\nlines",
        "crlf\r\nend",
        " x ",
        "é",
    ];
    let strings: StringArray = (0..rows)
        .map(|_| {
            (!null(&mut rng)).then(|| {
                let n = rng.usize(1..4);
                (0..n)
                    .map(|_| pieces[rng.usize(..pieces.len())])
                    .collect::<String>()
            })
        })
        .collect();
    let flags: BooleanArray = (0..rows)
        .map(|_| (!null(&mut rng)).then(|| rng.bool()))
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("x", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("flag", DataType::Boolean, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(ints),
            Arc::new(floats),
            Arc::new(strings),
            Arc::new(flags),
        ],
    )
    .unwrap()
}

fn write_table(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = WriterBuilder::new().with_header(true).build(file);
    writer.write(batch).unwrap();
}

/// `batch` with its string columns as `Utf8View`, as Spillway reads them.
fn as_read(batch: &RecordBatch) -> RecordBatch {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Utf8 => cast(c, &DataType::Utf8View).unwrap(),
            _ => Arc::clone(c),
        })
        .collect();
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .zip(&columns)
        .map(|(f, c)| Field::new(f.name(), c.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

#[test]
fn random_tables_round_trip_through_many_partitions() {
    let dir = tempfile::tempdir().unwrap();
    for (seed, rows) in [(1, 0), (2, 1), (3, 500), (4, 3_000)] {
        let table = random_table(rows, seed);
        let path = dir.path().join(format!("t{seed}.csv"));
        write_table(&path, &table);
        let expected = as_read(&table);
        for (threads, target, batch_rows) in [(1, 1 << 20, 1024), (2, 300, 7), (3, 64, 1)] {
            let s = session(threads, target, batch_rows);
            let df = s.read_csv(path.to_str().unwrap()).unwrap();
            if rows == 0 {
                // A header-only file: the columns are known, their types are not.
                assert_eq!(
                    df.collect()
                        .unwrap()
                        .iter()
                        .map(|b| b.num_rows())
                        .sum::<usize>(),
                    0
                );
                continue;
            }
            assert_eq!(df.schema().as_ref(), expected.schema().as_ref());
            let parts = df.task_graph().unwrap().stages[0].tasks.len();
            if rows > 1 && target < 1000 {
                assert!(parts > 3, "{parts} partitions");
            }
            let batches = df.collect().unwrap();
            assert!(batches.iter().all(|b| b.num_rows() <= batch_rows));
            let got = concat_batches(&df.schema(), &batches).unwrap();
            assert_eq!(got, expected, "seed {seed}, target {target}");
        }
    }
}

#[test]
fn options_dialect_nulls_comments_and_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let text = "# exported 2024-01-01\nid|name|score\n1|'a|b'|NA\n# mid-file comment\n2|'it''s'|3.5\n3|\\N|\n";
    let path = write(dir.path(), "pipes.txt.csv", text);
    let s = session(2, 1 << 20, 1024);
    let options = CsvOptions::new()
        .delimiter(b'|')
        .quote(b'\'')
        .comment(b'#')
        .null_values(["", "NA", "\\N"])
        .dtype("id", DataType::Int32);
    let df = s.read_csv_with(&path, options).unwrap();
    let schema = df.schema();
    assert_eq!(schema.field(0).data_type(), &DataType::Int32);
    assert_eq!(schema.field(1).data_type(), &DataType::Utf8View);
    assert_eq!(schema.field(2).data_type(), &DataType::Float64);
    let out = concat_batches(&schema, &df.collect().unwrap()).unwrap();
    let names: Vec<Option<&str>> = out.column(1).as_string_view().iter().collect();
    assert_eq!(names, vec![Some("a|b"), Some("it's"), None]);
    assert_eq!(out.column(2).null_count(), 2);

    // Without a header: generated names; every override by name.
    let path = write(dir.path(), "plain.csv", "1,x\n2,y\n");
    let df = s
        .read_csv_with(&path, CsvOptions::new().has_header(false))
        .unwrap();
    let names: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["column_1", "column_2"]);
    assert_eq!(df.count_rows().unwrap(), 2);
    let err = s
        .read_csv_with(&path, CsvOptions::new().dtype("nope", DataType::Int64))
        .unwrap_err();
    assert!(matches!(err, Error::ColumnNotFound { .. }), "{err}");
    let err = s
        .read_csv_with(&path, CsvOptions::new().delimiter(b'"'))
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

#[test]
fn a_folder_and_a_glob_read_every_file_in_order() {
    let dir = tempfile::tempdir().unwrap();
    for f in 0..3 {
        let rows: String = (0..100)
            .map(|i| format!("{},v{i}\n", f * 100 + i))
            .collect();
        write(
            dir.path(),
            &format!("part-{f}.csv"),
            &format!("id,v\n{rows}"),
        );
    }
    write(dir.path(), "_SUCCESS", "");
    let s = session(2, 200, 16);
    for pattern in [
        dir.path().to_string_lossy().into_owned(),
        dir.path().join("part-*.csv").to_string_lossy().into_owned(),
    ] {
        let df = s.read_csv(&pattern).unwrap();
        let ids: Vec<i64> = df
            .select([col("id")])
            .unwrap()
            .collect()
            .unwrap()
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(ids, (0..300).collect::<Vec<_>>());
    }
    // A file whose header differs.
    write(dir.path(), "part-9.csv", "id,w\n1,2\n");
    let err = s.read_csv(dir.path().to_str().unwrap()).unwrap_err();
    assert!(matches!(err, Error::SchemaDiffers { .. }), "{err}");
    assert!(err.to_string().contains("part-9.csv"), "{err}");
}

/// The error a query over `text` fails with, after the frame was built: the same with one
/// partition and with many.
fn query_error(dir: &Path, name: &str, text: &str, options: CsvOptions) -> Error {
    let path = write(dir, name, text);
    let mut seen = Vec::new();
    let mut last = None;
    for target in [1 << 20, 16] {
        let s = session(2, target, 4);
        let df = s.read_csv_with(&path, options.clone()).unwrap();
        let err = df.collect().unwrap_err();
        seen.push(malformed(err.root()));
        last = Some(err);
    }
    assert_eq!(seen[0], seen[1]);
    last.unwrap()
}

fn malformed(err: &Error) -> (String, u64, String) {
    match err {
        Error::Malformed {
            path,
            line,
            message,
        } => (
            path.file_name().unwrap().to_string_lossy().into_owned(),
            *line,
            message.clone(),
        ),
        other => panic!("not a malformed row: {other}"),
    }
}

#[test]
fn every_bad_input_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good: String = (0..40).map(|i| format!("{i},\"n\n{i}\"\n")).collect();
    let ints = || CsvOptions::new().dtype("a", DataType::Int64);

    // A value that does not parse, after 80 lines of quoted newlines.
    let err = query_error(
        dir.path(),
        "value.csv",
        &format!("a,b\n{good}12x,z\n1,y\n"),
        ints(),
    );
    let (file, line, message) = malformed(err.root());
    assert_eq!((file.as_str(), line), ("value.csv", 82));
    assert!(message.contains("'12x'"), "{message}");
    assert!(err.to_string().contains("value.csv at line 82"), "{err}");

    // A wrong number of fields, too many and too few.
    let err = query_error(
        dir.path(),
        "wide.csv",
        &format!("a,b\n{good}1,2,3\n"),
        ints(),
    );
    let (_, line, message) = malformed(err.root());
    assert_eq!(line, 82);
    assert_eq!(message, "expected 2 fields, found 3");
    let err = query_error(
        dir.path(),
        "narrow.csv",
        &format!("a,b\n{good}7\n8,9\n"),
        ints(),
    );
    let (_, line, message) = malformed(err.root());
    assert_eq!((line, message.as_str()), (82, "expected 2 fields, found 1"));

    // A quote left open at the end of the file: the line where its row starts.
    let err = query_error(
        dir.path(),
        "open.csv",
        &format!("a,b\n{good}5,\"never\nclosed\n6,7\n"),
        ints(),
    );
    let (_, line, message) = malformed(err.root());
    assert_eq!(line, 82);
    assert!(message.contains("unterminated quote"), "{message}");

    // A file cut short in the middle of a row.
    let full = format!("a,b\n{good}41,\"last\nrow\"\n");
    let cut = &full[..full.len() - 8];
    let err = query_error(dir.path(), "truncated.csv", cut, ints());
    let (_, line, message) = malformed(err.root());
    assert_eq!(line, 82);
    assert!(message.contains("unterminated quote"), "{message}");
    let cut = &full[..full.len() - 12]; // "41" and nothing else
    let err = query_error(dir.path(), "truncated2.csv", cut, ints());
    assert_eq!(malformed(err.root()).1, 82);
}

#[test]
fn missing_empty_and_header_only_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(2, 1 << 20, 1024);
    let missing = dir.path().join("nope.csv");
    let err = s.read_csv(missing.to_str().unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::NoFiles { pattern } if pattern.ends_with("nope.csv")),
        "{err}"
    );

    let empty = write(dir.path(), "empty.csv", "");
    let err = s.read_csv(&empty).unwrap_err();
    assert!(
        matches!(&err, Error::Format { path, .. } if path.ends_with("empty.csv")),
        "{err}"
    );
    // With a schema given, an empty file is an empty table.
    let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
    let df = s
        .read_csv_with(&empty, CsvOptions::new().schema(Arc::clone(&schema)))
        .unwrap();
    assert_eq!(df.count_rows().unwrap(), 0);

    let header = write(dir.path(), "header.csv", "a,b,c\n");
    let df = s.read_csv(&header).unwrap();
    assert_eq!(df.schema().fields().len(), 3);
    assert_eq!(df.count_rows().unwrap(), 0);
    assert!(df.collect().unwrap().iter().all(|b| b.num_rows() == 0));
}

#[test]
fn skip_bad_rows_reports_how_many_and_which_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("id,name\n");
    let mut bad = Vec::new();
    for i in 0..1_000_u64 {
        let line = i + 2;
        match i % 97 {
            13 => {
                text.push_str(&format!("{i}x,bad value\n"));
                bad.push(line);
            }
            50 => {
                text.push_str(&format!("{i},too,many\n"));
                bad.push(line);
            }
            _ => text.push_str(&format!("{i},ok\n")),
        }
    }
    let path = write(dir.path(), "dirty.csv", &text);
    let options = CsvOptions::new()
        .dtype("id", DataType::Int64)
        .skip_bad_rows(true);
    let rejected = options.bad_rows();
    let s = session(2, 500, 64);
    let df = s.read_csv_with(&path, options).unwrap();
    let total: i64 = df.column("id").unwrap().sum().compute().unwrap();
    let expected: i64 = (0..1_000_i64)
        .filter(|i| ![13, 50].contains(&(i % 97)))
        .sum();
    assert_eq!(total, expected);
    assert_eq!(rejected.count(), bad.len());
    assert_eq!(rejected.lines(&path), bad);
    // Running the query again lists each row once.
    assert_eq!(df.count_rows().unwrap(), 1_000 - bad.len());
    assert_eq!(rejected.count(), bad.len());
    let rows = rejected.rows();
    assert!(rows[0].message.contains("'13x'"), "{}", rows[0].message);
    assert_eq!(rows[1].message, "expected 2 fields, found 3");
}

#[test]
fn only_projected_columns_are_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "p.csv", "a,b\n1,2\n3,oops\n");
    let s = session(1, 1 << 20, 1024);
    let df = s
        .read_csv_with(&path, CsvOptions::new().dtype("b", DataType::Int64))
        .unwrap();
    let a: i64 = df.column("a").unwrap().sum().compute().unwrap();
    assert_eq!(a, 4);
    let err = df.collect().unwrap_err();
    assert_eq!(malformed(err.root()).1, 3);
}

/// A CSV field holding `value`, quoted when it must be.
fn quote(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random fields with quoted newlines, cut into partitions of a random size, read back
    /// exactly as written (an empty field being null).
    #[test]
    fn random_csv_cut_anywhere_reads_back(
        rows in prop::collection::vec(
            prop::collection::vec("[ab,\"\n\r]{0,6}", 3),
            0..40,
        ),
        target in 1usize..400,
        batch_rows in 1usize..9,
        threads in 1usize..4,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let text: String = rows
            .iter()
            .map(|r| r.iter().map(|f| quote(f)).collect::<Vec<_>>().join(",") + "\n")
            .collect();
        let path = write(dir.path(), "r.csv", &text);
        let schema = Arc::new(Schema::new(
            ["a", "b", "c"].map(|n| Field::new(n, DataType::Utf8View, true)).to_vec(),
        ));
        let options = CsvOptions::new().has_header(false).schema(Arc::clone(&schema));
        let df = session(threads, target, batch_rows).read_csv_with(&path, options).unwrap();
        let batches = df.collect().unwrap();
        prop_assert!(batches.iter().all(|b| b.num_rows() <= batch_rows));
        let got = concat_batches(&schema, &batches).unwrap();
        // Rows whose fields are all empty are empty lines only when there is one field;
        // with three there are two commas, so every row is a record.
        prop_assert_eq!(got.num_rows(), rows.len());
        for (c, column) in got.columns().iter().enumerate() {
            let column: &StringViewArray = column.as_string_view();
            for (r, row) in rows.iter().enumerate() {
                let want = (!row[c].is_empty()).then_some(row[c].as_str());
                prop_assert_eq!(column.is_valid(r).then(|| column.value(r)), want);
            }
        }
    }
}

#[test]
fn invalid_utf8_in_the_inference_sample_is_a_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.csv");
    std::fs::write(&path, b"a,b\n1,x\n2,caf\xe9\n3,z\n").unwrap();
    let path = path.to_string_lossy().into_owned();
    let s = session(2, 1 << 20, 1024);

    // Skipping: the row is skipped while inferring and while reading, listed once.
    let options = CsvOptions::new().skip_bad_rows(true);
    let rejected = options.bad_rows();
    let df = s.read_csv_with(&path, options).unwrap();
    assert_eq!(df.schema().field(0).data_type(), &DataType::Int64);
    assert_eq!(df.schema().field(1).data_type(), &DataType::Utf8View);
    assert_eq!(rejected.lines(&path), [3]);
    let a: i64 = df.column("a").unwrap().sum().compute().unwrap();
    assert_eq!(a, 4);
    assert_eq!(df.count_rows().unwrap(), 2);
    assert_eq!(rejected.lines(&path), [3]);

    // Not skipping: the file and the line.
    let err = s.read_csv(&path).unwrap_err();
    assert_eq!(
        malformed(&err),
        ("latin1.csv".to_string(), 3, "invalid UTF-8".to_string())
    );
    assert!(err.to_string().contains("latin1.csv at line 3"), "{err}");

    // A character cut in two by a delimiter: each half is not UTF-8 (though the bytes of
    // the fields together are), past the sample and within it.
    let cut = dir.path().join("cut.csv");
    std::fs::write(&cut, b"a,b\nx,y\n\xc3,\xa9\nz,w\n").unwrap();
    let cut = cut.to_string_lossy().into_owned();
    for (rows, target) in [(1, 1 << 20), (1, 1), (10, 1 << 20)] {
        let options = CsvOptions::new()
            .infer_schema_rows(rows)
            .skip_bad_rows(true);
        let rejected = options.bad_rows();
        let df = session(2, target, 1024)
            .read_csv_with(&cut, options)
            .unwrap();
        let out = concat_batches(&df.schema(), &df.collect().unwrap()).unwrap();
        let a: Vec<Option<&str>> = out.column(0).as_string_view().iter().collect();
        assert_eq!(a, [Some("x"), Some("z")]);
        assert_eq!(rejected.lines(&cut), [3]);
        let options = CsvOptions::new().infer_schema_rows(rows);
        let err = session(2, target, 1024)
            .read_csv_with(&cut, options)
            .and_then(|df| df.collect())
            .unwrap_err();
        assert_eq!(malformed(err.root()).1, 3, "{err}");
    }

    // A header that is not UTF-8 is an error either way.
    let bad_header = dir.path().join("header.csv");
    std::fs::write(&bad_header, b"a,\xff\n1,2\n").unwrap();
    let err = s
        .read_csv_with(
            bad_header.to_str().unwrap(),
            CsvOptions::new().skip_bad_rows(true),
        )
        .unwrap_err();
    assert_eq!(malformed(&err).1, 1);
}

#[test]
fn empty_and_header_only_files_do_not_decide_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(2, 1 << 20, 1024);
    write(dir.path(), "a0.csv", "");
    write(dir.path(), "a1.csv", "id,x,when\n");
    write(dir.path(), "a2.csv", "\n\nid,x,when\n1,2.5,2024-01-02\n");
    write(dir.path(), "a3.csv", "");
    write(dir.path(), "a4.csv", "id,x,when\n3,,2024-02-03\n");
    let glob = dir.path().join("a*.csv").to_string_lossy().into_owned();
    let df = s.read_csv(&glob).unwrap();
    let types: Vec<DataType> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        [DataType::Int64, DataType::Float64, DataType::Date32]
    );
    let id: i64 = df.column("id").unwrap().sum().compute().unwrap();
    assert_eq!(id, 4);
    assert_eq!(df.count_rows().unwrap(), 2);

    // No data row anywhere: the header's names, as strings.
    write(dir.path(), "b0.csv", "");
    write(dir.path(), "b1.csv", "id,x\n");
    write(dir.path(), "b2.csv", "id,x\n\n");
    let df = s
        .read_csv(dir.path().join("b*.csv").to_str().unwrap())
        .unwrap();
    assert_eq!(df.schema().field(1).name(), "x");
    assert!(
        df.schema()
            .fields()
            .iter()
            .all(|f| f.data_type() == &DataType::Utf8View)
    );
    assert_eq!(df.count_rows().unwrap(), 0);

    // Only empty files: nothing to take columns from.
    write(dir.path(), "c0.csv", "");
    write(dir.path(), "c1.csv", "\n");
    let err = s
        .read_csv(dir.path().join("c*.csv").to_str().unwrap())
        .unwrap_err();
    assert!(
        matches!(&err, Error::Format { path, .. } if path.ends_with("c0.csv")),
        "{err}"
    );
    assert!(err.to_string().contains("every file is empty"), "{err}");
}

#[test]
fn byte_order_marks_and_lone_cr_line_ends() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(2, 8, 2);
    // A mark before a quoted header field and before a headerless first row.
    let path = write(dir.path(), "bom.csv", "\u{feff}\"a\nb\",c\n1,2\n");
    let df = s.read_csv(&path).unwrap();
    assert_eq!(df.schema().field(0).name(), "a\nb");
    assert_eq!(df.count_rows().unwrap(), 1);
    let path = write(dir.path(), "bom2.csv", "\u{feff}\"x,y\",1\nz,2\n");
    let df = s
        .read_csv_with(&path, CsvOptions::new().has_header(false))
        .unwrap();
    let out = concat_batches(&df.schema(), &df.collect().unwrap()).unwrap();
    let first: Vec<Option<&str>> = out.column(0).as_string_view().iter().collect();
    assert_eq!(first, [Some("x,y"), Some("z")]);
    // Elsewhere a mark is data, also where a partition starts: the quote after it opens
    // no quoted field, so this row has three fields.
    let path = write(dir.path(), "bom3.csv", "x,1\n\u{feff}\"p,q\",2\ny,3\n");
    let options = CsvOptions::new().has_header(false).skip_bad_rows(true);
    let rejected = options.bad_rows();
    let df = session(1, 1, 4).read_csv_with(&path, options).unwrap();
    let out = concat_batches(&df.schema(), &df.collect().unwrap()).unwrap();
    let first: Vec<Option<&str>> = out.column(0).as_string_view().iter().collect();
    assert_eq!(first, [Some("x"), Some("y")]);
    assert_eq!(rejected.lines(&path), [2]);

    // Records ended by a lone `\r` all start on line 1: each bad one is still listed.
    let path = write(dir.path(), "cr.csv", "a,b\r1,2\rx,3\r4,5,6\r7,8\r");
    let options = CsvOptions::new()
        .dtype("a", DataType::Int64)
        .skip_bad_rows(true);
    let rejected = options.bad_rows();
    let df = s.read_csv_with(&path, options).unwrap();
    let rows: usize = df.collect().unwrap().iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 2);
    assert_eq!(rejected.lines(&path), [1, 1]);
}

#[test]
fn a_comment_line_at_the_end_of_a_file_is_no_row() {
    // `csv_core` reads a comment line that the file ends in (no `\n`) as a record of one
    // empty field: with one column that would be an invented row holding null.
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "tail.csv", "a\n1\n2\n# the end");
    for (target, batch_rows) in [(1 << 20, 1024), (1, 1)] {
        let df = session(2, target, batch_rows)
            .read_csv_with(&path, CsvOptions::new().comment(b'#'))
            .unwrap();
        let out = concat_batches(&df.schema(), &df.collect().unwrap()).unwrap();
        assert_eq!(out.num_rows(), 2, "target {target}");
        assert_eq!(out.column(0).null_count(), 0);
    }
}
