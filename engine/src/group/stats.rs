//! Small numeric kernels of the states: top-k insertion, moment and co-moment merging,
//! quantiles, and float comparison in IEEE total order.
//!
//! Moments follow IEEE arithmetic with one rule the pairwise formulas need spelled out:
//! an infinity (or NaN) among the values makes the sums of squared deviations NaN, as a
//! two-pass evaluation gives (`∞ − ∞`). Without it, merging `{1}` with `{∞}` would give
//! `m2 = ∞` (so `var([1, ∞]) = ∞`) while `{∞, ∞}` gave NaN: the answer would depend on
//! how the values were grouped into partial states.

use arrow::array::{Array, Float64Array};

/// Inserts `x` into `top` (largest first, total order) and keeps at most `n` values.
pub(super) fn keep_top(top: &mut Vec<f64>, x: f64, n: usize) {
    if top.len() == n && top.last().is_some_and(|l| x.total_cmp(l).is_le()) {
        return;
    }
    let at = top.partition_point(|v| v.total_cmp(&x).is_ge());
    top.insert(at, x);
    top.truncate(n);
}

/// Count, mean and sum of squared deviations of a set of values.
pub(super) type Moments = (u64, f64, f64);

/// The moments of the non-null values of one batch (two passes: stable; an infinity
/// gives a NaN `m2` by itself).
pub(super) fn moments(values: &Float64Array) -> Moments {
    let n = (values.len() - values.null_count()) as u64;
    if n == 0 {
        return (0, 0.0, 0.0);
    }
    let mean = values.iter().flatten().sum::<f64>() / n as f64;
    let m2 = values
        .iter()
        .flatten()
        .map(|x| (x - mean) * (x - mean))
        .sum();
    (n, mean, m2)
}

/// Chan et al.: the moments of two disjoint sets of values combined. A set whose mean is
/// not finite holds an infinity or a NaN, so the combined `m2` is NaN (see the module
/// doc).
pub(super) fn merge_moments(a: Moments, b: Moments) -> Moments {
    let (na, ma, m2a) = a;
    let (nb, mb, m2b) = b;
    if na == 0 {
        return b;
    }
    if nb == 0 {
        return a;
    }
    let n = na + nb;
    let delta = mb - ma;
    let mean = ma + delta * nb as f64 / n as f64;
    let m2 = if ma.is_finite() && mb.is_finite() {
        m2a + m2b + delta * delta * (na as f64) * (nb as f64) / n as f64
    } else {
        f64::NAN
    };
    (n, mean, m2)
}

/// Chan et al. for pairs: `[n, mean x, mean y, m2 x, m2 y, c xy]` of two disjoint sets.
/// As for [`merge_moments`], a mean that is not finite makes the sums of squares and
/// co-deviations NaN, so `corr` over an infinity is null (as over a NaN) however the
/// pairs are grouped.
pub(super) fn merge_comoments(a: [f64; 6], b: [f64; 6]) -> [f64; 6] {
    let (na, nb) = (a[0], b[0]);
    if na == 0.0 {
        return b;
    }
    if nb == 0.0 {
        return a;
    }
    let n = na + nb;
    let (dx, dy) = (b[1] - a[1], b[2] - a[2]);
    let w = na * nb / n;
    let finite = a[1..3].iter().chain(&b[1..3]).all(|m| m.is_finite());
    let nan_unless = |x: f64| if finite { x } else { f64::NAN };
    [
        n,
        a[1] + dx * nb / n,
        a[2] + dy * nb / n,
        nan_unless(a[3] + b[3] + dx * dx * w),
        nan_unless(a[4] + b[4] + dy * dy * w),
        nan_unless(a[5] + b[5] + dx * dy * w),
    ]
}

/// The `q` quantile (linear interpolation) or, for `None`, the median of `xs`.
pub(super) fn quantile(xs: &mut [f64], q: Option<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(match q {
        None if n % 2 == 1 => xs[n / 2],
        None => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
        Some(q) => {
            let pos = q * (n - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            let frac = pos - lo as f64;
            // On a value itself (quantile 0 and 1 among them) there is nothing to
            // interpolate: `a + (b - a) * 0` would be NaN next to an infinity.
            if frac == 0.0 {
                xs[lo]
            } else {
                xs[lo] + (xs[hi] - xs[lo]) * frac
            }
        }
    })
}

/// `max` and `min` in IEEE total order, so NaN sorts above +∞ as in the row format.
pub(super) trait TotalOrd {
    fn max_by_total(self, other: Self) -> Self;
    fn min_by_total(self, other: Self) -> Self;
}

impl TotalOrd for f64 {
    fn max_by_total(self, other: f64) -> f64 {
        if other.total_cmp(&self).is_gt() {
            other
        } else {
            self
        }
    }
    fn min_by_total(self, other: f64) -> f64 {
        if other.total_cmp(&self).is_lt() {
            other
        } else {
            self
        }
    }
}
