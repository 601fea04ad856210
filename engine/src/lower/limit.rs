//! Lowering a limit: each partition stops reading after `n` rows; with several partitions,
//! one task then takes the first `n` rows in partition order.

use crate::graph::{Input, Op, Sink, TaskGraph};
use crate::lower::stream::{Stream, materialize};

/// The first `n` rows of `input`.
pub fn lower_limit(mut input: Stream, n: usize, g: &mut TaskGraph) -> Stream {
    input.push(Op::Limit(n));
    let single = input.partitions() <= 1;
    let ids = materialize(input, Sink::Batches, g);
    if single {
        let origin = g.stages.last().map_or("empty", |st| &st.name).to_string();
        return Stream::read(ids, &origin);
    }
    let mut gathered = Stream::new(
        vec![Input::Tasks(ids)],
        "gather",
        "gather in partition order".into(),
    );
    gathered.push(Op::Limit(n));
    gathered
}
