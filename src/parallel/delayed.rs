//! [`Delayed`]: lazy calls composed into a graph and computed on the session's pool, as
//! `dask.delayed` does.
//!
//! A node is a closure and the nodes whose values it takes; nodes are immutable and shared
//! by `Arc`, so a graph is built bottom-up and cannot have a cycle. Cloning a `Delayed` or
//! using it as the input of several nodes shares the node: one `compute` runs it once.
//! Values cross the graph type-erased, as `Arc<dyn Any + Send + Sync>`; the typed API
//! (`Delayed<T>`) guarantees that every downcast succeeds. A node reads its inputs in
//! place (`map`, `map2`, `map3` take references), so a value read by many nodes is never
//! copied; only `zip` and `all`, which build a new value out of their inputs, clone.
//!
//! # Scheduling
//!
//! `compute` first collects the graph reachable from the node, in topological order (each
//! node after its inputs, numbered from 0; `explain` and `to_dot` use the same numbers),
//! and gives each node a depth: 0 for a leaf, else one more than its deepest input. Then
//! the engine's scheduler runs it ([`spillway_engine::scheduler`], the one that runs
//! DataFrame tasks), with its policy:
//!
//! - ready nodes deepest first, then lowest number: a node whose inputs are ready runs
//!   before another leaf starts, so a branch is finished, and its inputs released, before
//!   another is started;
//! - a value is dropped as soon as its last reader has run (the output counts one more);
//! - at most `threads` nodes run at once, independent branches in parallel, and with one
//!   running another starts only while the memory policy's admission share of the
//!   session's budget ([`Session::memory`]) is free: a node that runs DataFrame work does
//!   not start into a full budget;
//! - computed from inside pool work (a node or a task that itself computes a graph), the
//!   waiting thread runs its own nodes rather than block the pool.
//!
//! The first failure (a closure's error or panic, as [`Error::UserFunction`] /
//! [`Error::UserPanic`] naming the node as `name[number]`) stops the scheduling: nothing
//! new starts, the running nodes are waited for, and that error is returned.
//! [`Session::cancel`] stops it the same way, ending in [`Error::Cancelled`]: a node's
//! closure is never interrupted, but no node starts after the cancel. With the session's
//! `synchronous` setting the nodes run on the calling thread, in the same order.

use std::any::Any;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use spillway_engine::scheduler::{Dag, Scheduler, Task};
use spillway_planner::error::{UserError, panic_message};
use spillway_planner::udf::short_type_name;
use spillway_planner::{Error, Result};

use super::progress::Bar;
use crate::session::Session;

/// A node's value, type-erased.
type Value = Arc<dyn Any + Send + Sync>;

/// A node's closure over its inputs' values.
type NodeFn = dyn Fn(&[Value]) -> std::result::Result<Value, Failure> + Send + Sync;

/// How a node's closure failed, before the scheduler names the node.
enum Failure {
    /// The user's closure returned an error.
    User(UserError),
    /// The user's closure panicked.
    Panic(String),
    /// An input had the wrong type: a bug in this module.
    Internal(String),
}

struct Node {
    /// Set by `named`, in place: renaming a shared node renames it for every holder.
    name: Mutex<Arc<str>>,
    /// The Rust type of the node's value, for `explain` and `to_dot`.
    output_type: &'static str,
    deps: Vec<Arc<Node>>,
    func: Arc<NodeFn>,
}

