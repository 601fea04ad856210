//! User closures in plans: element-wise `apply` and whole-partition `map_partitions`.
//!
//! The output type of an element-wise closure comes from its Rust signature, so unlike
//! Dask's `apply(f, meta=...)` nothing has to be declared: `|n: i64| -> f64` maps an
//! integer column to a `Float64` one. The traits here connect Rust types to Arrow types:
//!
//! - [`Element`]: a Rust type with an Arrow type (`i64` ↔ `Int64`, `String` ↔ `Utf8View`,
//!   `chrono::NaiveDate` ↔ `Date32`).
//! - [`ApplyArg`]: what a closure takes. `T` is called only for non-null values (a null
//!   input gives a null output); `Option<T>` sees the nulls too.
//! - [`ApplyOut`]: what a closure returns. `T`, `Option<T>` (null), or `Result<_, E>` with
//!   `E: Into<UserError>` (an error type, a `String`, a `&str`) for a closure that can
//!   fail: the error stops the computation, names the value it failed on, and is kept as
//!   the [`Error::UserFunction`]'s source.
//!
//! Both kinds of closure are called behind `catch_unwind`: a panic becomes
//! [`Error::UserPanic`] instead of unwinding through the engine.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::*;
use arrow::record_batch::RecordBatch;

pub use crate::element::Element;
use crate::error::{UserError, panic_message};
use crate::scalar::ScalarValue;
use crate::{Error, Result};

/// What an element-wise closure takes: `T` (nulls skipped) or `Option<T>` (nulls seen).
pub trait ApplyArg: Sized + 'static {
    /// The column's element type.
    type Elem: Element;
    /// `None` when the closure is not to be called for this value (a null for a `T` closure).
    fn from_elem(value: Option<Self::Elem>) -> Option<Self>;
}

/// What an element-wise closure returns: `T`, `Option<T>`, or a `Result` of either.
pub trait ApplyOut: 'static {
    /// The output column's element type.
    type Elem: Element;
    /// The value to store, or the closure's error.
    fn into_elem(self) -> Result<Option<Self::Elem>, UserError>;
}

macro_rules! apply_types {
    ($($t:ty),* $(,)?) => {$(
        impl ApplyArg for $t {
            type Elem = $t;
            fn from_elem(value: Option<$t>) -> Option<Self> { value }
        }
        impl ApplyArg for Option<$t> {
            type Elem = $t;
            fn from_elem(value: Option<$t>) -> Option<Self> { Some(value) }
        }
        impl ApplyOut for $t {
            type Elem = $t;
            fn into_elem(self) -> Result<Option<$t>, UserError> { Ok(Some(self)) }
        }
        impl ApplyOut for Option<$t> {
            type Elem = $t;
            fn into_elem(self) -> Result<Option<$t>, UserError> { Ok(self) }
        }
        impl<E: Into<UserError> + 'static> ApplyOut for Result<$t, E> {
            type Elem = $t;
            fn into_elem(self) -> Result<Option<$t>, UserError> { self.map(Some).map_err(Into::into) }
        }
        impl<E: Into<UserError> + 'static> ApplyOut for Result<Option<$t>, E> {
            type Elem = $t;
            fn into_elem(self) -> Result<Option<$t>, UserError> { self.map_err(Into::into) }
        }
    )*};
}

apply_types!(
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    f32,
    f64,
    bool,
    String,
    chrono::NaiveDate
);

impl ApplyOut for &'static str {
    type Elem = &'static str;
    fn into_elem(self) -> Result<Option<&'static str>, UserError> {
        Ok(Some(self))
    }
}

type ArrayFn = dyn Fn(&dyn Array) -> Result<ArrayRef> + Send + Sync;

/// A type-erased element-wise closure with its input and output Arrow types.
#[derive(Clone)]
pub struct ElementFn {
    name: Arc<str>,
    input_type: DataType,
    output_type: DataType,
    f: Arc<ArrayFn>,
}

