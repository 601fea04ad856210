//! Lowering aggregates. With keys: a partial hash aggregate at the end of each partition's
//! pipeline, its states hashed into buckets, and one final task per bucket. Without keys:
//! partial states per partition, merged in a tree of `fan_in`-way combine tasks (Dask's
//! `split_every`) and finished in one final task.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use spillway_planner::logical::LogicalPlan;
use spillway_planner::{Error, Result};

use crate::config::EngineConfig;
use crate::graph::{self, AggSpec, GroupSpec, Sink, TaskGraph, TaskId, TaskKind};
use crate::group::GroupAcc;
use crate::lower::stream::{Stream, materialize};

/// The aggregate node `plan` over its lowered input.
///
/// # Errors
/// An aggregate or key whose type cannot be derived (a bug in planning).
pub fn lower_aggregate(
    plan: &LogicalPlan,
    input: Stream,
    config: &EngineConfig,
    g: &mut TaskGraph,
) -> Result<Stream> {
    let LogicalPlan::Aggregate {
        input: child,
        keys,
        aggs,
        schema,
    } = plan
    else {
        return Err(Error::Internal(
            "an aggregate lowered from another node".into(),
        ));
    };
    let in_schema = child.schema();
    let input_types = aggs
        .iter()
        .map(|a| a.input_type(&in_schema))
        .collect::<Result<Vec<_>>>()?;
    if keys.is_empty() {
        let spec = Arc::new(AggSpec {
            aggs: aggs.clone(),
            input_types,
            schema: Arc::clone(schema),
        });
        return Ok(global(input, spec, config.fan_in, g));
    }
    // A dictionary key is grouped by its values (the partial phase decodes it).
    let key_types = keys
        .iter()
        .map(|k| {
            k.data_type(&in_schema).map(|t| match t {
                DataType::Dictionary(_, values) => *values,
                t => t,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut partial: Vec<Field> = schema.fields()[..keys.len()]
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    for (a, t) in aggs.iter().zip(&input_types) {
        partial.extend(GroupAcc::state_fields(a.func, t, &a.name));
    }
    let buckets = input.partitions().clamp(1, config.threads * 4);
    let spec = Arc::new(GroupSpec {
        keys: keys.clone(),
        key_types,
        aggs: aggs.clone(),
        input_types,
        partial_schema: Arc::new(Schema::new(partial)),
        schema: Arc::clone(schema),
        buckets,
    });
    let producers = materialize(input, Sink::GroupPartial(Arc::clone(&spec)), g);
    let finals = g.push_stage(
        "group-final".into(),
        graph::group_final_detail(&spec),
        (0..buckets).map(|bucket| {
            (
                producers.clone(),
                TaskKind::GroupFinal {
                    spec: Arc::clone(&spec),
                    bucket,
                    sink: None,
                },
            )
        }),
    );
    Ok(Stream::read(finals, "group-final"))
}

/// Partial states per partition, a tree of combines, one final task.
fn global(input: Stream, spec: Arc<AggSpec>, fan_in: usize, g: &mut TaskGraph) -> Stream {
    let mut ids = materialize(input, Sink::Partial(Arc::clone(&spec)), g);
    let mut level = 1;
    while ids.len() > fan_in {
        let groups: Vec<Vec<TaskId>> = ids.chunks(fan_in).map(<[_]>::to_vec).collect();
        ids = g.push_stage(
            format!("combine-{level}"),
            graph::combine_detail(&spec, fan_in),
            groups
                .into_iter()
                .map(|deps| (deps, TaskKind::Combine(Arc::clone(&spec)))),
        );
        level += 1;
    }
    let done = g.push_stage(
        "aggregate".into(),
        graph::final_detail(&spec),
        [(ids, TaskKind::Final(spec))],
    );
    Stream::read(done, "aggregate")
}
