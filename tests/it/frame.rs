//! The lazy DataFrame end to end: partitioning edge cases, errors and panics in user
//! closures, explain.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use spillway::arrow::array::{AsArray, Int64Array};
use spillway::arrow::datatypes::Int64Type;
use spillway::prelude::*;

fn session(threads: usize) -> Session {
    Session::builder().threads(threads).build().unwrap()
}

fn numbers(session: &Session, n: i64, nparts: usize) -> DataFrame {
    session
        .from_vec("x", (0..n).collect::<Vec<i64>>(), nparts)
        .unwrap()
        .into_frame()
}

fn xs(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect()
}

#[test]
fn the_seed_pipeline_runs_on_every_partitioning() {
    for nparts in [1, 2, 7, 64] {
        let s = session(2);
        let sizes = s.from_vec("n", vec![10_i64, 20, 30, 40], nparts).unwrap();
        let mean: f64 = sizes
            .apply(|n: i64| n as f64 / 10.0)
            .unwrap()
            .mean()
            .compute()
            .unwrap();
        assert_eq!(mean, 2.5, "npartitions {nparts}");
    }
}

#[test]
fn an_empty_table_gives_empty_results_and_neutral_reductions() {
    let s = session(2);
    let df = numbers(&s, 0, 4);
    assert!(df.collect().unwrap().is_empty());
    assert!(
        df.filter(col("x").gt(lit(1)))
            .unwrap()
            .collect()
            .unwrap()
            .is_empty()
    );
    let x = df.column("x").unwrap();
    assert_eq!(x.sum().compute::<i64>().unwrap(), 0);
    assert_eq!(x.count().compute::<u64>().unwrap(), 0);
    assert_eq!(x.max().compute::<Option<i64>>().unwrap(), None);
    assert!(x.mean().compute::<f64>().unwrap().is_nan());
    assert!(x.max().compute::<i64>().is_err(), "a null is no i64");
    assert_eq!(df.count_rows().unwrap(), 0);
}

#[test]
fn one_partition_and_many_give_the_same_rows_in_order() {
    let s = session(3);
    for nparts in [1, 2, 5, 64, 1000] {
        let out = numbers(&s, 100, nparts)
            .filter(col("x").gt_eq(lit(50)))
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(xs(&out), (50..100).collect::<Vec<_>>(), "{nparts}");
    }
}

#[test]
fn the_synchronous_scheduler_gives_the_same_answer() {
    let s = Session::builder().synchronous(true).build().unwrap();
    let df = numbers(&s, 1000, 9);
    assert_eq!(
        df.column("x").unwrap().sum().compute::<i64>().unwrap(),
        499_500
    );
    assert_eq!(xs(&df.head(3).collect().unwrap()), vec![0, 1, 2]);
}

#[test]
fn unknown_columns_and_wrong_types_fail_when_the_frame_is_built() {
    let s = session(1);
    let df = numbers(&s, 10, 2);
    let err = df.select([col("y")]).unwrap_err();
    assert!(
        matches!(err, Error::ColumnNotFound { ref name, ref available } if name == "y" && available == &["x"])
    );
    assert!(err.to_string().contains("available columns: [x]"), "{err}");
    let err = df.filter(col("x") + lit(1)).unwrap_err();
    assert!(matches!(err, Error::Type { .. }), "{err}");
    let err = df
        .column("x")
        .unwrap()
        .apply(|s: String| s.len() as i64)
        .unwrap_err();
    assert!(matches!(err, Error::Type { .. }), "{err}");
    let err = df.agg([col("x").mean(), col("x").mean()]).unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
}

/// Holds back every partition after the failing one until the failure has happened and
/// the scheduler has had `GRACE` to hear of it (it takes one message off a channel and
/// raises a flag; the grace is long so that a loaded CI machine does not starve it), so
/// that how many closure calls a cancelled run makes depends on the engine's guarantees
/// alone, not on how threads race.
struct Gate {
    calls: AtomicUsize,
    /// Calls made in the partitions held back.
    later_calls: AtomicUsize,
    failed_at: std::sync::OnceLock<std::time::Instant>,
}

impl Gate {
    const GRACE: std::time::Duration = std::time::Duration::from_millis(200);

    fn new() -> Arc<Gate> {
        Arc::new(Gate {
            calls: AtomicUsize::new(0),
            later_calls: AtomicUsize::new(0),
            failed_at: std::sync::OnceLock::new(),
        })
    }

    fn fail(&self) {
        let _ = self.failed_at.set(std::time::Instant::now());
    }

