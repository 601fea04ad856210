//! The schemas of a dataset's files: the check that they agree, and the engine's view
//! types for strings and binaries.

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef, Schema};
use spillway_planner::{Error, Result};

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

/// `field` with string and binary types replaced by their view types, also inside
/// dictionaries (read as plain views: the engine has one string type), lists and structs.
pub(crate) fn view_field(field: &FieldRef) -> FieldRef {
    let data_type = view_type(field.data_type());
    if &data_type == field.data_type() {
        Arc::clone(field)
    } else {
        Arc::new(field.as_ref().clone().with_data_type(data_type))
    }
}

/// `data_type` with string and binary types replaced by their view types (see
/// [`view_field`]): `Utf8` and `LargeUtf8` become `Utf8View`, `Binary` and `LargeBinary`
/// become `BinaryView`.
pub(crate) fn view_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
        DataType::Binary | DataType::LargeBinary => DataType::BinaryView,
        DataType::Dictionary(_, value) => match view_type(value) {
            v @ (DataType::Utf8View | DataType::BinaryView) => v,
            _ => data_type.clone(),
        },
        DataType::List(f) => DataType::List(view_field(f)),
        DataType::LargeList(f) => DataType::LargeList(view_field(f)),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(view_field(f), *n),
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(view_field).collect()),
        other => other.clone(),
    }
}