impl Node {
    fn name(&self) -> Arc<str> {
        // Nothing panics while holding this lock.
        Arc::clone(&self.name.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Drop for Node {
    /// Drops a long chain of nodes without one stack frame per node.
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.deps);
        while let Some(dep) = stack.pop() {
            if let Some(mut node) = Arc::into_inner(dep) {
                stack.append(&mut node.deps);
            }
        }
    }
}

/// A lazy value of type `T`: a function call that runs only when a graph containing it is
/// computed.
///
/// Build leaves with [`Delayed::new`] (or [`Session::delayed`](crate::Session::delayed)),
/// compose them with [`map`](Delayed::map), [`map2`](Delayed::map2),
/// [`map3`](Delayed::map3), [`zip`](Delayed::zip) and [`all`](Delayed::all), and run the graph with [`compute`](Delayed::compute). Cloning a
/// node, or using it as the input of several others, shares it: one `compute` runs it
/// once.
///
/// ```
/// use spillway::prelude::*;
///
/// let session = Session::builder().threads(2).build()?;
/// let data = Delayed::new(|| (1..=4).collect::<Vec<i64>>()).named("load");
/// let total = data.map(|v| v.iter().sum::<i64>()).named("sum");
/// let count = data.map(|v| v.len() as i64).named("count");
/// let mean = total.zip(&count).map(|(t, n)| *t as f64 / *n as f64).named("mean");
/// assert_eq!(mean.compute(&session)?, 2.5);
/// assert!(mean.explain().contains("load[0]"));
/// # Ok::<(), spillway::Error>(())
/// ```
pub struct Delayed<T> {
    node: Arc<Node>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Delayed<T> {
    fn clone(&self) -> Self {
        Delayed {
            node: Arc::clone(&self.node),
            _type: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Delayed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Delayed({}: {})",
            self.node.name(),
            short_type(self.node.output_type)
        )
    }
}

/// The value of an input, typed.
fn input<T: 'static>(values: &[Value], i: usize) -> std::result::Result<&T, Failure> {
    values
        .get(i)
        .and_then(|v| v.downcast_ref::<T>())
        .ok_or_else(|| {
            Failure::Internal(format!(
                "input {i} is missing or not a {}",
                std::any::type_name::<T>()
            ))
        })
}

impl<T: Send + Sync + 'static> Delayed<T> {
    fn from_parts(
        name: String,
        deps: Vec<Arc<Node>>,
        func: impl Fn(&[Value]) -> std::result::Result<Value, Failure> + Send + Sync + 'static,
    ) -> Self {
        Delayed {
            node: Arc::new(Node {
                name: Mutex::new(name.into()),
                output_type: std::any::type_name::<T>(),
                deps,
                func: Arc::new(func),
            }),
            _type: PhantomData,
        }
    }

    /// A leaf: `f()`, called when the graph is computed (once per `compute`). Named after
    /// `f`'s type until [`Delayed::named`].
    pub fn new<F>(f: F) -> Self
    where
        F: Fn() -> T + Send + Sync + 'static,
    {
        Self::from_parts(short_type_name::<F>(), Vec::new(), move |_| {
            Ok(Arc::new(f()) as Value)
        })
    }

    /// A leaf that can fail: an `Err` stops the computation with
    /// [`Error::UserFunction`] naming the node.
    pub fn try_new<F, E>(f: F) -> Self
    where
        F: Fn() -> std::result::Result<T, E> + Send + Sync + 'static,
        E: Into<UserError>,
    {
        Self::from_parts(short_type_name::<F>(), Vec::new(), move |_| match f() {
            Ok(v) => Ok(Arc::new(v) as Value),
            Err(e) => Err(Failure::User(e.into())),
        })
    }

    /// A leaf holding a value that is already known (cloned by each `compute`).
    pub fn value(value: T) -> Self
    where
        T: Clone,
    {
        Self::from_parts("value".into(), Vec::new(), move |_| {
            Ok(Arc::new(value.clone()) as Value)
        })
    }

    /// A node computing `f(&value of self)`.
    pub fn map<U, F>(&self, f: F) -> Delayed<U>
    where
        U: Send + Sync + 'static,
        F: Fn(&T) -> U + Send + Sync + 'static,
    {
        Delayed::from_parts(
            short_type_name::<F>(),
            vec![Arc::clone(&self.node)],
            move |inputs| Ok(Arc::new(f(input::<T>(inputs, 0)?)) as Value),
        )
    }

    /// A node computing `f(&value of self)`, which can fail: an `Err` stops the computation
    /// with [`Error::UserFunction`] naming the node.
    pub fn try_map<U, E, F>(&self, f: F) -> Delayed<U>
    where
        U: Send + Sync + 'static,
        E: Into<UserError>,
        F: Fn(&T) -> std::result::Result<U, E> + Send + Sync + 'static,
    {
        Delayed::from_parts(
            short_type_name::<F>(),
            vec![Arc::clone(&self.node)],
            move |inputs| match f(input::<T>(inputs, 0)?) {
                Ok(v) => Ok(Arc::new(v) as Value),
                Err(e) => Err(Failure::User(e.into())),
            },
        )
    }

