//! Sort keys: an expression with a direction and a place for nulls.

use std::fmt;

use arrow::compute::SortOptions;

use crate::expr::Expr;

/// One key of a sort: `col("x").desc().nulls_first()`.
///
/// The default is ascending with nulls last, as in pandas and SQL engines' `ASC`.
#[derive(Clone, Debug)]
pub struct SortKey {
    /// What is compared.
    pub expr: Expr,
    /// Largest first.
    pub descending: bool,
    /// Nulls before every value.
    pub nulls_first: bool,
}

impl SortKey {
    /// Ascending, nulls last.
    pub fn new(expr: Expr) -> Self {
        SortKey {
            expr,
            descending: false,
            nulls_first: false,
        }
    }

    /// Nulls before every value.
    pub fn nulls_first(mut self) -> Self {
        self.nulls_first = true;
        self
    }

    /// Nulls after every value.
    pub fn nulls_last(mut self) -> Self {
        self.nulls_first = false;
        self
    }

    /// Arrow's options for this key.
    pub fn options(&self) -> SortOptions {
        SortOptions {
            descending: self.descending,
            nulls_first: self.nulls_first,
        }
    }
}

impl From<Expr> for SortKey {
    fn from(expr: Expr) -> Self {
        SortKey::new(expr)
    }
}

impl Expr {
    /// This expression as an ascending sort key (nulls last).
    pub fn asc(self) -> SortKey {
        SortKey::new(self)
    }

    /// This expression as a descending sort key (nulls last).
    pub fn desc(self) -> SortKey {
        SortKey {
            descending: true,
            ..SortKey::new(self)
        }
    }
}

impl fmt::Display for SortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} NULLS {}",
            self.expr,
            if self.descending { "DESC" } else { "ASC" },
            if self.nulls_first { "FIRST" } else { "LAST" }
        )
    }
}
