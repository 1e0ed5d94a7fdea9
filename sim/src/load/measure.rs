//! What a load was and what its customers saw, summed up: the rate it
//! planned and the rate it sent, how late the client fell behind, what each
//! request got on its first try and after the retries, how long a customer
//! waited for its 202, and the reads. Owned and serialisable: the run's
//! result carries it.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::send::{Answered, ReadRoute, Sends, Sent};
use super::Kind;

/// A client whose 99th percentile send lag passes this did not keep its
/// schedule: the run measured a slower load than it claims, and fails.
pub const MAX_SEND_LAG_P99_MS: f64 = 1000.0;

/// Latency percentiles by nearest rank, ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(mut ms: Vec<f64>) -> Percentiles {
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let rank = (ms.len().saturating_sub(1) as f64 * q).round() as usize;
            ms.get(rank).copied().unwrap_or(0.0)
        };
        Percentiles {
            p50: at(0.50),
            p90: at(0.90),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
        }
    }

    /// Each percentile with its name, in order.
    pub fn named(&self) -> [(&'static str, f64); 5] {
        [
            ("p50", self.p50),
            ("p90", self.p90),
            ("p95", self.p95),
            ("p99", self.p99),
            ("max", self.max),
        ]
    }
}

/// The orders' side of a load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadReport {
    /// Sent at due times whatever happened before (open loop), or a fixed
    /// number in flight as fast as answered (closed loop).
    pub open_loop: bool,
    pub requests: usize,
    /// Seconds from the first request due to the last answer.
    pub send_secs: f64,
    /// The busiest second's requests as planned and as sent (open loop).
    pub planned_peak_rps: Option<f64>,
    pub achieved_peak_rps: f64,
    pub achieved_mean_rps: f64,
    /// The achieved peak over the planned one (open loop).
    pub offered: Option<f64>,
    /// How late each request's first try went out, ms.
    pub send_lag_ms: Percentiles,
    /// The client kept its schedule (p99 send lag within 1 s).
    pub kept_up: bool,
    /// What the requests got on their first try, by status (`timeout`,
    /// `error`: no connection), and after the client's retries.
    pub first_try: BTreeMap<String, u64>,
    pub after_retries: BTreeMap<String, u64>,
    /// Shares of the requests whose first try got a 5xx, a 429, no answer
    /// in time or no connection, or anything but what it should.
    pub first_try_5xx: f64,
    pub first_try_429: f64,
    pub first_try_timeout: f64,
    pub first_try_errors: f64,
    /// Requests that never got the answer they should: refused customers.
    pub refused: usize,
    /// Due to the 202 (retries included) of the accepted orders, ms.
    pub submit_to_202_ms: Percentiles,
    /// Due to the first answer of every request, ms.
    pub first_answer_ms: Percentiles,
    pub by_kind: Vec<KindRow>,
    /// A few requests that got what they should not, for the report.
    pub unexpected: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KindRow {
    pub kind: String,
    pub requests: usize,
    /// Final answers by status.
    pub answers: BTreeMap<String, u64>,
}

/// The reads customers made while they bought.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadsReport {
    pub requests: usize,
    pub first_try_5xx: f64,
    pub first_try_429: f64,
    /// Due to answer, ms.
    pub latency_ms: Percentiles,
    pub routes: Vec<RouteRow>,
    /// Buyers who polled their order, and those who saw it final.
    pub pollers: usize,
    pub saw_final: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteRow {
    pub route: String,
    pub requests: usize,
    pub answers: BTreeMap<String, u64>,
    pub latency_ms: Percentiles,
}

/// Whether a request got the answer it should: 400 for an invalid one,
/// 202 for every other.
pub fn expected(s: &Sent) -> bool {
    match s.kind {
        Kind::Invalid => s.status == 400,
        _ => s.status == 202,
    }
}

/// Whether a first try got what it should.
fn expected_first(s: &Sent) -> bool {
    match s.kind {
        Kind::Invalid => s.first == Answered::Status(400),
        _ => s.first == Answered::Status(202),
    }
}

/// The busiest second's count of `times` (sorted), a second a window.
fn peak_per_second(times: &[Duration]) -> f64 {
    let mut best = 0;
    let mut from = 0;
    for (to, t) in times.iter().enumerate() {
        while *t - times[from] >= Duration::from_secs(1) {
            from += 1;
        }
        best = best.max(to + 1 - from);
    }
    best as f64
}

fn share(n: usize, of: usize) -> f64 {
    n as f64 / of.max(1) as f64
}

fn counts<'a>(keys: impl Iterator<Item = String> + 'a) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for k in keys {
        *out.entry(k).or_default() += 1;
    }
    out
}

