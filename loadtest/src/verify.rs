//! After the load: read the API back and check what the load did.

use anyhow::Context;
use orderflow_client::Client;
use orderflow_client::Latencies;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;

use crate::scenarios::Shared;

#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    pub product_id: String,
    pub quantity_available: i64,
}

#[derive(Debug, Deserialize)]
struct Line {
    product_id: String,
    quantity: i64,
}

#[derive(Debug, Deserialize)]
struct Order {
    items: Vec<Line>,
    status: String,
    created_at: DateTime<Utc>,
    processed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct DeadLetter {
    body: String,
}

/// The API, read with a plain HTTP client (not through Goose, so the
/// verification's reads do not count in the load's figures).
pub struct Api {
    client: Client,
}

/// Reads of the verification in flight at once.
const READS_IN_FLIGHT: usize = 32;

impl Api {
    pub fn new(base: &str) -> anyhow::Result<Api> {
        Ok(Api {
            client: Client::new(base).context("cannot build an HTTP client")?,
        })
    }

    async fn get<T: for<'de> Deserialize<'de>>(&self, path: &str) -> anyhow::Result<Option<T>> {
        let url = format!("{}{path}", self.client.base());
        let answer = self
            .client
            .get(path)
            .await
            .with_context(|| format!("GET {url}"))?;
        match answer.status {
            200 => serde_json::from_value(answer.body)
                .map(Some)
                .with_context(|| format!("GET {url}: unexpected body")),
            404 => Ok(None),
            status => Err(anyhow::anyhow!("GET {url}: answered {status}")),
        }
    }

    pub async fn inventory(&self) -> anyhow::Result<Vec<Product>> {
        self.get("/api/inventory")
            .await?
            .with_context(|| format!("GET {}/api/inventory answered 404", self.client.base()))
    }

    /// The order, if it has finished (PROCESSED or FAILED).
    async fn finished(&self, id: &str) -> anyhow::Result<Option<Order>> {
        Ok(self
            .get::<Order>(&format!("/api/orders/{id}"))
            .await?
            .filter(|o| o.status == "PROCESSED" || o.status == "FAILED"))
    }

    /// The order ids in the dead-letter queues.
    async fn dead_lettered(&self) -> anyhow::Result<HashSet<String>> {
        let letters: Vec<DeadLetter> = self.get("/api/dlq").await?.unwrap_or_default();
        Ok(letters
            .iter()
            .filter_map(|l| orderflow_client::order_id_in(&l.body))
            .collect())
    }
}

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
    println!(
        "\nverification: reading {} accepted orders back (deadline {} s)",
        ids.len(),
        deadline.as_secs()
    );
    let started = Instant::now();
    let (finished, pending) = read_back(api, ids, deadline).await?;
    let in_dlq: Vec<&String> = if pending.is_empty() {
        Vec::new()
    } else {
        let dead = api.dead_lettered().await?;
        pending.iter().filter(|id| dead.contains(*id)).collect()
    };
    let after = api.inventory().await?;

    let unfinished = pending.len() - in_dlq.len();
    let checks = vec![
        check(
            unfinished == 0,
            format!(
                "every accepted order finished: {} PROCESSED or FAILED, {} in a DLQ, {unfinished} not finished after {:.1} s{}",
                finished.len(),
                in_dlq.len(),
                started.elapsed().as_secs_f64(),
                pending
                    .iter()
                    .take(3)
                    .map(|id| format!(" {id}"))
                    .collect::<String>()
            ),
        ),
        no_negative_stock(&after),
        conservation(before, &after, &finished),
    ];
    let checks = checks
        .into_iter()
        .chain(answers(shared))
        .collect::<Vec<_>>();

    print_latency(&finished);
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

/// Reads the orders `ids` back until each has finished or `deadline`
/// passes; answers the finished ones and the ids still pending.
async fn read_back(
    api: &Api,
    ids: Vec<String>,
    deadline: Duration,
) -> anyhow::Result<(HashMap<String, Order>, Vec<String>)> {
    let started = Instant::now();
    let mut finished: HashMap<String, Order> = HashMap::with_capacity(ids.len());
    let mut pending = ids;
    loop {
        let reads = futures::stream::iter(pending.iter().cloned())
            .map(|id| async move { (api.finished(&id).await, id) })
            .buffer_unordered(READS_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        let mut still = Vec::new();
        for (read, id) in reads {
            match read? {
                Some(order) => {
                    finished.insert(id, order);
                }
                None => still.push(id),
            }
        }
        pending = still;
        if pending.is_empty() || started.elapsed() >= deadline {
            return Ok((finished, pending));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
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
fn answers(shared: &Shared) -> [Check; 3] {
    let mismatches = shared.duplicate_mismatches.load(Ordering::Relaxed);
    let invalid = shared.invalid_accepted.load(Ordering::Relaxed);
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
            wrong == 0,
            format!(
                "no other wrong answer or server error ({wrong}; {} 503s from a full queue are back-pressure, not errors)",
                shared.backpressure.load(Ordering::Relaxed)
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
