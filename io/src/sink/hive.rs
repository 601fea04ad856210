//! Hive folder names: `column=value` path segments, escaped as Hive and Arrow escape them.
//!
//! A value is written as its text (`cast` to `Utf8`: `42`, `1.5`, `true`, `2024-01-31`),
//! with the characters a path cannot hold or that would change its meaning percent-encoded
//! as `%XX` (upper-case hex of each byte): control characters, `"` `#` `%` `'` `*` `/` `:`
//! `=` `?` `\` `{` `[` `]` `^` and DEL, the set Hive's `FileUtils.escapePathName` uses.
//! A null value, and the empty string (which no folder name can hold), are written as
//! [`DEFAULT_PARTITION`] and read back as null.

use arrow::datatypes::DataType;

/// The folder value standing for null (and the empty string), as in Hive and Arrow.
pub const DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

fn must_escape(b: u8) -> bool {
    b < 0x20
        || b == 0x7f
        || matches!(
            b,
            b'"' | b'#'
                | b'%'
                | b'\''
                | b'*'
                | b'/'
                | b':'
                | b'='
                | b'?'
                | b'\\'
                | b'{'
                | b'['
                | b']'
                | b'^'
        )
}

/// `text` with the characters of the module docs percent-encoded.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() && must_escape(c as u8) {
            out.push_str(&format!("%{:02X}", c as u8));
        } else {
            out.push(c);
        }
    }
    out
}

/// The inverse of [`escape`]: `%XX` sequences decoded; a `%` not followed by two hex
/// digits is kept as is (as Hive does).
pub fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// The path segment `column=value` for a value (`None` for null).
pub fn segment(column: &str, value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => format!("{}={}", escape(column), escape(v)),
        _ => format!("{}={DEFAULT_PARTITION}", escape(column)),
    }
}

/// A path segment read as `(column, value)` (value `None` for null), when it is one.
pub fn parse_segment(segment: &str) -> Option<(String, Option<String>)> {
    let (key, value) = segment.split_once('=')?;
    if key.is_empty() {
        return None;
    }
    let value = (value != DEFAULT_PARTITION && !value.is_empty()).then(|| unescape(value));
    Some((unescape(key), value))
}

/// Whether a column of this type can name hive folders: its values print as text that
/// reads back as the same value.
pub fn is_partition_type(data_type: &DataType) -> bool {
    data_type.is_integer()
        || data_type.is_floating()
        || matches!(
            data_type,
            DataType::Boolean
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Date32
                | DataType::Date64
                | DataType::Time32(_)
                | DataType::Time64(_)
                | DataType::Timestamp(_, _)
                | DataType::Decimal128(_, _)
                | DataType::Decimal256(_, _)
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_characters_are_percent_encoded_and_decode_back() {
        let text = "a/b=c%d:e?f#g\"h'i*j\\k{l[m]n^o\u{1}p é";
        let escaped = escape(text);
        assert_eq!(
            escaped,
            "a%2Fb%3Dc%25d%3Ae%3Ff%23g%22h%27i%2Aj%5Ck%7Bl%5Bm%5Dn%5Eo%01p é"
        );
        assert!(!escaped.contains('/'));
        assert_eq!(unescape(&escaped), text);
    }

    #[test]
    fn a_lone_percent_is_kept() {
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(unescape("%zz%4"), "%zz%4");
    }

    #[test]
    fn null_and_empty_are_the_default_partition() {
        assert_eq!(segment("k", None), "k=__HIVE_DEFAULT_PARTITION__");
        assert_eq!(segment("k", Some("")), "k=__HIVE_DEFAULT_PARTITION__");
        assert_eq!(
            parse_segment("k=__HIVE_DEFAULT_PARTITION__"),
            Some(("k".into(), None))
        );
        assert_eq!(
            parse_segment("k=a%2Fb"),
            Some(("k".into(), Some("a/b".into())))
        );
        assert_eq!(parse_segment("plain"), None);
        assert_eq!(parse_segment("=x"), None);
    }
}