    /// Waits until the failure is `GRACE` old (giving up after 10 s, for a broken engine
    /// that never fails: the call counts then tell).
    fn hold(&self) {
        self.later_calls.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        while self
            .failed_at
            .get()
            .is_none_or(|t| t.elapsed() < Self::GRACE)
            && started.elapsed() < std::time::Duration::from_secs(10)
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

#[test]
fn a_panicking_closure_names_its_task_and_partition_and_stops_the_graph() {
    // 64 partitions of 1000 rows read as batches of 100; the closure panics on the 501st
    // row of partition 3.
    const PART_ROWS: usize = 1000;
    const BATCH_ROWS: usize = 100;
    for threads in [1, 2, 4] {
        let s = Session::builder()
            .threads(threads)
            .batch_rows(BATCH_ROWS)
            .build()
            .unwrap();
        let gate = Gate::new();
        let g = Arc::clone(&gate);
        let err = numbers(&s, 64_000, 64)
            .column("x")
            .unwrap()
            .apply(move |x: i64| {
                g.calls.fetch_add(1, Ordering::Relaxed);
                if x == 3_500 {
                    g.fail();
                    panic!("bad sample {x}");
                }
                if x >= 4_000 {
                    g.hold();
                }
                x
            })
            .unwrap()
            .sum()
            .compute::<i64>()
            .unwrap_err();
        match &err {
            Error::Task {
                task,
                partition,
                source,
            } => {
                assert_eq!(*partition, 3, "{err}");
                assert_eq!(task, "scan-apply-partial[3]");
                assert!(
                    matches!(source.as_ref(), Error::UserPanic { message, .. } if message == "bad sample 3500"),
                    "{err}"
                );
            }
            other => panic!("wrong error: {other}"),
        }
        // What can be in flight: tasks start in partition order, at most `threads` at
        // once, and none of the held-back partitions can finish before the failure is
        // heard. So while partition 3 runs, at most `threads - 1` later partitions have
        // started; once the cancel flag is up no task starts, and a running one stops
        // before its next batch: each later partition makes at most one batch of calls.
        // Partitions 0..=2 make at most their 3000 calls, partition 3 makes 501.
        let later = gate.later_calls.load(Ordering::Relaxed);
        let n = gate.calls.load(Ordering::Relaxed);
        assert!(later <= (threads - 1) * BATCH_ROWS, "{later} later calls");
        assert!(
            n <= 3 * PART_ROWS + 501 + (threads - 1) * BATCH_ROWS,
            "{n} calls"
        );
        if threads == 1 {
            assert_eq!(n, 3_501);
        }
    }
}

#[test]
fn a_failure_among_many_slow_partitions_returns_long_before_the_full_run() {
    // 2000 partitions of one row, each taking at least 5 ms: a full run takes at least
    // 10 s / threads. Partition 10 fails at once, by an error or a panic.
    const PARTS: usize = 2000;
    const SLEEP: std::time::Duration = std::time::Duration::from_millis(5);
    for (threads, panics) in [(2, false), (2, true), (4, false), (4, true)] {
        let s = session(threads);
        let started_parts = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&started_parts);
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let started = std::time::Instant::now();
        let err = numbers(&s, PARTS as i64, PARTS)
            .map_partitions(schema, move |batch: RecordBatch| {
                seen.fetch_add(1, Ordering::Relaxed);
                if batch.column(0).as_primitive::<Int64Type>().value(0) == 10 {
                    if panics {
                        panic!("slow partition 10 panicked");
                    }
                    return Err("slow partition 10 failed".to_string());
                }
                std::thread::sleep(SLEEP);
                Ok(batch)
            })
            .collect()
            .unwrap_err();
        let elapsed = started.elapsed();
        assert!(matches!(&err, Error::Task { partition: 10, .. }), "{err}");
        assert!(err.to_string().contains("slow partition 10"), "{err}");
        let full_run = SLEEP * (PARTS / threads) as u32;
        assert!(
            elapsed < full_run / 5,
            "{threads} threads: {elapsed:?}, the full run takes at least {full_run:?}"
        );
        // Partitions 0..=10 started; of the 1989 after, only the few that were started
        // while partition 10 ran (or before its failure was heard).
        let n = started_parts.load(Ordering::Relaxed);
        assert!(n < PARTS / 20, "{threads} threads: {n} partitions started");
    }
}

#[test]
fn a_closure_error_names_the_value_it_failed_on() {
    let s = session(2);
    let err = numbers(&s, 100, 4)
        .with_column(
            col("x")
                .apply(|x: i64| {
                    if x == 77 {
                        Err(format!("{x} is unlucky"))
                    } else {
                        Ok(x)
                    }
                })
                .alias("y"),
        )
        .unwrap()
        .collect()
        .unwrap_err();
    assert!(matches!(&err, Error::Task { partition: 3, .. }), "{err}");
    match err.root() {
        Error::UserFunction { value, message, .. } => {
            assert_eq!(value.as_deref(), Some("77"));
            assert_eq!(message, "77 is unlucky");
        }
        other => panic!("wrong error: {other}"),
    }
}

/// A user's own error type, to get back from Spillway's error.
#[derive(Debug, PartialEq)]
struct Unlucky(i64);

impl std::fmt::Display for Unlucky {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is unlucky", self.0)
    }
}

