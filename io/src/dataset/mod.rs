//! Datasets of many files: checking that their schemas agree.

use arrow::datatypes::{Field, Schema};
use spillway_planner::{Error, Result};
use std::path::Path;

/// `schema` (the dataset's so far, taken from `first`) checked against the schema of
/// `path`: the same column names, in the same order, of the same types. A column becomes
/// nullable when it is in either. The error names both files and the first difference.
pub(crate) fn check_same_schema(
    first: &Path,
    schema: &Schema,
    path: &Path,
    other: &Schema,
) -> Result<Schema> {
    let differs = |message: String| Error::SchemaDiffers {
        first: first.to_path_buf(),
        path: path.to_path_buf(),
        message,
    };
    let names = |s: &Schema| {
        s.fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if schema.fields().len() != other.fields().len() {
        return Err(differs(format!(
            "it has {} columns [{}] where the first has {} [{}]",
            other.fields().len(),
            names(other),
            schema.fields().len(),
            names(schema),
        )));
    }
    let mut fields: Vec<Field> = Vec::with_capacity(schema.fields().len());
    for (i, (mine, theirs)) in schema.fields().iter().zip(other.fields()).enumerate() {
        if mine.name() != theirs.name() {
            return Err(differs(format!(
                "column {i} is '{}' where the first has '{}'",
                theirs.name(),
                mine.name()
            )));
        }
        if mine.data_type() != theirs.data_type() {
            return Err(differs(format!(
                "column '{}' is {} where the first has {}",
                mine.name(),
                theirs.data_type(),
                mine.data_type()
            )));
        }
        let nullable = mine.is_nullable() || theirs.is_nullable();
        fields.push(mine.as_ref().clone().with_nullable(nullable));
    }
    Ok(Schema::new(fields))
}
