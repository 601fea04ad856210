//! The memory-limit sweep: one query with every blocking operator (join, group-by,
//! distinct, sort), from a limit that forces spills at every step to an ample one. Every
//! limit that succeeds gives the in-memory answer, and success is monotone: once a limit
//! suffices, every bigger one does too. The spill folder is empty after each run. And the
//! streaming operators, which reserve nothing, run under any limit.

use std::sync::Arc;

use spillway::arrow::array::{AsArray, Int64Array};
use spillway::arrow::datatypes::{Int64Type, UInt64Type};
use spillway::prelude::*;

/// (group, sum of w, count) per group, in the sort's order.
type Answer = Vec<(i64, i64, u64)>;

fn run(limit: usize, spill: &std::path::Path) -> Result<(Answer, u64)> {
    let s = Session::builder()
        .threads(2)
        .batch_rows(256)
        .memory_limit(limit)
        .spill_dir(spill)
        .build()?;
    let n = 40_000_i64;
    let facts = s
        .from_vec("k", (0..n).map(|i| (i * 37) % 5_000).collect(), 6)?
        .into_frame()
        .with_column((col("k") % lit(7)).alias("g"))?;
    let dims = s
        .from_vec("k", (0..5_000_i64).filter(|k| k % 4 != 0).collect(), 3)?
        .into_frame()
        .with_column((col("k") * lit(3)).alias("w"))?;
    let q = facts
        .join(&dims, ["k"], ["k"], JoinType::Inner)?
        .distinct()?
        .group_by([col("g")])
        .agg([col("w").sum(), col("k").count().alias("n")])?
        .sort([col("g").desc()])?;
    let (out, stats) = q.collect_with_stats()?;
    let mut rows = Vec::new();
    for b in &out {
        let g = b.column(0).as_primitive::<Int64Type>();
        let w = b.column(1).as_primitive::<Int64Type>();
        let c = b.column(2).as_primitive::<UInt64Type>();
        for i in 0..b.num_rows() {
            rows.push((g.value(i), w.value(i), c.value(i)));
        }
    }
    Ok((rows, stats.spilled_bytes))
}

fn reference() -> Answer {
    let mut keys: Vec<i64> = (0..40_000_i64).map(|i| (i * 37) % 5_000).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut out = Vec::new();
    for g in (0..7).rev() {
        let kept: Vec<i64> = keys
            .iter()
            .copied()
            .filter(|k| k % 7 == g && k % 4 != 0)
            .collect();
        out.push((g, kept.iter().map(|k| k * 3).sum(), kept.len() as u64));
    }
    out
}

#[test]
fn a_limit_sweep_is_monotone_and_every_success_is_the_in_memory_answer() {
    let expected = reference();
    let limits = [
        8 << 10,
        16 << 10,
        32 << 10,
        64 << 10,
        128 << 10,
        256 << 10,
        1 << 20,
        4 << 20,
        1 << 30,
    ];
    let mut first_success = None;
    for (i, &limit) in limits.iter().enumerate() {
        let spill = tempfile::tempdir().unwrap();
        match run(limit, spill.path()) {
            Ok((rows, spilled)) => {
                assert_eq!(rows, expected, "limit {limit}");
                if limit <= 64 << 10 {
                    assert!(spilled > 0, "limit {limit} spilled nothing");
                }
                first_success.get_or_insert(i);
            }
            Err(e) => {
                assert!(
                    first_success.is_none(),
                    "limit {limit} failed after a smaller one succeeded: {e}"
                );
                assert!(
                    matches!(e.root(), Error::ResourcesExhausted { .. }),
                    "limit {limit}: {e}"
                );
            }
        }
        assert_eq!(
            std::fs::read_dir(spill.path()).unwrap().count(),
            0,
            "limit {limit}"
        );
    }
    let first = first_success.expect("an ample limit succeeds");
    assert!(
        limits[first] <= 64 << 10,
        "only {} bytes sufficed",
        limits[first]
    );
}

/// What the streaming operators gave, and what that cost.
#[derive(Debug, PartialEq)]
struct Streamed {
    /// The rows of a pipeline: filter, derived column, apply, map_partitions.
    rows: Vec<i64>,
    /// A head's rows.
    head: Vec<i64>,
    /// Every reduction.
    reductions: Vec<f64>,
    spilled: u64,
    /// The memory pool's peak.
    peak: usize,
}

