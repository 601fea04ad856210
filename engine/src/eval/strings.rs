//! Kernels of the string family (`len_chars`, `to_uppercase`, `strip_chars`, `like`,
//! `contains`, `slice`, `replace`, `pad_start`, `split_part`, `concat_str`, ...).
//!
//! The semantics and result types are stated once in the planner's
//! `spillway_planner::functions::strings`; [`evaluate`] asks it for the result type.
//!
//! - Arrow's kernels where Arrow has one: `length` for `len_bytes`, and `like`, `ilike`,
//!   `nlike`, `nilike`, `contains`, `starts_with`, `ends_with` (over `Utf8`, `LargeUtf8` and
//!   `Utf8View` alike, and against a column of patterns). The rest (case, stripping, Polars'
//!   `slice`, which Arrow's `substring_by_char` does not match for negative offsets, padding,
//!   regular expressions with groups, replacement, splitting) map each value with Rust's
//!   `str` methods into a builder of the input's own type: no cast, views in, views out.
//! - A dictionary is computed on its values only (once per distinct string), then either
//!   keeps its keys (a string result) or is expanded by them (`take`, for Booleans and
//!   lengths). Against a column of patterns it is cast to its value type first.
//! - A regular expression is compiled once per batch (the planner has already checked it
//!   compiles), never per row.
//! - Nulls propagate: a null string, pattern or literal argument gives a null.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, LargeStringBuilder, Scalar, StringBuilder,
    StringViewBuilder, UInt32Array, new_null_array,
};
use arrow::compute::kernels::{comparison, length};
use arrow::compute::{cast, take};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use regex::Regex;
use spillway_planner::expr::Expr;
use spillway_planner::functions::StringFunction;
use spillway_planner::{Error, Result};

use super::Value;

/// `func(values)`, where `values` are the evaluated `args` of `expr`, over `rows` rows. All
/// scalar arguments give a scalar.
pub(super) fn evaluate(
    func: StringFunction,
    expr: &Expr,
    args: &[Expr],
    values: Vec<Value>,
    rows: usize,
) -> Result<Value> {
    let (types, out, scalar) = super::signature(func.into(), expr, args, &values)?;
    let len = if scalar { 1 } else { rows };
    let ctx = |e: ArrowError| Error::compute(expr.to_string(), e);
    let array = if let StringFunction::ConcatStr { .. } = func {
        concat_str(values, len).map_err(ctx)?
    } else if types.contains(&DataType::Null) {
        new_null_array(&out, len)
    } else {
        let mut values = values.into_iter();
        let Some(s) = values.next() else {
            return Err(Error::Internal(format!("{expr} has no argument")));
        };
        let s = s.into_array(len)?;
        let rest: Vec<Value> = values.collect();
        match rest.first() {
            Some(pattern) if is_predicate(func) => predicate(func, &s, pattern).map_err(ctx)?,
            _ => {
                let constants = rest
                    .iter()
                    .map(scalar_string)
                    .collect::<Result<Option<Vec<String>>>>()?;
                match constants {
                    Some(c) => one_string(func, &s, &c).map_err(ctx)?,
                    // A null pattern, replacement or separator.
                    None => new_null_array(&out, len),
                }
            }
        }
    };
    Ok(if scalar {
        Value::Scalar(array)
    } else {
        Value::Array(array)
    })
}

/// The functions Arrow computes from a string and a pattern, either a column or a literal.
fn is_predicate(func: StringFunction) -> bool {
    use StringFunction::*;
    matches!(
        func,
        ContainsLiteral | StartsWith | EndsWith | Like | ILike | NotLike | NotILike
    )
}

/// The value of a literal string argument, `None` when it is null.
fn scalar_string(v: &Value) -> Result<Option<String>> {
    let Value::Scalar(a) = v else {
        return Err(Error::Internal(
            "a string function's constant argument is a column".into(),
        ));
    };
    let a = cast(a, &DataType::Utf8).map_err(|e| Error::compute("a string literal", e))?;
    let a = a.as_string::<i32>();
    Ok((!a.is_null(0)).then(|| a.value(0).to_owned()))
}

