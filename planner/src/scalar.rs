//! Single values: literals in expressions and the results of reductions.
//!
//! A [`ScalarValue`] is a one-element Arrow array, so every Arrow type is a scalar type
//! without a parallel enum to keep in sync, and Arrow's kernels (cast, compare, min, max)
//! work on scalars as they do on columns.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Scalar, new_null_array};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::udf::Element;
use crate::{Error, Result};

/// One value of any Arrow type, possibly null.
#[derive(Clone)]
pub struct ScalarValue(ArrayRef);

impl ScalarValue {
    /// Wraps a one-element array. Returns an internal error for any other length.
    pub fn try_from_array(array: ArrayRef) -> Result<Self> {
        if array.len() != 1 {
            return Err(Error::Internal(format!(
                "a scalar needs a one-element array, got {} elements",
                array.len()
            )));
        }
        Ok(ScalarValue(array))
    }

    /// The value at `index` of `array`.
    pub fn from_array_index(array: &dyn Array, index: usize) -> Self {
        ScalarValue(array.slice(index, 1))
    }

    /// A null of type `data_type`.
    pub fn null(data_type: &DataType) -> Self {
        ScalarValue(new_null_array(data_type, 1))
    }

    /// A value of a Rust type that maps to Arrow ([`Element`]).
    pub fn new<T: Element>(value: T) -> Self {
        ScalarValue(T::build(std::iter::once(Some(value))))
    }

    /// The Arrow type of the value.
    pub fn data_type(&self) -> &DataType {
        self.0.data_type()
    }

    /// Whether the value is null.
    pub fn is_null(&self) -> bool {
        self.0.is_null(0)
    }

    /// The value as a one-element array.
    pub fn as_array(&self) -> &ArrayRef {
        &self.0
    }

    /// The value as an Arrow [`Datum`] for kernels that broadcast a scalar over a column.
    pub fn to_datum(&self) -> Scalar<ArrayRef> {
        Scalar::new(Arc::clone(&self.0))
    }

    /// The value converted to type `to` with Arrow's cast rules (errors instead of nulls).
    pub fn cast_to(&self, to: &DataType) -> Result<Self> {
        if self.data_type() == to {
            return Ok(self.clone());
        }
        let opts = arrow::compute::CastOptions {
            safe: false,
            ..Default::default()
        };
        arrow::compute::cast_with_options(&self.0, to, &opts)
            .map(ScalarValue)
            .map_err(|e| Error::compute(format!("cast of {self} to {to}"), e))
    }

    /// Converts to a Rust value. A null becomes an error unless `T` is an `Option`, except
    /// that a null floating-point result becomes `NaN`, as in pandas.
    ///
    /// # Errors
    /// [`Error::Conversion`] when the value does not fit `T`.
    pub fn to_value<T: FromScalar>(&self) -> Result<T> {
        T::from_scalar(self)
    }
}

impl<T: Element> From<T> for ScalarValue {
    fn from(value: T) -> Self {
        ScalarValue::new(value)
    }
}

impl fmt::Display for ScalarValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opts = FormatOptions::default().with_null("null");
        match ArrayFormatter::try_new(self.0.as_ref(), &opts) {
            Ok(fmt) => {
                let quote = matches!(
                    self.data_type(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) && !self.is_null();
                if quote {
                    write!(f, "'{}'", fmt.value(0))
                } else {
                    write!(f, "{}", fmt.value(0))
                }
            }
            Err(_) => write!(f, "<{}>", self.data_type()),
        }
    }
}

impl fmt::Debug for ScalarValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}::{}", self.data_type())
    }
}

impl PartialEq for ScalarValue {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_data() == other.0.to_data()
    }
}

/// Rust types a [`ScalarValue`] converts to, for `compute()` on a reduction.
pub trait FromScalar: Sized {
    /// The conversion.
    ///
    /// # Errors
    /// [`Error::Conversion`] when the value does not fit.
    fn from_scalar(value: &ScalarValue) -> Result<Self>;
}

impl FromScalar for ScalarValue {
    fn from_scalar(value: &ScalarValue) -> Result<Self> {
        Ok(value.clone())
    }
}

impl<T: Element> FromScalar for Option<T> {
    fn from_scalar(value: &ScalarValue) -> Result<Self> {
        if value.is_null() {
            return Ok(None);
        }
        let cast = value
            .cast_to(&T::data_type())
            .map_err(|_| Error::Conversion {
                value: format!("{value:?}"),
                target: std::any::type_name::<T>(),
            })?;
        Ok(T::values(cast.as_array())?.next().flatten())
    }
}

macro_rules! from_scalar_non_null {
    ($($t:ty => $null:expr),* $(,)?) => {$(
        impl FromScalar for $t {
            fn from_scalar(value: &ScalarValue) -> Result<Self> {
                match Option::<$t>::from_scalar(value)? {
                    Some(v) => Ok(v),
                    None => $null.ok_or_else(|| Error::Conversion {
                        value: format!("{value:?}"),
                        target: concat!(stringify!($t), " (the result is null: ask for Option<", stringify!($t), ">)"),
                    }),
                }
            }
        }
    )*};
}

from_scalar_non_null!(
    f64 => Some(f64::NAN),
    f32 => Some(f32::NAN),
    i8 => None::<i8>, i16 => None::<i16>, i32 => None::<i32>, i64 => None::<i64>,
    u8 => None::<u8>, u16 => None::<u16>, u32 => None::<u32>, u64 => None::<u64>,
    bool => None::<bool>, String => None::<String>,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_convert() {
        let s = ScalarValue::from(3i64);
        assert_eq!(s.to_string(), "3");
        assert_eq!(s.to_value::<i64>().unwrap(), 3);
        assert_eq!(s.to_value::<f64>().unwrap(), 3.0);
        assert_eq!(ScalarValue::from("a".to_string()).to_string(), "'a'");
        let n = ScalarValue::null(&DataType::Float64);
        assert!(n.to_value::<f64>().unwrap().is_nan());
        assert_eq!(n.to_value::<Option<f64>>().unwrap(), None);
        assert!(matches!(
            ScalarValue::null(&DataType::Int64).to_value::<i64>(),
            Err(Error::Conversion { .. })
        ));
    }
}
