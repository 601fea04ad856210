//! `repartition(n)` and `repartition_by_size(bytes)` through the public API: the same rows
//! in the same order, in the partitions asked for, within the memory limit.

use std::sync::Arc;

use proptest::prelude::*;
use spillway::arrow::array::{AsArray, Int64Array, UInt64Array};
use spillway::arrow::datatypes::{Int64Type, UInt64Type};
use spillway::prelude::*;

fn session(threads: usize, limit: usize, spill: &std::path::Path) -> Session {
    Session::builder()
        .threads(threads)
        .batch_rows(7)
        .memory_limit(limit)
        .spill_dir(spill)
        .build()
        .unwrap()
}

fn values(batches: &[RecordBatch]) -> Vec<Option<i64>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column(0).as_primitive::<Int64Type>();
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The rows of each output partition, in partition order.
fn partition_rows(frame: &DataFrame) -> Vec<u64> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "rows",
        DataType::UInt64,
        false,
    )]));
    let out_schema = Arc::clone(&schema);
    let counted = frame.map_partitions(schema, move |b: RecordBatch| {
        RecordBatch::try_new(
            Arc::clone(&out_schema),
            vec![Arc::new(UInt64Array::from(vec![b.num_rows() as u64]))],
        )
    });
    counted
        .collect()
        .unwrap()
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<UInt64Type>().values().to_vec())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn repartition_keeps_rows_and_order_in_the_partitions_asked_for(
        rows in proptest::collection::vec(proptest::option::weighted(0.9, -1000_i64..1000), 0..300),
        nparts in 1_usize..=12,
        n in 1_usize..=30,
        threads in 1_usize..=3,
        limit in prop_oneof![Just(2 << 10_usize), Just(1 << 30)],
    ) {
        let spill = tempfile::tempdir().unwrap();
        let s = session(threads, limit, spill.path());
        let frame = s
            .from_array("x", Arc::new(Int64Array::from(rows.clone())), nparts)
            .unwrap()
            .into_frame();
        let re = frame.repartition(n).unwrap();
        prop_assert_eq!(re.npartitions().unwrap(), n);
        let (out, stats) = re.collect_with_stats().unwrap();
        prop_assert_eq!(values(&out), rows.clone());
        let sizes = partition_rows(&re);
        prop_assert_eq!(sizes.len(), n);
        prop_assert_eq!(sizes.iter().sum::<u64>() as usize, rows.len());
        if limit < 4096 && rows.len() > 100 {
            prop_assert!(stats.spilled_bytes > 0, "{:?}", stats);
        }
        // Work after a repartition runs on the new partitions.
        let doubled = re.with_column((col("x") * lit(2)).alias("y")).unwrap().select([col("y")]).unwrap();
        let expected: Vec<Option<i64>> = rows.iter().map(|v| v.map(|v| v * 2)).collect();
        prop_assert_eq!(values(&doubled.collect().unwrap()), expected);
        prop_assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
        prop_assert_eq!(s.memory().used(), 0);
    }
}

#[test]
fn more_partitions_cut_each_into_equal_pieces_and_fewer_join_neighbours() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, 1 << 30, spill.path());
    let frame = s
        .from_vec("x", (0..120_i64).collect(), 3)
        .unwrap()
        .into_frame();
    assert_eq!(frame.npartitions().unwrap(), 3);
    assert_eq!(partition_rows(&frame.repartition(6).unwrap()), [20; 6]);
    assert_eq!(
        partition_rows(&frame.repartition(7).unwrap()),
        [20, 20, 20, 20, 13, 13, 14]
    );
    assert_eq!(partition_rows(&frame.repartition(2).unwrap()), [40, 80]);
    assert_eq!(partition_rows(&frame.repartition(1).unwrap()), [120]);
    // An empty frame still has the partitions asked for, all empty.
    let none = s.from_vec("x", Vec::<i64>::new(), 1).unwrap().into_frame();
    assert_eq!(partition_rows(&none.repartition(3).unwrap()), [0, 0, 0]);
    let text = frame.repartition(6).unwrap().explain().unwrap();
    assert!(text.contains("Repartition into 6 partitions"), "{text}");
    assert!(text.contains("3 → 6 partitions"), "{text}");
}

#[test]
fn repartition_by_size_counts_partitions_from_the_estimate() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, 1 << 30, spill.path());
    let frame = s
        .from_vec("x", (0..100_000_i64).collect(), 2)
        .unwrap()
        .into_frame();
    // 100 000 eight-byte values: about 800 kB.
    let re = frame.repartition_by_size(100_000).unwrap();
    let n = re.npartitions().unwrap();
    assert!((8..=9).contains(&n), "{n}");
    assert_eq!(
        values(&re.collect().unwrap()),
        (0..100_000).map(Some).collect::<Vec<_>>()
    );
    assert_eq!(
        frame
            .repartition_by_size(1 << 30)
            .unwrap()
            .npartitions()
            .unwrap(),
        1
    );
}

#[test]
fn repartition_errors_and_panics() {
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, 1 << 30, spill.path());
    let frame = s
        .from_vec("x", (0..1000_i64).collect(), 2)
        .unwrap()
        .into_frame();
    assert!(matches!(frame.repartition(0), Err(Error::Plan(_))));
    assert!(matches!(frame.repartition_by_size(0), Err(Error::Plan(_))));
    let err = frame
        .repartition(5)
        .unwrap()
        .with_column(
            col("x")
                .apply(|x: i64| -> i64 {
                    assert!(x != 700, "seven hundred");
                    x
                })
                .alias("y"),
        )
        .unwrap()
        .collect()
        .unwrap_err();
    match &err {
        Error::Task {
            task, partition, ..
        } => {
            assert!(task.starts_with("repartition-apply"), "{task}");
            assert_eq!(*partition, 3, "row 700 is in the fourth of five partitions");
        }
        other => panic!("wrong error: {other}"),
    }
    assert!(err.to_string().contains("seven hundred"), "{err}");
    // Filters move below the repartition.
    let text = frame
        .repartition(4)
        .unwrap()
        .filter(col("x").gt(lit(10)))
        .unwrap()
        .explain()
        .unwrap();
    assert!(text.contains("scan-filter-hold"), "{text}");
    assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    assert_eq!(s.memory().used(), 0);
}