/// `f` over the strings of `s`: for a dictionary, over its values only, then keeping its
/// keys when `f` gives strings, else expanded by them.
fn on_values(
    s: &ArrayRef,
    f: impl FnOnce(&ArrayRef) -> Result<ArrayRef, ArrowError>,
) -> Result<ArrayRef, ArrowError> {
    let Some(dict) = s.as_any_dictionary_opt() else {
        return f(s);
    };
    let mapped = f(dict.values())?;
    if mapped.data_type() == dict.values().data_type() {
        Ok(dict.with_values(mapped))
    } else {
        take(&mapped, dict.keys(), None)
    }
}

/// A dictionary as a plain array of its value type; other arrays as they are.
fn flatten(s: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    match s.data_type() {
        DataType::Dictionary(_, v) => cast(s, v),
        _ => Ok(Arc::clone(s)),
    }
}

/// A pattern test with Arrow's kernels: `pattern` is cast to the type of the strings.
fn predicate(func: StringFunction, s: &ArrayRef, pattern: &Value) -> Result<ArrayRef, ArrowError> {
    use StringFunction::*;
    let kernel = |l: &dyn arrow::array::Datum, r: &dyn arrow::array::Datum| match func {
        ContainsLiteral => comparison::contains(l, r),
        StartsWith => comparison::starts_with(l, r),
        EndsWith => comparison::ends_with(l, r),
        Like => comparison::like(l, r),
        ILike => comparison::ilike(l, r),
        NotLike => comparison::nlike(l, r),
        NotILike => comparison::nilike(l, r),
        _ => Err(ArrowError::InvalidArgumentError(format!(
            "{} is not a pattern test",
            func.name()
        ))),
    };
    match pattern {
        Value::Scalar(p) => on_values(s, |v| {
            let p = cast(&flatten(p)?, v.data_type())?;
            Ok(Arc::new(kernel(v, &Scalar::new(p))?))
        }),
        Value::Array(p) => {
            let s = flatten(s)?;
            let p = cast(p, s.data_type())?;
            Ok(Arc::new(kernel(&s, &p)?))
        }
    }
}

/// A function of one string and literal `constants` (patterns, replacements, separators).
fn one_string(
    func: StringFunction,
    s: &ArrayRef,
    constants: &[String],
) -> Result<ArrayRef, ArrowError> {
    use StringFunction::*;
    let constant = |i: usize| -> Result<&str, ArrowError> {
        constants.get(i).map(String::as_str).ok_or_else(|| {
            ArrowError::InvalidArgumentError(format!("{} misses an argument", func.name()))
        })
    };
    let regex = |i: usize| {
        Regex::new(constant(i)?).map_err(|e| ArrowError::InvalidArgumentError(e.to_string()))
    };
    on_values(s, |s| match func {
        LenBytes => cast(&length::length(s)?, &DataType::UInt32),
        LenChars => len_chars(s),
        ToLowercase => map_strings(s, |v, out| out.push_str(&v.to_lowercase())),
        ToUppercase => map_strings(s, |v, out| out.push_str(&v.to_uppercase())),
        StripChars => map_strings(s, |v, out| out.push_str(v.trim())),
        StripCharsStart => map_strings(s, |v, out| out.push_str(v.trim_start())),
        StripCharsEnd => map_strings(s, |v, out| out.push_str(v.trim_end())),
        Slice { offset, length } => {
            map_strings(s, |v, out| out.push_str(slice_chars(v, offset, length)))
        }
        PadStart { length, fill } => map_strings(s, |v, out| pad(v, length, fill, true, out)),
        PadEnd { length, fill } => map_strings(s, |v, out| pad(v, length, fill, false, out)),
        SplitPart { index } => {
            let by = constant(0)?;
            map_strings(s, |v, out| out.push_str(split_part(v, by, index)))
        }
        Replace { literal, all } => {
            let value = constant(1)?;
            if literal {
                let pattern = constant(0)?;
                let n = if all { usize::MAX } else { 1 };
                map_strings(s, |v, out| out.push_str(&v.replacen(pattern, value, n)))
            } else {
                let re = regex(0)?;
                let limit = if all { 0 } else { 1 };
                map_strings(s, |v, out| out.push_str(&re.replacen(v, limit, value)))
            }
        }
        Contains => {
            let re = regex(0)?;
            let hits: BooleanArray = string_values(s, |v| re.is_match(v))?.into();
            Ok(Arc::new(hits))
        }
        Extract { group } => {
            let re = regex(0)?;
            map_nullable_strings(s, |v, out| {
                let m = re.captures(v).and_then(|c| c.get(group));
                m.map(|m| out.push_str(m.as_str())).is_some()
            })
        }
        ContainsLiteral
        | StartsWith
        | EndsWith
        | Like
        | ILike
        | NotLike
        | NotILike
        | ConcatStr { .. } => Err(ArrowError::InvalidArgumentError(format!(
            "{} is not a function of one string",
            func.name()
        ))),
    })
}

