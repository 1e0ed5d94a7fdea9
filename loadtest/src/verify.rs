//! After the load: read the API back and check what the load did.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use orderflow_client::Latencies;
use tokio::time::Instant;

use crate::api::{Api, Order, Product, Read};
use crate::scenarios::Shared;

/// Reads of the verification in flight at once (the pacer still spaces
/// them).
const READS_IN_FLIGHT: usize = 32;

struct Check {
    passed: bool,
    what: String,
}

fn check(passed: bool, what: String) -> Check {
    Check { passed, what }
}

/// Reads every accepted order back (until `deadline`) and the inventory,
/// prints each check, and answers whether all of them passed.
pub async fn verify(
    api: &Api,
    shared: &Shared,
    before: &[Product],
    deadline: Duration,
) -> anyhow::Result<bool> {
    let ids = shared.accepted_ids();
    // Reading every order once at the pace takes time of its own.
    let deadline = deadline + api.time_to_read(ids.len());
    println!(
        "\nverification: reading {} accepted orders back (deadline {} s)",
        ids.len(),
        deadline.as_secs()
    );
    let started = Instant::now();
    let read = read_back(api, ids, started + deadline).await?;
    let in_dlq = if read.pending.is_empty() {
        0
    } else {
        let dead = api.dead_lettered().await?;
        read.pending.iter().filter(|id| dead.contains(*id)).count()
    };
    let after = api.inventory().await?;

    let checks = [
        all_finished(&read, in_dlq, started.elapsed()),
        no_negative_stock(&after),
        conservation(before, &after, &read.finished),
    ];
    let checks = checks
        .into_iter()
        .chain(answers(shared))
        .collect::<Vec<_>>();

    print_latency(&read.finished);
    println!(
        "  throttled during the verification: {}, each waited for and retried",
        api.throttled.describe("reads")
    );
    let failed = checks.iter().filter(|c| !c.passed).count();
    for c in &checks {
        println!("  {} {}", if c.passed { "ok  " } else { "FAIL" }, c.what);
    }
    println!(
        "loadtest: {} passed, {failed} failed",
        checks.len() - failed
    );
    Ok(failed == 0)
}

/// The accepted orders read back.
struct ReadBack {
    /// PROCESSED or FAILED, by id.
    finished: HashMap<String, Order>,
    /// Not finished at the deadline (or not readable then).
    pending: Vec<String>,
    /// Of the pending, those whose last read was still throttled.
    throttled: usize,
}

