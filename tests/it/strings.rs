//! The string family through the public API, against plain Rust: every string type
//! (`Utf8`, `LargeUtf8`, `Utf8View`, dictionaries), nulls, empty and multi-byte strings,
//! one to eight partitions and one to three threads; string functions as filter, select,
//! group-by and sort keys, spilling under a tiny memory limit; plan-time type errors naming
//! the column; and a property test of `like`, `slice`, `split_part` and `pad_start`.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use spillway::arrow::array::AsArray;
use spillway::arrow::array::{
    DictionaryArray, Int64Array, LargeStringArray, StringArray, StringViewArray,
};
use spillway::arrow::compute::cast;
use spillway::arrow::datatypes::{Int32Type, Int64Type, UInt32Type, UInt64Type};
use spillway::functions::StringFunction;
use spillway::prelude::*;

const ALPHABET: [&str; 9] = ["a", "B", "é", "日本", "😀", " ", "%", "_", "x"];

/// Row `i`'s string: null every 7th row, else a few pieces of `ALPHABET` (empty for some).
fn word(i: usize) -> Option<String> {
    if i % 7 == 3 {
        return None;
    }
    let pieces = (i * 31 + 7) % 6;
    Some(
        (0..pieces)
            .map(|k| ALPHABET[(i * 13 + k * 5 + i / 9) % 9])
            .collect(),
    )
}

/// `n` rows: `id` and `s`, a string column of type `t` (a dictionary for `Dictionary`).
fn frame(session: &Session, t: &DataType, n: usize, nparts: usize) -> DataFrame {
    let words: Vec<Option<String>> = (0..n).map(word).collect();
    let s: ArrayRef = match t {
        DataType::Utf8 => Arc::new(StringArray::from(words)),
        DataType::LargeUtf8 => Arc::new(LargeStringArray::from(words)),
        DataType::Utf8View => Arc::new(StringViewArray::from(words)),
        _ => Arc::new(
            words
                .iter()
                .map(Option::as_deref)
                .collect::<DictionaryArray<Int32Type>>(),
        ),
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("s", s.data_type().clone(), true),
    ]));
    let id = Arc::new(Int64Array::from_iter_values(0..n as i64));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![id, s]).unwrap();
    session.from_batches(schema, vec![batch], nparts).unwrap()
}

fn types() -> [DataType; 4] {
    [
        DataType::Utf8,
        DataType::LargeUtf8,
        DataType::Utf8View,
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
    ]
}

/// Column `i` of the batches, as strings (any string type, or anything `Utf8` casts).
fn texts(batches: &[RecordBatch], i: usize) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = cast(b.column(i), &DataType::Utf8).unwrap();
            let a = a.as_string::<i32>().clone();
            (0..a.len())
                .map(|r| (!a.is_null(r)).then(|| a.value(r).to_owned()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// SQL `LIKE` by backtracking over characters: `%`, `_`, `\` escapes.
fn like(s: &[char], p: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('%') => (0..=s.len()).any(|k| like(&s[k..], &p[1..])),
        Some('_') => !s.is_empty() && like(&s[1..], &p[1..]),
        Some('\\') if p.len() > 1 => s.first() == Some(&p[1]) && like(&s[1..], &p[2..]),
        Some(c) => s.first() == Some(c) && like(&s[1..], &p[1..]),
    }
}

fn like_str(s: &str, p: &str) -> bool {
    like(
        &s.chars().collect::<Vec<_>>(),
        &p.chars().collect::<Vec<_>>(),
    )
}

/// Polars' `slice` on a vector of characters.
fn slice(s: &str, offset: i64, length: Option<u64>) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len() as i64;
    let (start, length) = if offset >= 0 {
        (offset.min(n), length.map(|l| l as i64))
    } else if -offset <= n {
        (n + offset, length.map(|l| l as i64))
    } else {
        (0, length.map(|l| (l as i64 + n + offset).max(0)))
    };
    let end = length.map_or(n, |l| (start + l).min(n));
    chars[start as usize..end.max(start) as usize]
        .iter()
        .collect()
}

fn split_part(s: &str, by: &str, index: i64) -> String {
    let fields: Vec<&str> = if by.is_empty() {
        vec![s]
    } else {
        s.split(by).collect()
    };
    let k = if index > 0 {
        index - 1
    } else {
        fields.len() as i64 + index
    };
    usize::try_from(k)
        .ok()
        .and_then(|k| fields.get(k))
        .map_or(String::new(), |f| (*f).to_owned())
}

