//! The string family: lengths, case, stripping, substring tests, SQL `LIKE`, regular
//! expressions, slicing, replacing, padding, splitting and concatenation: their names, type
//! rules and argument checks, and the [`StrExpr`] namespace that builds them
//! (`col("s").str().to_uppercase()`, as Polars spells it). The kernels are in the engine's
//! `eval/strings.rs`.
//!
//! ```
//! use spillway_planner::expr::{col, lit};
//! use spillway_planner::functions::concat_str;
//! use arrow::datatypes::{DataType, Field, Schema};
//!
//! let schema = Schema::new(vec![
//!     Field::new("name", DataType::Utf8View, true),
//!     Field::new("n", DataType::Int64, true),
//! ]);
//! let shout = col("name").str().strip_chars().str().to_uppercase();
//! assert_eq!(shout.to_string(), "to_uppercase(strip_chars(name))");
//! assert_eq!(shout.data_type(&schema).unwrap(), DataType::Utf8View);
//! assert_eq!(col("name").str().like("J%").data_type(&schema).unwrap(), DataType::Boolean);
//! let label = concat_str([col("name"), col("n")], "-");
//! assert_eq!(label.to_string(), "concat_str(name, n, '-')");
//! assert!(col("n").str().len_chars().data_type(&schema).is_err());
//! ```
//!
//! # Types
//!
//! A string argument is a `Utf8`, `LargeUtf8` or `Utf8View` column or literal, or a
//! dictionary of one of them; anything else is a type error when the plan is built, naming
//! the function, the argument and its type.
//!
//! | function | result |
//! |---|---|
//! | `len_bytes`, `len_chars` | `UInt32`, as Polars (an error when the plan runs for a string of 4 GiB or more) |
//! | `contains_literal`, `starts_with`, `ends_with`, `like`, `ilike`, `not_like`, `not_ilike`, `contains` | `Boolean` |
//! | `to_lowercase`, `to_uppercase`, `strip_chars*`, `slice`, `replace*`, `pad_*`, `split_part`, `extract` | the string's own type: `Utf8View` in, `Utf8View` out; a dictionary keeps its keys and maps its values |
//! | `concat_str` | `Utf8View` |
//!
//! # Semantics
//!
//! - A null in gives a null out, everywhere (`concat_str` too, as Polars' default); only
//!   `extract` gives a null for a non-null string, when the pattern does not match.
//! - `len_chars`, `slice` and `pad_*` count Unicode scalar values (Rust `char`s), never
//!   bytes: `"日本"` has 2 chars and 6 bytes, and a slice never cuts a character.
//! - `slice(offset, length)` is Polars': `offset` is 0-based and a negative one counts from
//!   the end (`-2` is the last two characters); `length` `None` runs to the end. An offset
//!   before the start shortens the length by as much (`slice(-5, 3)` of `"abc"` is `"a"`),
//!   an offset past the end gives `""`.
//! - `like` is SQL's `LIKE`: `%` matches any run of characters, `_` exactly one, `\` escapes
//!   the next character; `ilike` ignores case; `not_like`, `not_ilike` negate. The pattern
//!   may be a column.
//! - `contains_literal`, `starts_with`, `ends_with` compare bytes (no pattern syntax); the
//!   pattern may be a column.
//! - `contains`, `extract` and `replace` with `literal = false` take a regular expression of
//!   the `regex` crate (no look-around or backreferences), as a literal: it is compiled when
//!   the plan is built (an invalid one is a type error then) and once per batch when it runs,
//!   never per row. `extract(pattern, group)` gives capture group `group` (0 is the whole
//!   match) of the first match, or null; `replace` replaces the first match, `replace_all`
//!   all, `$1` naming a group in the replacement unless `literal`.
//! - `pad_start(length, fill)` and `pad_end` pad with `fill` to `length` characters; a longer
//!   string is kept whole (Polars; SQL's `lpad` would cut it).
//! - `split_part(by, index)` is SQL's `split_part`: the `index`-th field (1-based; negative
//!   counts from the end) of the string split at `by`, `""` when there is no such field; an
//!   empty `by` gives the whole string as the only field. `index` 0 is a type error.
//! - `concat_str(exprs, separator)` joins its arguments' values with `separator`;
//!   numbers, Booleans, dates and times are written as their `Utf8` cast writes them.

use std::fmt;

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;

use super::write_call;
use crate::expr::{Expr, lit};

