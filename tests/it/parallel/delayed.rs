//! Delayed graphs: shared nodes computed once, several inputs, errors, explain and DOT.

use super::*;

#[test]
fn a_shared_delayed_node_is_computed_once_per_compute() {
    //    load        (counted)
    //   /    \
    // sum    count
    //   \    /
    //    zip
    //     |
    //    mean
    for synchronous in [false, true] {
        let s = Session::builder()
            .threads(2)
            .synchronous(synchronous)
            .progress(Progress::Never)
            .build()
            .unwrap();
        let loads = Arc::new(AtomicUsize::new(0));
        let l = Arc::clone(&loads);
        let load = Delayed::new(move || {
            l.fetch_add(1, Ordering::SeqCst);
            vec![1.0_f64, 2.0, 3.0, 6.0]
        })
        .named("load");
        let sum = load.map(|v| v.iter().sum::<f64>()).named("sum");
        let count = load.map(|v| v.len() as f64).named("count");
        let mean = sum.zip(&count).map(|(t, n)| t / n).named("mean");
        assert_eq!(mean.compute(&s).unwrap(), 3.0);
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(mean.compute(&s).unwrap(), 3.0);
        assert_eq!(loads.load(Ordering::SeqCst), 2, "once per compute");
    }
}

#[test]
fn map2_and_map3_read_inputs_of_different_types_in_place() {
    // `Table` is not `Clone`: the inputs can only be read in place.
    struct Table(Vec<u64>);
    let s = session(2);
    let table = Delayed::new(|| Table((1..=4).collect())).named("table");
    let label = Delayed::value("sum".to_string()).named("label");
    let scale = Delayed::value(10_u8).named("scale");
    let scaled = table.map2(&scale, |t, k| {
        t.0.iter().map(|v| v * u64::from(*k)).sum::<u64>()
    });
    let report = table
        .map3(&label, &scale, |t, l, k| {
            format!("{l} x{k} = {}", t.0.iter().sum::<u64>() * u64::from(*k))
        })
        .named("report");
    let both = scaled.map2(&report, |n, r| format!("{n}; {r}"));
    assert_eq!(both.compute(&s).unwrap(), "100; sum x10 = 100");
    // Topological order: `scaled` reads table and scale before `label` is reached.
    assert!(
        both.explain()
            .contains("report[4]: String <- table[0], label[3], scale[1]"),
        "{}",
        both.explain()
    );
}

#[test]
fn a_node_named_after_it_is_shared_is_still_computed_once() {
    let s = session(2);
    let loads = Arc::new(AtomicUsize::new(0));
    let l = Arc::clone(&loads);
    let load = Delayed::new(move || {
        l.fetch_add(1, Ordering::SeqCst);
        7_i64
    });
    let double = load.map(|x| x * 2);
    // Named once already an input of `double`: the same node, under its new name.
    let load = load.named("load");
    let total = load.map2(&double, |x, d| x + d).named("total");
    assert_eq!(total.compute(&s).unwrap(), 21);
    assert_eq!(loads.load(Ordering::SeqCst), 1, "load ran more than once");
    let text = total.explain();
    assert!(text.starts_with("delayed graph: 3 nodes"), "{text}");
    assert!(text.contains("load[0]: i64\n"), "{text}");
}

#[test]
fn independent_delayed_branches_run_at_the_same_time() {
    // Each branch hands the other a token and waits for the other's: this can only
    // finish if both run at once.
    let s = session(2);
    let (to_a, from_b) = mpsc::channel::<()>();
    let (to_b, from_a) = mpsc::channel::<()>();
    let branch = |tx: mpsc::Sender<()>, rx: mpsc::Receiver<()>| {
        let rx = Mutex::new(rx);
        Delayed::try_new(move || {
            tx.send(()).map_err(|e| e.to_string())?;
            rx.lock()
                .map_err(|e| e.to_string())?
                .recv_timeout(Duration::from_secs(10))
                .map_err(|_| "the other branch never ran alongside".to_string())
        })
    };
    let a = branch(to_b, from_b).named("a");
    let b = branch(to_a, from_a).named("b");
    let both = Delayed::all([a, b]);
    assert_eq!(both.compute(&s).unwrap().len(), 2);
}

