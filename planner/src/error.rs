//! The one error type of Spillway.
//!
//! Variants are grouped by whose fault the error is, so that a caller can decide what to do
//! with it: the user's plan (fix the code), the user's functions (fix the closure), the data
//! (fix the input), resources (give more memory or disk), I/O, and finally bugs in Spillway.
//! Every variant names what is wrong: the column, the file, the task and partition.

use std::path::PathBuf;

use arrow::error::ArrowError;

/// A user closure's error, kept as the error it is: the `source` of
/// [`Error::UserFunction`], to downcast to the closure's own type. A closure may return
/// anything that is `Into<UserError>`: an error type, a `String` or a `&str`.
pub type UserError = Box<dyn std::error::Error + Send + Sync>;

/// The available name closest to `name`, when one is close enough to be what was meant:
/// the same but for case, one containing the other, or a few edits away (a third of the
/// name's length, at least one, and fewer than its length).
fn closest<'a>(name: &str, available: &'a [String]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let len = name.chars().count();
    let budget = (len / 3).max(1);
    available
        .iter()
        .filter_map(|c| {
            let other = c.to_lowercase();
            let d = edits(&lower, &other);
            let close = other == lower
                || (d <= budget && d < len)
                || (lower.len() >= 3 && (other.contains(&lower) || lower.contains(&other)));
            close.then_some((d, c.as_str()))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The Levenshtein distance of `a` and `b`, in characters.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(prev + usize::from(ca != *cb));
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Result with Spillway's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in Spillway.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- the user's plan: caught when the lazy plan is built, before anything runs ----
    /// A column name that the input does not have.
    #[error(
        "column '{name}' not found{}; available columns: [{}]",
        closest(name, available).map(|c| format!("; did you mean \"{c}\"?")).unwrap_or_default(),
        available.join(", ")
    )]
    ColumnNotFound {
        /// The name asked for.
        name: String,
        /// The columns that do exist at that point of the plan.
        available: Vec<String>,
    },
    /// An expression or operator applied to a type it does not support.
    #[error("type error in {context}: {message}")]
    Type {
        /// The expression or operator, as the user wrote it.
        context: String,
        /// What is wrong with the types.
        message: String,
    },
    /// A plan that cannot be built for another reason (an empty `select`, a bad argument).
    #[error("invalid plan: {0}")]
    Plan(String),
    /// A configuration value that is out of range or cannot be parsed.
    #[error("invalid configuration: {0}")]
    Config(String),

    // ---- the user's functions: closures passed to apply / map_partitions ----
    /// A user closure returned an error.
    #[error("user function {function} failed{}: {message}", value.as_ref().map(|v| format!(" on value {v}")).unwrap_or_default())]
    UserFunction {
        /// Which closure (its place in the plan).
        function: String,
        /// The input value it failed on, when the closure is element-wise.
        value: Option<String>,
        /// The closure's own error, displayed.
        message: String,
        /// The closure's own error itself (`apply`, `map_partitions`, the `try_` parallel
        /// maps, `try_submit`): this error's `source()`, to downcast to the closure's type.
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A user closure panicked; the panic was caught and the rest of the graph cancelled.
    #[error("user function {function} panicked: {message}")]
    UserPanic {
        /// Which closure (its place in the plan).
        function: String,
        /// The panic payload, when it was a string.
        message: String,
    },
    /// `map_partitions` returned a batch whose schema is not the one declared for it.
    #[error("{function} returned columns {found} but declared {expected}")]
    SchemaMismatch {
        /// Which closure.
        function: String,
        /// The declared schema, as `name: type` pairs.
        expected: String,
        /// What the closure returned.
        found: String,
    },

    // ---- the data ----
    /// A path or glob that matches no file.
    #[error("no files match '{pattern}'")]
    NoFiles {
        /// The path or glob as given.
        pattern: String,
    },
    /// A file that cannot be decoded (corrupt, truncated, not the format it claims).
    #[error("cannot read {}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        message: String,
    },
    /// A row of a text file (CSV) that cannot be read: a wrong number of fields, a value
    /// that does not parse as its column's type, a quote left open at the end of the file.
    #[error("malformed row in {} at line {line}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line the row starts on, counted from 1 from the start of the file.
        line: u64,
        /// What is wrong with the row.
        message: String,
    },
    /// Files of one dataset whose schemas differ.
    #[error("schema of {} differs from {}: {message}", path.display(), first.display())]
    SchemaDiffers {
        /// The first file, whose schema the dataset takes.
        first: PathBuf,
        /// The file that differs.
        path: PathBuf,
        /// How they differ.
        message: String,
    },
    /// A computation over the data failed (division by zero, overflow in a cast, ...).
    #[error("compute error in {context}: {source}")]
    Compute {
        /// The expression or operator that failed.
        context: String,
        /// Arrow's error.
        source: ArrowError,
    },
    /// A reduction's result could not be converted to the Rust type asked for.
    #[error("cannot convert the result {value} to {target}")]
    Conversion {
        /// The value, displayed.
        value: String,
        /// The Rust type asked for.
        target: &'static str,
    },

    // ---- resources ----
    /// An operator needs more memory than the limit allows and cannot spill any further.
    #[error(
        "resources exhausted in {consumer}: needs {requested} bytes, {available} of the {limit}-byte limit available"
    )]
    ResourcesExhausted {
        /// The operator that asked.
        consumer: String,
        /// Bytes it asked for.
        requested: usize,
        /// Bytes that were free.
        available: usize,
        /// The session's memory limit.
        limit: usize,
    },

    // ---- I/O ----
    /// Reading or writing a file failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// A resumable write that cannot resume: the folder holds an unfinished write of
    /// another plan, or of inputs that changed since.
    #[error("cannot resume the write into {}: {message}", path.display())]
    Resume {
        /// The folder written into.
        path: PathBuf,
        /// Why, and what to do about it.
        message: String,
    },

    // ---- execution ----
    /// An error raised while running one task of the graph, with the task that raised it.
    #[error("task {task} (partition {partition}) failed: {source}")]
    Task {
        /// The task, printed as `stage[index]`.
        task: String,
        /// The partition the task worked on.
        partition: usize,
        /// The error itself.
        source: Box<Error>,
    },
    /// One item of a parallel map failed: its closure returned an error or panicked.
    #[error("item {index} failed: {source}")]
    Item {
        /// The item's position in the input, counted from 0.
        index: usize,
        /// The error itself, usually [`Error::UserFunction`] or [`Error::UserPanic`].
        source: Box<Error>,
    },
    /// The computation was cancelled (by `Session::cancel`, or because another task
    /// failed).
    #[error("the computation was cancelled (by Session::cancel, or because another task failed)")]
    Cancelled,

    // ---- bugs ----
    /// Something that should not happen; always a bug in Spillway.
    #[error("internal error (a bug in Spillway, please report it): {0}")]
    Internal(String),
}