/// A function of the string family. See the [module docs](self) for the semantics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StringFunction {
    /// The length in bytes of the UTF-8 encoding.
    LenBytes,
    /// The length in characters (Unicode scalar values).
    LenChars,
    /// Unicode lower case.
    ToLowercase,
    /// Unicode upper case.
    ToUppercase,
    /// Without leading and trailing white space.
    StripChars,
    /// Without leading white space.
    StripCharsStart,
    /// Without trailing white space.
    StripCharsEnd,
    /// Whether the second argument occurs in the first, byte for byte.
    ContainsLiteral,
    /// Whether the first argument starts with the second.
    StartsWith,
    /// Whether the first argument ends with the second.
    EndsWith,
    /// SQL `LIKE`.
    Like,
    /// SQL `ILIKE` (`LIKE` ignoring case).
    ILike,
    /// SQL `NOT LIKE`.
    NotLike,
    /// SQL `NOT ILIKE`.
    NotILike,
    /// Whether the regular expression (a literal second argument) matches.
    Contains,
    /// Capture group `group` of the regular expression's first match, or null.
    Extract {
        /// The capture group: 0 is the whole match.
        group: usize,
    },
    /// Replaces the pattern (second argument) by the value (third), both literals.
    Replace {
        /// The pattern is plain text, not a regular expression.
        literal: bool,
        /// Every match, not only the first.
        all: bool,
    },
    /// Characters `offset..offset + length`, Polars' `slice`.
    Slice {
        /// 0-based; negative counts from the end.
        offset: i64,
        /// How many characters; `None` to the end.
        length: Option<u64>,
    },
    /// Padded at the start with `fill` to `length` characters.
    PadStart {
        /// The length to pad to, in characters.
        length: usize,
        /// The padding character.
        fill: char,
    },
    /// Padded at the end with `fill` to `length` characters.
    PadEnd {
        /// The length to pad to, in characters.
        length: usize,
        /// The padding character.
        fill: char,
    },
    /// SQL `split_part`: the `index`-th field split at the separator (a literal second argument).
    SplitPart {
        /// 1-based; negative counts from the end; never 0.
        index: i64,
    },
    /// The values of `columns` arguments joined by the separator (a literal last argument).
    ConcatStr {
        /// How many values are joined (the arguments but the separator).
        columns: usize,
    },
}

/// Whether `t` is a string type, or a dictionary of one.
pub fn is_string(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => matches!(
            **v,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ),
        _ => false,
    }
}

