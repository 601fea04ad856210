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

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use spillway::prelude::*;

fn main() -> Result<()> {
    let session = Session::from_env()?;
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
