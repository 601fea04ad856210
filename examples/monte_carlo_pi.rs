//! The seed pipeline, the Dask tutorial's Monte Carlo estimate of pi:
//!
//! ```python
//! dd.from_pandas(sizes, npartitions=2).apply(sample, meta=("x", "float64")).mean().compute()
//! ```
//!
//! In Spillway the closure's signature (`i64 -> f64`) types the `apply`; no `meta`.
//!
//!     cargo run --release --example monte_carlo_pi                    # the tutorial's sizes
//!     cargo run --release --example monte_carlo_pi -- --big           # 64 × 10^6 draws
//!     cargo run --release --example monte_carlo_pi -- --big --npartitions 64 --threads 2
//!     cargo run --release --example monte_carlo_pi -- --big --rayon   # a hand-written rayon loop

use std::time::Instant;

use clap::Parser;
use spillway::prelude::*;

#[path = "common/exit.rs"]
mod exit;

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

#[derive(Parser)]
struct Args {
    /// 64 sample sizes of 10^6 draws instead of the tutorial's [10^5, 20^5].
    #[arg(long)]
    big: bool,
    /// Partitions of the sizes series.
    #[arg(long, default_value_t = 2)]
    npartitions: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Instead of Spillway, a hand-written rayon loop over the sizes (the floor to compare
    /// the engine's overhead with).
    #[arg(long)]
    rayon: bool,
}

fn main() -> std::process::ExitCode {
    exit::exit(run())
}

fn run() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let mut builder = Session::builder();
    if let Some(t) = args.threads {
        builder = builder.threads(t);
    }
    let session = builder.build()?;
    let sizes: Vec<i64> = if args.big {
        vec![1_000_000; 64]
    } else {
        vec![10_i64.pow(5), 20_i64.pow(5)]
    };
    let draws: i64 = sizes.iter().sum();

    let t0 = Instant::now();
    let pi: f64 = if args.rayon {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(session.config().threads)
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        pool.install(|| {
            use rayon::prelude::*;
            sizes.par_iter().map(|&n| sample(n)).sum::<f64>() / sizes.len() as f64
        })
    } else {
        session
            .from_vec("n", sizes, args.npartitions)?
            .apply(sample)?
            .mean()
            .compute()?
    };
    let inner = t0.elapsed().as_secs_f64();

    println!(
        "pi ≈ {pi:.5} from {draws} draws, {} partitions, {} threads, in {inner:.3} s",
        args.npartitions,
        session.config().threads
    );
    println!(
        "RESULT {{\"engine\": \"{}\", \"query\": \"seed-{}\", \"npartitions\": {}, \"threads\": {}, \"inner_s\": {inner:.4}, \"total_s\": {:.4}, \"pi\": {pi}, \"draws\": {draws}}}",
        if args.rayon { "rayon-loop" } else { "spillway" },
        if args.big { "big" } else { "small" },
        args.npartitions,
        session.config().threads,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