impl StringFunction {
    /// The function's name: `len_chars`, `to_uppercase`, `like`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Self::LenBytes => "len_bytes",
            Self::LenChars => "len_chars",
            Self::ToLowercase => "to_lowercase",
            Self::ToUppercase => "to_uppercase",
            Self::StripChars => "strip_chars",
            Self::StripCharsStart => "strip_chars_start",
            Self::StripCharsEnd => "strip_chars_end",
            Self::ContainsLiteral => "contains_literal",
            Self::StartsWith => "starts_with",
            Self::EndsWith => "ends_with",
            Self::Like => "like",
            Self::ILike => "ilike",
            Self::NotLike => "not_like",
            Self::NotILike => "not_ilike",
            Self::Contains => "contains",
            Self::Extract { .. } => "extract",
            Self::Replace { all: false, .. } => "replace",
            Self::Replace { all: true, .. } => "replace_all",
            Self::Slice { .. } => "slice",
            Self::PadStart { .. } => "pad_start",
            Self::PadEnd { .. } => "pad_end",
            Self::SplitPart { .. } => "split_part",
            Self::ConcatStr { .. } => "concat_str",
        }
    }

    /// How many arguments the function takes.
    pub fn arity(&self) -> usize {
        match self {
            Self::ContainsLiteral
            | Self::StartsWith
            | Self::EndsWith
            | Self::Like
            | Self::ILike
            | Self::NotLike
            | Self::NotILike
            | Self::Contains
            | Self::Extract { .. }
            | Self::SplitPart { .. } => 2,
            Self::Replace { .. } => 3,
            Self::ConcatStr { columns } => columns + 1,
            _ => 1,
        }
    }

    /// Whether the function can give a null for arguments that are not null (`extract`
    /// when the pattern does not match), making its result nullable.
    pub fn may_give_null(&self) -> bool {
        matches!(self, Self::Extract { .. })
    }

    /// The result's type (see the module docs), or a message naming the argument of the
    /// wrong type, the literal that is not a literal, or the invalid regular expression.
    /// `args` and `types` have [`arity`](Self::arity) elements.
    ///
    /// # Errors
    /// A wrong argument, as above.
    pub fn return_type(&self, args: &[Expr], types: &[DataType]) -> Result<DataType, String> {
        if let Self::ConcatStr { columns } = self {
            if *columns == 0 {
                return Err("concat_str takes at least one value to join".into());
            }
            for (a, t) in args[..*columns].iter().zip(types) {
                let ok = is_string(t)
                    || t.is_primitive()
                    || matches!(t, DataType::Boolean | DataType::Null);
                if !ok {
                    return Err(format!(
                        "concat_str takes strings, numbers, Booleans, dates or times but its \
                         argument '{a}' is {t}"
                    ));
                }
            }
            self.literal(&args[*columns], &types[*columns], "separator")?;
            return Ok(DataType::Utf8View);
        }
        self.string(&args[0], &types[0])?;
        match self {
            Self::ContainsLiteral
            | Self::StartsWith
            | Self::EndsWith
            | Self::Like
            | Self::ILike
            | Self::NotLike
            | Self::NotILike => self.string(&args[1], &types[1]).map(|()| DataType::Boolean),
            Self::LenBytes | Self::LenChars => Ok(DataType::UInt32),
            Self::Contains => {
                self.regex(&args[1], &types[1])?;
                Ok(DataType::Boolean)
            }
            Self::Extract { group } => {
                if let Some(groups) = self.regex(&args[1], &types[1])?
                    && *group >= groups
                {
                    return Err(format!(
                        "extract asks for group {group} but the pattern {} has {} groups",
                        args[1],
                        groups - 1
                    ));
                }
                Ok(types[0].clone())
            }
            Self::Replace { literal, .. } => {
                if *literal {
                    self.literal(&args[1], &types[1], "pattern")?;
                } else {
                    self.regex(&args[1], &types[1])?;
                }
                self.literal(&args[2], &types[2], "replacement")?;
                Ok(types[0].clone())
            }
            Self::SplitPart { index } => {
                self.literal(&args[1], &types[1], "separator")?;
                if *index == 0 {
                    return Err(
                        "split_part counts fields from 1 (or -1 from the end), not 0".into(),
                    );
                }
                Ok(types[0].clone())
            }
            _ => Ok(types[0].clone()),
        }
    }

    /// Checks that `arg` (of type `t`) is a string.
    fn string(&self, arg: &Expr, t: &DataType) -> Result<(), String> {
        if is_string(t) || t == &DataType::Null {
            return Ok(());
        }
        Err(format!(
            "{} takes a string (Utf8, LargeUtf8, Utf8View or a dictionary of them) but its \
             argument '{arg}' is {t}",
            self.name()
        ))
    }

    /// Checks that `arg` is a string literal (the `what` of the function), giving its value
    /// (`None` for a null literal).
    fn literal(&self, arg: &Expr, t: &DataType, what: &str) -> Result<Option<String>, String> {
        self.string(arg, t)?;
        literal_string(arg).ok_or_else(|| {
            format!(
                "{} takes its {what} as a literal string, but got '{arg}'",
                self.name()
            )
        })
    }

    /// Checks that `arg` is a literal, valid regular expression, giving its number of
    /// capture groups (with group 0; `None` for a null literal).
    fn regex(&self, arg: &Expr, t: &DataType) -> Result<Option<usize>, String> {
        let Some(pattern) = self.literal(arg, t, "pattern")? else {
            return Ok(None);
        };
        regex::Regex::new(&pattern)
            .map(|re| Some(re.captures_len()))
            .map_err(|e| {
                format!(
                    "{} has an invalid regular expression {arg}: {e}",
                    self.name()
                )
            })
    }

    /// Writes the call: `len_chars(s)`, `slice(s, 1, 3)`, `pad_start(s, 5, '0')`.
    ///
    /// # Errors
    /// Only the formatter's.
    pub fn fmt_call(&self, args: &[Expr], f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        match self {
            Self::Extract { group } => write_call(f, name, args, &[group]),
            Self::Replace { literal, .. } => write_call(f, name, args, &[literal]),
            Self::Slice { offset, length } => match length {
                Some(n) => write_call(f, name, args, &[offset, n]),
                None => write_call(f, name, args, &[offset, &"null"]),
            },
            Self::PadStart { length, fill } | Self::PadEnd { length, fill } => {
                write_call(f, name, args, &[length, &format!("'{fill}'")])
            }
            Self::SplitPart { index } => write_call(f, name, args, &[index]),
            _ => write_call(f, name, args, &[]),
        }
    }
}

