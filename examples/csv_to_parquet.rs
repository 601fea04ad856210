//! Converts a CSV file (or a folder or glob of them) to Parquet, one file per partition,
//! streaming: each task reads a byte range of the CSV and writes its Parquet file, so a
//! file far larger than the memory limit converts within it. Prints the rows written and
//! the time, and a `RESULT {json}` line for `shared/bench/measure.py`.
//!
//!     cargo run --release --example csv_to_parquet -- INPUT.csv OUT_DIR \
//!         [--memory-limit 1GiB] [--threads N] [--partition-size 64MiB] [--count-only]
//!
//! `--count-only` reads the CSV and counts its rows without writing anything (every record
//! is split and checked for its field count, no value is parsed): the scan's throughput.

use std::time::Instant;

use clap::Parser;
use spillway::prelude::*;

#[path = "common/exit.rs"]
mod exit;

#[derive(Parser)]
struct Args {
    /// The CSV file, folder or glob.
    input: String,
    /// The folder the Parquet files are written to (created if missing; it must be empty
    /// unless `--overwrite` is given).
    output: String,
    /// Replace what the output folder holds (once the conversion has succeeded).
    #[arg(long)]
    overwrite: bool,
    /// Bytes the engine may hold at once: a number, or with a unit (`512MiB`, `1GiB`, `2G`).
    #[arg(long, value_parser = parse_size)]
    memory_limit: Option<usize>,
    /// Worker threads (default: the session's, one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// CSV bytes per partition (and so per output file).
    #[arg(long, value_parser = parse_size)]
    partition_size: Option<usize>,
    /// Count the rows instead of converting.
    #[arg(long)]
    count_only: bool,
}

/// `1073741824`, `1GiB`, `1G`, `512MiB`, `512M`, `64KiB` (units are powers of 1024).
fn parse_size(text: &str) -> std::result::Result<usize, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: usize = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size such as 1GiB or 1073741824"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => return Err(format!("unknown size unit '{other}' in '{text}'")),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("'{text}' is too large"))
}

fn main() -> std::process::ExitCode {
    exit::exit(run())
}

fn run() -> Result<()> {
    let args = Args::parse();
    let mut builder = Session::builder();
    if let Some(bytes) = args.memory_limit {
        builder = builder.memory_limit(bytes);
    }
    if let Some(threads) = args.threads {
        builder = builder.threads(threads);
    }
    if let Some(bytes) = args.partition_size {
        builder = builder.target_partition_bytes(bytes);
    }
    let session = builder.build()?;
    let t0 = Instant::now();
    let frame = session.read_csv(&args.input)?;
    let config = session.config();
    if args.count_only {
        let rows = frame.count_rows()?;
        let seconds = t0.elapsed().as_secs_f64();
        println!("counted {rows} rows of {} in {seconds:.2} s", args.input);
        println!(
            "RESULT {{\"engine\": \"spillway\", \"query\": \"csv_count\", \"threads\": {}, \"inner_s\": {seconds:.3}, \"rows\": {rows}}}",
            config.threads
        );
        return Ok(());
    }
    let mode = if args.overwrite {
        WriteMode::Overwrite
    } else {
        WriteMode::ErrorIfExists
    };
    let options = WriteOptions::parquet(ParquetWriteOptions::new()).mode(mode);
    let (rows, stats) = frame.write_with_stats(&args.output, options)?;
    let seconds = t0.elapsed().as_secs_f64();
    println!(
        "wrote {rows} rows from {} to {} in {seconds:.2} s ({} threads, memory limit {} MiB)",
        args.input,
        args.output,
        config.threads,
        config.memory_limit >> 20
    );
    println!(
        "{} tasks, peak reserved memory {} MiB, process peak RSS {} MiB, spilled {} MiB",
        stats.tasks,
        stats.peak_memory >> 20,
        stats.peak_rss.unwrap_or(0) >> 20,
        stats.spilled_bytes >> 20
    );
    println!(
        "RESULT {{\"engine\": \"spillway\", \"query\": \"csv_to_parquet\", \"threads\": {}, \"inner_s\": {seconds:.3}, \"rows\": {rows}}}",
        config.threads
    );
    Ok(())
}
