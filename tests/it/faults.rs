//! Faults that once gave a silent wrong answer (issue 12): each now gives the right answer
//! or a typed error, whatever the partitioning.

use spillway::arrow::array::AsArray;
use spillway::arrow::datatypes::{Float64Type, Int64Type};
use spillway::prelude::*;

fn session() -> Session {
    Session::builder().threads(2).build().unwrap()
}

#[test]
fn a_lossy_conversion_of_a_result_is_an_error_not_a_truncation() {
    let s = session();
    let xs = s.from_vec("x", vec![5.9988_f64], 1).unwrap();
    let err = xs.mean().compute::<i64>().unwrap_err();
    assert!(matches!(err, Error::Conversion { .. }), "{err}");
    assert!(err.to_string().contains("5.9988"), "{err}");
    assert_eq!(xs.mean().compute::<f64>().unwrap(), 5.9988);
    // Whole values still convert, from floats and integers alike.
    let whole = s.from_vec("x", vec![2.0_f64, 4.0], 2).unwrap();
    assert_eq!(whole.sum().compute::<i64>().unwrap(), 6);
    let ints = s.from_vec("n", vec![1_i64, 2, 3], 2).unwrap();
    assert_eq!(ints.sum().compute::<f64>().unwrap(), 6.0);
    assert_eq!(ints.sum().compute::<i32>().unwrap(), 6);
}

#[test]
fn quantile_zero_and_one_are_the_minimum_and_maximum_even_when_infinite() {
    let s = session();
    for nparts in [1, 2, 3] {
        let low = s
            .from_vec("x", vec![f64::NEG_INFINITY, 1.0, 5.0], nparts)
            .unwrap();
        assert_eq!(
            low.quantile(0.0).compute::<f64>().unwrap(),
            f64::NEG_INFINITY
        );
        assert_eq!(low.quantile(1.0).compute::<f64>().unwrap(), 5.0);
        let high = s
            .from_vec("x", vec![1.0, 2.0, f64::INFINITY], nparts)
            .unwrap();
        assert_eq!(high.quantile(1.0).compute::<f64>().unwrap(), f64::INFINITY);
        assert_eq!(high.quantile(0.0).compute::<f64>().unwrap(), 1.0);
        assert_eq!(high.quantile(0.5).compute::<f64>().unwrap(), 2.0);
        // Grouped, the same.
        let g = s
            .from_vec(
                "x",
                vec![f64::NEG_INFINITY, 1.0, 5.0, 1.0, 2.0, f64::INFINITY],
                nparts,
            )
            .unwrap()
            .into_frame()
            .with_column(col("x").apply(|x: f64| i64::from(x > 4.0)).alias("g"))
            .unwrap()
            .group_by([col("g")])
            .agg([
                col("x").quantile(0.0).alias("q0"),
                col("x").quantile(1.0).alias("q1"),
            ])
            .unwrap()
            .sort([col("g").asc()])
            .unwrap()
            .collect_batch()
            .unwrap();
        let q0 = g.column(1).as_primitive::<Float64Type>();
        let q1 = g.column(2).as_primitive::<Float64Type>();
        assert_eq!(
            g.column(0).as_primitive::<Int64Type>().values().to_vec(),
            vec![0, 1]
        );
        assert_eq!(
            (q0.value(0), q1.value(0)),
            (f64::NEG_INFINITY, 2.0),
            "nparts {nparts}"
        );
        assert_eq!(
            (q0.value(1), q1.value(1)),
            (5.0, f64::INFINITY),
            "nparts {nparts}"
        );
    }
}

#[test]
fn absurd_thread_counts_are_refused_at_once() {
    let started = std::time::Instant::now();
    let err = Session::builder().threads(10_000).build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert!(err.to_string().contains("threads must be at most"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(Session::builder().threads(64).build().is_ok());
}

#[test]
fn a_spill_folder_that_cannot_be_used_is_reported_when_the_session_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let err = Session::builder().spill_dir(&missing).build().unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("nowhere"), "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = Session::builder().spill_dir(&file).build().unwrap_err();
    assert!(err.to_string().contains("not a folder"), "{err}");
    // Nothing is left behind by the check.
    assert!(Session::builder().spill_dir(dir.path()).build().is_ok());
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "the check left files: {left:?}");
}

#[test]
fn spill_folders_of_a_killed_process_are_removed_by_the_next_session() {
    let dir = tempfile::tempdir().unwrap();
    // A process that is gone: it ran, and was waited for.
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let dead = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    let orphan = dir.path().join(format!("spillway-{dead}-AbC123"));
    std::fs::create_dir(&orphan).unwrap();
    std::fs::write(orphan.join("0.arrow"), b"spilled").unwrap();
    // Ours (this process) and a folder that is not a spill folder stay.
    let live = dir
        .path()
        .join(format!("spillway-{}-XyZ789", std::process::id()));
    std::fs::create_dir(&live).unwrap();
    let other = dir.path().join("spillway-notes");
    std::fs::create_dir(&other).unwrap();
    Session::builder().spill_dir(dir.path()).build().unwrap();
    if std::path::Path::new("/proc/self").exists() {
        assert!(
            !orphan.exists(),
            "the dead process's spill folder is still there"
        );
    }
    assert!(live.exists() && other.exists());
}