/// The value of a string literal (`Some(None)` for a null one), or `None` when `arg` is not
/// a literal string.
pub fn literal_string(arg: &Expr) -> Option<Option<String>> {
    let Expr::Literal(v) = arg else {
        return None;
    };
    if v.is_null() {
        return Some(None);
    }
    let a = arrow::compute::cast(v.as_array(), &DataType::Utf8).ok()?;
    let s = a.as_string_opt::<i32>()?;
    (s.len() == 1).then(|| Some(s.value(0).to_owned()))
}

/// The string functions of an expression, as Polars' `str` namespace: built by
/// [`Expr::str`], each method gives the [`Expr`] calling one [`StringFunction`].
#[derive(Clone, Debug)]
pub struct StrExpr(Expr);

impl Expr {
    /// The string functions of `self`: `col("name").str().to_uppercase()`. See
    /// [`strings`](crate::functions::strings).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// assert_eq!(col("s").str().len_chars().to_string(), "len_chars(s)");
    /// ```
    pub fn str(self) -> StrExpr {
        StrExpr(self)
    }
}

impl StrExpr {
    /// The expression the functions apply to.
    pub(super) fn into_expr(self) -> Expr {
        self.0
    }

    fn call(self, func: StringFunction, more: impl IntoIterator<Item = Expr>) -> Expr {
        let mut args = vec![self.0];
        args.extend(more);
        Expr::call(func, args)
    }

    /// The length in bytes of the UTF-8 encoding, as `UInt32`.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let size = col("s").str().len_bytes();
    /// ```
    pub fn len_bytes(self) -> Expr {
        self.call(StringFunction::LenBytes, [])
    }

    /// The length in characters (`"日本"` has 2), as `UInt32`.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let long = col("s").str().len_chars().gt(10);
    /// ```
    pub fn len_chars(self) -> Expr {
        self.call(StringFunction::LenChars, [])
    }

    /// Unicode lower case.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let key = col("email").str().to_lowercase();
    /// ```
    pub fn to_lowercase(self) -> Expr {
        self.call(StringFunction::ToLowercase, [])
    }

    /// Unicode upper case.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let code = col("country").str().to_uppercase();
    /// ```
    pub fn to_uppercase(self) -> Expr {
        self.call(StringFunction::ToUppercase, [])
    }

    /// Without leading and trailing white space (SQL's `trim`).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let clean = col("s").str().strip_chars();
    /// ```
    pub fn strip_chars(self) -> Expr {
        self.call(StringFunction::StripChars, [])
    }

    /// Without leading white space (SQL's `ltrim`).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let clean = col("s").str().strip_chars_start();
    /// ```
    pub fn strip_chars_start(self) -> Expr {
        self.call(StringFunction::StripCharsStart, [])
    }

    /// Without trailing white space (SQL's `rtrim`).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let clean = col("s").str().strip_chars_end();
    /// ```
    pub fn strip_chars_end(self) -> Expr {
        self.call(StringFunction::StripCharsEnd, [])
    }

    /// Whether `pattern` (a string column or literal, no pattern syntax) occurs in `self`.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let hit = col("comment").str().contains_literal("special requests");
    /// ```
    pub fn contains_literal(self, pattern: impl Into<Expr>) -> Expr {
        self.call(StringFunction::ContainsLiteral, [pattern.into()])
    }

    /// Whether `self` starts with `prefix` (a string column or literal).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let promo = col("p_type").str().starts_with("PROMO");
    /// ```
    pub fn starts_with(self, prefix: impl Into<Expr>) -> Expr {
        self.call(StringFunction::StartsWith, [prefix.into()])
    }

    /// Whether `self` ends with `suffix` (a string column or literal).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let csv = col("path").str().ends_with(".csv");
    /// ```
    pub fn ends_with(self, suffix: impl Into<Expr>) -> Expr {
        self.call(StringFunction::EndsWith, [suffix.into()])
    }

    /// SQL `LIKE`: `%` any run of characters, `_` one character, `\` escapes.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let e = col("p_type").str().like("%BRASS");
    /// assert_eq!(e.to_string(), "like(p_type, '%BRASS')");
    /// ```
    pub fn like(self, pattern: impl Into<Expr>) -> Expr {
        self.call(StringFunction::Like, [pattern.into()])
    }

    /// SQL `ILIKE`: `LIKE` ignoring case.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let e = col("name").str().ilike("j%");
    /// ```
    pub fn ilike(self, pattern: impl Into<Expr>) -> Expr {
        self.call(StringFunction::ILike, [pattern.into()])
    }

