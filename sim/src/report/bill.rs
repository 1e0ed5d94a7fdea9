//! The bill section of a deployed-shape run's report: what the run would
//! have cost on AWS, item by item, the same shape's month idle, and the
//! cost per million orders at the run's mix (`crate::aws::bill` does the
//! arithmetic).

#[cfg(feature = "aws")]
use crate::aws::bill::{self, BillError, Line};
#[cfg(feature = "aws")]
use crate::aws::Shape;

use super::result::Bill;
#[cfg(feature = "aws")]
use super::result::BillLine;

/// The bill of `shape`'s run, in which `orders` were accepted, as the
/// result carries it.
#[cfg(feature = "aws")]
pub fn summary(shape: &Shape, orders: u64) -> Result<Bill, BillError> {
    let prices = &shape.prices;
    let usage = shape.usage();
    let lines = bill::bill(&usage, prices)?;
    let pollers =
        shape.mappings.len() as f64 * shape.model.v(&shape.model.c.esm_initial_concurrency);
    let idle = bill::bill(&bill::idle_month(&usage, pollers), prices)?;
    let variable: f64 = lines.iter().filter(|l| !l.fixed).map(|l| l.usd).sum();
    Ok(Bill {
        region: shape.region.clone(),
        read: prices.read.clone(),
        currency: prices.currency.clone(),
        seconds: usage.seconds,
        total: bill::total(&lines),
        per_million: (orders > 0).then(|| variable / orders as f64 * 1e6),
        idle_month: bill::total(&idle),
        lines: lines.iter().map(owned).collect(),
    })
}

#[cfg(feature = "aws")]
fn owned(l: &Line) -> BillLine {
    BillLine {
        service: l.service.to_owned(),
        item: l.item.clone(),
        quantity: l.quantity,
        unit: l.unit.to_owned(),
        usd: l.usd,
        fixed: l.fixed,
    }
}

/// Prints a run's bill.
pub fn print(s: &Bill) {
    println!(
        "\nwhat this run would cost on AWS ({}, deploy/prices.json read {}, {}; {:.0} s of the stack):",
        s.region, s.read, s.currency, s.seconds
    );
    for l in &s.lines {
        println!(
            "  {:<16} {:<44} {:>14} {:<15} ${:.6}",
            l.service,
            l.item,
            quantity(l.quantity),
            l.unit,
            l.usd
        );
    }
    println!("  {:<16} {:<44} {:>31} ${:.6}", "total", "", "", s.total);
    if let Some(per_million) = s.per_million {
        println!(
            "  per million orders at this run's mix (requests, compute, messages, logs): ${per_million:.2}"
        );
    }
    println!(
        "  the same shape idle for a month (instance, storage, endpoints, alarms, secrets, the mappings' empty long polls): ${:.2}",
        s.idle_month
    );
}

/// A count as a whole number; anything else to four significant digits.
pub fn quantity(q: f64) -> String {
    if q.fract() == 0.0 {
        format!("{q:.0}")
    } else {
        let digits = (3 - q.abs().log10().floor() as i32).clamp(0, 12) as usize;
        format!("{q:.digits$}")
    }
}
