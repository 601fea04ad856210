//! The optimizer: rewrites a logical plan into one that computes the same rows with less work.
//!
//! The passes, in order (see [`optimize`]):
//!
//! 0. **Top-k**: a `Limit` directly over a `Sort` becomes the sort's `fetch`, so each
//!    partition keeps only its first `n` sorted rows.
//! 1. **Predicate pushdown** moves each conjunct of a filter down through projections that
//!    pass its columns through unchanged, merges stacked filters, and offers it to the scan.
//!    A source that answers [`FilterPushdown::Exact`] takes the conjunct over; `Inexact`
//!    (Parquet row-group pruning) gets a copy while the filter stays; `Unsupported` keeps it
//!    above. A conjunct with a user closure is never pushed into a source.
//! 2. **Projection pushdown** asks each node only for the columns its consumers read, down to
//!    the scan, which then reads only those columns.
//! 3. **Identity projections** (select every input column, in order) are removed.
//!
//! Predicates go first so that projection pushdown sees each filter in its final place and
//! keeps the columns it reads; removing identities comes last because pushdown creates them.
//! Filters and projections go into each input of a union. Filters never move through `Limit`, `Sort` (which may carry a `fetch`), `MapPartitions`,
//! `RowIndex` or `Aggregate`: that would change the answer.

use std::sync::Arc;

use arrow::datatypes::Schema;

use crate::Result;
use crate::expr::Expr;
use crate::logical::LogicalPlan;
use crate::source::FilterPushdown;

/// Runs every pass, in the order the module documentation gives.
///
/// # Errors
/// Only if a rewritten node fails its schema check, which would be a bug.
pub fn optimize(plan: &LogicalPlan) -> Result<LogicalPlan> {
    let plan = fuse_top_k(plan)?;
    let plan = push_down_predicates(&plan)?;
    let plan = push_down_projection(&plan, None)?;
    remove_identity_projections(&plan)
}

/// Each child of `plan` through `pass`, and `plan` rebuilt over the results.
fn map_children(
    plan: &LogicalPlan,
    pass: impl Fn(&LogicalPlan) -> Result<LogicalPlan>,
) -> Result<LogicalPlan> {
    let children = plan
        .children()
        .into_iter()
        .map(|c| pass(c))
        .collect::<Result<Vec<_>>>()?;
    plan.with_new_children(children)
}

/// `plan` over a new single input.
fn rebuild(plan: &LogicalPlan, input: LogicalPlan) -> Result<LogicalPlan> {
    plan.with_new_children(vec![input])
}

/// Pass 0: `Limit n` over `Sort` becomes a sort that keeps only its first `n` rows
/// (top-k), so no partition sorts or holds more than `n` rows.
fn fuse_top_k(plan: &LogicalPlan) -> Result<LogicalPlan> {
    let Some(input) = plan.input() else {
        return map_children(plan, fuse_top_k);
    };
    let input = fuse_top_k(input)?;
    if let (
        LogicalPlan::Limit { n, .. },
        LogicalPlan::Sort {
            input: below,
            keys,
            fetch,
        },
    ) = (plan, &input)
    {
        let fetch = Some(fetch.map_or(*n, |f| f.min(*n)));
        return LogicalPlan::sort(Arc::clone(below), keys.clone(), fetch);
    }
    rebuild(plan, input)
}

/// Pass 1: see the module documentation.
fn push_down_predicates(plan: &LogicalPlan) -> Result<LogicalPlan> {
    match plan {
        LogicalPlan::Filter { input, predicate } => {
            let input = push_down_predicates(input)?;
            let conjuncts = predicate.clone().split_conjunction();
            push_conjuncts(input, conjuncts)
        }
        other => map_children(other, push_down_predicates),
    }
}

