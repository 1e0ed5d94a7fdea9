//! The deployed shape's part of the report: environments and cold starts,
//! throttles, connections in use and refused, the queue's age, and what
//! reached the DLQ and why.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use crate::lambda::{Shape, ShapeSample};

/// The DLQ's messages by their last error.
pub type DlqCauses = BTreeMap<String, usize>;

/// Prints the shape's section; `dlq`: what the DLQs hold by cause, if known.
pub fn print(shape: &Shape, samples: &[ShapeSample], dlq: Option<&DlqCauses>) {
    let s = &shape.settings;
    println!(
        "\ndeployed shape (--topology lambda), {}:",
        shape.model.describe()
    );
    let b = s.connection_budget();
    let limit = shape.rds.max_connections;
    println!(
        "  database: {} (max_connections {} set in the parameter group; {limit} left by RDS's own for the functions' user), round trip +{} ms in its zone, +{} ms from the other; {}",
        s.instance_class,
        s.max_connections,
        shape.rtt_ms.0,
        shape.rtt_ms.1,
        match shape.rds.commit_extra.is_zero() {
            true => "single-AZ".to_owned(),
            false => format!(
                "Multi-AZ: each commit +{} ms",
                shape.rds.commit_extra.as_secs_f64() * 1000.0
            ),
        }
    );
    println!(
        "  connection budget: the functions may open {} of {} ({})",
        b.needed(),
        b.available,
        if b.fits() { "fits" } else { "OVER BUDGET" }
    );
    print_functions(shape);
    println!(
        "  API Gateway: {} requests throttled (429) by the routes' throttles (the stage's: {} requests/s, burst {}); {} answered 500 ({} for a function's concurrency)",
        shape.gateway.throttled.load(Ordering::Relaxed),
        s.stage_throttle.rate,
        s.stage_throttle.burst,
        shape.gateway.refused.load(Ordering::Relaxed),
        shape.gateway.function_throttled.load(Ordering::Relaxed),
    );
    let q = &shape.sqs;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    println!(
        "  SQS calls: {} in all ({} SendMessage, {} SendMessageBatch, {} ReceiveMessage of which {} empty, {} DeleteMessageBatch, {} ChangeMessageVisibility)",
        q.total(),
        load(&q.send),
        load(&q.send_batch),
        load(&q.receive),
        load(&q.empty_receive),
        load(&q.delete_batch),
        load(&q.change_visibility),
    );
    let c = &shape.rds.connections;
    let lingering: u64 = shape
        .functions
        .all()
        .map(|f| f.stats.lingering.load(Ordering::Relaxed))
        .sum();
    println!(
        "  database connections: {} opened, {} refused; at most {} sockets open at once, refused ones included (server limit {limit}); {lingering} reaped environments' connections still open",
        c.opened.load(Ordering::Relaxed),
        c.refused.load(Ordering::Relaxed),
        c.peak.load(Ordering::Relaxed),
    );
    if !samples.is_empty() {
        print_oldest(samples);
    }
    if let Some(dlq) = dlq {
        print_dlq(dlq);
    }
}

/// Each function's invocations, cold starts and costs, and each mapping's batches.
fn print_functions(shape: &Shape) {
    println!(
        "  {:<10} {:>11} {:>11} {:>9} {:>10} {:>9} {:>8} {:>13} {:>13}",
        "function",
        "invocations",
        "cold starts",
        "init ms",
        "peak envs",
        "throttles",
        "timeouts",
        "init failures",
        "CPU ms (x)"
    );
    for f in shape.functions.all() {
        let st = &f.stats;
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let cold = load(&st.cold_starts);
        let init_ms = load(&st.init_micros) as f64 / 1000.0 / cold.max(1) as f64;
        let cpu_ms = load(&st.cpu_micros) as f64 / 1000.0;
        println!(
            "  {:<10} {:>11} {:>11} {:>9.1} {:>10} {:>9} {:>8} {:>13} {:>8.0} ({:.1})",
            f.name,
            load(&st.invocations),
            cold,
            init_ms,
            load(&st.peak_environments),
            load(&st.throttles),
            load(&st.timeouts),
            load(&st.init_failures),
            cpu_ms,
            f.costs.cpu_stretch,
        );
    }
    println!("  (CPU ms: the handlers' CPU time on this machine; x: how much longer it takes at the function's share of a vCPU)");
    for (name, m) in &shape.mappings {
        let st = &m.stats;
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let batches = load(&st.batches);
        println!(
            "  {name} event source: {batches} batches of {:.1} on average, {} messages reported failed, {} invokes throttled ({} batches left for the visibility timeout), {} left by a failed init, {} timed out",
            load(&st.messages) as f64 / batches.max(1) as f64,
            load(&st.item_failures),
            load(&st.throttled_invokes),
            load(&st.throttled_batches),
            load(&st.init_failed_batches),
            load(&st.timed_out_batches),
        );
    }
}

/// What reached the DLQs, by cause.
fn print_dlq(dlq: &DlqCauses) {
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
