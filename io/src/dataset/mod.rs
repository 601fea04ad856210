//! Datasets of many files: hive-partitioned folders, and files whose schemas differ.
//!
//! # Algorithm
//!
//! - **Construction** ([`DatasetSource::try_new`]) lists the files of a file, folder or
//!   glob (as the format's own source does). The folders between the dataset's root (the
//!   folder given, or a glob's fixed prefix) and each file that read `key=value` are its
//!   hive values ([`crate::sink::hive`] escaping; `__HIVE_DEFAULT_PARTITION__` is
//!   null); every file must have the same keys in the same order. A key becomes a column
//!   after the files' columns, typed as given, or `Int64` when every value parses as one,
//!   else `Utf8View`. Each file gets its own source of its format (footers read now).
//!   The files' schemas must agree (names, order, types), or, with
//!   [`DatasetOptions::unify_schemas`], are merged by name: a column missing from a file
//!   reads as nulls, and a column whose types differ takes a type both convert to
//!   (integers to `Int64`, numbers to `Float64`, strings to `Utf8View`).
//! - **Planning** evaluates the pushed-down filters over hive columns once per file,
//!   over the file's folder values: a file whose values cannot match is dropped before
//!   it is opened. The other filters go to each file's source (row-group pruning), unless
//!   schemas are being unified. Each file is planned by its own source.
//! - **Reading** wraps each file's batches: hive columns are its folder values repeated,
//!   missing columns nulls, unified columns cast.
//!
//! # Memory
//!
//! One source per file (a Parquet footer, an IPC batch index, a CSV boundary index) and
//! one value per hive column per file; reading adds one batch's columns of repeated
//! values.

mod filter;

use std::collections::HashMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array, new_null_array};
use arrow::compute::{CastOptions, cast, cast_with_options, take};
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use arrow::record_batch::RecordBatchOptions;
use spillway_planner::expr::Expr;
use spillway_planner::source::{
    BatchStream, DataSource, FilterPushdown, ScanPartition, ScanRequest,
};
use spillway_planner::{Error, Result};

use crate::csv::{CsvOptions, CsvSource};
use crate::files::{check_same_schema, common_folder, files_name, list_files};
use crate::ipc::IpcSource;
use crate::parquet::ParquetSource;
use crate::sink::hive;

/// The format of a dataset's files.
#[derive(Clone, Debug)]
pub enum DatasetFormat {
    /// Parquet files (a folder's `*.parquet`).
    Parquet,
    /// Arrow IPC files (a folder's `*.arrow`, `*.ipc`, `*.feather`).
    Ipc,
    /// CSV files read with these options (a folder's `*.csv`, `*.tsv`).
    Csv(CsvOptions),
}

impl DatasetFormat {
    fn extensions(&self) -> &'static [&'static str] {
        match self {
            DatasetFormat::Parquet => &[".parquet"],
            DatasetFormat::Ipc => crate::ipc::EXTENSIONS,
            DatasetFormat::Csv(_) => crate::csv::EXTENSIONS,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            DatasetFormat::Parquet => "parquet",
            DatasetFormat::Ipc => "ipc",
            DatasetFormat::Csv(_) => "csv",
        }
    }

    /// The source of exactly `paths`.
    fn source(
        &self,
        label: &str,
        paths: Vec<PathBuf>,
        csv: Option<&CsvOptions>,
    ) -> Result<Arc<dyn DataSource>> {
        Ok(match self {
            DatasetFormat::Parquet => Arc::new(ParquetSource::from_paths(label, paths)?),
            DatasetFormat::Ipc => Arc::new(IpcSource::from_paths(label, paths)?),
            DatasetFormat::Csv(o) => Arc::new(CsvSource::from_paths(
                label,
                paths,
                csv.unwrap_or(o).clone(),
            )?),
        })
    }
}

/// How a dataset's folders and schemas are read: the types of hive columns, and whether
/// files whose schemas differ are unified by column name (an error by default).
///
/// ```
/// use arrow::datatypes::DataType;
/// use spillway_io::dataset::DatasetOptions;
///
/// let options = DatasetOptions::new()
///     .hive_type("day", DataType::Date32)
///     .unify_schemas(true);
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default)]
pub struct DatasetOptions {
    hive_types: Vec<(String, DataType)>,
    unify_schemas: bool,
}

impl DatasetOptions {
    /// The defaults: hive types inferred, schemas must agree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The type of the hive column `name` (its folder values are cast to it; a value that
    /// does not convert is an error when the dataset is opened).
    pub fn hive_type(mut self, name: impl Into<String>, data_type: DataType) -> Self {
        self.hive_types.push((name.into(), data_type));
        self
    }

