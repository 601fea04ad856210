//! Quickstart: the seed pipeline's building blocks on data generated here.
//!
//! Generates a column of Monte Carlo sample sizes, types the `apply(sample)` step from the
//! closure's signature (no `meta`, unlike Dask), runs the closure over the column, and shows
//! the typed errors a plan gets for a wrong column or a wrong type before anything runs.
//!
//!     cargo run --release --example quickstart

use std::sync::Arc;
use std::time::Instant;

use spillway::arrow::array::{Float64Array, Int64Array};
use spillway::prelude::*;

/// Monte Carlo estimate of pi from `n` random points in the unit square.
fn sample(n: i64) -> f64 {
    let mut rng = fastrand::Rng::new();
    let inside = (0..n)
        .filter(|_| {
            let (x, y) = (rng.f64(), rng.f64());
            x * x + y * y <= 1.0
        })
        .count();
    4.0 * inside as f64 / n as f64
}

fn main() -> Result<()> {
    // The data: 64 sample sizes of 10^6 draws, as in the benchmark form of the seed.
    let sizes: ArrayRef = Arc::new(Int64Array::from(vec![1_000_000i64; 64]));
    let schema = Schema::new(vec![Field::new("n", DataType::Int64, false)]);

    // The apply step, typed by the closure: Int64 in, Float64 out.
    let step = col("n").apply(sample).alias("pi");
    let field = step.to_field(&schema)?;
    println!("plan step : {step}");
    println!("output    : {}: {}", field.name(), field.data_type());

    let Expr::Alias { expr, .. } = &step else {
        unreachable!("built above as an alias")
    };
    let Expr::Apply { func, .. } = expr.as_ref() else {
        unreachable!("built above as apply")
    };
    let t0 = Instant::now();
    let estimates = func.call(sizes.as_ref())?;
    let estimates = estimates
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("the closure returns f64");
    let pi = estimates.values().iter().sum::<f64>() / estimates.len() as f64;
    println!(
        "pi ≈ {pi:.5} from {} × 10^6 draws in {:.2?} (one thread)",
        estimates.len(),
        t0.elapsed()
    );

    // Mistakes are caught when the plan is built, and name what is wrong.
    for bad in [col("m").apply(sample), (col("n") + lit("x")).alias("oops")] {
        println!("rejected  : {}", bad.to_field(&schema).unwrap_err());
    }
    Ok(())
}
