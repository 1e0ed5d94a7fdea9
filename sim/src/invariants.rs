//! The six invariants (the book's "The design" and "Guarantees"), checked against what a run left behind.

use std::collections::{BTreeMap, HashMap, HashSet};

use engine::domain::{InventoryItem, OrderRecord, OrderStatus, ProductId};

/// One verdict of a run: a scenario or an invariant.
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

pub fn print(checks: &[Check]) {
    for c in checks {
        let verdict = if c.passed { "PASS" } else { "FAIL" };
        println!("  {verdict} {}: {}", c.name, c.detail);
    }
}

/// Everything the checks look at, gathered after the queues drained.
pub struct Facts {
    /// Stock of every product when the run started.
    pub initial: BTreeMap<ProductId, i64>,
    pub inventory: Vec<InventoryItem>,
    /// Orders whose outcome was committed during this run.
    pub finished: Vec<OrderRecord>,
    /// Every distinct order id answered 202 during this run.
    pub accepted: HashSet<String>,
    /// How many requests were answered 202 (duplicates included).
    pub accepted_answers: u64,
    /// Order ids found in the order DLQ.
    pub dead_lettered: HashSet<String>,
    /// Order ids whose event sits in a DLQ (order or processed): a finished
    /// order among them is notified once it is redriven.
    pub awaiting_redrive: HashSet<String>,
    /// Duplicate requests whose id differed from the original's.
    pub duplicate_mismatches: Vec<String>,
    /// Notifications dispatched per order id.
    pub notified: HashMap<String, u32>,
    /// Whether faults were injected that can lose a notification's
    /// confirmation after its dispatch (killed connections), so a repeat
    /// dispatch is the designed outcome rather than a bug.
    pub repeats_possible: bool,
    /// Orders ingest published (counted before any fault copied one).
    pub enqueued: u64,
    /// Requests that should have been refused, and how many got a 4xx.
    pub invalid_sent: u64,
    pub invalid_refused: u64,
}

/// Checks the six invariants, one function each.
pub fn check(f: &Facts) -> Vec<Check> {
    let finished: HashSet<String> = f.finished.iter().map(|o| o.order_id.to_string()).collect();
    vec![
        no_oversell(f),
        conservation(f),
        accounted_for(f, &finished),
        applied_at_most_once(f, &finished),
        notified_exactly_once(f, &finished),
        no_trace(f),
    ]
}

/// A check that passes when nothing failed: `ok` says what held, or the
/// failures are summarized.
fn verdict(name: &'static str, failures: Vec<String>, ok: String) -> Check {
    Check {
        name,
        passed: failures.is_empty(),
        detail: if failures.is_empty() {
            ok
        } else {
            summarize(&failures)
        },
    }
}

/// 1. No oversell.
fn no_oversell(f: &Facts) -> Check {
    let negative: Vec<String> = f
        .inventory
        .iter()
        .filter(|i| i.quantity_available < 0)
        .map(|i| format!("{} at {}", i.product_id, i.quantity_available))
        .collect();
    let ok = format!("{} products, none below 0", f.inventory.len());
    verdict("1. no oversell", negative, ok)
}

/// 2. Conservation: initial = current + sold (lines of PROCESSED orders).
fn conservation(f: &Facts) -> Check {
    let mut sold: BTreeMap<&ProductId, i64> = BTreeMap::new();
    let processed = f
        .finished
        .iter()
        .filter(|o| o.status == OrderStatus::Processed);
    for line in processed.flat_map(|o| &o.items) {
        *sold.entry(&line.product_id).or_default() += i64::from(line.quantity.get());
    }
    let current: BTreeMap<&ProductId, i64> = f
        .inventory
        .iter()
        .map(|i| (&i.product_id, i.quantity_available))
        .collect();
    let mut broken = Vec::new();
    for (p, initial) in &f.initial {
        let now = current.get(p).copied().unwrap_or(0);
        let s = sold.get(p).copied().unwrap_or(0);
        if *initial != now + s {
            broken.push(format!(
                "{p}: initial {initial} != current {now} + sold {s}"
            ));
        }
    }
    let total_sold: i64 = sold.values().sum();
    let ok = format!(
        "{} products: initial = current + sold ({total_sold} units sold)",
        f.initial.len()
    );
    verdict("2. conservation", broken, ok)
}

/// 3. Every accepted order ends PROCESSED or FAILED, or sits in the DLQ.
fn accounted_for(f: &Facts, finished: &HashSet<String>) -> Check {
    let lost: Vec<String> = f
        .accepted
        .iter()
        .filter(|id| !finished.contains(*id) && !f.dead_lettered.contains(*id))
        .map(|id| format!("{id} accepted, never finished"))
        .collect();
    let done = f
        .accepted
        .iter()
        .filter(|id| finished.contains(*id))
        .count();
    let in_dlq = f
        .accepted
        .iter()
        .filter(|id| !finished.contains(*id) && f.dead_lettered.contains(*id))
        .count();
    let ok = format!(
        "{} accepted: {done} finished, {in_dlq} in the DLQ",
        f.accepted.len()
    );
    verdict("3. every accepted order accounted for", lost, ok)
}

/// 4. At most once per order_id: duplicates got the original's id, and
///    nothing finished that this run did not accept (a second application
///    would also break conservation).
fn applied_at_most_once(f: &Facts, finished: &HashSet<String>) -> Check {
    let mut twice = f.duplicate_mismatches.clone();
    twice.extend(
        finished
            .iter()
            .filter(|id| !f.accepted.contains(*id))
            .map(|id| format!("{id} finished but was never accepted")),
    );
    let repeats = f.accepted_answers - f.accepted.len() as u64;
    let ok =
        format!("{repeats} repeated submissions answered with the original id, none applied again");
    verdict("4. each order applied at most once", twice, ok)
}