    /// Whether files whose schemas differ are unified by column name rather than refused.
    pub fn unify_schemas(mut self, unify: bool) -> Self {
        self.unify_schemas = unify;
        self
    }
}

/// Opens the dataset `pattern` names: the format's own source when its files have no hive
/// folders and schemas need no unifying, else a [`DatasetSource`].
///
/// # Errors
/// As [`DatasetSource::try_new`].
pub fn open_dataset(
    pattern: &str,
    format: DatasetFormat,
    options: DatasetOptions,
) -> Result<Arc<dyn DataSource>> {
    let paths = list_files(pattern, format.extensions())?;
    let root = dataset_root(pattern, &paths);
    if !options.unify_schemas && paths.iter().all(|p| hive_pairs(&root, p).is_empty()) {
        return format.source(pattern, paths, None);
    }
    Ok(Arc::new(DatasetSource::from_paths(
        pattern, paths, root, format, options,
    )?))
}

/// A dataset of files each read by its own source: hive folder values as columns, pruned
/// by filters before the files are opened, and schemas unified by name when asked.
pub struct DatasetSource {
    pattern: String,
    format: &'static str,
    /// The files' columns (unified), then the hive columns.
    schema: SchemaRef,
    file_columns: usize,
    /// The hive columns alone, for deciding which filters they answer.
    hive_schema: SchemaRef,
    /// Each hive column's value for every file (row `i` is file `i`).
    hive_values: Vec<ArrayRef>,
    files: Vec<DatasetFile>,
    unify: bool,
}

struct DatasetFile {
    /// The folder the file is in, relative to the root, for `describe`.
    folder: String,
    source: Arc<dyn DataSource>,
    /// For each of the dataset's file columns, its index in this file's schema.
    columns: Vec<Option<usize>>,
}

impl DatasetSource {
    /// Opens the dataset `pattern` names (a file, a folder or a glob) as a dataset of
    /// `format` files, whether or not it has hive folders.
    ///
    /// # Errors
    /// - [`Error::NoFiles`], [`Error::Io`], [`Error::Format`] as the format's own source;
    /// - [`Error::Format`] naming a file whose hive keys differ from the first file's;
    /// - [`Error::Type`] for a folder value that does not convert to its column's type;
    /// - [`Error::Plan`] for a hive key that is also a column of the files;
    /// - [`Error::SchemaDiffers`] naming both files and the difference, when the files'
    ///   schemas differ (or, when unifying, a column's types cannot be unified).
    pub fn try_new(pattern: &str, format: DatasetFormat, options: DatasetOptions) -> Result<Self> {
        let paths = list_files(pattern, format.extensions())?;
        let root = dataset_root(pattern, &paths);
        Self::from_paths(pattern, paths, root, format, options)
    }