    /// SQL `NOT LIKE` (null for a null string, as `LIKE`).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let e = col("o_comment").str().not_like("%special%requests%");
    /// ```
    pub fn not_like(self, pattern: impl Into<Expr>) -> Expr {
        self.call(StringFunction::NotLike, [pattern.into()])
    }

    /// SQL `NOT ILIKE`.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let e = col("name").str().not_ilike("test%");
    /// ```
    pub fn not_ilike(self, pattern: impl Into<Expr>) -> Expr {
        self.call(StringFunction::NotILike, [pattern.into()])
    }

    /// Whether the regular expression `pattern` matches somewhere in `self`.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let phone = col("s").str().contains(r"^\d{3}-\d{4}$");
    /// ```
    pub fn contains(self, pattern: &str) -> Expr {
        self.call(StringFunction::Contains, [lit(pattern.to_owned())])
    }

    /// Capture group `group` (0: the whole match) of the first match of `pattern`, or null.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let year = col("date").str().extract(r"(\d{4})-\d\d", 1);
    /// ```
    pub fn extract(self, pattern: &str, group: usize) -> Expr {
        self.call(StringFunction::Extract { group }, [lit(pattern.to_owned())])
    }

    /// Replaces the first match of `pattern` (a regular expression, or plain text when
    /// `literal`) by `value` (where `$1` names a group unless `literal`).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let e = col("s").str().replace("-", "/", true);
    /// assert_eq!(e.to_string(), "replace(s, '-', '/', true)");
    /// ```
    pub fn replace(self, pattern: &str, value: &str, literal: bool) -> Expr {
        let func = StringFunction::Replace {
            literal,
            all: false,
        };
        self.call(func, [lit(pattern.to_owned()), lit(value.to_owned())])
    }

    /// Replaces every match of `pattern`, as [`replace`](Self::replace).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let digits = col("phone").str().replace_all(r"\D", "", false);
    /// ```
    pub fn replace_all(self, pattern: &str, value: &str, literal: bool) -> Expr {
        let func = StringFunction::Replace { literal, all: true };
        self.call(func, [lit(pattern.to_owned()), lit(value.to_owned())])
    }

    /// Characters `offset..offset + length`: `offset` 0-based, negative from the end;
    /// `length` `None` to the end (Polars' `slice`).
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let first3 = col("s").str().slice(0, Some(3));
    /// let last2 = col("s").str().slice(-2, None);
    /// assert_eq!(last2.to_string(), "slice(s, -2, null)");
    /// ```
    pub fn slice(self, offset: i64, length: Option<u64>) -> Expr {
        self.call(StringFunction::Slice { offset, length }, [])
    }

    /// Padded at the start with `fill` to `length` characters; a longer string is kept.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let e = col("id").str().pad_start(5, '0');
    /// assert_eq!(e.to_string(), "pad_start(id, 5, '0')");
    /// ```
    pub fn pad_start(self, length: usize, fill: char) -> Expr {
        self.call(StringFunction::PadStart { length, fill }, [])
    }

    /// Padded at the end with `fill` to `length` characters; a longer string is kept.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let e = col("name").str().pad_end(10, ' ');
    /// ```
    pub fn pad_end(self, length: usize, fill: char) -> Expr {
        self.call(StringFunction::PadEnd { length, fill }, [])
    }

    /// SQL `split_part`: field `index` (1-based, negative from the end) of `self` split at
    /// `by`, `""` when there is none.
    ///
    /// ```
    /// use spillway_planner::expr::col;
    /// let domain = col("email").str().split_part("@", 2);
    /// assert_eq!(domain.to_string(), "split_part(email, '@', 2)");
    /// ```
    pub fn split_part(self, by: &str, index: i64) -> Expr {
        self.call(StringFunction::SplitPart { index }, [lit(by.to_owned())])
    }
}

/// The values of `exprs` (strings, or numbers, Booleans, dates written as strings) joined
/// by `separator`, as `Utf8View`; null when any is null (Polars' `concat_str`).
///
/// ```
/// use spillway_planner::expr::{col, lit};
/// use spillway_planner::functions::concat_str;
/// let e = concat_str([col("first"), lit("X"), col("last")], " ");
/// assert_eq!(e.to_string(), "concat_str(first, 'X', last, ' ')");
/// ```
pub fn concat_str(exprs: impl IntoIterator<Item = Expr>, separator: &str) -> Expr {
    let mut args: Vec<Expr> = exprs.into_iter().collect();
    let columns = args.len();
    args.push(lit(separator.to_owned()));
    Expr::call(StringFunction::ConcatStr { columns }, args)
}