    /// A node computing `f(&value of self, &value of b)`: two inputs of any types, read in
    /// place (nothing is cloned).
    ///
    /// ```
    /// use spillway::prelude::*;
    ///
    /// let session = Session::builder().threads(2).build()?;
    /// let rows = Delayed::new(|| vec![3.0_f64, 4.0, 5.0]);
    /// let scale = Delayed::value(2.0_f64);
    /// let scaled = rows.map2(&scale, |r, k| r.iter().map(|x| x * k).sum::<f64>());
    /// assert_eq!(scaled.compute(&session)?, 24.0);
    /// # Ok::<(), spillway::Error>(())
    /// ```
    pub fn map2<B, U, F>(&self, b: &Delayed<B>, f: F) -> Delayed<U>
    where
        B: Send + Sync + 'static,
        U: Send + Sync + 'static,
        F: Fn(&T, &B) -> U + Send + Sync + 'static,
    {
        Delayed::from_parts(
            short_type_name::<F>(),
            vec![Arc::clone(&self.node), Arc::clone(&b.node)],
            move |inputs| {
                let value = f(input::<T>(inputs, 0)?, input::<B>(inputs, 1)?);
                Ok(Arc::new(value) as Value)
            },
        )
    }

    /// A node computing `f(&value of self, &value of b, &value of c)`: three inputs of any
    /// types, read in place (nothing is cloned). For more, gather same-typed inputs with
    /// [`Delayed::all`], or nest `map2` / `map3`.
    pub fn map3<B, C, U, F>(&self, b: &Delayed<B>, c: &Delayed<C>, f: F) -> Delayed<U>
    where
        B: Send + Sync + 'static,
        C: Send + Sync + 'static,
        U: Send + Sync + 'static,
        F: Fn(&T, &B, &C) -> U + Send + Sync + 'static,
    {
        Delayed::from_parts(
            short_type_name::<F>(),
            vec![
                Arc::clone(&self.node),
                Arc::clone(&b.node),
                Arc::clone(&c.node),
            ],
            move |inputs| {
                let value = f(
                    input::<T>(inputs, 0)?,
                    input::<B>(inputs, 1)?,
                    input::<C>(inputs, 2)?,
                );
                Ok(Arc::new(value) as Value)
            },
        )
    }

    /// A node pairing the values of `self` and `other` (cloned; wrap large values in an
    /// `Arc`, or read both in place with [`Delayed::map2`]), to be taken apart by a `map`.
    pub fn zip<U>(&self, other: &Delayed<U>) -> Delayed<(T, U)>
    where
        T: Clone,
        U: Clone + Send + Sync + 'static,
    {
        Delayed::from_parts(
            "zip".into(),
            vec![Arc::clone(&self.node), Arc::clone(&other.node)],
            |inputs| {
                let pair = (
                    input::<T>(inputs, 0)?.clone(),
                    input::<U>(inputs, 1)?.clone(),
                );
                Ok(Arc::new(pair) as Value)
            },
        )
    }

    /// A node gathering the values of `nodes`, in order (cloned; wrap large values in an
    /// `Arc`): the way to give one function many inputs.
    pub fn all(nodes: impl IntoIterator<Item = Delayed<T>>) -> Delayed<Vec<T>>
    where
        T: Clone,
    {
        let deps: Vec<Arc<Node>> = nodes.into_iter().map(|d| d.node).collect();
        let n = deps.len();
        Delayed::from_parts("all".into(), deps, move |inputs| {
            let values = (0..n)
                .map(|i| input::<T>(inputs, i).cloned())
                .collect::<std::result::Result<Vec<T>, Failure>>()?;
            Ok(Arc::new(values) as Value)
        })
    }

    /// This node under another name, shown by `explain`, `to_dot` and errors. The node
    /// stays the same node: renaming one that is already shared (cloned, or an input of
    /// another) renames it for all, and it is still computed once.
    pub fn named(self, name: impl Into<String>) -> Self {
        *self
            .node
            .name
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = name.into().into();
        self
    }

    /// The node's name.
    pub fn name(&self) -> String {
        self.node.name().to_string()
    }

    /// The graph as text: one line per node in topological order, `name[number]: type`,
    /// then `<-` and its inputs.
    pub fn explain(&self) -> String {
        let g = Graph::of(&self.node);
        let mut out = format!(
            "delayed graph: {} nodes, output {}\n",
            g.nodes.len(),
            g.label(g.nodes.len() - 1)
        );
        for (i, node) in g.nodes.iter().enumerate() {
            let _ = write!(out, "  {}: {}", g.label(i), short_type(node.output_type));
            if !g.deps[i].is_empty() {
                let inputs: Vec<String> = g.deps[i].iter().map(|&d| g.label(d)).collect();
                let _ = write!(out, " <- {}", inputs.join(", "));
            }
            out.push('\n');
        }
        out
    }

