//! A delayed graph, the `dask.delayed` way: lazy calls composed into a diamond whose top
//! node is shared, drawn, then computed on the session's pool.
//!
//! ```text
//!            load            (runs once, though three nodes read it)
//!          /   |   \
//!       sum  sum_sq  count   (independent: run in parallel)
//!          \   |   /
//!           moments
//!              |
//!             std
//! ```
//!
//!     cargo run --example delayed_graph
//!     cargo run --example delayed_graph | sed -n '/^digraph/,/^}/p' | dot -Tsvg > graph.svg
//!
//! With `--nodes N`, the scheduler's cost per node instead: N trivial leaves (each returns
//! its number), gathered by one `all` node (`--shape gather`, as `dask.compute(*nodes)`)
//! or summed by a binary tree of `map2` nodes (`--shape tree`, 2N - 1 nodes). It ends with
//! a `RESULT {json}` line (`inner_s` times `compute` only) for the benchmark scripts.
//!
//!     cargo run --release --example delayed_graph -- --nodes 100000 --shape gather
//!     cargo run --release --example delayed_graph -- --nodes 100000 --shape tree

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use clap::{Parser, ValueEnum};
use spillway::prelude::*;

#[path = "common/exit.rs"]
mod exit;

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Shape {
    /// N leaves read by one `all` node.
    Gather,
    /// N leaves summed pairwise by `map2` nodes.
    Tree,
}

#[derive(Parser)]
struct Args {
    /// Time a graph of N trivial leaves instead of drawing the diamond.
    #[arg(long, value_name = "N")]
    nodes: Option<u64>,
    /// How the leaves are combined.
    #[arg(long, value_enum, default_value = "gather")]
    shape: Shape,
    /// Session threads (default: SPILLWAY_THREADS, or all cores).
    #[arg(long)]
    threads: Option<usize>,
}

/// N trivial leaves combined as `shape` says, summed.
fn trivial_graph(n: u64, shape: Shape) -> Delayed<u64> {
    let leaves: Vec<Delayed<u64>> = (0..n).map(|i| Delayed::new(move || i)).collect();
    match shape {
        Shape::Gather => Delayed::all(leaves).map(|v| v.iter().sum::<u64>()),
        Shape::Tree => {
            let mut level = leaves;
            while level.len() > 1 {
                let mut next = Vec::with_capacity(level.len().div_ceil(2));
                let mut it = level.into_iter();
                while let Some(a) = it.next() {
                    match it.next() {
                        Some(b) => next.push(a.map2(&b, |x, y| x + y)),
                        None => next.push(a),
                    }
                }
                level = next;
            }
            level.pop().unwrap_or_else(|| Delayed::value(0))
        }
    }
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
    if let Some(n) = args.nodes {
        let graph = trivial_graph(n, args.shape);
        let built = started.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let sum = graph.compute(&session)?;
        let inner = t0.elapsed().as_secs_f64();
        let ok = sum == n * n.saturating_sub(1) / 2;
        let shape = if args.shape == Shape::Gather {
            "gather"
        } else {
            "tree"
        };
        let threads = session.config().threads;
        println!(
            "{n} trivial delayed leaves ({shape}) on {threads} threads in {inner:.3} s: {:.3} µs a leaf",
            inner * 1e6 / n.max(1) as f64
        );
        println!(
            "RESULT {{\"engine\": \"spillway\", \"query\": \"delayed-{shape}\", \"leaves\": {n}, \"threads\": {threads}, \"build_s\": {built:.4}, \"inner_s\": {inner:.4}, \"total_s\": {:.4}, \"per_leaf_us\": {:.4}, \"correct\": {ok}}}",
            started.elapsed().as_secs_f64(),
            inner * 1e6 / n.max(1) as f64
        );
        return Ok(());
    }
    let loads = Arc::new(AtomicUsize::new(0));

    let counter = Arc::clone(&loads);
    let load = Delayed::new(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        // Shared by three consumers: an `Arc` so that gathering does not copy the data.
        Arc::new((1..=1_000_000).map(f64::from).collect::<Vec<f64>>())
    })
    .named("load");
    let sum = load.map(|v| v.iter().sum::<f64>()).named("sum");
    let sum_sq = load
        .map(|v| v.iter().map(|x| x * x).sum::<f64>())
        .named("sum_sq");
    let count = load.map(|v| v.len() as f64).named("count");
    let std = Delayed::all([sum, sum_sq, count])
        .named("moments")
        .map(|m| {
            let (s, sq, n) = (m[0], m[1], m[2]);
            (sq / n - (s / n).powi(2)).sqrt()
        })
        .named("std");

    println!("{}", std.explain());
    println!("{}", std.to_dot());
    let value = std.compute(&session)?;
    println!(
        "std of 1..=1000000 = {value:.3} (load ran {} time)",
        loads.load(Ordering::Relaxed)
    );
    Ok(())
}
