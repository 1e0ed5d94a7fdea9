//! The bill section of a deployed-shape run's report: what the run would
//! have cost on AWS, item by item, the same shape's month idle, and the
//! cost per million orders at the run's mix (`crate::lambda::bill` does the
//! arithmetic).

use crate::lambda::bill::{self, Usage};
use crate::lambda::Shape;

/// Prints the bill of `shape`'s run, in which `orders` were accepted.
pub fn print(shape: &Shape, orders: u64) {
    let prices = &shape.prices;
    let usage = shape.usage();
    let (run, idle) = match (
        bill::bill(&usage, prices),
        bill::bill(&idle_month(&usage, shape), prices),
    ) {
        (Ok(run), Ok(idle)) => (run, idle),
        (Err(e), _) | (_, Err(e)) => return println!("\nbill: {e}"),
    };
    println!(
        "\nwhat this run would cost on AWS ({}, deploy/prices.json read {}, {}; {:.0} s of the stack):",
        shape.region, prices.read, prices.currency, usage.seconds
    );
    for l in &run {
        println!(
            "  {:<16} {:<44} {:>14} {:<15} ${:.6}",
            l.service,
            l.item,
            quantity(l.quantity),
            l.unit,
            l.usd
        );
    }
    println!(
        "  {:<16} {:<44} {:>31} ${:.6}",
        "total",
        "",
        "",
        bill::total(&run)
    );
    let variable: f64 = run.iter().filter(|l| !l.fixed).map(|l| l.usd).sum();
    if orders > 0 {
        println!(
            "  per million orders at this run's mix (requests, compute, messages, logs): ${:.2}",
            variable / orders as f64 * 1e6
        );
    }
    println!(
        "  the same shape idle for a month (instance, storage, endpoints, alarms, secrets, the mappings' empty long polls): ${:.2}",
        bill::total(&idle)
    );
}

/// A count as a whole number; anything else to four significant digits.
fn quantity(q: f64) -> String {
    if q.fract() == 0.0 {
        format!("{q:.0}")
    } else {
        let digits = (3 - q.abs().log10().floor() as i32).clamp(0, 12) as usize;
        format!("{q:.digits$}")
    }
}

/// A month of `usage`'s stack with no orders: the fixed items, and each
/// mapping's idle pollers long-polling ([`bill::IDLE_POLL_SECS`]).
fn idle_month(usage: &Usage, shape: &Shape) -> Usage {
    let pollers =
        shape.mappings.len() as f64 * shape.model.v(&shape.model.c.esm_initial_concurrency);
    Usage {
        seconds: bill::MONTH_SECS,
        sqs_requests: (pollers * bill::MONTH_SECS / bill::IDLE_POLL_SECS) as u64,
        functions: Vec::new(),
        api_requests: 0,
        endpoint_bytes: 0,
        log_bytes: 0,
        secret_calls: 0,
        ..usage.clone()
    }
}