impl std::error::Error for Unlucky {}

/// The closure's own error, as the root's `source`, downcast to its type.
fn unlucky(err: &Error) -> Option<&Unlucky> {
    match err.root() {
        Error::UserFunction {
            source: Some(e), ..
        } => e.downcast_ref::<Unlucky>(),
        _ => None,
    }
}

#[test]
fn a_closures_own_error_type_is_kept_as_the_source() {
    let s = session(2);
    // Element-wise.
    let err = numbers(&s, 100, 4)
        .with_column(
            col("x")
                .apply(|x: i64| if x == 77 { Err(Unlucky(x)) } else { Ok(x) })
                .alias("y"),
        )
        .unwrap()
        .collect()
        .unwrap_err();
    assert_eq!(unlucky(&err), Some(&Unlucky(77)), "{err}");
    assert!(err.to_string().contains("77 is unlucky"), "{err}");
    // A whole partition.
    let schema = numbers(&s, 1, 1).schema();
    let err = numbers(&s, 100, 4)
        .map_partitions(schema, |batch: RecordBatch| {
            let first = batch.column(0).as_primitive::<Int64Type>().value(0);
            if first == 50 {
                Err(Unlucky(first))
            } else {
                Ok(batch)
            }
        })
        .collect()
        .unwrap_err();
    assert_eq!(unlucky(&err), Some(&Unlucky(50)), "{err}");
    // A delayed node.
    let err = s
        .delayed(|| 7_i64)
        .try_map(|x: &i64| if *x == 7 { Err(Unlucky(*x)) } else { Ok(*x) })
        .compute(&s)
        .unwrap_err();
    assert_eq!(unlucky(&err), Some(&Unlucky(7)), "{err}");
}

#[test]
fn map_partitions_checks_the_declared_schema_on_every_partition() {
    let s = session(2);
    let declared = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    let err = numbers(&s, 100, 4)
        .map_partitions(declared, |batch: RecordBatch| {
            // Partition 2 starts at 50 and returns a column of the wrong name.
            let first = batch.column(0).as_primitive::<Int64Type>().value(0);
            let name = if first == 50 { "oops" } else { "x" };
            let schema = Arc::new(Schema::new(vec![Field::new(name, DataType::Int64, false)]));
            RecordBatch::try_new(schema, vec![Arc::clone(batch.column(0))])
        })
        .collect()
        .unwrap_err();
    assert!(matches!(&err, Error::Task { partition: 2, .. }), "{err}");
    assert!(
        matches!(err.root(), Error::SchemaMismatch { found, .. } if found.contains("oops")),
        "{err}"
    );

    let err = numbers(&s, 10, 2)
        .map_partitions(
            Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)])),
            |_: RecordBatch| -> Result<RecordBatch, String> { Err("no thanks".into()) },
        )
        .collect()
        .unwrap_err();
    assert!(
        matches!(err.root(), Error::UserFunction { message, .. } if message == "no thanks"),
        "{err}"
    );
}

#[test]
fn a_map_partitions_panic_or_error_names_its_task_and_partition() {
    let s = session(2);
    let declared = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    // 100 rows in 4 partitions of 25: the closure fails on the one starting at `at`.
    let run = |at: i64, panics: bool| {
        numbers(&s, 100, 4)
            .map_partitions(Arc::clone(&declared), move |batch: RecordBatch| {
                let first = batch.column(0).as_primitive::<Int64Type>().value(0);
                if first == at {
                    if panics {
                        panic!("cannot handle the partition from {first}");
                    }
                    return Err(format!("refused the partition from {first}"));
                }
                Ok(batch)
            })
            .collect()
            .unwrap_err()
    };

    let err = run(50, true);
    match &err {
        Error::Task {
            task,
            partition: 2,
            source,
        } => {
            assert_eq!(task, "scan-map_partitions[2]");
            assert!(
                matches!(source.as_ref(), Error::UserPanic { message, .. } if message == "cannot handle the partition from 50"),
                "{err}"
            );
        }
        other => panic!("wrong error: {other}"),
    }
    assert!(err.to_string().contains("partition 2"), "{err}");

    let err = run(25, false);
    match &err {
        Error::Task {
            task,
            partition: 1,
            source,
        } => assert!(
            task == "scan-map_partitions[1]"
                && matches!(source.as_ref(), Error::UserFunction { message, value: None, .. } if message == "refused the partition from 25"),
            "{err}"
        ),
        other => panic!("wrong error: {other}"),
    }
    assert!(err.to_string().contains("partition 1"), "{err}");
}