impl ElementFn {
    /// Wraps `f`; its argument and return types fix the input and output column types.
    pub fn new<A, R, F>(f: F) -> Self
    where
        A: ApplyArg,
        R: ApplyOut,
        F: Fn(A) -> R + Send + Sync + 'static,
    {
        let name: Arc<str> = short_type_name::<F>().into();
        let fname = Arc::clone(&name);
        let array_fn = move |array: &dyn Array| -> Result<ArrayRef> {
            let mut out: Vec<Option<R::Elem>> = Vec::with_capacity(array.len());
            A::Elem::try_for_each(array, |v| {
                match A::from_elem(v) {
                    None => out.push(None),
                    Some(a) => match f(a).into_elem() {
                        Ok(o) => out.push(o),
                        Err(e) => {
                            // Formatted only here: the hot path does no formatting.
                            let value = ScalarValue::from_array_index(array, out.len());
                            return Err(Error::UserFunction {
                                function: fname.to_string(),
                                value: Some(value.to_string()),
                                message: e.to_string(),
                                source: Some(e),
                            });
                        }
                    },
                }
                Ok(())
            })?;
            Ok(R::Elem::build(out))
        };
        ElementFn {
            name,
            input_type: A::Elem::data_type(),
            output_type: R::Elem::data_type(),
            f: Arc::new(array_fn),
        }
    }

    /// The closure's name (its Rust type path, shortened).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Arrow type the closure takes; the input column is cast to it.
    pub fn input_type(&self) -> &DataType {
        &self.input_type
    }

    /// The Arrow type the closure returns.
    pub fn output_type(&self) -> &DataType {
        &self.output_type
    }

    /// Runs the closure over `array` (already of [`ElementFn::input_type`]).
    ///
    /// # Errors
    /// [`Error::UserFunction`] when the closure returns an error, [`Error::UserPanic`] when
    /// it panics.
    pub fn call(&self, array: &dyn Array) -> Result<ArrayRef> {
        match catch_unwind(AssertUnwindSafe(|| (self.f)(array))) {
            Ok(result) => result,
            Err(payload) => Err(Error::UserPanic {
                function: self.name.to_string(),
                message: panic_message(payload.as_ref()),
            }),
        }
    }
}

impl fmt::Debug for ElementFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}({} -> {})",
            self.name, self.input_type, self.output_type
        )
    }
}

type BatchFn = dyn Fn(RecordBatch) -> Result<RecordBatch, UserError> + Send + Sync;

/// A type-erased closure over a whole partition, with the schema it declares it returns.
#[derive(Clone)]
pub struct PartitionFn {
    name: Arc<str>,
    schema: SchemaRef,
    f: Arc<BatchFn>,
}

impl PartitionFn {
    /// Wraps `f`, which promises to return batches of `schema`.
    pub fn new<F, E>(schema: SchemaRef, f: F) -> Self
    where
        F: Fn(RecordBatch) -> Result<RecordBatch, E> + Send + Sync + 'static,
        E: Into<UserError>,
    {
        PartitionFn {
            name: short_type_name::<F>().into(),
            schema,
            f: Arc::new(move |b| f(b).map_err(Into::into)),
        }
    }

    /// As [`PartitionFn::new`], called `name` in errors and plans: for an adapter around
    /// a user's closure, named after the user's closure.
    pub fn named<F, E>(name: &str, schema: SchemaRef, f: F) -> Self
    where
        F: Fn(RecordBatch) -> Result<RecordBatch, E> + Send + Sync + 'static,
        E: Into<UserError>,
    {
        PartitionFn {
            name: name.into(),
            ..PartitionFn::new(schema, f)
        }
    }