#[test]
fn delayed_errors_and_panics_name_the_node_and_stop_its_dependents() {
    let s = session(2);
    let after = Arc::new(AtomicUsize::new(0));
    let a2 = Arc::clone(&after);
    let text = Delayed::value("12x".to_string()).named("text");
    let parsed = text.try_map(|t| t.parse::<i64>()).named("parse");
    let doubled = parsed
        .map(move |n| {
            a2.fetch_add(1, Ordering::SeqCst);
            n * 2
        })
        .named("double");
    let err = doubled.compute(&s).unwrap_err();
    assert!(
        matches!(&err, Error::UserFunction { function, .. } if function == "parse[1]"),
        "{err}"
    );
    assert!(err.to_string().contains("invalid digit"), "{err}");
    assert_eq!(after.load(Ordering::SeqCst), 0);

    let boom = s
        .delayed(|| 1_i32)
        .map(|_| -> i32 { panic!("kaboom") })
        .named("explode");
    let err = boom.compute(&s).unwrap_err();
    assert!(
        matches!(&err, Error::UserPanic { function, message } if function == "explode[1]" && message == "kaboom"),
        "{err}"
    );
}

#[test]
fn explain_and_dot_draw_the_graph_with_the_errors_numbers() {
    let a = Delayed::value(2_i64).named("a");
    let b = a.map(|x| x * x).named("square");
    let c = a.map(|x| x + 1).named("inc");
    let d = Delayed::all([b, c]).named("gather");
    let text = d.explain();
    assert_eq!(
        text,
        "delayed graph: 4 nodes, output gather[3]\n  a[0]: i64\n  square[1]: i64 <- a[0]\n  \
         inc[2]: i64 <- a[0]\n  gather[3]: Vec<i64> <- square[1], inc[2]\n"
    );
    let dot = d.to_dot();
    assert!(dot.starts_with("digraph delayed {"), "{dot}");
    for edge in ["n0 -> n1;", "n0 -> n2;", "n1 -> n3;", "n2 -> n3;"] {
        assert!(dot.contains(edge), "{edge} missing from\n{dot}");
    }
    assert!(
        dot.contains("n3 [label=\"gather[3]\\nVec<i64>\"];"),
        "{dot}"
    );
    assert_eq!(d.compute(&session(2)).unwrap(), vec![4, 3]);
}

#[test]
fn delayed_nodes_run_branch_by_branch_and_release_values_on_the_way() {
    //   a0    b0
    //   |     |
    //   a1    b1
    //   |     |
    //   a2    b2
    //     \  /
    //     both
    //
    // One at a time, deepest ready node first: a branch is finished before the other
    // starts (a0, a1, a2, b0, b1, b2), and by the time b0 runs, a0 and a1 have been
    // dropped (a2 waits for `both`).
    struct Tracked(Arc<AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    for synchronous in [true, false] {
        let s = Session::builder()
            .threads(1)
            .synchronous(synchronous)
            .progress(Progress::Never)
            .build()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let dropped = Arc::new(AtomicUsize::new(0));
        let step = |name: String| {
            let (log, dropped) = (Arc::clone(&log), Arc::clone(&dropped));
            move || {
                let gone = dropped.load(Ordering::SeqCst);
                log.lock().unwrap().push(format!("{name} ({gone} dropped)"));
                Tracked(Arc::clone(&dropped))
            }
        };
        let branch = |b: &str| {
            let mut node = Delayed::new(step(format!("{b}0")));
            for k in 1..3 {
                let f = step(format!("{b}{k}"));
                node = node.map(move |_| f());
            }
            node
        };
        let both = branch("a").map2(&branch("b"), |_, _| ()).named("both");
        both.compute(&s).unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            [
                "a0 (0 dropped)",
                "a1 (0 dropped)",
                "a2 (1 dropped)",
                "b0 (2 dropped)",
                "b1 (2 dropped)",
                "b2 (3 dropped)"
            ],
            "synchronous: {synchronous}"
        );
        assert_eq!(dropped.load(Ordering::SeqCst), 6);
    }
}

#[test]
fn delayed_nodes_are_admitted_by_the_sessions_memory_budget() {
    // 64 MiB, 60 held elsewhere: 4 MiB free is less than the admission share (a quarter
    // over 2 in flight, 8 MiB), so with one node running no other starts.
    let s = Session::builder()
        .threads(2)
        .memory_limit(64 << 20)
        .progress(Progress::Never)
        .build()
        .unwrap();
    let mut held = s.memory().reserve("held elsewhere");
    held.try_grow(60 << 20).unwrap();
    let at_once = Arc::new(Concurrency::default());
    let leaves = (0..6_u64).map(|i| {
        let c = Arc::clone(&at_once);
        Delayed::new(move || {
            c.run(|| {
                std::thread::sleep(Duration::from_millis(5));
                i
            })
        })
    });
    let total = Delayed::all(leaves).map(|v| v.iter().sum::<u64>());
    let answer = within(WATCHDOG, move || total.compute(&s).unwrap());
    assert_eq!(answer, 15);
    assert_eq!(at_once.max.load(Ordering::SeqCst), 1);
    drop(held);
}
