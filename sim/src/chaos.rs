//! The sim's side of fault injection: poison messages on the order queue,
//! killed database connections, and the report of what was injected and
//! what became of it. (Crashes, duplicate deliveries, publish failures and
//! expired visibility timeouts are injected inside the engine.)

use std::sync::Arc;
use std::time::Duration;

use engine::faults::{FaultKind, Faults};
use engine::metrics::Metrics;
use engine::queue::QueueBackend;
use engine::store::MySqlStore;
use tokio::task::JoinHandle;

/// Bodies that no consumer can decode.
const POISON: [&str; 4] = [
    "not json at all",
    r#"{"order_id": "not-a-uuid", "customer_id": "c", "items": [], "timestamp": "x"}"#,
    r#"{"order_id": "00000000-0000-8000-8000-000000000001", "customer_id": "c", "items": [{"product_id": "p", "quantity": 0}], "timestamp": "2026-01-01T00:00:00.000Z"}"#,
    "[]",
];

/// Rolls the poison fault once per planned request and puts that many
/// undecodable messages on the order queue; answers how many.
pub async fn inject_poison(queue: &dyn QueueBackend, faults: &Faults, requests: usize) -> u64 {
    let mut sent = 0;
    for _ in 0..requests {
        if faults.roll(FaultKind::PoisonMessage) {
            let body = POISON[faults.pick(POISON.len())];
            if queue.send(body.to_owned()).await.is_ok() {
                sent += 1;
            }
        }
    }
    sent
}

/// Every 20 ms, with the fault's rate, kills one of the store's connections
/// on the server, until `stop` fires.
pub fn spawn_connection_killer(
    store: Arc<MySqlStore>,
    faults: Arc<Faults>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                _ = stop.changed() => return,
            }
            if faults.chance(FaultKind::KilledConnection) {
                match store.kill_a_connection(|n| faults.pick(n)).await {
                    Ok(true) => faults.count(FaultKind::KilledConnection),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "could not kill a connection"),
                }
            }
        }
    })
}

/// The fault section of the report.
pub fn print(faults: &Faults, metrics: &Metrics, poison_in_dlq: usize, mysql: bool) {
    if faults.plan().is_empty() {
        return;
    }
    println!("\nfaults injected (and what became of them):");
    for kind in FaultKind::ALL {
        let rate = faults.plan().rate(kind);
        if rate == 0.0 || (kind == FaultKind::KilledConnection && !mysql) {
            continue;
        }
        let n = faults.injected(kind);
        let outcome = match kind {
            FaultKind::DuplicateDelivery => format!(
                "{} deliveries of already-recorded orders answered from the store, none re-applied",
                metrics.duplicate_deliveries.get()
            ),
            FaultKind::CrashBeforeCommit => {
                "rolled back; the batches came back after the visibility timeout".into()
            }
            FaultKind::CrashAfterCommit => {
                "committed; redelivered, and the recorded outcome published again".into()
            }
            FaultKind::PublishFailure => "messages kept on the queue and redelivered".into(),
            FaultKind::VisibilityExpiry => {
                "batches received again by another worker while in flight".into()
            }
            FaultKind::PoisonMessage => {
                format!("{poison_in_dlq} undecodable messages in the order DLQ")
            }
            FaultKind::KilledConnection => format!(
                "{} batches retried after transient store errors",
                metrics.store_retries.get()
            ),
        };
        println!(
            "  {:<20} rate {:<5} {:>5} injected: {outcome}",
            kind.name(),
            rate,
            n
        );
    }
}
