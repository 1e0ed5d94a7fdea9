//! The fault section of the run report: each kind injected, how often, and
//! what became of it.

use engine::harness::faults::{FaultKind, Faults};
use engine::metrics::Metrics;

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
        println!(
            "  {:<20} rate {:<5} {:>5} injected: {outcome}",
            kind.name(),
            rate,
            n
        );
    }
}
