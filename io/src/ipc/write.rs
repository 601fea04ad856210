//! IPC output: [`IpcWriteOptions`] and the encoder a [`FileSink`](crate::FileSink) writes
//! Arrow IPC files with (each batch is written through as one record batch message,
//! compacted first: a string-view column cut from a bigger one would otherwise write
//! every data buffer of its source, whole).

use std::fs::File;
use std::io::{BufWriter, Write};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::CompressionType;
use arrow::ipc::writer::{FileWriter, IpcWriteOptions as ArrowIpcOptions};
use spillway_planner::batch::compact;

use crate::files::Encoder;

/// How the buffers of an IPC file are compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpcCompression {
    /// No compression (the default: the file can be memory-mapped).
    #[default]
    None,
    /// LZ4 frames: fast.
    Lz4,
    /// Zstandard: smaller, slower.
    Zstd,
}

/// Options of the Arrow IPC writer.
///
/// ```
/// use spillway_io::ipc::{IpcCompression, IpcWriteOptions};
///
/// let options = IpcWriteOptions::new().compression(IpcCompression::Zstd);
/// assert_eq!(options.compression_value(), IpcCompression::Zstd);
/// ```
#[derive(Clone, Debug, Default)]
pub struct IpcWriteOptions {
    compression: IpcCompression,
}

impl IpcWriteOptions {
    /// The defaults: no compression.
    pub fn new() -> Self {
        Self::default()
    }

    /// The compression of the record batches' buffers.
    pub fn compression(mut self, compression: IpcCompression) -> Self {
        self.compression = compression;
        self
    }

    /// The compression of the record batches' buffers.
    pub fn compression_value(&self) -> IpcCompression {
        self.compression
    }
}

/// An IPC file encoder writing into `file`.
pub(crate) fn encoder(
    options: &IpcWriteOptions,
    file: File,
    schema: &SchemaRef,
) -> Result<Box<dyn Encoder>, String> {
    let compression = match options.compression {
        IpcCompression::None => None,
        IpcCompression::Lz4 => Some(CompressionType::LZ4_FRAME),
        IpcCompression::Zstd => Some(CompressionType::ZSTD),
    };
    let arrow_options = ArrowIpcOptions::default()
        .try_with_compression(compression)
        .map_err(|e| e.to_string())?;
    let writer = FileWriter::try_new_with_options(BufWriter::new(file), schema, arrow_options)
        .map_err(|e| e.to_string())?;
    Ok(Box::new(IpcEncoder { writer }))
}

struct IpcEncoder {
    writer: FileWriter<BufWriter<File>>,
}

impl Encoder for IpcEncoder {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        self.writer
            .write(&compact(batch.clone()))
            .map_err(|e| e.to_string())
    }

    fn finish(mut self: Box<Self>) -> Result<(), String> {
        self.writer.finish().map_err(|e| e.to_string())?;
        let mut out = self.writer.into_inner().map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())
    }
}