    fn from_paths(
        pattern: &str,
        paths: Vec<PathBuf>,
        root: PathBuf,
        format: DatasetFormat,
        options: DatasetOptions,
    ) -> Result<Self> {
        let Some(first) = paths.first().cloned() else {
            return Err(Error::NoFiles {
                pattern: pattern.to_string(),
            });
        };
        // Hive keys and values, the same keys for every file.
        let pairs: Vec<Vec<(String, Option<String>)>> =
            paths.iter().map(|p| hive_pairs(&root, p)).collect();
        let keys: Vec<String> = pairs[0].iter().map(|(k, _)| k.clone()).collect();
        for (path, p) in paths.iter().zip(&pairs) {
            let mine: Vec<&String> = p.iter().map(|(k, _)| k).collect();
            if mine.len() != keys.len() || mine.iter().zip(&keys).any(|(a, b)| *a != b) {
                return Err(Error::Format {
                    path: path.clone(),
                    message: format!(
                        "its hive folders have keys [{}] where {} has [{}]",
                        mine.iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        first.display(),
                        keys.join(", ")
                    ),
                });
            }
        }
        let mut hive_fields = Vec::with_capacity(keys.len());
        let mut hive_values = Vec::with_capacity(keys.len());
        for (k, key) in keys.iter().enumerate() {
            let text = StringArray::from_iter(pairs.iter().map(|p| p[k].1.as_deref()));
            let data_type = options
                .hive_types
                .iter()
                .find(|(n, _)| n == key)
                .map(|(_, t)| t.clone())
                .unwrap_or_else(|| infer_hive_type(&text));
            let strict = CastOptions {
                safe: false,
                ..Default::default()
            };
            let values =
                cast_with_options(&text, &data_type, &strict).map_err(|e| Error::Type {
                    context: format!("hive column '{key}'"),
                    message: format!("a folder value does not convert to {data_type}: {e}"),
                })?;
            hive_fields.push(Field::new(key, data_type, true));
            hive_values.push(values);
        }

        // One source per file; CSV files share the schema the first file gives, checked
        // against every header, unless schemas are unified.
        let csv_schema = match &format {
            DatasetFormat::Csv(o) if !options.unify_schemas => {
                let all = CsvSource::from_paths(pattern, paths.clone(), o.clone())?;
                Some(o.clone().schema(all.schema()))
            }
            _ => None,
        };
        let sources = paths
            .iter()
            .map(|p| {
                let label = p.display().to_string();
                format.source(&label, vec![p.clone()], csv_schema.as_ref())
            })
            .collect::<Result<Vec<_>>>()?;
        let (file_schema, columns) = if options.unify_schemas {
            unify(&paths, &sources)?
        } else {
            let mut schema = sources[0].schema().as_ref().clone();
            for (path, source) in paths.iter().zip(&sources).skip(1) {
                schema = check_same_schema(&first, &schema, path, &source.schema())?;
            }
            let n = schema.fields().len();
            (schema, vec![(0..n).map(Some).collect(); paths.len()])
        };
        if let Some(key) = keys
            .iter()
            .find(|k| file_schema.column_with_name(k).is_some())
        {
            return Err(Error::Plan(format!(
                "hive key '{key}' of the folders under {} is also a column of the files",
                root.display()
            )));
        }
        let file_columns = file_schema.fields().len();
        let mut fields: Vec<FieldRef> = file_schema.fields().iter().cloned().collect();
        fields.extend(hive_fields.iter().cloned().map(Arc::new));
        let files = paths
            .iter()
            .zip(sources)
            .zip(columns)
            .map(|((path, source), columns)| DatasetFile {
                folder: path
                    .parent()
                    .and_then(|p| p.strip_prefix(&root).ok())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                source,
                columns,
            })
            .collect();
        Ok(Self {
            pattern: pattern.to_string(),
            format: format.label(),
            schema: Arc::new(Schema::new(fields)),
            file_columns,
            hive_schema: Arc::new(Schema::new(hive_fields)),
            hive_values,
            files,
            unify: options.unify_schemas,
        })
    }

    /// The hive columns' names, in folder order.
    pub fn hive_columns(&self) -> Vec<String> {
        self.hive_schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// Whether `filter` reads hive columns only.
    fn on_hive_columns(&self, filter: &Expr) -> bool {
        let columns = filter.columns();
        !columns.is_empty()
            && columns
                .iter()
                .all(|c| self.hive_schema.column_with_name(c).is_some())
    }
}

impl fmt::Debug for DatasetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatasetSource")
            .field("pattern", &self.pattern)
            .field("files", &self.files.len())
            .field("schema", &self.schema)
            .finish()
    }
}

impl DataSource for DatasetSource {
    fn name(&self) -> String {
        let hive = self.hive_columns();
        let detail = if hive.is_empty() {
            String::new()
        } else {
            format!(", hive columns [{}]", hive.join(", "))
        };
        let kind = format!("{} dataset", self.format);
        files_name(&kind, &self.pattern, self.files.len(), &detail)
    }

