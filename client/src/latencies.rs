//! Accept-to-processed latencies of finished orders, as every report of
//! orderflow states them (the sim's, the benchmarks', the load test's).

use chrono::{DateTime, Utc};

/// Accept-to-processed times of finished orders, in milliseconds, sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latencies(Vec<i64>);

impl Latencies {
    /// From each order's accept time and, if it finished, its commit time;
    /// unfinished orders are left out.
    pub fn of(orders: impl IntoIterator<Item = (DateTime<Utc>, Option<DateTime<Utc>>)>) -> Self {
        let mut ms: Vec<i64> = orders
            .into_iter()
            .filter_map(|(created, processed)| Some((processed? - created).num_milliseconds()))
            .collect();
        ms.sort_unstable();
        Latencies(ms)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `q` quantile by nearest rank (0.5 the median, 1.0 the slowest);
    /// 0 when there are none.
    pub fn percentile(&self, q: f64) -> i64 {
        let last = self.0.len().saturating_sub(1);
        let rank = (last as f64 * q.clamp(0.0, 1.0)).round() as usize;
        self.0.get(rank).copied().unwrap_or(0)
    }

    /// Every latency, fastest first.
    pub fn sorted(&self) -> &[i64] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let t = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap();
        let l = Latencies::of((1..=100).map(|i| (t(0), Some(t(i)))).chain([(t(0), None)]));
        assert_eq!(l.sorted().len(), 100, "unfinished orders are left out");
        assert_eq!(
            [
                l.percentile(0.0),
                l.percentile(0.5),
                l.percentile(0.99),
                l.percentile(1.0)
            ],
            [1, 51, 99, 100]
        );
        assert_eq!(Latencies::default().percentile(0.99), 0);
    }
}