/// Places `conjuncts` as low as they can go over `input` (already optimized).
fn push_conjuncts(input: LogicalPlan, conjuncts: Vec<Expr>) -> Result<LogicalPlan> {
    match input {
        LogicalPlan::Filter { input, predicate } => {
            let mut all = predicate.split_conjunction();
            all.extend(conjuncts);
            push_conjuncts(Arc::unwrap_or_clone(input), all)
        }
        LogicalPlan::Project {
            input: below,
            exprs,
            schema,
        } => {
            // A conjunct moves below when each column it reads is passed through unchanged.
            let passes = |c: &str| exprs.iter().any(|e| matches!(e, Expr::Column(n) if n == c));
            let (down, up): (Vec<Expr>, Vec<Expr>) = conjuncts
                .into_iter()
                .partition(|p| p.columns().iter().all(|c| passes(c)));
            let below = if down.is_empty() {
                Arc::unwrap_or_clone(below)
            } else {
                push_conjuncts(Arc::unwrap_or_clone(below), down)?
            };
            let project = LogicalPlan::Project {
                input: Arc::new(below),
                exprs,
                schema,
            };
            wrap(project, up)
        }
        LogicalPlan::Scan {
            source,
            projection,
            mut filters,
            schema,
        } => {
            let mut keep = Vec::new();
            for p in conjuncts {
                let answer = if p.has_user_code() {
                    FilterPushdown::Unsupported
                } else {
                    source.filter_pushdown(&p)
                };
                match answer {
                    FilterPushdown::Exact => filters.push(p),
                    FilterPushdown::Inexact => {
                        filters.push(p.clone());
                        keep.push(p);
                    }
                    FilterPushdown::Unsupported => keep.push(p),
                }
            }
            let scan = LogicalPlan::Scan {
                source,
                projection,
                filters,
                schema,
            };
            wrap(scan, keep)
        }
        // A filter of a union is the union of each input filtered.
        LogicalPlan::Union { inputs, .. } => LogicalPlan::union(
            inputs
                .into_iter()
                .map(|i| push_conjuncts(Arc::unwrap_or_clone(i), conjuncts.clone()).map(Arc::new))
                .collect::<Result<_>>()?,
        ),
        // Row-wise filters commute with cutting rows into partitions.
        LogicalPlan::Repartition { input, to } => LogicalPlan::repartition(
            Arc::new(push_conjuncts(Arc::unwrap_or_clone(input), conjuncts)?),
            to,
        ),
        other => wrap(other, conjuncts),
    }
}

fn wrap(plan: LogicalPlan, conjuncts: Vec<Expr>) -> Result<LogicalPlan> {
    match Expr::conjunction(conjuncts) {
        Some(p) => LogicalPlan::filter(Arc::new(plan), p),
        None => Ok(plan),
    }
}

fn add_columns(required: &mut Vec<String>, expr: &Expr) {
    for c in expr.columns() {
        if !required.contains(&c) {
            required.push(c);
        }
    }
}

