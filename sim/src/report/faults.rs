//! The fault section of the result: each kind injected, how often, and
//! what became of it.

use engine::harness::faults::{FaultKind, Faults};
use engine::metrics::Metrics;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultRow {
    pub kind: String,
    pub rate: f64,
    pub injected: u64,
    /// What became of the faults injected, in words.
    pub outcome: String,
}

/// One row for each kind of fault the run injected.
pub fn rows(
    faults: &Faults,
    metrics: &Metrics,
    poison_in_dlq: usize,
    mysql: bool,
) -> Vec<FaultRow> {
    let mut rows = Vec::new();
    for kind in FaultKind::ALL {
        let rate = faults.plan().rate(kind);
        if rate == 0.0 || (kind == FaultKind::KilledConnection && !mysql) {
            continue;
        }
        let outcome = match kind {
            FaultKind::DuplicateDelivery => format!(
                "{} deliveries of already-recorded orders answered from the store, none re-applied",
                metrics.duplicate_deliveries.get()
            ),
            FaultKind::CrashBeforeCommit => {
                "nothing applied; the worker restarted, the batches came back after the visibility timeout".into()
            }
            FaultKind::CrashAfterCommit => {
                "committed; the worker restarted, the batches were redelivered and their recorded outcomes published".into()
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
        rows.push(FaultRow {
            kind: kind.name().to_owned(),
            rate,
            injected: faults.injected(kind),
            outcome,
        });
    }
    rows
}

/// The fault section of the report.
pub fn print(rows: &[FaultRow]) {
    if rows.is_empty() {
        return;
    }
    println!("\nfaults injected (and what became of them):");
    for r in rows {
        println!(
            "  {:<20} rate {:<5} {:>5} injected: {}",
            r.kind, r.rate, r.injected, r.outcome
        );
    }
}
