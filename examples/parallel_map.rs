//! Plain parallelism, the joblib way: `parallel_map` over an iterator with `n_jobs`.
//!
//! First the joblib snippet
//!
//! ```python
//! Parallel(n_jobs=2)(delayed(sqrt)(i ** 2) for i in range(10))
//! ```
//!
//! then the Monte Carlo estimate of pi over many seeds (one task per seed), with a progress
//! bar when standard error is a terminal (`SPILLWAY_PROGRESS=always|never` to force it).
//!
//!     cargo run --release --example parallel_map                          # 64 tasks × 10^6 draws
//!     cargo run --release --example parallel_map -- --tasks 256 --draws 100000 --n-jobs 2
//!     cargo run --release --example parallel_map -- --trivial 1000000     # per-task overhead
//!     cargo run --release --example parallel_map -- --trivial 1000000 --rayon
//!     cargo run --release --example parallel_map -- --rayon               # pi, rayon loop
//!
//! Each run ends with a `RESULT {json}` line (`inner_s` times the parallel part only) for
//! the benchmark scripts; `--rayon` does the same work with a hand-written rayon loop on a
//! pool of the same size, the floor to compare Spillway's overhead with.

use std::time::Instant;

use clap::Parser;
use rayon::prelude::*;
use spillway::prelude::*;

#[path = "common/exit.rs"]
mod exit;

/// Monte Carlo estimate of pi from `draws` random points in the unit square, seeded.
fn sample(seed: u64, draws: u64) -> f64 {
    let mut rng = fastrand::Rng::with_seed(seed);
    let inside = (0..draws)
        .filter(|_| {
            let (x, y) = (rng.f64(), rng.f64());
            x * x + y * y <= 1.0
        })
        .count();
    4.0 * inside as f64 / draws as f64
}

#[derive(Parser)]
struct Args {
    /// Tasks (seeds) of the pi sampler.
    #[arg(long, default_value_t = 64)]
    tasks: u64,
    /// Draws per task.
    #[arg(long, default_value_t = 1_000_000)]
    draws: u64,
    /// joblib's n_jobs: a positive count, -1 for all threads, -2 for all but one.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    n_jobs: isize,
    /// Session threads (default: SPILLWAY_THREADS, or all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Instead of the pi sampler, time N trivial tasks (each returns its argument).
    #[arg(long, value_name = "N")]
    trivial: Option<u64>,
    /// A hand-written rayon loop instead of Spillway.
    #[arg(long)]
    rayon: bool,
}

fn main() -> std::process::ExitCode {
    exit::exit(run())
}

fn run() -> Result<()> {
    let started = Instant::now();
    let args = Args::parse();
    let mut builder = Session::builder().config(SessionConfig::from_env()?);
    if let Some(t) = args.threads {
        builder = builder.threads(t);
    }
    let session = builder.build()?;

    // The joblib snippet.
    let roots = session
        .parallel_map(0..10_i64, |i| ((i * i) as f64).sqrt())
        .n_jobs(2)
        .progress(false)
        .collect()?;
    println!("Parallel(n_jobs=2)(delayed(sqrt)(i**2) for i in range(10)) = {roots:?}");

    let workers = spillway::resolve_n_jobs(args.n_jobs, session.config().threads)?;
    let engine = if args.rayon { "rayon-loop" } else { "spillway" };
    // The rayon floor runs on its own pool of the same size, so both sides pay for one.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .map_err(|e| Error::Config(e.to_string()))?;

    if let Some(n) = args.trivial {
        let t0 = Instant::now();
        let out: Vec<u64> = if args.rayon {
            pool.install(|| (0..n).into_par_iter().map(|i| i).collect())
        } else {
            session
                .parallel_map(0..n, |i| i)
                .n_jobs(args.n_jobs)
                .collect()?
        };
        let inner = t0.elapsed().as_secs_f64();
        let ok = out.len() as u64 == n && out.iter().enumerate().all(|(k, &v)| k as u64 == v);
        println!(
            "{n} trivial tasks on {workers} workers in {inner:.3} s: {:.3} µs a task",
            inner * 1e6 / n.max(1) as f64
        );
        println!(
            "RESULT {{\"engine\": \"{engine}\", \"query\": \"parallel-trivial\", \"tasks\": {n}, \"workers\": {workers}, \"inner_s\": {inner:.4}, \"total_s\": {:.4}, \"per_task_us\": {:.4}, \"correct\": {ok}}}",
            started.elapsed().as_secs_f64(),
            inner * 1e6 / n.max(1) as f64
        );
        return Ok(());
    }

    let (tasks, draws) = (args.tasks, args.draws);
    let t0 = Instant::now();
    let estimates: Vec<f64> = if args.rayon {
        pool.install(|| {
            (0..tasks)
                .into_par_iter()
                .map(|seed| sample(seed, draws))
                .collect()
        })
    } else {
        session
            .parallel_map(0..tasks, move |seed| sample(seed, draws))
            .n_jobs(args.n_jobs)
            .collect()?
    };
    let inner = t0.elapsed().as_secs_f64();
    let pi = estimates.iter().sum::<f64>() / estimates.len().max(1) as f64;
    println!(
        "pi ≈ {pi:.5} from {tasks} tasks × {draws} draws on {workers} workers in {inner:.3} s"
    );
    println!(
        "RESULT {{\"engine\": \"{engine}\", \"query\": \"parallel-pi\", \"tasks\": {tasks}, \"draws\": {draws}, \"workers\": {workers}, \"inner_s\": {inner:.4}, \"total_s\": {:.4}, \"pi\": {pi}}}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