    fn fingerprint(&self) -> Result<String> {
        let mut out = format!("{} unify={}\n", self.name(), self.unify);
        for file in &self.files {
            out.push_str(&file.folder);
            out.push('\n');
            out.push_str(&file.source.fingerprint()?);
        }
        Ok(out)
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Over hive columns only: [`FilterPushdown::Inexact`] for the forms Parquet pruning
    /// takes (comparisons with a literal, `is_null`, `is_not_null`, `and`, `or`), used to
    /// drop files. Over the files' columns: what the files' source says (nothing while
    /// schemas are unified). Over both: [`FilterPushdown::Unsupported`].
    fn filter_pushdown(&self, filter: &Expr) -> FilterPushdown {
        if self.on_hive_columns(filter) {
            return crate::parquet::prune::pushdown(&self.hive_schema, filter);
        }
        let columns = filter.columns();
        let on_files = columns
            .iter()
            .all(|c| self.schema.index_of(c).is_ok_and(|i| i < self.file_columns));
        match self.files.first() {
            Some(f) if on_files && !self.unify => f.source.filter_pushdown(filter),
            _ => FilterPushdown::Unsupported,
        }
    }

    fn plan_scan(&self, request: &ScanRequest<'_>) -> Result<Vec<Arc<dyn ScanPartition>>> {
        let (hive_filters, file_filters): (Vec<&Expr>, Vec<&Expr>) = request
            .filters
            .iter()
            .partition(|f| self.on_hive_columns(f));
        let file_filters: Vec<Expr> = if self.unify {
            Vec::new()
        } else {
            file_filters.into_iter().cloned().collect()
        };
        let keep = filter::files_may_match(
            &self.hive_schema,
            &self.hive_values,
            self.files.len(),
            &hive_filters,
        );
        let wanted: Vec<usize> = match request.projection {
            Some(p) => p.to_vec(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let schema = Arc::new(
            self.schema
                .project(&wanted)
                .map_err(|e| Error::Internal(format!("scan projection: {e}")))?,
        );
        let mut parts: Vec<Arc<dyn ScanPartition>> = Vec::new();
        for (i, file) in self.files.iter().enumerate() {
            if !keep[i] {
                continue;
            }
            let file_schema = file.source.schema();
            let mut inner: Vec<usize> = Vec::new();
            let plan: Vec<Column> = wanted
                .iter()
                .map(|&c| {
                    if c >= self.file_columns {
                        let k = c - self.file_columns;
                        return Column::Hive(self.hive_values[k].slice(i, 1));
                    }
                    let data_type = self.schema.field(c).data_type().clone();
                    match file.columns[c] {
                        None => Column::Null(data_type),
                        Some(j) => {
                            let at = inner.iter().position(|&x| x == j).unwrap_or_else(|| {
                                inner.push(j);
                                inner.len() - 1
                            });
                            let cast = (file_schema.field(j).data_type() != &data_type)
                                .then_some(data_type);
                            Column::File(at, cast)
                        }
                    }
                })
                .collect();
            let inner_request = ScanRequest {
                projection: Some(&inner),
                filters: &file_filters,
                batch_rows: request.batch_rows,
                batch_bytes: request.batch_bytes,
                target_partition_bytes: request.target_partition_bytes,
                min_partitions: 1,
            };
            let plan = Arc::new(plan);
            for part in file.source.plan_scan(&inner_request)? {
                parts.push(Arc::new(DatasetPartition {
                    folder: file.folder.clone(),
                    inner: Some(part),
                    plan: Arc::clone(&plan),
                    schema: Arc::clone(&schema),
                }));
            }
        }
        if parts.is_empty() {
            parts.push(Arc::new(DatasetPartition {
                folder: String::new(),
                inner: None,
                plan: Arc::new(Vec::new()),
                schema,
            }));
        }
        Ok(parts)
    }
}

/// Where an output column of a dataset partition comes from.
#[derive(Debug)]
enum Column {
    /// The file's batch column at this place, cast to this type when it differs.
    File(usize, Option<DataType>),
    /// A column the file lacks: nulls.
    Null(DataType),
    /// A hive column: the file's one value, repeated.
    Hive(ArrayRef),
}

/// One partition of one file of a dataset (or none: every file was pruned).
struct DatasetPartition {
    folder: String,
    inner: Option<Arc<dyn ScanPartition>>,
    plan: Arc<Vec<Column>>,
    schema: SchemaRef,
}

impl fmt::Debug for DatasetPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatasetPartition")
            .field("folder", &self.folder)
            .field("inner", &self.inner)
            .finish()
    }
}

impl ScanPartition for DatasetPartition {
    fn describe(&self) -> String {
        match &self.inner {
            None => "no file (all pruned)".to_string(),
            Some(p) if self.folder.is_empty() => p.describe(),
            Some(p) => format!("{}/{}", self.folder, p.describe()),
        }
    }

    fn estimated_rows(&self) -> Option<usize> {
        self.inner.as_ref().map_or(Some(0), |p| p.estimated_rows())
    }

    fn estimated_bytes(&self) -> Option<usize> {
        self.inner.as_ref().map_or(Some(0), |p| p.estimated_bytes())
    }