fn pad_start(s: &str, length: usize, fill: char) -> String {
    let n = s.chars().count();
    std::iter::repeat_n(fill, length.saturating_sub(n))
        .chain(s.chars())
        .collect()
}

#[test]
fn string_functions_match_plain_rust_on_every_type_partition_count_and_thread_count() {
    const N: usize = 300;
    let words: Vec<Option<String>> = (0..N).map(word).collect();
    type Reference = Box<dyn Fn(&str) -> String>;
    let cases: Vec<(Expr, Reference)> = vec![
        (
            col("s").str().len_bytes(),
            Box::new(|s| s.len().to_string()),
        ),
        (
            col("s").str().len_chars(),
            Box::new(|s| s.chars().count().to_string()),
        ),
        (col("s").str().to_lowercase(), Box::new(str::to_lowercase)),
        (col("s").str().to_uppercase(), Box::new(str::to_uppercase)),
        (col("s").str().strip_chars(), Box::new(|s| s.trim().into())),
        (
            col("s").str().strip_chars_start(),
            Box::new(|s| s.trim_start().into()),
        ),
        (
            col("s").str().strip_chars_end(),
            Box::new(|s| s.trim_end().into()),
        ),
        (
            col("s").str().contains_literal("日"),
            Box::new(|s| s.contains('日').to_string()),
        ),
        (
            col("s").str().starts_with("a"),
            Box::new(|s| s.starts_with('a').to_string()),
        ),
        (
            col("s").str().ends_with("😀"),
            Box::new(|s| s.ends_with('😀').to_string()),
        ),
        (
            col("s").str().like("%é_%"),
            Box::new(|s| like_str(s, "%é_%").to_string()),
        ),
        (
            col("s").str().like("%\\%%"),
            Box::new(|s| s.contains('%').to_string()),
        ),
        (
            col("s").str().ilike("b%"),
            Box::new(|s| s.to_lowercase().starts_with('b').to_string()),
        ),
        (
            col("s").str().not_like("%x"),
            Box::new(|s| (!s.ends_with('x')).to_string()),
        ),
        (
            col("s").str().slice(1, Some(2)),
            Box::new(|s| slice(s, 1, Some(2))),
        ),
        (
            col("s").str().slice(-3, None),
            Box::new(|s| slice(s, -3, None)),
        ),
        (
            col("s").str().replace_all("日本", "J", true),
            Box::new(|s| s.replace("日本", "J")),
        ),
        (
            col("s").str().replace("[aé]", "-", false),
            Box::new(|s| s.replacen(['a', 'é'], "-", 1)),
        ),
        (
            col("s").str().contains("^[^ ]+$"),
            Box::new(|s| (!s.is_empty() && !s.contains(' ')).to_string()),
        ),
        (
            col("s").str().pad_start(4, '0'),
            Box::new(|s| pad_start(s, 4, '0')),
        ),
        (
            col("s").str().split_part(" ", 2),
            Box::new(|s| split_part(s, " ", 2)),
        ),
    ];
    for t in types() {
        for nparts in [1, 3, 8] {
            for threads in [1, 3] {
                let session = session(threads, None, None);
                let mut select: Vec<Expr> = vec![col("id")];
                select.extend(
                    cases
                        .iter()
                        .enumerate()
                        .map(|(i, (e, _))| e.clone().alias(format!("f{i}"))),
                );
                select.push(concat_str([col("s"), lit("!"), col("id")], "/").alias("concat"));
                let out = frame(&session, &t, N, nparts)
                    .select(select)
                    .unwrap()
                    .collect()
                    .unwrap();
                let ids: Vec<usize> = texts(&out, 0)
                    .iter()
                    .map(|v| v.as_ref().unwrap().parse().unwrap())
                    .collect();
                for (i, (e, reference)) in cases.iter().enumerate() {
                    let got = texts(&out, i + 1);
                    for (row, id) in ids.iter().enumerate() {
                        let want = words[*id].as_deref().map(reference);
                        assert_eq!(got[row], want, "{e} on {t}, row {id} {:?}", words[*id]);
                    }
                }
                let want: Vec<_> = ids
                    .iter()
                    .map(|id| words[*id].as_ref().map(|w| format!("{w}/!/{id}")))
                    .collect();
                assert_eq!(texts(&out, cases.len() + 1), want, "concat_str on {t}");
            }
        }
    }
}

