//! Polars interop (cargo feature `polars`): Polars `DataFrame`s in and out, and
//! `map_partitions` with a closure over a Polars `DataFrame` — what pandas is to Dask's
//! `map_partitions`.
//!
//! Arrays cross between arrow-rs and Polars' Arrow through the [Arrow C data
//! interface](https://arrow.apache.org/docs/format/CDataInterface.html): the producer
//! exports its buffers with a release callback and the consumer imports them, so buffers
//! change hands without being copied. Types Polars holds differently from Arrow are
//! converted by Polars on import (`Utf8`/`LargeUtf8` strings become Polars' string views,
//! a copy; Spillway's own `Utf8View` strings are not copied).
//!
//! The types are `polars_core`'s, which are the ones `polars::prelude` re-exports: a
//! program using the `polars` crate of the same version passes its frames in as they are.
//! Only polars' core crate is built, not its query engine or readers.

// The one place with `unsafe`: handing C data interface structs from one Arrow
// implementation to the other (each use has a `SAFETY:` comment).
#![allow(unsafe_code)]

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, make_array, new_empty_array};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use polars_arrow::ffi as pl_ffi;
use polars_core::prelude::{Column, CompatLevel, DataFrame as PolarsFrame, Series};
use spillway_planner::error::UserError;
use spillway_planner::{Error, Result};

fn interop(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::Plan(format!("Polars interop, {what}: {e}"))
}

/// An arrow-rs array as a Polars Arrow array, its buffers handed over.
fn array_to_polars(array: &ArrayRef, name: &str) -> Result<Box<dyn polars_arrow::array::Array>> {
    let (array, schema) = arrow::ffi::to_ffi(&array.to_data()).map_err(|e| interop(name, e))?;
    // SAFETY: `FFI_ArrowArray`/`FFI_ArrowSchema` (arrow-rs) and `ArrowArray`/`ArrowSchema`
    // (polars-arrow) are both `#[repr(C)]` definitions of the C data interface's
    // `struct ArrowArray` and `struct ArrowSchema` (the same fields, in the same order, of
    // the same size: `transmute` checks the sizes when compiling). Moving the struct moves
    // the ownership of its release callback: the arrow-rs value is consumed, so only the
    // polars-arrow value will call it.
    let (array, schema) = unsafe {
        (
            std::mem::transmute::<FFI_ArrowArray, pl_ffi::ArrowArray>(array),
            std::mem::transmute::<FFI_ArrowSchema, pl_ffi::ArrowSchema>(schema),
        )
    };
    // SAFETY: `schema` was just exported by arrow-rs from a valid array, so it follows the
    // C data interface.
    let field = unsafe { pl_ffi::import_field_from_c(&schema) }.map_err(|e| interop(name, e))?;
    // SAFETY: `array` was exported by arrow-rs together with `schema`, whose type
    // `field` carries; importing takes ownership of its buffers.
    unsafe { pl_ffi::import_array_from_c(array, field.dtype().clone()) }
        .map_err(|e| interop(name, e))
}

/// A Polars Arrow array as an arrow-rs array, its buffers handed over.
fn array_from_polars(array: Box<dyn polars_arrow::array::Array>, name: &str) -> Result<ArrayRef> {
    let field = polars_arrow::datatypes::Field::new(name.into(), array.dtype().clone(), true);
    let schema = pl_ffi::export_field_to_c(&field);
    let array = pl_ffi::export_array_to_c(array);
    // SAFETY: as in `array_to_polars`, the other way round: the same C structs, ownership
    // of the release callbacks moving with the values.
    let (array, schema) = unsafe {
        (
            std::mem::transmute::<pl_ffi::ArrowArray, FFI_ArrowArray>(array),
            std::mem::transmute::<pl_ffi::ArrowSchema, FFI_ArrowSchema>(schema),
        )
    };
    // SAFETY: polars-arrow exported `array` and `schema` together from a valid array.
    let data = unsafe { arrow::ffi::from_ffi(array, &schema) }.map_err(|e| interop(name, e))?;
    Ok(make_array(data))
}

