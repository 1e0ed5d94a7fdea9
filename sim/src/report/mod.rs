//! The run report, all of it: what was sent, what became of it, how fast
//! (here); the faults injected ([`faults`]); the deployed shape's functions,
//! queues and connections ([`shape`]); and the same as one HTML page
//! ([`html`]).

pub mod bill;
pub mod faults;
pub mod html;
pub mod outcome;
pub mod shape;

use orderflow_client::Latencies;
use std::collections::BTreeMap;
use std::time::Duration;

use engine::domain::{InventoryItem, OrderRecord, OrderStatus, ProductId};
use engine::metrics::Metrics;

use engine::harness::faults::Faults;

use crate::invariants::{self, Check};
use crate::lambda::Shape;
use crate::load::{Kind, Sent};

/// Writes `text` to `path`, creating its folder if needed: every file a
/// run or a plan leaves (pages, outcomes, settings files).
pub fn write_file(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

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

/// The whole text report of a run, in the order it is printed.
pub struct RunReport<'a> {
    pub main: Report<'a>,
    /// The deployed shape, its samples, and what its DLQs hold by cause.
    pub shape: Option<(
        &'a Shape,
        &'a [crate::lambda::ShapeSample],
        Option<&'a shape::DlqCauses>,
    )>,
    pub faults: &'a Faults,
    /// Undecodable messages in the order DLQ (the poison fault's).
    pub undecodable: usize,
    pub mysql: bool,
    pub invariants: &'a [Check],
    /// The deployed shape's bill ([`bill::summary`]), or why there is none.
    pub bill: Option<&'a Result<bill::Summary, crate::lambda::bill::BillError>>,
}

impl RunReport<'_> {
    pub fn print(&self) {
        print(&self.main);
        if let Some((shape, samples, causes)) = self.shape {
            shape::print(shape, samples, causes);
        }
        match self.bill {
            Some(Ok(summary)) => bill::print(summary),
            Some(Err(e)) => println!("\nbill: {e}"),
            None => {}
        }
        faults::print(self.faults, self.main.metrics, self.undecodable, self.mysql);
        println!("\ninvariants:");
        invariants::print(self.invariants);
    }
}

/// Prints the result lines and answers whether the run passed.
pub fn verdict(scenarios: &[Check], checks: &[Check], drained: bool, unexpected: usize) -> bool {
    let failed = |c: &[Check]| c.iter().filter(|c| !c.passed).count();
    let ok = failed(scenarios) == 0 && failed(checks) == 0 && drained && unexpected == 0;
    if ok {
        println!("\nresult: every scenario passed and every invariant held");
    } else {
        println!(
            "\nresult: FAILED ({} scenarios failed, {} invariants failed, {unexpected} unexpected answers{})",
            failed(scenarios),
            failed(checks),
            if drained { "" } else { ", queues not drained" }
        );
    }
    // A closing line in the common "N passed, N failed" shape, for CI logs.
    let total = scenarios.len() + checks.len();
    let bad = failed(scenarios) + failed(checks);
    println!("sim: {} passed, {bad} failed", total - bad);
    ok
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