#[test]
fn division_by_zero_is_a_compute_error_naming_the_expression() {
    let s = session(2);
    let err = numbers(&s, 10, 2)
        .select([(lit(10_i64) % col("x")).alias("r")])
        .unwrap()
        .collect()
        .unwrap_err();
    assert!(matches!(err.root(), Error::Compute { .. }), "{err}");
    assert!(err.to_string().contains("partition 0"), "{err}");
}

#[test]
fn reductions_merge_in_a_tree_and_explain_shows_the_stages() {
    let s = Session::builder().threads(2).fan_in(4).build().unwrap();
    let x = numbers(&s, 10_000, 64).column("x").unwrap();
    let doubled = x.map(col("x") * lit(2)).unwrap();
    assert_eq!(doubled.sum().compute::<i64>().unwrap(), 99_990_000);
    let text = doubled.sum().explain().unwrap();
    assert!(text.contains("== logical plan =="), "{text}");
    assert!(text.contains("== optimized plan =="), "{text}");
    // 64 partial tasks, combined 4 at a time: 16, then 4, then the final task.
    assert!(
        text.contains("stage 0 scan-project-partial: 64 tasks"),
        "{text}"
    );
    assert!(text.contains("stage 1 combine-1: 16 tasks"), "{text}");
    assert!(text.contains("stage 2 combine-2: 4 tasks"), "{text}");
    assert!(text.contains("stage 3 aggregate: 1 task"), "{text}");
    let graph = doubled.sum().frame().unwrap().task_graph().unwrap();
    assert_eq!(graph.tasks.len(), 64 + 16 + 4 + 1);
}

#[test]
fn with_column_replaces_a_column_of_the_same_name() {
    let s = session(1);
    let df = numbers(&s, 5, 2)
        .with_columns([(col("x") * lit(10)).alias("x"), lit(1_i64).alias("one")])
        .unwrap();
    assert_eq!(
        df.schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>(),
        vec!["x", "one"]
    );
    let b = df.collect_batch().unwrap();
    assert_eq!(
        b.column(0).as_primitive::<Int64Type>(),
        &Int64Array::from(vec![0, 10, 20, 30, 40])
    );
}

#[test]
fn the_session_checks_its_configuration() {
    assert!(Session::builder().threads(0).build().is_err());
    assert!(Session::builder().batch_rows(0).build().is_err());
    assert!(
        Session::builder()
            .memory_limit(1 << 20)
            .spill_dir(std::env::temp_dir())
            .build()
            .is_ok()
    );
}

#[test]
fn a_reduction_releases_partial_states_as_their_combine_finishes() {
    // 1000 partitions summed in a tree of 4-way combines: 1000 → 250 → 63 → 16 → 4 → 1.
    const PARTS: usize = 1000;
    const FAN_IN: usize = 4;
    for threads in [1, 2, 4] {
        let s = Session::builder()
            .threads(threads)
            .fan_in(FAN_IN)
            .build()
            .unwrap();
        let sum = numbers(&s, 100_000, PARTS).column("x").unwrap().sum();
        let frame = sum.frame().unwrap();
        let stages = frame.task_graph().unwrap().stages.len();
        assert_eq!(stages, 6);
        let (out, stats) = frame.collect_with_stats().unwrap();
        assert_eq!(
            out[0].column(0).as_primitive::<Int64Type>().value(0),
            4_999_950_000
        );
        let held = stats.peak_held_outputs;
        if threads == 1 {
            // One task at a time, deepest ready first: each of the 5 levels below the final
            // task holds at most 3 outputs waiting for the 4th of their group, and the
            // output just finished is one more.
            assert_eq!(held, 5 * (FAN_IN - 1) + 1);
        }
        // A held output waits for a consumer that has not finished: one on the path up
        // from a running task (at most `threads`), from the first partition not started
        // yet (partitions start in order) or from a ready combine (ready combines go first,
        // so at most one waits for a slot). Each path has fewer than `stages` consumers,
        // each holding at most `FAN_IN` inputs.
        assert!(
            held <= (threads + 2) * stages * FAN_IN,
            "{threads} threads held {held} outputs"
        );
        assert!(held < PARTS / 5, "{held}");
        let text = sum.frame().unwrap().explain_analyze().unwrap();
        assert!(text.contains("outputs held at once"), "{text}");
    }
    // A collect holds every output partition: they are the result.
    let s = session(2);
    let (_, stats) = numbers(&s, 1000, 50).collect_with_stats().unwrap();
    assert_eq!(stats.peak_held_outputs, 50);
}
