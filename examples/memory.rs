//! Benchmark: does the memory limit hold? One blocking workload over strings of 5–50
//! bytes, run under a memory limit, printing the process's peak RSS beside the memory the
//! engine reserved, the bytes it spilled and the time.
//!
//!     cargo run --release --example memory -- --data DIR --generate [--rows 2000000]
//!     cargo run --release --example memory -- --data DIR --workload sort \
//!         --memory-limit 64MiB [--threads 2] [--spill-dir DIR]
//!
//! `--generate` writes the tables once (Parquet, outside the measured runs): `DIR/facts/`
//! with `k` (a string of 5–50 bytes, one of `rows / 10`), `s` (a string of 5–50 bytes,
//! nearly unique), `v` and `g` (integers), and `DIR/dims/` with each `k` once and `w`.
//! Workloads: `sort` (all rows by `s`, written), `topk` (the first 100 by `s`), `join`
//! (facts ⋈ dims on `k`, written), `groupby` (sum and count of `v` by `k`, written) and
//! `distinct` (distinct `k, g`, written). Each prints a `RESULT {json}` line;
//! `benches/memory.sh` runs them all at several limits under a cgroup cap.

use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use spillway::arrow::array::{Int64Array, RecordBatch, StringViewArray};
use spillway::arrow::datatypes::{DataType, Field, Schema};
use spillway::prelude::*;

#[path = "common/engine.rs"]
mod engine;
#[path = "common/exit.rs"]
mod exit;

#[derive(Parser)]
struct Args {
    /// The folder holding (or to hold, with `--generate`) the tables.
    #[arg(long)]
    data: std::path::PathBuf,
    /// Write the tables instead of running a workload.
    #[arg(long)]
    generate: bool,
    /// Rows of the facts table, for `--generate`.
    #[arg(long, default_value_t = 2_000_000)]
    rows: usize,
    /// sort, topk, join, groupby or distinct.
    #[arg(long, default_value = "sort")]
    workload: String,
    #[command(flatten)]
    engine: engine::EngineArgs,
}

/// A deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A string of 5–50 lowercase letters drawn from `seed`.
    fn text(seed: u64) -> String {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let len = 5 + (r.next() % 46) as usize;
        (0..len)
            .map(|_| (b'a' + (r.next() % 26) as u8) as char)
            .collect()
    }
}

fn generate(
    session: &Session,
    data: &std::path::Path,
    rows: usize,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let keys = (rows / 10).max(1) as u64;
    let facts = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8View, false),
        Field::new("s", DataType::Utf8View, false),
        Field::new("v", DataType::Int64, false),
        Field::new("g", DataType::Int64, false),
    ]));
    let mut rng = Rng(42);
    let chunk = 65_536;
    let mut batches = Vec::new();
    for start in (0..rows).step_by(chunk) {
        let n = chunk.min(rows - start);
        let draws: Vec<u64> = (0..n).map(|_| rng.next()).collect();
        let k: StringViewArray = draws.iter().map(|d| Some(Rng::text(d % keys))).collect();
        let s: StringViewArray = draws.iter().map(|d| Some(Rng::text(*d))).collect();
        let v: Int64Array = draws.iter().map(|d| (d % 1_000_000) as i64).collect();
        let g: Int64Array = draws.iter().map(|d| ((d >> 32) % 1_000) as i64).collect();
        batches.push(RecordBatch::try_new(
            Arc::clone(&facts),
            vec![Arc::new(k), Arc::new(s), Arc::new(v), Arc::new(g)],
        )?);
    }
    let overwrite = WriteOptions::parquet(ParquetWriteOptions::new()).mode(WriteMode::Overwrite);
    let written = session
        .from_batches(facts, batches, 16)?
        .write(data.join("facts"), overwrite.clone())?;
    let dims = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8View, false),
        Field::new("w", DataType::Int64, false),
    ]));
    let k: StringViewArray = (0..keys).map(|i| Some(Rng::text(i))).collect();
    let w: Int64Array = (0..keys as i64).collect();
    let dims = RecordBatch::try_new(Arc::clone(&dims), vec![Arc::new(k), Arc::new(w)])?;
    session
        .from_batches(dims.schema(), vec![dims], 4)?
        .write(data.join("dims"), overwrite)?;
    println!(
        "wrote {written} facts and {keys} dims under {}",
        data.display()
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    exit::exit(run())
}

fn run() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let session = args.engine.builder()?.build()?;
    if args.generate {
        generate(&session, &args.data, args.rows)?;
        return Ok(());
    }
    let path = |name: &str| args.data.join(name).to_string_lossy().into_owned();
    let facts = session.read_parquet(path("facts"))?;
    let out = args.data.join("out").join(&args.workload);
    let write = |df: DataFrame| {
        let options = WriteOptions::parquet(ParquetWriteOptions::new()).mode(WriteMode::Overwrite);
        df.write_with_stats(&out, options)
    };
    let t0 = Instant::now();
    let (rows, stats) = match args.workload.as_str() {
        "sort" => write(facts.sort([col("s").asc()])?)?,
        "topk" => {
            let (batches, stats) = facts
                .sort([col("s").asc()])?
                .head(100)
                .collect_with_stats()?;
            (batches.iter().map(RecordBatch::num_rows).sum(), stats)
        }
        "join" => {
            let dims = session.read_parquet(path("dims"))?;
            write(facts.join(&dims, ["k"], ["k"], JoinType::Inner)?)?
        }
        "groupby" => write(
            facts
                .group_by([col("k")])
                .agg([col("v").sum().alias("v"), col("v").count().alias("n")])?,
        )?,
        "distinct" => write(facts.select([col("k"), col("g")])?.distinct()?)?,
        other => return Err(format!("unknown workload {other}").into()),
    };
    let seconds = t0.elapsed().as_secs_f64();
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let config = session.config();
    println!(
        "{}: {rows} rows in {seconds:.2} s under {} MiB: peak RSS {:.1} MiB, reserved at peak {:.1} MiB, spilled {:.1} MiB",
        args.workload,
        config.memory_limit >> 20,
        mib(stats.peak_rss.unwrap_or(0)),
        mib(stats.peak_memory as u64),
        mib(stats.spilled_bytes)
    );
    println!(
        "RESULT {{\"engine\": \"spillway\", \"query\": \"mem-{}\", \"threads\": {}, \"limit_mib\": {}, \"inner_s\": {seconds:.3}, \"rows\": {rows}, \"spilled_bytes\": {}, \"spill_files\": {}, \"peak_reserved_mib\": {:.1}, \"peak_rss_mib\": {:.1}, \"resident_refusals\": {}}}",
        args.workload,
        config.threads,
        config.memory_limit >> 20,
        stats.spilled_bytes,
        stats.spill_files,
        mib(stats.peak_memory as u64),
        mib(stats.peak_rss.unwrap_or(0)),
        stats.resident_refusals,
    );
    Ok(())
}
