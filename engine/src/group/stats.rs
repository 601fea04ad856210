//! Small numeric kernels of the per-group states: top-k insertion, co-moment merging,
//! quantiles, and float comparison in IEEE total order.

/// Inserts `x` into `top` (largest first, total order) and keeps at most `n` values.
pub(super) fn keep_top(top: &mut Vec<f64>, x: f64, n: usize) {
    if top.len() == n && top.last().is_some_and(|l| x.total_cmp(l).is_le()) {
        return;
    }
    let at = top.partition_point(|v| v.total_cmp(&x).is_ge());
    top.insert(at, x);
    top.truncate(n);
}

/// Chan et al. for pairs: `[n, mean x, mean y, m2 x, m2 y, c xy]` of two disjoint sets.
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
    [
        n,
        a[1] + dx * nb / n,
        a[2] + dy * nb / n,
        a[3] + b[3] + dx * dx * w,
        a[4] + b[4] + dy * dy * w,
        a[5] + b[5] + dx * dy * w,
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
            xs[lo] + (xs[hi] - xs[lo]) * (pos - lo as f64)
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
