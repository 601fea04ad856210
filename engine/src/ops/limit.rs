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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{failing, keyed, pairs, stream};

    #[test]
    fn stops_after_n_rows_without_reading_further() {
        assert!(limit(stream(Vec::new()), 5).next().is_none());
        let one: Vec<_> = limit(stream(keyed(10, 10, 10)), 3)
            .map(Result::unwrap)
            .collect();
        assert_eq!(pairs(&one).len(), 3);
        let many: Vec<_> = limit(stream(keyed(10, 10, 2)), 5)
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            pairs(&many),
            (0..5).map(|i| (Some(i), Some(i))).collect::<Vec<_>>()
        );
        // The error after the first two batches is never read.
        let n: usize = limit(failing(keyed(4, 4, 2)), 4)
            .map(|b| b.unwrap().num_rows())
            .sum();
        assert_eq!(n, 4);
        assert!(limit(failing(keyed(4, 4, 2)), 5).any(|b| b.is_err()));
    }
}