fn len_chars(s: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let counts = string_values(s, |v| v.chars().count())?;
    let counts = counts
        .into_iter()
        .map(|n| n.map(u32::try_from).transpose())
        .collect::<Result<UInt32Array, _>>()
        .map_err(|_| ArrowError::ComputeError("a string of 2^32 characters or more".into()))?;
    Ok(Arc::new(counts))
}

/// `f` of each string of `s` (`Utf8`, `LargeUtf8` or `Utf8View`), nulls kept.
fn string_values<T>(
    s: &ArrayRef,
    mut f: impl FnMut(&str) -> T,
) -> Result<Vec<Option<T>>, ArrowError> {
    Ok(match s.data_type() {
        DataType::Utf8 => s.as_string::<i32>().iter().map(|v| v.map(&mut f)).collect(),
        DataType::LargeUtf8 => s.as_string::<i64>().iter().map(|v| v.map(&mut f)).collect(),
        DataType::Utf8View => s.as_string_view().iter().map(|v| v.map(&mut f)).collect(),
        t => return Err(not_a_string(t)),
    })
}

fn not_a_string(t: &DataType) -> ArrowError {
    ArrowError::InvalidArgumentError(format!("a string function got {t}"))
}

/// Strings of the type of `s`: `f` writes the result for each string of `s` into an empty
/// buffer; nulls stay null.
fn map_strings(s: &ArrayRef, mut f: impl FnMut(&str, &mut String)) -> Result<ArrayRef, ArrowError> {
    map_nullable_strings(s, |v, out| {
        f(v, out);
        true
    })
}

