//! Limit: the first `n` rows of a stream, then stops reading.
//!
//! Streaming: slices batches, reserves nothing; once `n` rows have passed, the input is
//! not read any further (a scan stops early). A global limit is this operator in each
//! partition, then again in one task over the partitions in order (see lowering).

use crate::ops::context::Batches;

/// The first `n` rows of `input`.
pub fn limit(input: Batches<'_>, n: usize) -> Batches<'_> {
    let mut left = n;
    let mut input = input;
    Box::new(std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        Some(input.next()?.map(|b| {
            let take = left.min(b.num_rows());
            left -= take;
            b.slice(0, take)
        }))
    }))
}