/// 5. Every finished order notified exactly once (or, if its event sits in
///    a DLQ, not yet: counted).
fn notified_exactly_once(f: &Facts, finished: &HashSet<String>) -> Check {
    let mut wrong = Vec::new();
    let (mut waiting, mut repeated) = (0, 0);
    for id in finished {
        match f.notified.get(id).copied().unwrap_or(0) {
            1 => {}
            0 if f.awaiting_redrive.contains(id) => waiting += 1,
            n if n > 1 && f.repeats_possible => repeated += 1,
            n => wrong.push(format!("{id} notified {n} times")),
        }
    }
    for id in f.notified.keys().filter(|id| !finished.contains(*id)) {
        wrong.push(format!("{id} notified but not finished"));
    }
    let ok = format!(
        "{} notifications for {} finished orders ({waiting} awaiting a DLQ redrive, \
         {repeated} repeated after a lost confirmation)",
        f.notified.values().sum::<u32>(),
        finished.len()
    );
    verdict("5. every finished order notified exactly once", wrong, ok)
}

/// 6. Rejected requests leave no trace: exactly one message per 202.
fn no_trace(f: &Facts) -> Check {
    let mut trace = Vec::new();
    if f.enqueued != f.accepted_answers {
        trace.push(format!(
            "{} messages enqueued for {} accepted requests",
            f.enqueued, f.accepted_answers
        ));
    }
    if f.invalid_refused != f.invalid_sent {
        trace.push(format!(
            "{} of {} invalid requests refused",
            f.invalid_refused, f.invalid_sent
        ));
    }
    let ok = format!(
        "{} invalid requests refused with 400, {} messages for {} accepted requests",
        f.invalid_refused, f.enqueued, f.accepted_answers
    );
    verdict("6. rejected requests leave no trace", trace, ok)
}

fn summarize(failures: &[String]) -> String {
    let mut s = failures
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if failures.len() > 5 {
        s.push_str(&format!("; and {} more", failures.len() - 5));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::domain::OrderLine;

    fn pid(s: &str) -> ProductId {
        ProductId::parse(s).unwrap()
    }

    fn record(id: &str, status: OrderStatus, lines: &[(&str, u32)]) -> OrderRecord {
        let items: Vec<OrderLine> = lines
            .iter()
            .map(|(p, q)| OrderLine::new(p, *q).unwrap())
            .collect();
        serde_json::from_value(serde_json::json!({
            "order_id": id, "customer_id": "c", "items": items, "status": status,
            "failure_reason": null, "created_at": "2026-01-01T00:00:00Z", "processed_at": "2026-01-01T00:00:01Z",
        }))
        .unwrap()
    }

    const A: &str = "00000000-0000-8000-8000-00000000000a";
    const B: &str = "00000000-0000-8000-8000-00000000000b";

    /// A run that kept every invariant: 10 units, one order took 3.
    fn good() -> Facts {
        Facts {
            initial: BTreeMap::from([(pid("p"), 10)]),
            inventory: vec![InventoryItem {
                product_id: pid("p"),
                product_name: "P".into(),
                quantity_available: 7,
            }],
            finished: vec![record(A, OrderStatus::Processed, &[("p", 3)])],
            accepted: HashSet::from([A.to_owned()]),
            accepted_answers: 2,
            dead_lettered: HashSet::new(),
            awaiting_redrive: HashSet::new(),
            duplicate_mismatches: vec![],
            notified: HashMap::from([(A.to_owned(), 1)]),
            repeats_possible: false,
            enqueued: 2,
            invalid_sent: 1,
            invalid_refused: 1,
        }
    }

    fn failed(f: &Facts) -> Vec<&'static str> {
        check(f)
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| c.name)
            .collect()
    }

    #[test]
    fn a_clean_run_passes_every_check() {
        assert!(failed(&good()).is_empty());
    }

    #[test]
    fn each_broken_invariant_is_reported() {
        let mut f = good();
        f.inventory[0].quantity_available = -1;
        assert_eq!(failed(&f), ["1. no oversell", "2. conservation"]);

        let mut f = good();
        f.finished
            .push(record(A, OrderStatus::Processed, &[("p", 3)]));
        assert_eq!(
            failed(&f),
            ["2. conservation"],
            "an order applied twice breaks conservation"
        );

        let mut f = good();
        f.accepted.insert(B.to_owned());
        assert_eq!(failed(&f), ["3. every accepted order accounted for"]);
        f.dead_lettered.insert(B.to_owned());
        assert!(
            failed(&f).is_empty(),
            "an order in the DLQ is accounted for"
        );

        let mut f = good();
        f.duplicate_mismatches.push("dup got another id".into());
        assert_eq!(failed(&f), ["4. each order applied at most once"]);

        let mut f = good();
        f.notified.insert(A.to_owned(), 2);
        assert_eq!(
            failed(&f),
            ["5. every finished order notified exactly once"]
        );
        f.notified.insert(A.to_owned(), 0);
        assert_eq!(
            failed(&f),
            ["5. every finished order notified exactly once"]
        );

        let mut f = good();
        f.enqueued = 3;
        assert_eq!(failed(&f), ["6. rejected requests leave no trace"]);
    }
}