fn session(
    threads: usize,
    memory_limit: Option<usize>,
    spill: Option<&std::path::Path>,
) -> Session {
    let mut b = Session::builder().threads(threads).batch_rows(64);
    if let Some(limit) = memory_limit {
        b = b.memory_limit(limit);
    }
    if let Some(dir) = spill {
        b = b.spill_dir(dir);
    }
    b.build().unwrap()
}

#[test]
fn string_keys_filter_group_and_sort_and_spill_under_a_tiny_memory_limit() {
    const N: usize = 20_000;
    let words: Vec<Option<String>> = (0..N).map(word).collect();
    for t in [DataType::Utf8View, types()[3].clone()] {
        let spill = tempfile::tempdir().unwrap();
        let s = session(2, Some(64 << 10), Some(spill.path()));
        let df = frame(&s, &t, N, 8);

        // Filter: LIKE on a string column.
        let want = words
            .iter()
            .filter(|w| w.as_deref().is_some_and(|w| like_str(w, "%日本%")))
            .count();
        let n = df
            .filter(col("s").str().like("%日本%"))
            .unwrap()
            .count_rows()
            .unwrap();
        assert_eq!(n, want, "{t}");

        // Group by the first two characters, upper-cased, and id % 5000: rows per key.
        let short = col("s").str().slice(0, Some(2)).str().to_uppercase();
        // 5,000 groups of each prefix: enough state to spill.
        let key = concat_str([short, col("id") % lit(5_000)], "#").alias("key");
        let (out, stats) = df
            .group_by([key])
            .agg([
                col("id").count().alias("n"),
                col("s").str().len_chars().max().alias("longest"),
            ])
            .unwrap()
            .collect_with_stats()
            .unwrap();
        assert!(stats.spilled_bytes > 0, "{t}: {stats:?}");
        let mut want: BTreeMap<Option<String>, (u64, Option<u32>)> = BTreeMap::new();
        for (id, w) in words.iter().enumerate() {
            let e = want
                .entry(
                    w.as_deref()
                        .map(|w| format!("{}#{}", slice(w, 0, Some(2)).to_uppercase(), id % 5_000)),
                )
                .or_default();
            e.0 += 1;
            let n = w.as_deref().map(|w| w.chars().count() as u32);
            e.1 = e.1.max(n);
        }
        let keys = texts(&out, 0);
        let counts = out.iter().flat_map(|b| {
            b.column(1)
                .as_primitive::<UInt64Type>()
                .iter()
                .collect::<Vec<_>>()
        });
        let longest = out.iter().flat_map(|b| {
            b.column(2)
                .as_primitive::<UInt32Type>()
                .iter()
                .collect::<Vec<_>>()
        });
        let got: BTreeMap<_, _> = keys
            .into_iter()
            .zip(counts.zip(longest).map(|(c, l)| (c.unwrap(), l)))
            .collect();
        assert_eq!(got, want, "{t}");

        // Sort by length in characters (descending, nulls last), ties by id.
        let (out, stats) = df
            .sort([
                col("s").str().len_chars().desc().nulls_last(),
                col("id").asc(),
            ])
            .unwrap()
            .collect_with_stats()
            .unwrap();
        assert!(stats.spilled_bytes > 0, "{t}: {stats:?}");
        let mut ids: Vec<i64> = (0..N as i64).collect();
        ids.sort_by_key(|&i| {
            let n = words[i as usize].as_deref().map(|w| w.chars().count());
            (n.is_none(), std::cmp::Reverse(n), i)
        });
        let got: Vec<i64> = out
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(got, ids, "{t}");
        assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
        assert_eq!(s.memory().used(), 0);
    }
}

#[test]
fn bad_arguments_are_type_errors_naming_the_column_when_the_plan_is_built() {
    let s = session(2, None, None);
    let df = frame(&s, &DataType::Utf8View, 10, 2);
    let cases = [
        (
            df.select([col("id").str().to_uppercase()]).unwrap_err(),
            "to_uppercase(id)",
            "argument 'id' is Int64",
        ),
        (
            df.filter(col("s").str().like(col("id"))).unwrap_err(),
            "like(s, id)",
            "argument 'id' is Int64",
        ),
        (
            df.with_column(col("id").str().len_chars().alias("n"))
                .unwrap_err(),
            "len_chars(id)",
            "takes a string (Utf8, LargeUtf8, Utf8View or a dictionary of them)",
        ),
        (
            df.select([col("s").str().contains("(")]).unwrap_err(),
            "contains(s, '(')",
            "invalid regular expression",
        ),
        (
            df.select([col("s").str().extract("(a)", 2)]).unwrap_err(),
            "extract(s, '(a)', 2)",
            "has 1 groups",
        ),
        (
            df.select([col("s").str().split_part(",", 0)]).unwrap_err(),
            "split_part(s, ',', 0)",
            "not 0",
        ),
        (
            df.select([Expr::call(
                StringFunction::Replace {
                    literal: true,
                    all: true,
                },
                vec![col("s"), col("s"), lit("x")],
            )])
            .unwrap_err(),
            "replace_all(s, s, 'x', true)",
            "takes its pattern as a literal string, but got 's'",
        ),
    ];
    for (err, context, message) in cases {
        match &err {
            Error::Type {
                context: c,
                message: m,
            } => {
                assert_eq!(c, context, "{err}");
                assert!(m.contains(message), "{err}");
            }
            other => panic!("wrong error: {other}"),
        }
    }
}

