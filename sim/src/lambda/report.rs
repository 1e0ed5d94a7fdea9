//! The deployed shape's part of the report: environments and cold starts,
//! throttles, connections in use and refused, the queue's age, and what
//! reached the DLQ and why.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use super::Shape;

/// The shape's state at one moment of a run.
#[derive(Debug, Clone, Default)]
pub struct ShapeSample {
    /// Seconds since the load started.
    pub t: f64,
    /// Environments alive per function (ingest, processor, notifier).
    pub environments: Vec<u64>,
    /// Cold starts so far per function.
    pub cold_starts: Vec<u64>,
    /// Requests the stage throttle answered 429 so far.
    pub throttled: u64,
    /// Database connections open now (through the modelled network).
    pub connections: u64,
    /// Connections the database refused so far.
    pub refused: u64,
    /// Age of the oldest message in the order queue, seconds.
    pub oldest_order_secs: Option<f64>,
}

/// The DLQ's messages by their last error.
pub type DlqCauses = BTreeMap<String, usize>;

/// Prints the shape's section; `dlq`: what the DLQs hold by cause, if known.
pub fn print(shape: &Shape, samples: &[ShapeSample], dlq: Option<&DlqCauses>) {
    let s = &shape.settings;
    println!("\ndeployed shape (--topology lambda):");
    let budget = s.connection_budget().ok();
    let limit = shape.rds.max_connections;
    println!(
        "  database: {} (max_connections {limit}, enforced as MAX_USER_CONNECTIONS), round trip +{} ms",
        s.instance_class, shape.rtt_ms
    );
    if let Some(b) = &budget {
        println!(
            "  connection budget: the functions may open {} of {} ({})",
            b.needed(),
            b.available,
            if b.fits() { "fits" } else { "OVER BUDGET" }
        );
    }
    println!(
        "  {:<10} {:>11} {:>11} {:>9} {:>10} {:>9} {:>13}",
        "function",
        "invocations",
        "cold starts",
        "init ms",
        "peak envs",
        "throttles",
        "init failures"
    );
    for f in &shape.functions {
        let st = &f.stats;
        let cold = st.cold_starts.load(Ordering::Relaxed);
        let init_ms = st.init_micros.load(Ordering::Relaxed) as f64 / 1000.0 / cold.max(1) as f64;
        println!(
            "  {:<10} {:>11} {:>11} {:>9.1} {:>10} {:>9} {:>13}",
            f.name,
            st.invocations.load(Ordering::Relaxed),
            cold,
            init_ms,
            st.peak_environments.load(Ordering::Relaxed),
            st.throttles.load(Ordering::Relaxed),
            st.init_failures.load(Ordering::Relaxed),
        );
    }
    for (name, m) in &shape.mappings {
        let st = &m.stats;
        let batches = st.batches.load(Ordering::Relaxed);
        println!(
            "  {name} event source: {batches} batches of {:.1} on average, {} messages reported failed, {} batches throttled, {} left by a failed init",
            st.messages.load(Ordering::Relaxed) as f64 / batches.max(1) as f64,
            st.item_failures.load(Ordering::Relaxed),
            st.throttled_batches.load(Ordering::Relaxed),
            st.init_failed_batches.load(Ordering::Relaxed),
        );
    }
    let c = &shape.rds.proxy.connections;
    println!(
        "  API Gateway: {} requests throttled (429) at the stage's {} requests/s, burst {}; {} refused by the ingest function",
        shape.gateway.throttled.load(Ordering::Relaxed),
        s.stage_throttle.rate,
        s.stage_throttle.burst,
        shape.gateway.refused.load(Ordering::Relaxed),
    );
    println!(
        "  database connections: {} opened, at most {} open at once (limit {limit}), {} refused",
        c.opened.load(Ordering::Relaxed),
        c.peak.load(Ordering::Relaxed),
        c.refused.load(Ordering::Relaxed),
    );
    if !samples.is_empty() {
        print_oldest(samples);
    }
    let Some(dlq) = dlq else { return };
    if dlq.is_empty() {
        println!("  DLQ arrivals: none");
    } else {
        println!("  DLQ arrivals by cause:");
        for (why, n) in dlq {
            println!("    {n:>6}  {why}");
        }
    }
}

fn print_oldest(samples: &[ShapeSample]) {
    let oldest = samples
        .iter()
        .filter_map(|s| s.oldest_order_secs)
        .fold(0.0, f64::max);
    println!("  order queue: oldest message waited at most {oldest:.1} s");
}