/// Reads the orders `ids` back until each has finished or `deadline`
/// passes.
async fn read_back(api: &Api, ids: Vec<String>, deadline: Instant) -> anyhow::Result<ReadBack> {
    let mut read = ReadBack {
        finished: HashMap::with_capacity(ids.len()),
        pending: ids,
        throttled: 0,
    };
    loop {
        let reads = futures::stream::iter(std::mem::take(&mut read.pending))
            .map(|id| async move { (api.order(&id, deadline).await, id) })
            .buffer_unordered(READS_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        read.throttled = 0;
        for (answer, id) in reads {
            match answer? {
                Read::Finished(order) => {
                    read.finished.insert(id, order);
                }
                Read::Pending => read.pending.push(id),
                Read::Throttled => {
                    read.throttled += 1;
                    read.pending.push(id);
                }
            }
        }
        if read.pending.is_empty() || Instant::now() >= deadline {
            return Ok(read);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn all_finished(read: &ReadBack, in_dlq: usize, took: Duration) -> Check {
    let unfinished = read.pending.len() - in_dlq;
    let throttled = if read.throttled > 0 {
        format!(
            " ({} of them still throttled at the deadline: lower --verify-rate or raise --verify-deadline)",
            read.throttled
        )
    } else {
        String::new()
    };
    check(
        unfinished == 0,
        format!(
            "every accepted order finished: {} PROCESSED or FAILED, {in_dlq} in a DLQ, {unfinished} not finished after {:.1} s{}{throttled}",
            read.finished.len(),
            took.as_secs_f64(),
            read.pending
                .iter()
                .take(3)
                .map(|id| format!(" {id}"))
                .collect::<String>()
        ),
    )
}

fn no_negative_stock(after: &[Product]) -> Check {
    let negative: Vec<String> = after
        .iter()
        .filter(|p| p.quantity_available < 0)
        .map(|p| format!("{} {}", p.product_id, p.quantity_available))
        .collect();
    check(
        negative.is_empty(),
        format!(
            "no stock below zero ({} products){}",
            after.len(),
            if negative.is_empty() {
                String::new()
            } else {
                format!(": {}", negative.join(", "))
            }
        ),
    )
}

/// The checks of what the load's requests got back.
fn answers(shared: &Shared) -> [Check; 4] {
    let mismatches = shared.duplicate_mismatches.load(Ordering::Relaxed);
    let invalid = shared.invalid_accepted.load(Ordering::Relaxed);
    let refused = shared.refused.load(Ordering::Relaxed);
    let wrong = shared.wrong_answers.load(Ordering::Relaxed);
    [
        check(
            mismatches == 0,
            format!("every resubmission got its original's id ({mismatches} did not)"),
        ),
        check(
            invalid == 0,
            format!("no invalid request accepted ({invalid} were)"),
        ),
        check(
            refused == 0,
            format!(
                "no request refused as unauthorized ({refused} answered 401 or 403: is the token \
                 given with --token or ORDERFLOW_TOKEN current?)"
            ),
        ),
        check(
            wrong == 0,
            format!(
                "no other wrong answer or server error ({wrong}; throttled answers, 429 and 503, \
                 are not errors and are counted apart)"
            ),
        ),
    ]
}

/// Stock before the load less stock after must equal, for each product, the
/// quantities of the load's processed orders: nothing oversold, nothing
/// applied twice, nothing lost. Assumes no other client ordered these
/// products meanwhile.
fn conservation(before: &[Product], after: &[Product], finished: &HashMap<String, Order>) -> Check {
    let mut sold: BTreeMap<&str, i64> = BTreeMap::new();
    for order in finished.values().filter(|o| o.status == "PROCESSED") {
        for line in &order.items {
            *sold.entry(line.product_id.as_str()).or_default() += line.quantity;
        }
    }
    let after: HashMap<&str, i64> = after
        .iter()
        .map(|p| (p.product_id.as_str(), p.quantity_available))
        .collect();
    let mut wrong = Vec::new();
    for p in before {
        let now = after.get(p.product_id.as_str()).copied().unwrap_or(0);
        let moved = p.quantity_available - now;
        let expected = sold.get(p.product_id.as_str()).copied().unwrap_or(0);
        if moved != expected {
            wrong.push(format!(
                "{}: stock went {} -> {now}, processed orders took {expected}",
                p.product_id, p.quantity_available
            ));
        }
    }
    let units: i64 = sold.values().sum();
    check(
        wrong.is_empty(),
        format!(
            "stock moved exactly by the processed orders ({units} units over {} products){}",
            sold.len(),
            if wrong.is_empty() {
                String::new()
            } else {
                format!(": {}", wrong.join("; "))
            }
        ),
    )
}

fn print_latency(finished: &HashMap<String, Order>) {
    let latencies = Latencies::of(finished.values().map(|o| (o.created_at, o.processed_at)));
    if latencies.is_empty() {
        return;
    }
    let pct = |q| latencies.percentile(q);
    let first = finished.values().map(|o| o.created_at).min();
    let last = finished.values().filter_map(|o| o.processed_at).max();
    let span = match (first, last) {
        (Some(a), Some(b)) => (b - a).num_milliseconds().max(1) as f64 / 1000.0,
        _ => 0.0,
    };
    let processed = finished
        .values()
        .filter(|o| o.status == "PROCESSED")
        .count();
    println!(
        "  {} finished ({processed} PROCESSED) in {span:.1} s from the first accept to the last commit: {:.0} orders/s",
        finished.len(),
        finished.len() as f64 / span.max(1e-3)
    );
    println!(
        "  accept-to-processed: p50 {} ms, p95 {} ms, p99 {} ms, max {} ms (server clock)",
        pct(0.50),
        pct(0.95),
        pct(0.99),
        pct(1.0)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Line;
    use chrono::Utc;

    fn product(id: &str, qty: i64) -> Product {
        Product {
            product_id: id.into(),
            quantity_available: qty,
        }
    }

    fn order(status: &str, lines: &[(&str, i64)]) -> Order {
        let now = Utc::now();
        Order {
            items: lines
                .iter()
                .map(|(p, q)| Line {
                    product_id: (*p).into(),
                    quantity: *q,
                })
                .collect(),
            status: status.into(),
            created_at: now,
            processed_at: Some(now),
        }
    }

    #[test]
    fn conservation_holds_when_stock_moved_by_exactly_the_processed_orders() {
        let before = [product("a", 10), product("b", 5)];
        let after = [product("a", 7), product("b", 5)];
        let finished = HashMap::from([
            ("1".to_owned(), order("PROCESSED", &[("a", 2)])),
            ("2".to_owned(), order("PROCESSED", &[("a", 1)])),
            ("3".to_owned(), order("FAILED", &[("b", 9)])),
        ]);
        assert!(conservation(&before, &after, &finished).passed);
    }

    #[test]
    fn conservation_catches_an_order_applied_twice_or_lost() {
        let before = [product("a", 10)];
        let finished = HashMap::from([("1".to_owned(), order("PROCESSED", &[("a", 2)]))]);
        // Applied twice: the stock moved by 4.
        let twice = conservation(&before, &[product("a", 6)], &finished);
        assert!(!twice.passed);
        assert!(twice
            .what
            .contains("a: stock went 10 -> 6, processed orders took 2"));
        // Recorded PROCESSED, never decremented.
        assert!(!conservation(&before, &[product("a", 10)], &finished).passed);
    }
}
