//! After a load against an API the sim does not host (`sim load
//! --follow SECS`): every accepted order read back through the API until it
//! is final (PROCESSED or FAILED) or the time allowed runs out, so the
//! result holds what `sim run` measures from its own store: the orders
//! finished, each one's time from accepted to processed (the order's
//! `created_at` to its `processed_at`) and the throughput.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use orderflow_client::Client;
use serde_json::Value;

use crate::load::measure::Percentiles;
use crate::load::Sends;
use crate::report::result::PipelineReport;

/// Reads in flight at once: well under the order route's throttle burst.
const IN_FLIGHT: usize = 16;

/// One finished order, as the API answered it.
struct Finished {
    created: DateTime<Utc>,
    processed: DateTime<Utc>,
    failure: Option<String>,
}

/// Reads back every order `sends` got a 202 for, from `start` (the load's
/// first request, wall clock), for at most `within`.
pub async fn follow(
    client: &Client,
    sends: &Sends,
    start: DateTime<Utc>,
    within: Duration,
) -> PipelineReport {
    let mut pending: BTreeSet<String> = sends
        .orders
        .iter()
        .filter(|s| s.status == 202)
        .filter_map(|s| s.order_id.clone())
        .collect();
    let deadline = tokio::time::Instant::now() + within;
    let mut finished: BTreeMap<String, Finished> = BTreeMap::new();
    loop {
        let reads: Vec<(String, Option<Finished>)> = stream::iter(pending.iter().cloned())
            .map(|id| async move {
                let answer = client.get(&format!("/api/orders/{id}")).await;
                let done = answer
                    .ok()
                    .filter(|a| a.status == 200)
                    .and_then(|a| final_of(&a.body));
                (id, done)
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for (id, done) in reads {
            if let Some(done) = done {
                pending.remove(&id);
                finished.insert(id, done);
            }
        }
        if pending.is_empty() || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report(&finished, pending.is_empty(), start)
}

/// The order's final outcome, if it has one.
fn final_of(body: &Value) -> Option<Finished> {
    let status = body.get("status")?.as_str()?;
    if status != "PROCESSED" && status != "FAILED" {
        return None;
    }
    let time = |key: &str| body.get(key)?.as_str()?.parse::<DateTime<Utc>>().ok();
    Some(Finished {
        created: time("created_at")?,
        processed: time("processed_at")?,
        failure: (status == "FAILED").then(|| {
            body.get("failure_reason")
                .and_then(Value::as_str)
                .unwrap_or("UNKNOWN")
                .to_owned()
        }),
    })
}

fn report(
    finished: &BTreeMap<String, Finished>,
    drained: bool,
    start: DateTime<Utc>,
) -> PipelineReport {
    let mut failure_reasons: BTreeMap<String, u64> = BTreeMap::new();
    for f in finished.values().filter_map(|f| f.failure.as_ref()) {
        *failure_reasons.entry(f.clone()).or_default() += 1;
    }
    let failed = failure_reasons.values().sum::<u64>() as usize;
    let last = finished.values().map(|f| f.processed).max();
    let drain_secs = last.map_or(0.0, |l| {
        (l - start).num_milliseconds().max(0) as f64 / 1000.0
    });
    let ms: Vec<f64> = finished
        .values()
        .map(|f| (f.processed - f.created).num_milliseconds() as f64)
        .collect();
    PipelineReport {
        finished: finished.len(),
        processed: finished.len() - failed,
        failed,
        failure_reasons,
        throughput: match drain_secs > 0.0 {
            true => finished.len() as f64 / drain_secs,
            false => 0.0,
        },
        drain_secs,
        drained,
        accept_to_processed_ms: Percentiles::of(ms),
        ..PipelineReport::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_final_order_with_both_times_is_finished() {
        let processed = json!({"status": "PROCESSED", "created_at": "2026-12-06T10:00:00Z",
            "processed_at": "2026-12-06T10:00:01.250Z", "failure_reason": null});
        let f = final_of(&processed).unwrap();
        assert_eq!((f.processed - f.created).num_milliseconds(), 1250);
        assert_eq!(f.failure, None);
        let failed = json!({"status": "FAILED", "created_at": "2026-12-06T10:00:00Z",
            "processed_at": "2026-12-06T10:00:00.5Z", "failure_reason": "INSUFFICIENT_STOCK"});
        assert_eq!(
            final_of(&failed).unwrap().failure.as_deref(),
            Some("INSUFFICIENT_STOCK")
        );
        let pending = json!({"status": "PENDING", "created_at": "2026-12-06T10:00:00Z", "processed_at": null});
        assert!(final_of(&pending).is_none());
    }

    #[test]
    fn throughput_counts_the_finished_orders_from_the_first_request_to_the_last_commit() {
        let start: DateTime<Utc> = "2026-12-06T10:00:00Z".parse().unwrap();
        let at = |ms: i64| start + chrono::Duration::milliseconds(ms);
        let finished = BTreeMap::from([
            (
                "a".to_owned(),
                Finished {
                    created: at(0),
                    processed: at(1_000),
                    failure: None,
                },
            ),
            (
                "b".to_owned(),
                Finished {
                    created: at(500),
                    processed: at(4_000),
                    failure: Some("INSUFFICIENT_STOCK".into()),
                },
            ),
        ]);
        let r = report(&finished, true, start);
        assert_eq!((r.finished, r.processed, r.failed), (2, 1, 1));
        assert_eq!(r.drain_secs, 4.0);
        assert_eq!(r.throughput, 0.5);
        assert_eq!(r.accept_to_processed_ms.max, 3500.0);
    }
}