/// Pass 2: `required` is the set of columns the consumers read; `None` means all of them
/// (the root, and the input of an opaque closure).
fn push_down_projection(plan: &LogicalPlan, required: Option<&[String]>) -> Result<LogicalPlan> {
    match plan {
        LogicalPlan::Join { .. } => match required {
            Some(required) => join_projection(plan, required),
            None => map_children(plan, |c| push_down_projection(c, None)),
        },
        LogicalPlan::Scan {
            source,
            projection: _,
            filters,
            schema,
        } => {
            let Some(required) = required else {
                return Ok(plan.clone());
            };
            let full = source.schema();
            let mut indices: Vec<usize> = full
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, f)| {
                    required.contains(f.name()) && schema.field_with_name(f.name()).is_ok()
                })
                .map(|(i, _)| i)
                .collect();
            if indices.is_empty() {
                // Nothing is read, but the rows must still be counted: take one column.
                let first = schema.field(0).name();
                indices.push(full.index_of(first).unwrap_or(0));
            }
            let projected = Arc::new(Schema::new(
                indices
                    .iter()
                    .map(|&i| full.field(i).clone())
                    .collect::<Vec<_>>(),
            ));
            Ok(LogicalPlan::Scan {
                source: Arc::clone(source),
                projection: Some(indices),
                filters: filters.clone(),
                schema: projected,
            })
        }
        LogicalPlan::Project { input, exprs, .. } => {
            let mut kept: Vec<Expr> = match required {
                Some(r) => exprs
                    .iter()
                    .filter(|e| r.contains(&e.output_name()))
                    .cloned()
                    .collect(),
                None => exprs.clone(),
            };
            if kept.is_empty() {
                kept.push(exprs[0].clone());
            }
            let mut below = Vec::new();
            kept.iter().for_each(|e| add_columns(&mut below, e));
            let input = push_down_projection(input, Some(&below))?;
            LogicalPlan::project(Arc::new(input), kept)
        }
        LogicalPlan::Filter { input, predicate } => {
            let below = required.map(|r| {
                let mut below = r.to_vec();
                add_columns(&mut below, predicate);
                below
            });
            rebuild(plan, push_down_projection(input, below.as_deref())?)
        }
        LogicalPlan::Limit { input, .. } | LogicalPlan::Repartition { input, .. } => {
            rebuild(plan, push_down_projection(input, required)?)
        }
        LogicalPlan::Explode { input, column, .. } => {
            let below = required.map(|r| {
                let mut below = r.to_vec();
                if !below.contains(column) {
                    below.push(column.clone());
                }
                below
            });
            rebuild(plan, push_down_projection(input, below.as_deref())?)
        }
        LogicalPlan::Union { inputs, schema } => match required {
            Some(required) => union_projection(plan, inputs, schema, required),
            None => map_children(plan, |c| push_down_projection(c, None)),
        },
        // The index numbers the rows whatever columns they carry.
        LogicalPlan::RowIndex { input, name, .. } => {
            let below: Option<Vec<String>> =
                required.map(|r| r.iter().filter(|c| *c != name).cloned().collect());
            rebuild(plan, push_down_projection(input, below.as_deref())?)
        }
        LogicalPlan::Sort { input, keys, .. } => {
            let below = required.map(|r| {
                let mut below = r.to_vec();
                keys.iter().for_each(|k| add_columns(&mut below, &k.expr));
                below
            });
            rebuild(plan, push_down_projection(input, below.as_deref())?)
        }
        LogicalPlan::Aggregate {
            input, keys, aggs, ..
        } => {
            let mut below = Vec::new();
            keys.iter().for_each(|k| add_columns(&mut below, k));
            for a in aggs {
                add_columns(&mut below, &a.input);
                if let Some(y) = &a.second {
                    add_columns(&mut below, y);
                }
            }
            rebuild(plan, push_down_projection(input, Some(&below))?)
        }
        // A closure over whole partitions (and any node without a rule above) may read
        // every column of its input.
        other => map_children(other, |c| push_down_projection(c, None)),
    }
}

/// Pass 2 for a join whose consumers read `required`: each side gives its keys and the
/// columns read.
fn join_projection(plan: &LogicalPlan, required: &[String]) -> Result<LogicalPlan> {
    let LogicalPlan::Join {
        left,
        right,
        left_on,
        right_on,
        schema,
        ..
    } = plan
    else {
        return Err(crate::Error::Internal(
            "a join's projection of another node".into(),
        ));
    };
    let (ls, rs) = (left.schema(), right.schema());
    // Left: what is read, its keys, and any column a right column's name clashes
    // with (so that the right column keeps its `_right` name).
    let mut below_left: Vec<String> = left_on.clone();
    for f in ls.fields() {
        let clash = rs.field_with_name(f.name()).is_ok() && !right_on.contains(f.name());
        if (required.contains(f.name()) || clash) && !below_left.contains(f.name()) {
            below_left.push(f.name().clone());
        }
    }
    // Right: its keys, and the columns whose output (maybe renamed) is read.
    let out_names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
    let renamed = out_names[ls.fields().len()..].to_vec();
    let mut below_right: Vec<String> = right_on.clone();
    let non_keys = rs.fields().iter().filter(|f| !right_on.contains(f.name()));
    for (f, out) in non_keys.zip(renamed) {
        if required.contains(out) && !below_right.contains(f.name()) {
            below_right.push(f.name().clone());
        }
    }
    plan.with_new_children(vec![
        push_down_projection(left, Some(&below_left))?,
        push_down_projection(right, Some(&below_right))?,
    ])
}