/// The streaming operators over 200,000 rows (1.6 MB a column) in 16 partitions, on a
/// session with a memory limit of `limit` bytes (the default when `None`).
fn streaming(limit: Option<usize>) -> Streamed {
    let mut builder = Session::builder().threads(2).batch_rows(1024);
    if let Some(limit) = limit {
        builder = builder.memory_limit(limit);
    }
    let s = builder.build().unwrap();
    let df = s
        .from_vec("x", (0..200_000_i64).collect(), 16)
        .unwrap()
        .into_frame();
    let schema = Arc::new(Schema::new(vec![Field::new("z", DataType::Int64, false)]));
    let declared = Arc::clone(&schema);
    let pipeline = df
        .filter(col("x").gt(lit(150_000)).or((col("x") % lit(3)).eq(lit(0))))
        .unwrap()
        .with_column((col("x") * lit(2)).alias("y"))
        .unwrap()
        .with_column(col("y").apply(|y: i64| y + 1).alias("y"))
        .unwrap()
        .map_partitions(schema, move |b: RecordBatch| {
            let (x, y) = (
                b.column(0).as_primitive::<Int64Type>(),
                b.column(1).as_primitive::<Int64Type>(),
            );
            let z: Int64Array = x.iter().zip(y).map(|(x, y)| Some(x? + y?)).collect();
            RecordBatch::try_new(Arc::clone(&declared), vec![Arc::new(z)])
        });
    let (out, stats) = pipeline.collect_with_stats().unwrap();
    let rows = out
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    let head = df
        .head(5_000)
        .collect()
        .unwrap()
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    let x = df.column("x").unwrap();
    let z = pipeline.column("z").unwrap();
    let reductions = vec![
        x.sum().compute::<i64>().unwrap() as f64,
        x.mean().compute::<f64>().unwrap(),
        x.min().compute::<i64>().unwrap() as f64,
        x.max().compute::<i64>().unwrap() as f64,
        x.count().compute::<u64>().unwrap() as f64,
        x.std().compute::<f64>().unwrap(),
        x.var().compute::<f64>().unwrap(),
        z.sum().compute::<i64>().unwrap() as f64,
    ];
    Streamed {
        rows,
        head,
        reductions,
        spilled: stats.spilled_bytes,
        peak: s.memory().peak(),
    }
}

#[test]
fn streaming_operators_run_under_any_memory_limit() {
    let ample = streaming(None);
    // x over 150,000 (49,999 rows) or a multiple of 3 up to 150,000 (50,001 rows).
    assert_eq!(ample.rows.len(), 100_000);
    assert_eq!(ample.head, (0..5_000).collect::<Vec<_>>());
    // Batch by batch, nothing reserved: nothing to wait for, nothing spilled, and the
    // same answers under a limit smaller than one batch.
    assert_eq!((ample.spilled, ample.peak), (0, 0));
    for limit in [1, 4 << 10] {
        assert_eq!(streaming(Some(limit)), ample, "limit {limit}");
    }
}

#[test]
fn each_run_reports_its_own_memory_peak_and_the_process_rss() {
    let s = Session::builder()
        .threads(2)
        .memory_limit(256 << 20)
        .build()
        .unwrap();
    let big = s
        .from_vec("n", (0..400_000_i64).rev().collect(), 4)
        .unwrap()
        .into_frame()
        .sort([col("n").asc()])
        .unwrap();
    let (_, big_stats) = big.collect_with_stats().unwrap();
    assert!(big_stats.peak_memory > 1 << 20, "{big_stats:?}");
    // A small run after it reports its own peak, not the pool's lifetime peak.
    let small = s
        .from_vec("n", (0..100_i64).collect(), 2)
        .unwrap()
        .into_frame()
        .sort([col("n").desc()])
        .unwrap();
    let (_, small_stats) = small.collect_with_stats().unwrap();
    assert!(
        small_stats.peak_memory < big_stats.peak_memory / 10,
        "small {} vs big {}",
        small_stats.peak_memory,
        big_stats.peak_memory
    );
    if std::path::Path::new("/proc/self/status").exists() {
        let rss = small_stats.peak_rss.unwrap();
        assert!(rss >= big_stats.peak_memory as u64, "{rss}");
    }
    let text = small.explain_analyze().unwrap();
    assert!(text.contains("process peak RSS"), "{text}");
}