impl Error {
    /// The error with any [`Error::Task`] or [`Error::Item`] context removed: what actually
    /// went wrong.
    pub fn root(&self) -> &Error {
        match self {
            Error::Task { source, .. } | Error::Item { source, .. } => source.root(),
            other => other,
        }
    }

    /// Wraps an Arrow error with the expression or operator that raised it.
    pub fn compute(context: impl Into<String>, source: ArrowError) -> Self {
        Error::Compute {
            context: context.into(),
            source,
        }
    }

    /// A type error for `context`.
    pub fn type_error(context: impl std::fmt::Display, message: impl Into<String>) -> Self {
        Error::Type {
            context: context.to_string(),
            message: message.into(),
        }
    }
}

/// Turns a caught panic payload into a message.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_is_wrong() {
        let e = Error::ColumnNotFound {
            name: "x".into(),
            available: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            e.to_string(),
            "column 'x' not found; available columns: [a, b]"
        );
        let typo = |name: &str| {
            Error::ColumnNotFound {
                name: name.into(),
                available: ["id", "distance_km", "Fare", "pickup_at"]
                    .map(String::from)
                    .to_vec(),
            }
            .to_string()
        };
        assert!(typo("distanse_km").contains("did you mean \"distance_km\"?"));
        assert!(typo("distance").contains("did you mean \"distance_km\"?"));
        assert!(typo("fare").contains("did you mean \"Fare\"?"));
        assert!(typo("pickup_ts").contains("did you mean \"pickup_at\"?"));
        assert!(
            !typo("tip_amount").contains("did you mean"),
            "{}",
            typo("tip_amount")
        );
        let t = Error::Task {
            task: "scan[3]".into(),
            partition: 3,
            source: Box::new(e),
        };
        assert!(
            t.to_string()
                .starts_with("task scan[3] (partition 3) failed: column 'x'")
        );
        assert!(matches!(t.root(), Error::ColumnNotFound { .. }));

        let i = Error::Item {
            index: 7,
            source: Box::new(Error::UserPanic {
                function: "f".into(),
                message: "boom".into(),
            }),
        };
        assert_eq!(
            i.to_string(),
            "item 7 failed: user function f panicked: boom"
        );
        assert!(matches!(i.root(), Error::UserPanic { .. }));
    }
}
