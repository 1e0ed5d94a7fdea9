//! The run report: what was sent, what became of it, how fast.

use orderflow_client::Latencies;
use std::collections::BTreeMap;
use std::time::Duration;

use engine::domain::{InventoryItem, OrderRecord, OrderStatus, ProductId};
use engine::metrics::Metrics;

use crate::load::{Kind, Sent};

pub struct Report<'a> {
    pub sent: &'a [Sent],
    pub send_time: Duration,
    pub drain_time: Duration,
    pub finished: &'a [OrderRecord],
    pub dead_lettered: usize,
    pub processed_dlq: usize,
    pub metrics: &'a Metrics,
    pub hot: Vec<String>,
    pub inventory: &'a [InventoryItem],
    pub initial: &'a BTreeMap<ProductId, i64>,
}

/// Whether a kind of request got the answer it should.
fn expected(s: &Sent) -> bool {
    match s.kind {
        Kind::Invalid => s.status == 400,
        _ => s.status == 202,
    }
}

pub fn unexpected_answers(sent: &[Sent]) -> usize {
    sent.iter().filter(|s| !expected(s)).count()
}

/// The load's and the pipeline's sections of the report.
pub fn print(r: &Report) {
    print_load(r);
    print_pipeline(r);
}

/// What was sent, by kind, with the answers each got.
fn print_load(r: &Report) {
    let secs = r.send_time.as_secs_f64().max(1e-9);
    println!(
        "  sent {} requests in {:.2} s ({:.0} requests/s)",
        r.sent.len(),
        secs,
        r.sent.len() as f64 / secs
    );
    let mut by_kind: BTreeMap<Kind, (usize, BTreeMap<u16, usize>)> = BTreeMap::new();
    for s in r.sent {
        let e = by_kind.entry(s.kind).or_default();
        e.0 += 1;
        *e.1.entry(s.status).or_default() += 1;
    }
    for (kind, (n, statuses)) in &by_kind {
        let answers: Vec<String> = statuses
            .iter()
            .map(|(st, n)| format!("{st}: {n}"))
            .collect();
        println!(
            "    {:<24} {:>6}  ({})",
            kind.label(),
            n,
            answers.join(", ")
        );
    }
    for s in r.sent.iter().filter(|s| !expected(s)).take(5) {
        println!(
            "    unexpected: {} answered {} {}",
            s.kind.label(),
            s.status,
            s.message
        );
    }
}

/// What became of the orders: outcomes, throughput, latency, DLQs,
/// deliveries, the hot products' stock.
fn print_pipeline(r: &Report) {
    let processed = r
        .finished
        .iter()
        .filter(|o| o.status == OrderStatus::Processed)
        .count();
    let failed: Vec<&OrderRecord> = r
        .finished
        .iter()
        .filter(|o| o.status == OrderStatus::Failed)
        .collect();
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &failed {
        *reasons
            .entry(o.failure_reason.map_or("-", |r| r.as_str()))
            .or_default() += 1;
    }
    let reasons: Vec<String> = reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
    println!("\npipeline:");
    println!(
        "  finished orders        {} (PROCESSED {processed}, FAILED {}: {})",
        r.finished.len(),
        failed.len(),
        reasons.join(", ")
    );
    let drain = r.drain_time.as_secs_f64().max(1e-9);
    println!(
        "  throughput             {:.0} orders/s finished (first load request to queues drained, {:.2} s)",
        r.finished.len() as f64 / drain,
        drain
    );
    let latencies = Latencies::of(r.finished.iter().map(|o| (o.created_at, o.processed_at)));
    if !latencies.is_empty() {
        let pct = |q| latencies.percentile(q);
        println!(
            "  accept-to-processed    p50 {} ms, p95 {} ms, p99 {} ms, max {} ms",
            pct(0.50),
            pct(0.95),
            pct(0.99),
            pct(1.0)
        );
    }
    println!(
        "  DLQ                    {} in the order DLQ, {} in the processed DLQ",
        r.dead_lettered, r.processed_dlq
    );
    println!(
        "  deliveries             {} duplicates answered from the store, {} store retries, {} undecodable receives",
        r.metrics.duplicate_deliveries.get(),
        r.metrics.store_retries.get(),
        r.metrics.poison_messages.get()
    );
    let stock: Vec<String> = r
        .inventory
        .iter()
        .filter(|i| r.hot.iter().any(|h| h == i.product_id.as_str()))
        .map(|i| {
            let from = r.initial.get(&i.product_id).copied().unwrap_or(0);
            format!("{} {} -> {}", i.product_id, from, i.quantity_available)
        })
        .collect();
    println!("  hot products           {}", stock.join(", "));
}