/// As [`map_strings`], where `f` gives false for a null result.
fn map_nullable_strings(
    s: &ArrayRef,
    mut f: impl FnMut(&str, &mut String) -> bool,
) -> Result<ArrayRef, ArrowError> {
    let mut buf = String::new();
    macro_rules! build {
        ($values:expr, $builder:expr) => {{
            let mut b = $builder;
            for v in $values.iter() {
                buf.clear();
                match v {
                    Some(v) if f(v, &mut buf) => b.append_value(&buf),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    let n = s.len();
    Ok(match s.data_type() {
        DataType::Utf8 => {
            let a = s.as_string::<i32>();
            build!(a, StringBuilder::with_capacity(n, a.values().len()))
        }
        DataType::LargeUtf8 => {
            let a = s.as_string::<i64>();
            build!(a, LargeStringBuilder::with_capacity(n, a.values().len()))
        }
        DataType::Utf8View => build!(s.as_string_view(), StringViewBuilder::with_capacity(n)),
        t => return Err(not_a_string(t)),
    })
}

/// Polars' `slice`: characters `offset..offset + length` (see the planner's docs).
fn slice_chars(v: &str, offset: i64, length: Option<u64>) -> &str {
    let n = v.chars().count() as u64;
    let (start, length) = if offset >= 0 {
        (offset.unsigned_abs().min(n), length)
    } else {
        let back = offset.unsigned_abs();
        if back <= n {
            (n - back, length)
        } else {
            // Before the start: the length shrinks by the characters that do not exist.
            (0, length.map(|l| l.saturating_sub(back - n)))
        }
    };
    let end = length.map_or(n, |l| start.saturating_add(l).min(n));
    let byte = |k: u64| v.char_indices().nth(k as usize).map_or(v.len(), |(b, _)| b);
    let (b0, b1) = (byte(start), byte(end));
    &v[b0..b1.max(b0)]
}

/// Writes `v` padded with `fill` to `length` characters, at the start or at the end.
fn pad(v: &str, length: usize, fill: char, start: bool, out: &mut String) {
    let missing = length.saturating_sub(v.chars().count());
    let fill = std::iter::repeat_n(fill, missing);
    if start {
        out.extend(fill);
        out.push_str(v);
    } else {
        out.push_str(v);
        out.extend(fill);
    }
}

/// SQL's `split_part`: field `index` (1-based, negative from the end), `""` if none.
fn split_part<'a>(v: &'a str, by: &str, index: i64) -> &'a str {
    let k = index.unsigned_abs().saturating_sub(1) as usize;
    let field = if by.is_empty() {
        (k == 0).then_some(v)
    } else if index > 0 {
        v.split(by).nth(k)
    } else {
        v.rsplit(by).nth(k)
    };
    field.unwrap_or("")
}

/// `concat_str`: every argument cast to `Utf8` (a literal stays one row), joined by the
/// last, row by row; null when any is null.
fn concat_str(values: Vec<Value>, len: usize) -> Result<ArrayRef, ArrowError> {
    let mut columns = values
        .into_iter()
        .map(|v| match v {
            Value::Array(a) | Value::Scalar(a) => cast(&a, &DataType::Utf8),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let separator = columns
        .pop()
        .unwrap_or_else(|| new_null_array(&DataType::Utf8, 1));
    let separator = separator.as_string::<i32>();
    let columns: Vec<_> = columns.iter().map(|c| c.as_string::<i32>()).collect();
    let mut b = StringViewBuilder::with_capacity(len);
    let mut buf = String::new();
    for row in 0..len {
        buf.clear();
        let at = |a: &arrow::array::StringArray| if a.len() == 1 { 0 } else { row };
        let valid = !separator.is_null(0) && columns.iter().all(|c| !c.is_null(at(c)));
        if !valid {
            b.append_null();
            continue;
        }
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                buf.push_str(separator.value(0));
            }
            buf.push_str(c.value(at(c)));
        }
        b.append_value(&buf);
    }
    Ok(Arc::new(b.finish()))
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        DictionaryArray, LargeStringArray, RecordBatch, StringArray, StringViewArray,
    };
    use arrow::datatypes::{Field, Int32Type, Schema, UInt32Type};
    use spillway_planner::expr::{col, lit, null};
    use spillway_planner::functions::concat_str;

    use super::super::evaluate as eval;
    use super::*;

    const WORDS: [Option<&str>; 7] = [
        Some("Héllo"),
        None,
        Some(""),
        Some("  日本 "),
        Some("a😀b"),
        Some("ab%_c"),
        Some("Héllo"),
    ];

    /// `WORDS` as column `s` of each string type, and `p` a column of patterns.
    fn batches() -> Vec<RecordBatch> {
        let columns: [ArrayRef; 4] = [
            Arc::new(StringArray::from(WORDS.to_vec())),
            Arc::new(LargeStringArray::from(WORDS.to_vec())),
            Arc::new(StringViewArray::from(WORDS.to_vec())),
            Arc::new(WORDS.into_iter().collect::<DictionaryArray<Int32Type>>()),
        ];
        let p = ["%llo", "x", "", "%日%", "a_b", "ab\\%\\_c", "h%"];
        columns
            .into_iter()
            .map(|s| {
                let schema = Schema::new(vec![
                    Field::new("s", s.data_type().clone(), true),
                    Field::new("p", DataType::Utf8View, false),
                ]);
                let p = Arc::new(StringViewArray::from_iter_values(p));
                RecordBatch::try_new(Arc::new(schema), vec![s, p]).unwrap()
            })
            .collect()
    }

    fn strings(e: &Expr) -> Vec<Vec<Option<String>>> {
        batches()
            .iter()
            .map(|b| {
                let a = eval(e, b).unwrap();
                assert_eq!(a.data_type(), &e.data_type(b.schema_ref()).unwrap(), "{e}");
                let a = cast(&a, &DataType::Utf8).unwrap();
                a.as_string::<i32>()
                    .iter()
                    .map(|v| v.map(str::to_owned))
                    .collect()
            })
            .collect()
    }

    /// The result of `e` on every string type, which must agree.
    fn same_on_all_types(e: &Expr) -> Vec<Option<String>> {
        let mut all = strings(e);
        let first = all.remove(0);
        for (i, other) in all.iter().enumerate() {
            assert_eq!(other, &first, "{e} on type {}", i + 1);
        }
        first
    }

    fn want(v: &[Option<&str>]) -> Vec<Option<String>> {
        v.iter().map(|v| v.map(str::to_owned)).collect()
    }

    fn bools(e: &Expr) -> Vec<Option<bool>> {
        let got = same_on_all_types(e);
        got.iter()
            .map(|v| v.as_ref().map(|v| v == "true"))
            .collect()
    }

    #[test]
    fn types_out_follow_types_in() {
        for b in batches() {
            let t = b.schema().field(0).data_type().clone();
            let out = eval(&col("s").str().to_uppercase(), &b).unwrap();
            assert_eq!(out.data_type(), &t);
            let n = eval(&col("s").str().len_chars(), &b).unwrap();
            let n: Vec<_> = n.as_primitive::<UInt32Type>().iter().collect();
            assert_eq!(
                n,
                [Some(5), None, Some(0), Some(5), Some(3), Some(5), Some(5)]
            );
            let n = eval(&col("s").str().len_bytes(), &b).unwrap();
            let n: Vec<_> = n.as_primitive::<UInt32Type>().iter().collect();
            assert_eq!(
                n,
                [Some(6), None, Some(0), Some(9), Some(6), Some(5), Some(6)]
            );
        }
    }

    #[test]
    fn case_and_stripping() {
        let w = |v: [Option<&str>; 7]| want(&v);
        assert_eq!(
            same_on_all_types(&col("s").str().to_uppercase()),
            w([
                Some("HÉLLO"),
                None,
                Some(""),
                Some("  日本 "),
                Some("A😀B"),
                Some("AB%_C"),
                Some("HÉLLO")
            ])
        );
        assert_eq!(
            same_on_all_types(&col("s").str().to_lowercase())[0].as_deref(),
            Some("héllo")
        );
        assert_eq!(
            same_on_all_types(&col("s").str().strip_chars())[3].as_deref(),
            Some("日本")
        );
        assert_eq!(
            same_on_all_types(&col("s").str().strip_chars_start())[3].as_deref(),
            Some("日本 ")
        );
        assert_eq!(
            same_on_all_types(&col("s").str().strip_chars_end())[3].as_deref(),
            Some("  日本")
        );
    }

    #[test]
    fn substring_tests_and_like() {
        let t = Some(true);
        let f = Some(false);
        assert_eq!(
            bools(&col("s").str().contains_literal("l")),
            [t, None, f, f, f, f, t]
        );
        assert_eq!(
            bools(&col("s").str().starts_with("a")),
            [f, None, f, f, t, t, f]
        );
        assert_eq!(
            bools(&col("s").str().ends_with("b")),
            [f, None, f, f, t, f, f]
        );
        assert_eq!(bools(&col("s").str().like("H%o")), [t, None, f, f, f, f, t]);
        assert_eq!(bools(&col("s").str().like("a_b")), [f, None, f, f, t, f, f]);
        assert_eq!(
            bools(&col("s").str().ilike("hé%")),
            [t, None, f, f, f, f, t]
        );
        assert_eq!(
            bools(&col("s").str().not_like("%")),
            [f, None, f, f, f, f, f]
        );
        assert_eq!(
            bools(&col("s").str().not_ilike("x%")),
            [t, None, t, t, t, t, t]
        );
        // `\` escapes the wildcards.
        assert_eq!(
            bools(&col("s").str().like("ab\\%\\_c")),
            [f, None, f, f, f, t, f]
        );
        assert_eq!(
            bools(&col("s").str().like("ab\\%x_c")),
            [f, None, f, f, f, f, f]
        );
        // A column of patterns, row by row.
        assert_eq!(
            bools(&col("s").str().like(col("p"))),
            [t, None, t, t, t, t, f]
        );
        assert_eq!(
            bools(&col("s").str().ilike(col("p"))),
            [t, None, t, t, t, t, t]
        );
        assert_eq!(
            bools(&col("s").str().contains_literal(col("p"))),
            [f, None, t, f, f, f, f]
        );
        // A null pattern gives nulls.
        assert_eq!(
            bools(&col("s").str().like(null(&DataType::Utf8))),
            [None; 7]
        );
    }

    #[test]
    fn slices_count_characters_as_polars() {
        let slice = |o, l| same_on_all_types(&col("s").str().slice(o, l))[4].clone();
        assert_eq!(slice(1, Some(1)).as_deref(), Some("😀"));
        assert_eq!(slice(-2, None).as_deref(), Some("😀b"));
        assert_eq!(slice(-5, Some(3)).as_deref(), Some("a"));
        assert_eq!(slice(-5, Some(1)).as_deref(), Some(""));
        assert_eq!(slice(3, None).as_deref(), Some(""));
        assert_eq!(slice(9, Some(2)).as_deref(), Some(""));
        assert_eq!(slice(0, Some(0)).as_deref(), Some(""));
        assert_eq!(slice(i64::MIN, None).as_deref(), Some("a😀b"));
        assert_eq!(slice_chars("日本", 1, Some(u64::MAX)), "本");
        let all = same_on_all_types(&col("s").str().slice(0, Some(2)));
        assert_eq!(
            all,
            want(&[
                Some("Hé"),
                None,
                Some(""),
                Some("  "),
                Some("a😀"),
                Some("ab"),
                Some("Hé")
            ])
        );
    }

    #[test]
    fn regular_expressions() {
        let t = Some(true);
        let f = Some(false);
        assert_eq!(
            bools(&col("s").str().contains(r"^\p{L}+$")),
            [t, None, f, f, f, f, t]
        );
        let e = same_on_all_types(&col("s").str().extract(r"(.)(\p{Han})", 2));
        assert_eq!(e, want(&[None, None, None, Some("日"), None, None, None]));
        let r = same_on_all_types(&col("s").str().replace_all(r"(l+)", "[$1]", false));
        assert_eq!(r[0].as_deref(), Some("Hé[ll]o"));
        let r = same_on_all_types(&col("s").str().replace(r"\s", "_", false));
        assert_eq!(r[3].as_deref(), Some("_ 日本 "));
    }

    #[test]
    fn replace_pad_split_and_concat() {
        let r = same_on_all_types(&col("s").str().replace("l", "L", true));
        assert_eq!(r[0].as_deref(), Some("HéLlo"));
        let r = same_on_all_types(&col("s").str().replace_all("%_", "$1", true));
        assert_eq!(r[5].as_deref(), Some("ab$1c"));
        let p = same_on_all_types(&col("s").str().pad_start(4, '日'));
        assert_eq!(
            p[..5],
            want(&[
                Some("Héllo"),
                None,
                Some("日日日日"),
                Some("  日本 "),
                Some("日a😀b")
            ])
        );
        let p = same_on_all_types(&col("s").str().pad_end(4, '.'));
        assert_eq!(p[4].as_deref(), Some("a😀b."));
        let parts = |by, i| same_on_all_types(&col("s").str().split_part(by, i));
        assert_eq!(parts("😀", 2)[4].as_deref(), Some("b"));
        assert_eq!(parts("😀", -2)[4].as_deref(), Some("a"));
        assert_eq!(parts("😀", 3)[4].as_deref(), Some(""));
        assert_eq!(parts("", 1)[4].as_deref(), Some("a😀b"));
        assert_eq!(parts("", 2)[4].as_deref(), Some(""));
        assert_eq!(parts("l", 2)[2].as_deref(), Some(""));
        let c = same_on_all_types(&concat_str([col("s"), lit(7), col("p")], "|"));
        assert_eq!(c[..2], want(&[Some("Héllo|7|%llo"), None]));
        assert_eq!(c[2].as_deref(), Some("|7|"));
    }

    #[test]
    fn literals_give_scalars_and_errors_name_the_argument() {
        let b = &batches()[0];
        let e = lit("Ab").str().to_lowercase();
        let out = eval(&e, b).unwrap();
        assert_eq!(out.len(), b.num_rows());
        let err = eval(&col("s").str().len_chars().str().to_uppercase(), b).unwrap_err();
        assert!(
            err.to_string().contains("'len_chars(s)' is UInt32"),
            "{err}"
        );
    }
}