/// Pass 2 for a union whose consumers read `required`: each input gives the columns read
/// (at least one, to keep the rows), in the union's order, so that the inputs keep one
/// schema.
fn union_projection(
    plan: &LogicalPlan,
    inputs: &[Arc<LogicalPlan>],
    schema: &Schema,
    required: &[String],
) -> Result<LogicalPlan> {
    let mut kept: Vec<Expr> = schema
        .fields()
        .iter()
        .filter(|f| required.contains(f.name()))
        .map(|f| Expr::Column(f.name().clone()))
        .collect();
    if kept.is_empty() {
        kept.push(Expr::Column(schema.field(0).name().clone()));
    }
    let inputs = inputs
        .iter()
        .map(|i| {
            let project = LogicalPlan::project(Arc::clone(i), kept.clone())?;
            push_down_projection(&project, None)
        })
        .collect::<Result<Vec<_>>>()?;
    plan.with_new_children(inputs)
}

/// Pass 3: a projection that selects exactly its input's columns, in order, does nothing.
fn remove_identity_projections(plan: &LogicalPlan) -> Result<LogicalPlan> {
    let Some(input) = plan.input() else {
        return map_children(plan, remove_identity_projections);
    };
    let input = remove_identity_projections(input)?;
    if let LogicalPlan::Project { exprs, .. } = plan {
        let in_schema = input.schema();
        let identity = exprs.len() == in_schema.fields().len()
            && exprs
                .iter()
                .zip(in_schema.fields())
                .all(|(e, f)| matches!(e, Expr::Column(n) if n == f.name()));
        if identity {
            return Ok(input);
        }
    }
    rebuild(plan, input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, lit};
    use crate::source::{DataSource, ScanPartition, ScanRequest};
    use arrow::datatypes::{DataType, Field, SchemaRef};

    /// A source that prunes with comparisons (inexactly) and understands nothing else.
    #[derive(Debug)]
    struct Pruning(SchemaRef);

    impl DataSource for Pruning {
        fn name(&self) -> String {
            "pruning".into()
        }
        fn schema(&self) -> SchemaRef {
            Arc::clone(&self.0)
        }
        fn filter_pushdown(&self, f: &Expr) -> FilterPushdown {
            match f {
                Expr::Binary { op, .. } if op.is_comparison() => FilterPushdown::Inexact,
                _ => FilterPushdown::Unsupported,
            }
        }
        fn plan_scan(&self, _: &ScanRequest<'_>) -> Result<Vec<Arc<dyn ScanPartition>>> {
            Ok(Vec::new())
        }
    }

    fn scan() -> Arc<LogicalPlan> {
        let schema = Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Int64, true),
            Field::new("c", DataType::Utf8View, true),
        ]);
        Arc::new(LogicalPlan::scan(Arc::new(Pruning(Arc::new(schema)))))
    }

    #[test]
    fn filters_reach_the_scan_and_only_read_columns_are_scanned() {
        // SELECT a + 1 AS x FROM t WHERE a > 3 AND a IS NOT NULL, then sum(x)
        let p = Arc::new(
            LogicalPlan::project(
                scan(),
                vec![col("a"), col("b"), (col("a") + lit(1)).alias("x")],
            )
            .unwrap(),
        );
        let f = Arc::new(
            LogicalPlan::filter(p, col("a").gt(lit(3)).and(col("a").is_not_null())).unwrap(),
        );
        let agg = LogicalPlan::aggregate(f, vec![col("x").sum()]).unwrap();
        let opt = optimize(&agg).unwrap();
        assert_eq!(
            opt.to_string(),
            "Aggregate [sum(x)]\n  Project [(a + 1) AS x]\n    Filter ((a > 3) AND a IS NOT NULL)\n      Scan pruning columns=[a] filters=[(a > 3)]\n"
        );
        assert_eq!(opt.schema(), agg.schema());
    }

    #[test]
    fn filters_stay_above_limits_and_closures() {
        let l = Arc::new(LogicalPlan::limit(scan(), 5));
        let f = LogicalPlan::filter(l, col("a").gt(lit(3))).unwrap();
        let opt = optimize(&f).unwrap();
        assert_eq!(
            opt.to_string(),
            "Filter (a > 3)\n  Limit 5\n    Scan pruning\n"
        );

        let g = LogicalPlan::filter(scan(), col("a").apply(|a: i64| a > 2)).unwrap();
        let opt = optimize(&g).unwrap();
        assert!(opt.to_string().ends_with("Scan pruning\n"), "{opt}");
    }
}