    fn open(&self) -> Result<BatchStream> {
        let Some(inner) = &self.inner else {
            return Ok(Box::new(std::iter::empty()));
        };
        let plan = Arc::clone(&self.plan);
        let schema = Arc::clone(&self.schema);
        Ok(Box::new(inner.open()?.map(move |batch| {
            let batch = batch?;
            assemble(&batch, &plan, &schema)
        })))
    }
}

/// The dataset's columns for one batch of a file.
fn assemble(batch: &RecordBatch, plan: &[Column], schema: &SchemaRef) -> Result<RecordBatch> {
    let rows = batch.num_rows();
    let columns = plan
        .iter()
        .map(|c| match c {
            Column::File(i, None) => Ok(Arc::clone(batch.column(*i))),
            Column::File(i, Some(to)) => {
                cast(batch.column(*i), to).map_err(|e| Error::compute("unifying a column", e))
            }
            Column::Null(t) => Ok(new_null_array(t, rows)),
            Column::Hive(value) => {
                let zeros = UInt32Array::from(vec![0u32; rows]);
                take(value.as_ref(), &zeros, None).map_err(|e| Error::compute("a hive column", e))
            }
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)
        .map_err(|e| Error::Internal(format!("assembling a dataset batch: {e}")))
}

/// The folder a dataset's hive paths are relative to: the folder given, or a glob's
/// fixed prefix, or the files' common folder.
fn dataset_root(pattern: &str, paths: &[PathBuf]) -> PathBuf {
    let path = Path::new(pattern);
    if path.is_dir() {
        return path.to_path_buf();
    }
    if path.is_file() {
        return path.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    let mut root = PathBuf::new();
    for c in path.components() {
        let text = c.as_os_str().to_string_lossy();
        if text.contains(['*', '?', '[', '{']) {
            return root;
        }
        root.push(c);
    }
    common_folder(paths)
}

/// The `key=value` folders between `root` and the file `path`, in order.
fn hive_pairs(root: &Path, path: &Path) -> Vec<(String, Option<String>)> {
    let Some(rel) = path.parent().and_then(|p| p.strip_prefix(root).ok()) else {
        return Vec::new();
    };
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(s) => hive::parse_segment(&s.to_string_lossy()),
            _ => None,
        })
        .collect()
}

/// `Int64` when every value parses as one, else `Utf8View`.
fn infer_hive_type(values: &StringArray) -> DataType {
    let all_ints = values.iter().flatten().all(|v| v.parse::<i64>().is_ok());
    if all_ints && values.null_count() < values.len() {
        DataType::Int64
    } else {
        DataType::Utf8View
    }
}

/// The files' schemas merged by name, in first-seen order, and each file's column map.
fn unify(
    paths: &[PathBuf],
    sources: &[Arc<dyn DataSource>],
) -> Result<(Schema, Vec<Vec<Option<usize>>>)> {
    let mut fields: Vec<Field> = Vec::new();
    let mut first_of: HashMap<String, usize> = HashMap::new();
    for (f, source) in sources.iter().enumerate() {
        for field in source.schema().fields() {
            match fields.iter_mut().position(|x| x.name() == field.name()) {
                None => {
                    first_of.insert(field.name().clone(), f);
                    fields.push(field.as_ref().clone());
                }
                Some(i) => {
                    let mine = &mut fields[i];
                    let Some(t) = unified_type(mine.data_type(), field.data_type()) else {
                        let first = first_of.get(field.name()).copied().unwrap_or(0);
                        return Err(Error::SchemaDiffers {
                            first: paths[first].clone(),
                            path: paths[f].clone(),
                            message: format!(
                                "column '{}' is {} where the first has {}, and they do not unify",
                                field.name(),
                                field.data_type(),
                                mine.data_type()
                            ),
                        });
                    };
                    let nullable = mine.is_nullable() || field.is_nullable();
                    *mine = mine.clone().with_data_type(t).with_nullable(nullable);
                }
            }
        }
    }
    let columns = sources
        .iter()
        .map(|s| {
            let schema = s.schema();
            fields
                .iter()
                .map(|f| schema.index_of(f.name()).ok())
                .collect()
        })
        .collect::<Vec<Vec<Option<usize>>>>();
    // A column some file lacks reads as nulls there.
    for (i, field) in fields.iter_mut().enumerate() {
        if columns.iter().any(|c| c[i].is_none()) {
            field.set_nullable(true);
        }
    }
    Ok((Schema::new(fields), columns))
}

/// A type both `a` and `b` convert to without losing values' meaning, when there is one.
fn unified_type(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType::*;
    let stringy = |t: &DataType| matches!(t, Utf8 | LargeUtf8 | Utf8View);
    if a == b {
        Some(a.clone())
    } else if a.is_integer() && b.is_integer() {
        Some(Int64)
    } else if (a.is_integer() || a.is_floating()) && (b.is_integer() || b.is_floating()) {
        Some(Float64)
    } else if stringy(a) && stringy(b) {
        Some(Utf8View)
    } else if matches!(a, Null) {
        Some(b.clone())
    } else if matches!(b, Null) {
        Some(a.clone())
    } else {
        None
    }
}