fn piece() -> impl Strategy<Value = String> {
    proptest::sample::select(ALPHABET.to_vec()).prop_map(str::to_owned)
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(piece(), 0..5).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn like_slice_split_and_pad_agree_with_plain_rust(
        words in proptest::collection::vec(proptest::option::weighted(0.9, text()), 0..40),
        pattern in proptest::collection::vec(
            proptest::sample::select(vec!["%", "_", "a", "é", "日", "😀", "\\%", " "]), 0..5),
        offset in -6_i64..6,
        length in proptest::option::of(0_u64..5),
        index in prop_oneof![-3_i64..0, 1_i64..4],
        nparts in 1_usize..=8,
        threads in 1_usize..=3,
        t in 0_usize..4,
    ) {
        let pattern = pattern.concat();
        let t = &types()[t];
        let s = session(threads, None, None);
        let n = words.len();
        let array: ArrayRef = Arc::new(StringViewArray::from(words.clone()));
        let array = cast(&array, t).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("s", t.clone(), true),
        ]));
        let id = Arc::new(Int64Array::from_iter_values(0..n as i64));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![id, array]).unwrap();
        let out = s
            .from_batches(schema, vec![batch], nparts)
            .unwrap()
            .select([
                col("id"),
                col("s").str().like(lit(pattern.clone())).alias("like"),
                col("s").str().slice(offset, length).alias("slice"),
                col("s").str().split_part("日", index).alias("part"),
                col("s").str().pad_start(3, '_').alias("pad"),
            ])
            .unwrap()
            .collect()
            .unwrap();
        let ids = texts(&out, 0);
        let columns: Vec<_> = (1..5).map(|i| texts(&out, i)).collect();
        for (row, id) in ids.iter().enumerate() {
            let w = words[id.as_ref().unwrap().parse::<usize>().unwrap()].as_deref();
            let want = [
                w.map(|w| like_str(w, &pattern).to_string()),
                w.map(|w| slice(w, offset, length)),
                w.map(|w| split_part(w, "日", index)),
                w.map(|w| pad_start(w, 3, '_')),
            ];
            for (c, want) in columns.iter().zip(want) {
                prop_assert_eq!(&c[row], &want, "{:?} pattern {:?}", w, &pattern);
            }
        }
    }
}

#[test]
fn every_string_type_compares_with_a_literal_and_with_another_string_type() {
    let session = Session::builder().threads(2).build().unwrap();
    let words: Vec<Option<String>> = (0..200).map(word).collect();
    for t in types() {
        let df = frame(&session, &t, 200, 3);
        let picked = |e: Expr| {
            let out = df
                .filter(e)
                .unwrap()
                .select([col("s")])
                .unwrap()
                .collect()
                .unwrap();
            texts(&out, 0)
        };
        let first = words[1].clone().unwrap();
        let want = |f: &dyn Fn(&str) -> bool| -> Vec<Option<String>> {
            words
                .iter()
                .filter(|w| w.as_deref().is_some_and(f))
                .cloned()
                .collect()
        };
        assert_eq!(
            picked(col("s").eq(lit(first.clone()))),
            want(&|w| w == first),
            "{t}"
        );
        assert_eq!(picked(col("s").lt(lit("c"))), want(&|w| w < "c"), "{t}");
        // Against the same words as another string type: every non-null row is equal.
        let both = df
            .with_column(col("s").cast(DataType::Utf8View).alias("v"))
            .unwrap()
            .filter(col("s").eq(col("v")))
            .unwrap()
            .collect()
            .unwrap();
        let rows: usize = both.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, words.iter().flatten().count(), "{t}");
    }
}
