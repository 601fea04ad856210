//! [`Element`]: a Rust type that is also an Arrow type (`i64` ↔ `Int64`, `String` ↔
//! `Utf8View`, `chrono::NaiveDate` ↔ `Date32`), what typed closures take and return and what scalars convert to. A leaf:
//! it imports nothing of the crate but the error type, so `scalar` and `udf` both use it.

use std::fmt;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, BooleanArray, Date32Array, PrimitiveArray, StringViewArray,
};
use arrow::datatypes::*;
use chrono::NaiveDate;

use crate::{Error, Result};

/// A Rust type that is also an Arrow type.
pub trait Element: Sized + Send + Sync + fmt::Debug + 'static {
    /// The Arrow type of a column of these values.
    fn data_type() -> DataType;

    /// Calls `f` with each value of `array`, which must be of [`Element::data_type`];
    /// stops at the first error `f` returns.
    fn try_for_each<F: FnMut(Option<Self>) -> Result<()>>(array: &dyn Array, f: F) -> Result<()>;

    /// An array of [`Element::data_type`] holding `values`.
    fn build<I: IntoIterator<Item = Option<Self>>>(values: I) -> ArrayRef;

    /// The values of `array` (of [`Element::data_type`]), collected.
    fn values(array: &dyn Array) -> Result<std::vec::IntoIter<Option<Self>>> {
        let mut out = Vec::with_capacity(array.len());
        Self::try_for_each(array, |v| {
            out.push(v);
            Ok(())
        })?;
        Ok(out.into_iter())
    }
}

/// `array` as an `A`, or an internal error naming `want`.
pub(crate) fn downcast<'a, A: 'static>(array: &'a dyn Array, want: &str) -> Result<&'a A> {
    array.as_any().downcast_ref::<A>().ok_or_else(|| {
        Error::Internal(format!(
            "expected a {want} array, got {}",
            array.data_type()
        ))
    })
}

macro_rules! primitive_element {
    ($($t:ty => $arrow:ty),* $(,)?) => {$(
        impl Element for $t {
            fn data_type() -> DataType {
                <$arrow as ArrowPrimitiveType>::DATA_TYPE
            }
            fn try_for_each<F: FnMut(Option<Self>) -> Result<()>>(array: &dyn Array, mut f: F) -> Result<()> {
                let a = downcast::<PrimitiveArray<$arrow>>(array, stringify!($t))?;
                if a.null_count() == 0 {
                    a.values().iter().try_for_each(|v| f(Some(*v)))
                } else {
                    a.iter().try_for_each(f)
                }
            }
            fn build<I: IntoIterator<Item = Option<Self>>>(values: I) -> ArrayRef {
                Arc::new(values.into_iter().collect::<PrimitiveArray<$arrow>>())
            }
        }
    )*};
}

primitive_element!(
    i8 => Int8Type, i16 => Int16Type, i32 => Int32Type, i64 => Int64Type,
    u8 => UInt8Type, u16 => UInt16Type, u32 => UInt32Type, u64 => UInt64Type,
    f32 => Float32Type, f64 => Float64Type,
);

impl Element for bool {
    fn data_type() -> DataType {
        DataType::Boolean
    }
    fn try_for_each<F: FnMut(Option<Self>) -> Result<()>>(array: &dyn Array, f: F) -> Result<()> {
        downcast::<BooleanArray>(array, "bool")?
            .iter()
            .try_for_each(f)
    }
    fn build<I: IntoIterator<Item = Option<Self>>>(values: I) -> ArrayRef {
        Arc::new(values.into_iter().collect::<BooleanArray>())
    }
}

/// Strings are `Utf8View` inside the engine (the canonical string type, shared with Polars).
impl Element for String {
    fn data_type() -> DataType {
        DataType::Utf8View
    }
    fn try_for_each<F: FnMut(Option<Self>) -> Result<()>>(
        array: &dyn Array,
        mut f: F,
    ) -> Result<()> {
        downcast::<StringViewArray>(array, "String")?
            .iter()
            .try_for_each(|v| f(v.map(str::to_owned)))
    }
    fn build<I: IntoIterator<Item = Option<Self>>>(values: I) -> ArrayRef {
        Arc::new(values.into_iter().collect::<StringViewArray>())
    }
}

/// Dates are `Date32`, days since 1970-01-01, as Arrow and Polars store them.
impl Element for NaiveDate {
    fn data_type() -> DataType {
        DataType::Date32
    }
    fn try_for_each<F: FnMut(Option<Self>) -> Result<()>>(
        array: &dyn Array,
        mut f: F,
    ) -> Result<()> {
        downcast::<Date32Array>(array, "NaiveDate")?
            .iter()
            .try_for_each(|v| {
                // Date32 reaches ±5.8 million years, chrono ±262,000.
                let date = v.map(|days| {
                    Date32Type::to_naive_date_opt(days).ok_or_else(|| Error::Conversion {
                        value: format!("{days} days from 1970-01-01"),
                        target: "chrono::NaiveDate",
                    })
                });
                f(date.transpose()?)
            })
    }
    fn build<I: IntoIterator<Item = Option<Self>>>(values: I) -> ArrayRef {
        let days = values
            .into_iter()
            .map(|d| d.map(Date32Type::from_naive_date));
        Arc::new(days.collect::<Date32Array>())
    }
}

impl Element for &'static str {
    fn data_type() -> DataType {
        DataType::Utf8View
    }
    fn try_for_each<F: FnMut(Option<Self>) -> Result<()>>(_: &dyn Array, _: F) -> Result<()> {
        Err(Error::Plan(
            "a closure cannot borrow `&str` from a column: take `String`".into(),
        ))
    }
    fn build<I: IntoIterator<Item = Option<Self>>>(values: I) -> ArrayRef {
        Arc::new(values.into_iter().collect::<StringViewArray>())
    }
}