/// A Polars frame's rows as record batches, one per chunk (chunks are aligned across
/// columns first, which copies only columns chunked differently from the others).
///
/// # Errors
/// [`Error::Plan`] for a frame without columns, or a type the interface cannot carry.
pub fn batches_from_polars(frame: &PolarsFrame) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    if frame.width() == 0 {
        return Err(Error::Plan("a Polars DataFrame without columns".into()));
    }
    let mut frame = frame.clone();
    frame.align_chunks_par();
    let chunks = frame.columns()[0].n_chunks();
    let mut columns: Vec<Vec<ArrayRef>> = Vec::with_capacity(frame.width());
    for c in frame.columns() {
        let series = c.as_materialized_series();
        let name = series.name().as_str();
        columns.push(
            (0..chunks)
                .map(|i| array_from_polars(series.to_arrow(i, CompatLevel::newest()), name))
                .collect::<Result<_>>()?,
        );
    }
    let schema: SchemaRef = Arc::new(Schema::new(
        frame
            .columns()
            .iter()
            .zip(&columns)
            .map(|(c, arrays)| {
                let t = arrays.first().map_or_else(
                    || arrow::datatypes::DataType::Null,
                    |a| a.data_type().clone(),
                );
                Field::new(c.name().as_str(), t, true)
            })
            .collect::<Vec<_>>(),
    ));
    let batches = (0..chunks)
        .map(|i| {
            let arrays: Vec<ArrayRef> = columns.iter().map(|c| Arc::clone(&c[i])).collect();
            let rows = arrays.first().map_or(0, |a| a.len());
            let options = RecordBatchOptions::new().with_row_count(Some(rows));
            RecordBatch::try_new_with_options(Arc::clone(&schema), arrays, &options)
                .map_err(|e| interop("a chunk of the frame", e))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((schema, batches))
}

/// Record batches of `schema` as one Polars frame, each batch a chunk of every column.
///
/// # Errors
/// [`Error::Plan`] for a type Polars cannot hold.
pub fn batches_to_polars(schema: &Schema, batches: &[RecordBatch]) -> Result<PolarsFrame> {
    let height = batches.iter().map(RecordBatch::num_rows).sum();
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = f.name().as_str();
            let arrays: Vec<ArrayRef> = if batches.is_empty() {
                vec![new_empty_array(f.data_type())]
            } else {
                batches.iter().map(|b| Arc::clone(b.column(i))).collect()
            };
            let chunks = arrays
                .iter()
                .map(|a| array_to_polars(a, name))
                .collect::<Result<Vec<_>>>()?;
            let series =
                Series::from_arrow_chunks(name.into(), chunks).map_err(|e| interop(name, e))?;
            Ok(Column::from(series))
        })
        .collect::<Result<Vec<_>>>()?;
    PolarsFrame::new(height, columns).map_err(|e| interop("the frame", e))
}

/// A closure over a Polars frame as a closure over a record batch, for `map_partitions`;
/// its errors are the closure's own (kept as the source), or the interop's.
pub(crate) fn partition_closure<F, E>(
    f: F,
) -> impl Fn(RecordBatch) -> std::result::Result<RecordBatch, UserError> + Send + Sync + 'static
where
    F: Fn(PolarsFrame) -> std::result::Result<PolarsFrame, E> + Send + Sync + 'static,
    E: Into<UserError>,
{
    move |batch: RecordBatch| {
        let input = batches_to_polars(&batch.schema(), std::slice::from_ref(&batch))?;
        drop(batch);
        let output = f(input).map_err(Into::into)?;
        let (schema, batches) = batches_from_polars(&output)?;
        arrow::compute::concat_batches(&schema, &batches)
            .map_err(|e| interop("the closure's frame", e).into())
    }
}