    /// The graph in Graphviz DOT, inputs above the nodes that read them: render it with
    /// `dot -Tsvg`.
    pub fn to_dot(&self) -> String {
        let g = Graph::of(&self.node);
        let mut out = String::from("digraph delayed {\n  node [shape=box];\n");
        for (i, node) in g.nodes.iter().enumerate() {
            let _ = writeln!(
                out,
                "  n{i} [label=\"{}\\n{}\"];",
                dot_escape(&g.label(i)),
                dot_escape(&short_type(node.output_type))
            );
        }
        for (i, deps) in g.deps.iter().enumerate() {
            for d in deps {
                let _ = writeln!(out, "  n{d} -> n{i};");
            }
        }
        out.push_str("}\n");
        out
    }

    /// Runs the graph on `session`'s pool and returns this node's value. Every node runs
    /// once, independent branches in parallel (see the module documentation for the
    /// order); a progress bar counts the nodes when the session shows progress.
    ///
    /// # Errors
    /// The first failure: [`Error::UserFunction`] or [`Error::UserPanic`] naming the node
    /// (`name[number]`, as in [`Delayed::explain`]); [`Error::Cancelled`] after
    /// [`Session::cancel`]. The running nodes are waited for before this returns.
    pub fn compute(&self, session: &Session) -> Result<T> {
        let graph = Graph {
            cancel: session.run_flag(),
            ..Graph::of(&self.node)
        };
        let bar = Bar::start(
            session,
            session.config().progress,
            "delayed",
            Some(graph.nodes.len()),
        );
        let progress = |_done: usize, _total: usize| bar.inc(1);
        let outcome = Scheduler {
            pool: session.pool(),
            threads: session.config().threads,
            synchronous: session.config().synchronous,
            memory: session.memory(),
            progress: Some(&progress),
        }
        .run(&graph);
        bar.finish();
        let value = outcome
            .outputs?
            .pop()
            .ok_or_else(|| Error::Internal("a delayed graph without its output".into()))?
            .downcast::<T>()
            .map_err(|_| Error::Internal("a delayed graph's output has the wrong type".into()))?;
        Arc::try_unwrap(value)
            .map_err(|_| Error::Internal("a delayed graph's output is still shared".into()))
    }
}

/// The graph reachable from one node, in topological order (the node itself last), as
/// the scheduler runs it.
struct Graph {
    nodes: Vec<Arc<Node>>,
    /// Each node's inputs, as positions in `nodes` (in the node's own order).
    deps: Vec<Vec<usize>>,
    /// Each node's longest path from a leaf: the scheduler runs the deepest ready first.
    depth: Vec<usize>,
    /// The last node: the graph's output.
    root: usize,
    /// Raised at the first failure, or by [`Session::cancel`].
    cancel: Arc<AtomicBool>,
}

impl Graph {
    /// Depth-first, post-order, without recursion (a chain may be long).
    fn of(root: &Arc<Node>) -> Self {
        let mut index: HashMap<*const Node, usize> = HashMap::new();
        let mut nodes = Vec::new();
        let mut deps = Vec::new();
        let mut depth = Vec::new();
        let mut stack: Vec<(&Arc<Node>, usize)> = vec![(root, 0)];
        while let Some((node, next)) = stack.last_mut() {
            let node: &Arc<Node> = node;
            if let Some(dep) = node.deps.get(*next) {
                *next += 1;
                // A graph built bottom-up has no cycle, so a node met again is finished.
                if !index.contains_key(&Arc::as_ptr(dep)) {
                    stack.push((dep, 0));
                }
                continue;
            }
            stack.pop();
            let inputs: Vec<usize> = node.deps.iter().map(|d| index[&Arc::as_ptr(d)]).collect();
            depth.push(inputs.iter().map(|&d| depth[d] + 1).max().unwrap_or(0));
            deps.push(inputs);
            index.insert(Arc::as_ptr(node), nodes.len());
            nodes.push(Arc::clone(node));
        }
        Graph {
            root: nodes.len() - 1,
            nodes,
            deps,
            depth,
            cancel: Arc::default(),
        }
    }

    fn label(&self, i: usize) -> String {
        label(&self.nodes[i], i)
    }
}

impl Dag for Graph {
    type Output = dyn Any + Send + Sync;
    type Task = NodeTask;

