//! Benchmark: the h2o db-benchmark group-by questions over Parquet files.
//!
//!     cargo run --release --example h2o_groupby -- --data DIR --queries q1,q2,q3 \
//!         [--threads 2] [--memory-limit 1536MiB] [--out-dir DIR]
//!
//! Each answer is written to the folder `<out-dir>/<query>.parquet/` (when `--out-dir` is
//! given; one file per output partition, streamed as the groups are finished) and a
//! `RESULT {json}` line per query gives the time, the row count and each measure column's
//! sum, which `shared/bench/check_answers.py` compares across engines.

use std::time::Instant;

use clap::Parser;
use spillway::prelude::*;

#[path = "common/engine.rs"]
mod engine;
#[path = "common/exit.rs"]
mod exit;

#[path = "common/answer.rs"]
mod answer;

#[derive(Parser)]
struct Args {
    /// A folder of Parquet files (or a glob).
    #[arg(long)]
    data: String,
    /// Comma-separated questions, q1..q10.
    #[arg(long, default_value = "q1,q2,q3,q4,q5,q6,q7,q8,q9,q10")]
    queries: String,
    /// Where to write each answer, as a folder `<query>.parquet/` of part files.
    #[arg(long)]
    out_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    engine: engine::EngineArgs,
}

fn query(x: &DataFrame, q: &str) -> Result<DataFrame> {
    let c = |n: &str| col(n);
    match q {
        "q1" => x.group_by([c("id1")]).agg([c("v1").sum().alias("v1")]),
        "q2" => x
            .group_by([c("id1"), c("id2")])
            .agg([c("v1").sum().alias("v1")]),
        "q3" => x
            .group_by([c("id3")])
            .agg([c("v1").sum().alias("v1"), c("v3").mean().alias("v3")]),
        "q4" => x.group_by([c("id4")]).agg([
            c("v1").mean().alias("v1"),
            c("v2").mean().alias("v2"),
            c("v3").mean().alias("v3"),
        ]),
        "q5" => x.group_by([c("id6")]).agg([
            c("v1").sum().alias("v1"),
            c("v2").sum().alias("v2"),
            c("v3").sum().alias("v3"),
        ]),
        "q7" => x
            .group_by([c("id3")])
            .agg([c("v1").max().alias("max_v1"), c("v2").min().alias("min_v2")])?
            .select([c("id3"), (c("max_v1") - c("min_v2")).alias("range_v1_v2")]),
        "q6" => x.group_by([c("id4"), c("id5")]).agg([
            c("v3").median().alias("median_v3"),
            c("v3").std().alias("sd_v3"),
        ]),
        "q10" => x
            .group_by([c("id1"), c("id2"), c("id3"), c("id4"), c("id5"), c("id6")])
            .agg([c("v3").sum().alias("v3"), lit(1_i64).count().alias("count")]),
        "q9" => x
            .group_by([c("id2"), c("id4")])
            .agg([c("v1").corr(c("v2")).alias("r")])?
            .select([c("id2"), c("id4"), (c("r") * c("r")).alias("r2")]),
        "q8" => x
            .filter(c("v3").is_not_null())?
            .group_by([c("id6")])
            .agg([c("v3").top_k(2).alias("largest2_v3")])?
            .explode("largest2_v3"),
        other => Err(Error::Plan(format!("unknown question {other}"))),
    }
}

fn main() -> std::process::ExitCode {
    exit::exit(run())
}

fn run() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let session = args.engine.builder()?.build()?;
    let x = session.read_parquet(&args.data)?;
    for q in args.queries.split(',').map(str::trim) {
        let t0 = Instant::now();
        let df = match query(&x, q) {
            Ok(df) => df,
            Err(e) => {
                println!("{q}: skipped: {e}");
                continue;
            }
        };
        // The id columns are keys, not measures: only the measures are checksummed.
        answer::report(&session, &df, q, q, t0, args.out_dir.as_deref(), |name| {
            !name.starts_with("id")
        })?;
    }
    Ok(())
}