impl LoadReport {
    pub fn of(sends: &Sends) -> LoadReport {
        let orders = &sends.orders;
        let n = orders.len();
        let mut due: Vec<Duration> = orders.iter().map(|s| s.due).collect();
        let mut sent: Vec<Duration> = orders.iter().map(|s| s.sent).collect();
        due.sort_unstable();
        sent.sort_unstable();
        let send_lag_ms = Percentiles::of(
            orders
                .iter()
                .map(|s| (s.sent.saturating_sub(s.due)).as_secs_f64() * 1e3)
                .collect(),
        );
        let planned_peak_rps = sends.open_loop.then(|| peak_per_second(&due));
        let achieved_peak_rps = peak_per_second(&sent);
        let count_first =
            |f: &dyn Fn(Answered) -> bool| orders.iter().filter(|s| f(s.first)).count();
        let secs = sends.elapsed.as_secs_f64().max(1e-9);
        LoadReport {
            open_loop: sends.open_loop,
            requests: n,
            send_secs: secs,
            planned_peak_rps,
            achieved_peak_rps,
            achieved_mean_rps: n as f64 / sent.last().map_or(secs, |l| l.as_secs_f64().max(1e-3)),
            offered: planned_peak_rps.map(|p| achieved_peak_rps / p.max(1e-9)),
            kept_up: !sends.open_loop || send_lag_ms.p99 <= MAX_SEND_LAG_P99_MS,
            send_lag_ms,
            first_try: counts(orders.iter().map(|s| s.first.key())),
            after_retries: counts(orders.iter().map(final_key)),
            first_try_5xx: share(count_first(&|a| a.is_5xx()), n),
            first_try_429: share(count_first(&|a| a == Answered::Status(429)), n),
            first_try_timeout: share(
                count_first(&|a| matches!(a, Answered::Timeout | Answered::NoConnection)),
                n,
            ),
            first_try_errors: share(orders.iter().filter(|s| !expected_first(s)).count(), n),
            refused: orders.iter().filter(|s| !expected(s)).count(),
            submit_to_202_ms: Percentiles::of(
                orders
                    .iter()
                    .filter(|s| s.status == 202)
                    .map(|s| s.done_ms)
                    .collect(),
            ),
            first_answer_ms: Percentiles::of(orders.iter().map(|s| s.first_ms).collect()),
            by_kind: by_kind(orders),
            unexpected: orders
                .iter()
                .filter(|s| !expected(s))
                .take(5)
                .map(|s| format!("{} answered {} {}", s.kind.label(), final_key(s), s.message))
                .collect(),
        }
    }
}

fn final_key(s: &Sent) -> String {
    match s.status {
        0 => s.message.clone(),
        st => st.to_string(),
    }
}

fn by_kind(orders: &[Sent]) -> Vec<KindRow> {
    let mut rows: BTreeMap<Kind, Vec<&Sent>> = BTreeMap::new();
    for s in orders {
        rows.entry(s.kind).or_default().push(s);
    }
    rows.into_iter()
        .map(|(kind, sent)| KindRow {
            kind: kind.label().to_owned(),
            requests: sent.len(),
            answers: counts(sent.iter().map(|s| final_key(s))),
        })
        .collect()
}

impl ReadsReport {
    pub fn of(sends: &Sends) -> ReadsReport {
        let reads = &sends.reads;
        let n = reads.len();
        let mut routes: BTreeMap<ReadRoute, Vec<_>> = BTreeMap::new();
        for r in reads {
            routes.entry(r.route).or_default().push(r);
        }
        ReadsReport {
            requests: n,
            first_try_5xx: share(reads.iter().filter(|r| r.answer.is_error()).count(), n),
            first_try_429: share(
                reads
                    .iter()
                    .filter(|r| r.answer == Answered::Status(429))
                    .count(),
                n,
            ),
            latency_ms: Percentiles::of(reads.iter().map(|r| r.ms).collect()),
            routes: routes
                .into_iter()
                .map(|(route, rs)| RouteRow {
                    route: route.label().to_owned(),
                    requests: rs.len(),
                    answers: counts(rs.iter().map(|r| r.answer.key())),
                    latency_ms: Percentiles::of(rs.iter().map(|r| r.ms).collect()),
                })
                .collect(),
            pollers: sends.pollers,
            saw_final: sends.saw_final,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_second_is_counted_over_any_window() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            peak_per_second(&ms(&[0, 100, 999, 1000, 1500, 1600, 1700])),
            5.0
        );
        assert_eq!(peak_per_second(&[]), 0.0);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let p = Percentiles::of((1..=100).rev().map(f64::from).collect());
        assert_eq!((p.p50, p.p99, p.max), (51.0, 99.0, 100.0));
    }
}