    fn nodes(&self) -> usize {
        self.nodes.len()
    }

    fn deps(&self, node: usize) -> &[usize] {
        &self.deps[node]
    }

    fn depth(&self, node: usize) -> usize {
        self.depth[node]
    }

    fn outputs(&self) -> &[usize] {
        std::slice::from_ref(&self.root)
    }

    fn name(&self, node: usize) -> String {
        self.label(node)
    }

    fn task(&self, node: usize) -> NodeTask {
        NodeTask {
            node: Arc::clone(&self.nodes[node]),
            number: node,
        }
    }

    fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// One node, on a worker: it holds its own node, not the graph. The closures cannot
/// see a cancellation; the scheduler starts no node after the first failure or a
/// [`Session::cancel`].
struct NodeTask {
    node: Arc<Node>,
    number: usize,
}

impl Task<dyn Any + Send + Sync> for NodeTask {
    fn run(self, inputs: Vec<Value>) -> Result<Value> {
        call(&*self.node.func, inputs).map_err(|f| node_error(label(&self.node, self.number), f))
    }
}

/// Calls a node's closure with panics caught, then lets go of its inputs: if this was an
/// input's last reader, the value's `Drop` runs here, also caught (a panic there fails the
/// node).
fn call(func: &NodeFn, inputs: Vec<Value>) -> std::result::Result<Value, Failure> {
    match catch_unwind(AssertUnwindSafe(move || {
        let out = func(&inputs);
        drop(inputs);
        out
    })) {
        Ok(r) => r,
        Err(payload) => Err(Failure::Panic(panic_message(payload.as_ref()))),
    }
}

/// A node as `explain` and errors name it: `name[number]`.
fn label(node: &Node, number: usize) -> String {
    format!("{}[{number}]", node.name())
}

/// The error of a failed node, naming it (`function`: its label).
fn node_error(function: String, failure: Failure) -> Error {
    match failure {
        Failure::User(e) => Error::UserFunction {
            function,
            value: None,
            message: e.to_string(),
            source: Some(e),
        },
        Failure::Panic(message) => Error::UserPanic { function, message },
        Failure::Internal(message) => {
            Error::Internal(format!("delayed node {function}: {message}"))
        }
    }
}

/// `alloc::vec::Vec<(f64, my_crate::Point)>` → `Vec<(f64, Point)>`: every path shortened
/// to its last segment.
fn short_type(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        out.push_str(token.rsplit("::").next().unwrap_or(token));
        token.clear();
    };
    for c in full.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// Escapes text for a quoted DOT string.
fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_labels_are_escaped() {
        let d = Delayed::value(1_u8).named(r#"say "hi" \ bye"#);
        assert!(
            d.to_dot()
                .contains(r#"n0 [label="say \"hi\" \\ bye[0]\nu8"];"#),
            "{}",
            d.to_dot()
        );
    }

    #[test]
    fn type_names_are_shortened_path_by_path() {
        assert_eq!(
            short_type("alloc::vec::Vec<(f64, my_crate::geo::Point)>"),
            "Vec<(f64, Point)>"
        );
        assert_eq!(short_type("i64"), "i64");
        assert_eq!(short_type("&str"), "&str");
    }

    #[test]
    fn the_graph_is_topological_and_shares_nodes() {
        //   a
        //  / \
        // b   c      b and c read a; d reads b, c and a again.
        //  \ /|
        //   d-+
        let a = Delayed::new(|| 1_i64).named("a");
        let b = a.map(|x| x + 1).named("b");
        let c = a.map(|x| x * 10).named("c");
        let d = Delayed::all([b, c, a]).named("d");
        let g = Graph::of(&d.node);
        let names: Vec<String> = g.nodes.iter().map(|n| n.name().to_string()).collect();
        assert_eq!(names, vec!["a", "b", "c", "d"]);
        assert_eq!(g.deps, vec![vec![], vec![0], vec![0], vec![1, 2, 0]]);
    }

    #[test]
    fn a_long_chain_is_built_walked_and_dropped_without_recursion() {
        let mut node = Delayed::new(|| 0_u64);
        for _ in 0..50_000 {
            node = node.map(|x| x + 1);
        }
        assert_eq!(Graph::of(&node.node).nodes.len(), 50_001);
        let session = Session::builder()
            .threads(1)
            .synchronous(true)
            .build()
            .unwrap();
        assert_eq!(node.compute(&session).unwrap(), 50_000);
    }
}