    /// The closure's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The declared output schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Runs the closure on one partition and checks its output against the declared schema.
    ///
    /// # Errors
    /// [`Error::UserFunction`], [`Error::UserPanic`], or [`Error::SchemaMismatch`] when the
    /// returned columns' names or types differ from the declaration.
    pub fn call(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let out = match catch_unwind(AssertUnwindSafe(|| (self.f)(batch))) {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => {
                return Err(Error::UserFunction {
                    function: self.name.to_string(),
                    value: None,
                    message: e.to_string(),
                    source: Some(e),
                });
            }
            Err(payload) => {
                return Err(Error::UserPanic {
                    function: self.name.to_string(),
                    message: panic_message(payload.as_ref()),
                });
            }
        };
        let same = out.schema().fields().len() == self.schema.fields().len()
            && out
                .schema()
                .fields()
                .iter()
                .zip(self.schema.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same {
            return Err(Error::SchemaMismatch {
                function: self.name.to_string(),
                expected: describe_schema(&self.schema),
                found: describe_schema(&out.schema()),
            });
        }
        RecordBatch::try_new(Arc::clone(&self.schema), out.columns().to_vec()).map_err(|e| {
            Error::SchemaMismatch {
                function: self.name.to_string(),
                expected: describe_schema(&self.schema),
                found: format!("{} ({e})", describe_schema(&out.schema())),
            }
        })
    }
}

impl fmt::Debug for PartitionFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.name, describe_schema(&self.schema))
    }
}

/// `[a: Int64, b: Utf8View]`.
pub fn describe_schema(schema: &Schema) -> String {
    let cols: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect();
    format!("[{}]", cols.join(", "))
}

/// The name of a closure or function type, shortened to its last three path segments
/// (`my_crate::main::{{closure}}` stays whole, `a::b::c::sample` becomes `b::c::sample`):
/// short enough to read in an error, long enough to find the code.
pub fn short_type_name<F>() -> String {
    let full = std::any::type_name::<F>();
    let parts: Vec<&str> = full.split("::").collect();
    let keep = parts.len().min(3);
    parts[parts.len() - keep..].join("::")
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::BooleanArray;
    use arrow::array::Int64Array;

    #[test]
    fn element_fn_types_come_from_the_signature() {
        let f = ElementFn::new(|n: i64| n as f64 * 0.5);
        assert_eq!(f.input_type(), &DataType::Int64);
        assert_eq!(f.output_type(), &DataType::Float64);
        let out = f
            .call(&Int64Array::from(vec![Some(2), None, Some(4)]))
            .unwrap();
        let out = out
            .as_any()
            .downcast_ref::<arrow::array::Float64Array>()
            .unwrap();
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            vec![Some(1.0), None, Some(2.0)]
        );
    }

    #[test]
    fn option_args_see_nulls_and_errors_name_the_value() {
        let f = ElementFn::new(|n: Option<i64>| n.is_none());
        let out = f.call(&Int64Array::from(vec![Some(2), None])).unwrap();
        assert!(
            out.as_any()
                .downcast_ref::<BooleanArray>()
                .unwrap()
                .value(1)
        );

        let g = ElementFn::new(|n: i64| {
            if n > 3 {
                Err(format!("{n} too big"))
            } else {
                Ok(n)
            }
        });
        let err = g.call(&Int64Array::from(vec![1, 7])).unwrap_err();
        assert!(err.to_string().contains("on value 7: 7 too big"), "{err}");
    }

    #[test]
    fn closures_take_and_give_dates() {
        use arrow::array::{Array, Date32Array};
        use chrono::{Datelike, NaiveDate};
        let f = ElementFn::new(|d: NaiveDate| d.with_day(1));
        assert_eq!(f.input_type(), &DataType::Date32);
        assert_eq!(f.output_type(), &DataType::Date32);
        let out = f
            .call(&Date32Array::from(vec![Some(19_782), None, Some(-1)]))
            .unwrap();
        let out = out.as_any().downcast_ref::<Date32Array>().unwrap();
        let first = |y, m| Date32Type::from_naive_date(NaiveDate::from_ymd_opt(y, m, 1).unwrap());
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            vec![Some(first(2024, 2)), None, Some(first(1969, 12))]
        );
        // Past chrono's ±262,000 years: an error, not a panic.
        let err = f.call(&Date32Array::from(vec![i32::MAX])).unwrap_err();
        assert!(err.to_string().contains("2147483647 days"), "{err}");
    }

    #[test]
    fn panics_are_caught() {
        let f = ElementFn::new(|n: i64| -> i64 {
            if n == 2 { panic!("boom at two") } else { n }
        });
        let err = f.call(&Int64Array::from(vec![1, 2])).unwrap_err();
        assert!(matches!(&err, Error::UserPanic { message, .. } if message == "boom at two"));
    }
}
