//! Shared by the benchmark programs (`h2o_groupby`, `tpch`): compute one query's answer,
//! streamed into Parquet or held, and print the `RESULT {json}` line that the benchmark
//! scripts read, with checksums comparable to the peers'.

use std::path::Path;
use std::time::Instant;

use spillway::prelude::*;

/// Computes `df`, the query `name`, started at `t0`. With `out_dir` the answer streams into
/// `out_dir/<name>.parquet` (as the final tasks finish their groups) and the checksums are
/// read back from the files; otherwise it is held. Prints a line for people and the
/// `RESULT` line, labelled `label`: time, rows, spill, the pool's peak, and the sum of
/// every numeric column that `checked` accepts.
pub fn report(
    session: &Session,
    df: &DataFrame,
    name: &str,
    label: &str,
    t0: Instant,
    out_dir: Option<&Path>,
    checked: impl Fn(&str) -> bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let (answer, rows, stats) = match out_dir {
        Some(dir) => {
            let folder = dir.join(format!("{name}.parquet"));
            if folder.exists() {
                std::fs::remove_dir_all(&folder)?;
            }
            let (rows, stats) = df.write_parquet_with_stats(&folder)?;
            (session.read_parquet(folder.to_string_lossy())?, rows, stats)
        }
        None => {
            let (batches, stats) = df.collect_with_stats()?;
            let rows = batches.iter().map(|b| b.num_rows()).sum();
            let held = session.from_batches(df.schema(), batches, 1)?;
            (held, rows, stats)
        }
    };
    let inner = t0.elapsed().as_secs_f64();
    let mut chk = Vec::new();
    for f in df.schema().fields() {
        if !f.data_type().is_numeric() || !checked(f.name()) {
            continue;
        }
        let sum: f64 = answer
            .column(f.name())?
            .map(col(f.name().as_str()).cast(DataType::Float64))?
            .sum()
            .compute()?;
        chk.push(format!("\"{}\": {sum}", f.name()));
    }
    println!("{name}: {inner:.3} s, {rows} rows");
    println!(
        "RESULT {{\"engine\": \"spillway\", \"query\": \"{label}\", \"threads\": {}, \"inner_s\": {inner:.4}, \"rows\": {rows}, \"spilled_bytes\": {}, \"spill_files\": {}, \"peak_reserved_mib\": {:.1}, \"peak_rss_mib\": {:.1}, \"resident_refusals\": {}, \"chk\": {{{}}}}}",
        session.config().threads,
        stats.spilled_bytes,
        stats.spill_files,
        stats.peak_memory as f64 / (1024.0 * 1024.0),
        stats.peak_rss.unwrap_or(0) as f64 / (1024.0 * 1024.0),
        stats.resident_refusals,
        chk.join(", ")
    );
    Ok(())
}
