//! Quickstart: a filter + apply + reductions pipeline over Parquet files it generates.
//!
//!     cargo run --release --example quickstart
//!
//! Writes 4 million taxi-like trips as 4 Parquet files into a temporary folder, builds a
//! lazy query over them (nothing runs until `collect`), prints its `explain` (the plan as
//! written, the optimized plan with the filter pushed into the scan, and the task graph),
//! runs it on all cores, and checks the answer against a plain Rust loop over the same
//! rows. It ends with the typed errors a mistake gets before anything runs.

use std::fs::File;
use std::sync::Arc;
use std::time::Instant;

use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use spillway::arrow::array::{Float64Array, Int32Array, Int64Array, StringArray};
use spillway::arrow::util::pretty::pretty_format_batches;
use spillway::prelude::*;

#[path = "common/exit.rs"]
mod exit;

const FILES: usize = 4;
const ROWS_PER_FILE: usize = 1_000_000;
const CITIES: [&str; 6] = ["Lagos", "Lima", "Lyon", "Oslo", "Pune", "Quito"];

/// The fare of a trip: a flag fall plus a rate per kilometre, cheaper beyond 20 km.
fn fare(km: f64) -> f64 {
    3.5 + 1.8 * km.min(20.0) + 1.1 * (km - 20.0).max(0.0)
}

/// One generated trip, kept to check the engine's answer with a plain loop.
struct Trip {
    id: i64,
    km: f64,
    passengers: Option<i32>,
}

fn generate(dir: &std::path::Path) -> Result<Vec<Trip>, Box<dyn std::error::Error>> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("trip_id", DataType::Int64, false),
        Field::new("city", DataType::Utf8, false),
        Field::new("distance_km", DataType::Float64, false),
        Field::new("minutes", DataType::Float64, false),
        Field::new("passengers", DataType::Int32, true),
    ]));
    let mut rng = fastrand::Rng::with_seed(42);
    let mut trips = Vec::with_capacity(FILES * ROWS_PER_FILE);
    for f in 0..FILES {
        let ids: Vec<i64> = (0..ROWS_PER_FILE)
            .map(|i| (f * ROWS_PER_FILE + i) as i64)
            .collect();
        let km: Vec<f64> = (0..ROWS_PER_FILE)
            .map(|_| -6.0 * (1.0 - rng.f64()).ln())
            .collect();
        let minutes: Vec<f64> = km
            .iter()
            .map(|k| 3.0 + k * (1.5 + 2.5 * rng.f64()))
            .collect();
        let passengers: Vec<Option<i32>> = (0..ROWS_PER_FILE)
            .map(|_| (rng.u8(..50) != 0).then(|| rng.i32(1..=5)))
            .collect();
        let city: Vec<&str> = (0..ROWS_PER_FILE)
            .map(|_| CITIES[rng.usize(..CITIES.len())])
            .collect();
        trips.extend(
            ids.iter()
                .zip(&km)
                .zip(&passengers)
                .map(|((&id, &km), &passengers)| Trip { id, km, passengers }),
        );
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(city)),
                Arc::new(Float64Array::from(km)),
                Arc::new(Float64Array::from(minutes)),
                Arc::new(Int32Array::from(passengers)),
            ],
        )?;
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(250_000))
            .build();
        let file = File::create(dir.join(format!("trips-{f}.parquet")))?;
        let mut writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(props))?;
        writer.write(&batch)?;
        writer.close()?;
    }
    Ok(trips)
}

fn main() -> std::process::ExitCode {
    exit::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let t0 = Instant::now();
    let trips = generate(dir.path())?;
    println!(
        "generated {} trips in {FILES} Parquet files under {} in {:.2?}",
        trips.len(),
        dir.path().display(),
        t0.elapsed()
    );

    let session = Session::new()?;
    let pattern = dir.path().join("*.parquet");
    let query = session
        .read_parquet(pattern.to_string_lossy())?
        .filter(
            col("trip_id")
                .gt_eq(lit(1_500_000))
                .and(col("passengers").gt_eq(lit(2))),
        )?
        .with_columns([
            col("distance_km").apply(fare).alias("fare"),
            (col("distance_km") / (col("minutes") / lit(60.0))).alias("km_per_hour"),
        ])?
        .agg([
            col("fare").count().alias("trips"),
            col("fare").sum(),
            col("fare").mean(),
            col("fare").std(),
            col("km_per_hour").max(),
            col("city").min().alias("first_city"),
        ])?;

    println!("\n{}", query.explain()?);

    let t0 = Instant::now();
    let result = query.collect()?;
    println!(
        "answer ({} threads, {:.2?}):\n{}",
        session.config().threads,
        t0.elapsed(),
        pretty_format_batches(&result)?
    );

    // The same answer from a plain loop over the generated rows.
    let kept: Vec<&Trip> = trips
        .iter()
        .filter(|t| t.id >= 1_500_000 && t.passengers.is_some_and(|p| p >= 2))
        .collect();
    let want_sum: f64 = kept.iter().map(|t| fare(t.km)).sum();
    let got = &result[0];
    let got_count = ScalarValue::from_array_index(got.column(0).as_ref(), 0).to_value::<u64>()?;
    let got_sum = ScalarValue::from_array_index(got.column(1).as_ref(), 0).to_value::<f64>()?;
    let agrees =
        got_count == kept.len() as u64 && (got_sum - want_sum).abs() <= 1e-9 * want_sum.abs();
    println!(
        "plain loop: {} trips, sum(fare) {want_sum:.4} -> {}",
        kept.len(),
        if agrees { "the same" } else { "DIFFERENT" }
    );
    if !agrees {
        return Err("the engine disagrees with the plain loop".into());
    }

    // Mistakes are caught when the query is built, before anything runs.
    let trips_df = session.read_parquet(pattern.to_string_lossy())?;
    println!("\nmistakes, caught when the query is built:");
    if let Err(e) = trips_df.select([col("distance")]) {
        println!("  {e}");
    }
    if let Err(e) = trips_df.filter(col("city") + lit(1)) {
        println!("  {e}");
    }
    if let Err(e) = trips_df.column("city")?.apply(|km: f64| km * 2.0) {
        println!("  {e}");
    }
    if let Err(e) = session.read_parquet(dir.path().join("nope-*.parquet").to_string_lossy()) {
        println!("  {e}");
    }
    Ok(())
}
