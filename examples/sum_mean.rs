//! Benchmark: `sum` and `mean` of one column over Parquet files (the h2o groupby data),
//! timed the way `peer_sum_mean.py` times DuckDB and Polars: each run goes from building
//! the scan to holding the scalars; `inner_s` is the best of `--runs`.
//!
//!     cargo run --release --example sum_mean -- --data DIR_OR_GLOB --threads 2 [--col v3]

use std::time::Instant;

use clap::Parser;
use spillway::prelude::*;

#[path = "common/exit.rs"]
mod exit;

#[derive(Parser)]
struct Args {
    /// A Parquet file, a folder of them, or a glob.
    #[arg(long)]
    data: String,
    /// Worker threads.
    #[arg(long)]
    threads: usize,
    /// The column.
    #[arg(long, default_value = "v3")]
    col: String,
    /// Runs; the best is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

fn main() -> std::process::ExitCode {
    exit::exit(run())
}

fn run() -> Result<()> {
    let args = Args::parse();
    let session = Session::builder().threads(args.threads).build()?;
    let mut times = Vec::new();
    let mut answer = None;
    for _ in 0..args.runs.max(1) {
        let t0 = Instant::now();
        let out = session
            .read_parquet(&args.data)?
            .agg([
                col(&args.col).sum().alias("s"),
                col(&args.col).mean().alias("m"),
                col(&args.col).count().alias("n"),
            ])?
            .collect_batch()?;
        let get = |i: usize| ScalarValue::from_array_index(out.column(i).as_ref(), 0);
        let (s, m, n) = (
            get(0).to_value::<f64>()?,
            get(1).to_value::<f64>()?,
            get(2).to_value::<u64>()?,
        );
        times.push(t0.elapsed().as_secs_f64());
        answer = Some((s, m, n));
    }
    let (s, m, n) = answer.unwrap_or_default();
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    let runs: Vec<String> = times.iter().map(|t| format!("{t:.4}")).collect();
    println!(
        "RESULT {{\"engine\": \"spillway\", \"query\": \"sum_mean\", \"col\": \"{}\", \"threads\": {}, \"inner_s\": {best:.4}, \"runs_s\": [{}], \"rows\": {n}, \"sum\": {s}, \"mean\": {m}}}",
        args.col,
        args.threads,
        runs.join(", ")
    );
    Ok(())
}
