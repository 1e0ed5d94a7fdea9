//! What the binaries report: an error with its causes on one line, and the
//! accept-to-processed latencies of finished orders.

use std::error::Error;

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

/// `error: cause: cause's cause`, leaving out a cause whose text the line
/// already holds (many errors, sqlx's and the engine's among them, write
/// their source into their own message as well).
pub fn error_chain(e: &(dyn Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("context")]
    struct Context(#[source] Outer);

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

    #[test]
    fn causes_already_written_are_not_repeated() {
        let io = std::io::Error::other("refused");
        assert_eq!(error_chain(&Context(Outer(io))), "context: outer: refused");
    }
}
