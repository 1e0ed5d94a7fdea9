//! The generated load: a seeded mix of orders on hot products (which sell
//! out), orders spread over many products, multi-line orders, orders for
//! unknown products, duplicate resubmissions and invalid requests, sent
//! concurrently over HTTP with a progress bar.

use engine::retry::{retry, Backoff};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use engine::domain::{InventoryItem, ProductId};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

use orderflow_client::Client;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Hot,
    Spread,
    MultiLine,
    UnknownProduct,
    Duplicate,
    Invalid,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Hot => "hot product",
            Kind::Spread => "spread products",
            Kind::MultiLine => "multi-line",
            Kind::UnknownProduct => "unknown product",
            Kind::Duplicate => "duplicate resubmission",
            Kind::Invalid => "invalid request",
        }
    }
}

pub struct Planned {
    pub kind: Kind,
    pub body: String,
    /// For a duplicate: the index of the request it repeats.
    pub repeats: Option<usize>,
}

/// What one request got back.
pub struct Sent {
    pub kind: Kind,
    pub status: u16,
    pub order_id: Option<String>,
    pub repeats: Option<usize>,
    pub message: String,
}

/// The hot products and their stock: the default run's flash sale sells
/// them out during its surge.
pub const HOT: [(&str, i64); 2] = [("sim-hot-1", 1500), ("sim-hot-2", 1000)];
pub const SPREAD_PRODUCTS: usize = 20;
pub const SPREAD_STOCK: i64 = 5_000;

/// The products the load uses, at their starting stock.
pub fn products() -> Vec<InventoryItem> {
    let mut out: Vec<InventoryItem> = HOT
        .iter()
        .map(|(id, qty)| item(id, "Sim hot product", *qty))
        .collect();
    for i in 1..=SPREAD_PRODUCTS {
        out.push(item(
            &format!("sim-item-{i:02}"),
            "Sim product",
            SPREAD_STOCK,
        ));
    }
    out
}

fn item(id: &str, name: &str, qty: i64) -> InventoryItem {
    InventoryItem {
        product_id: ProductId::parse(id).unwrap_or_else(|e| panic!("sim product id {id}: {e}")),
        product_name: name.to_owned(),
        quantity_available: qty,
    }
}

const INVALID: [&str; 10] = [
    r#"{"customer_id":"bad","items":[{"product_id":"sim-item-01","quantity":0}]}"#,
    r#"{"customer_id":"bad","items":[{"product_id":"sim-item-01","quantity":-5}]}"#,
    r#"{"customer_id":"bad","items":[{"product_id":"sim-item-01","quantity":"2"}]}"#,
    r#"{"customer_id":"bad","items":[{"product_id":"sim-item-01","quantity":1.5}]}"#,
    r#"{"customer_id":"bad","items":[{"product_id":"sim-item-01","quantity":true}]}"#,
    r#"{"items":[{"product_id":"sim-item-01","quantity":1}]}"#,
    r#"{"customer_id":"bad","items":[]}"#,
    r#"{"customer_id":"   ","items":[{"product_id":"sim-item-01","quantity":1}]}"#,
    r#"{"customer_id":"bad","items":[{"product_id":"sim-item-01","quantity":1}"#,
    r#"[{"customer_id":"bad"}]"#,
];

/// Plans `n` requests from `seed`. The same seed gives the same shapes; `tag`
/// makes the customer ids this run's own.
pub fn plan(n: usize, seed: u64, tag: &str) -> Vec<Planned> {
    let mut rng = StdRng::seed_from_u64(seed);
    let spread: Vec<String> = (1..=SPREAD_PRODUCTS)
        .map(|i| format!("sim-item-{i:02}"))
        .collect();
    let mut out: Vec<Planned> = Vec::with_capacity(n);
    for i in 0..n {
        let customer = format!("load-{tag}-{i}");
        let roll = rng.gen_range(0..100);
        let (kind, body, repeats) = match roll {
            0..=39 => {
                let (p, _) = HOT[rng.gen_range(0..HOT.len())];
                let body = json!({"customer_id": customer, "items": [{"product_id": p, "quantity": rng.gen_range(1..=3)}]});
                (Kind::Hot, body.to_string(), None)
            }
            40..=54 => {
                let p = &spread[rng.gen_range(0..spread.len())];
                let body = json!({"customer_id": customer, "items": [{"product_id": p, "quantity": rng.gen_range(1..=5)}]});
                (Kind::Spread, body.to_string(), None)
            }
            55..=74 => {
                // 2 to 4 lines, sometimes with a hot product among them, in a
                // random line order: concurrent orders lock in product order
                // whatever order their lines come in.
                let mut ids: Vec<&str> = spread.iter().map(String::as_str).collect();
                ids.shuffle(&mut rng);
                let lines = rng.gen_range(2..=4);
                let mut picked: Vec<&str> = ids.into_iter().take(lines).collect();
                if rng.gen_bool(0.3) {
                    picked[0] = HOT[rng.gen_range(0..HOT.len())].0;
                }
                let items: Vec<_> = picked
                    .iter()
                    .map(|p| json!({"product_id": p, "quantity": rng.gen_range(1..=4)}))
                    .collect();
                (
                    Kind::MultiLine,
                    json!({"customer_id": customer, "items": items}).to_string(),
                    None,
                )
            }
            75..=77 => {
                let body = json!({"customer_id": customer, "items": [{"product_id": "sim-no-such-product", "quantity": 1}]});
                (Kind::UnknownProduct, body.to_string(), None)
            }
            78..=89 if !out.is_empty() => {
                let valid: Vec<usize> = (0..out.len())
                    .filter(|&j| !matches!(out[j].kind, Kind::Invalid | Kind::Duplicate))
                    .collect();
                match valid.get(rng.gen_range(0..valid.len().max(1))) {
                    Some(&j) => (Kind::Duplicate, out[j].body.clone(), Some(j)),
                    None => (Kind::Invalid, INVALID[0].to_owned(), None),
                }
            }
            _ => (
                Kind::Invalid,
                INVALID[rng.gen_range(0..INVALID.len())].to_owned(),
                None,
            ),
        };
        out.push(Planned {
            kind,
            body,
            repeats,
        });
    }
    out
}

/// How the load retries a request: up to 8 tries, waiting 25 ms, then 50,
/// 100 ... (3.2 s in all).
const REQUEST_RETRY: Backoff = Backoff {
    attempts: 8,
    first_delay: Duration::from_millis(25),
};

/// Why a request is tried again.
enum Unanswered {
    /// 503 (the queue was full), 429 (a throttle), or a gateway's 5xx.
    Busy(orderflow_client::Answer),
    Failed(anyhow::Error),
}

/// The flash sale's shape: the share of the requests sent in each tenth of
/// the run. Quiet, a surge to a peak of about 8 times the quiet rate, and a
/// tail.
const FLASH_SALE: [u32; 10] = [1, 1, 1, 2, 6, 8, 5, 2, 1, 1];

/// How a load spreads its requests over its duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// Quiet, a ramp to a peak of about 8 times the quiet rate on the hot
    /// products, a tail.
    FlashSale,
    /// The same rate throughout.
    Even,
}

impl Profile {
    /// When each of `n` requests is due, from the start.
    pub fn due(self, n: usize, duration: Duration) -> Vec<Duration> {
        match self {
            Profile::FlashSale => flash_sale(n, duration),
            Profile::Even => (0..n)
                .map(|i| duration.mul_f64(i as f64 / n.max(1) as f64))
                .collect(),
        }
    }

    /// Requests a second due `t` seconds into `n` requests over `duration`
    /// seconds (the rate of the slice `t` falls in).
    pub fn rate_at(self, n: usize, duration: f64, t: f64) -> f64 {
        if !(0.0..duration).contains(&t) {
            return 0.0;
        }
        match self {
            Profile::Even => n as f64 / duration,
            Profile::FlashSale => {
                let total: u32 = FLASH_SALE.iter().sum();
                let slice = duration / FLASH_SALE.len() as f64;
                let i = ((t / slice) as usize).min(FLASH_SALE.len() - 1);
                n as f64 * f64::from(FLASH_SALE[i]) / f64::from(total) / slice
            }
        }
    }

    /// The highest rate of `n` requests over `duration` seconds.
    pub fn peak(self, n: usize, duration: f64) -> f64 {
        match self {
            Profile::Even => self.rate_at(n, duration, 0.0),
            Profile::FlashSale => {
                let slice = duration / FLASH_SALE.len() as f64;
                (0..FLASH_SALE.len())
                    .map(|i| self.rate_at(n, duration, (i as f64 + 0.5) * slice))
                    .fold(0.0, f64::max)
            }
        }
    }

    /// The requests over `duration` seconds whose highest rate is `peak`.
    pub fn requests_for_peak(self, peak: f64, duration: f64) -> usize {
        let per_request = self.peak(1_000_000, duration) / 1e6;
        (peak / per_request).round() as usize
    }

    pub fn describe(self) -> &'static str {
        match self {
            Profile::FlashSale => "a flash sale",
            Profile::Even => "an even rate",
        }
    }
}

/// When each of `n` requests is due, from the start of a run of `duration`
/// shaped as [`FLASH_SALE`]: request `i` is due when that share of the run's
/// requests has been sent.
fn flash_sale(n: usize, duration: Duration) -> Vec<Duration> {
    let total: u32 = FLASH_SALE.iter().sum();
    let slice = duration / FLASH_SALE.len() as u32;
    (0..n)
        .map(|i| {
            let mut target = i as f64 / n.max(1) as f64 * f64::from(total);
            let mut due = Duration::ZERO;
            for weight in FLASH_SALE.map(f64::from) {
                if target < weight {
                    return due + slice.mul_f64(target / weight);
                }
                target -= weight;
                due += slice;
            }
            due
        })
        .collect()
}

/// Sends every planned request with `concurrency` in flight, each no sooner
/// than its due time (`due`, from the start; none: as fast as answered). A
/// 503 (queue full), a 429 (throttled) and API Gateway's 5xx are retried
/// after a pause, as a well-behaved client would.
pub async fn send(
    client: &Client,
    planned: Vec<Planned>,
    due: Option<Vec<Duration>>,
    concurrency: usize,
) -> (Vec<Sent>, Duration) {
    let bar = ProgressBar::new(planned.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "  load [{bar:40}] {pos}/{len} requests ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let started = Instant::now();
    let start = tokio::time::Instant::now();
    let due = due.unwrap_or_default();
    let mut results: HashMap<usize, Sent> = HashMap::with_capacity(planned.len());
    let mut stream = futures::stream::iter(planned.into_iter().enumerate())
        .map(|(i, p)| {
            let client = client.clone();
            let due = due.get(i).map(|d| start + *d);
            async move {
                if let Some(due) = due {
                    tokio::time::sleep_until(due).await;
                }
                let sent = |status, order_id, message| Sent {
                    kind: p.kind,
                    status,
                    order_id,
                    repeats: p.repeats,
                    message,
                };
                // A 503 (a full queue) and a failed request are tried
                // again, as a client should.
                let answer = retry(
                    REQUEST_RETRY,
                    |_| true,
                    |e: &Unanswered, _| {
                        if let Unanswered::Failed(e) = e {
                            tracing::warn!(error = %e, "request failed; retrying");
                        }
                    },
                    || async {
                        match client.post_order(p.body.clone()).await {
                            // 503: the queue is full; 429: a throttle; 500,
                            // 502, 504: API Gateway's answers when the ingest
                            // function fails to start or to answer. The API is
                            // idempotent, so trying again is safe.
                            Ok(a) if matches!(a.status, 429 | 500 | 502 | 503 | 504) => {
                                Err(Unanswered::Busy(a))
                            }
                            Ok(a) => Ok(a),
                            Err(e) => Err(Unanswered::Failed(e)),
                        }
                    },
                )
                .await;
                match answer {
                    Ok(a) | Err(Unanswered::Busy(a)) => {
                        (i, sent(a.status, a.order_id(), a.message()))
                    }
                    Err(Unanswered::Failed(e)) => (i, sent(0, None, format!("{e:#}"))),
                }
            }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((i, sent)) = stream.next().await {
        results.insert(i, sent);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let mut ordered: Vec<(usize, Sent)> = results.into_iter().collect();
    ordered.sort_by_key(|(i, _)| *i);
    (ordered.into_iter().map(|(_, s)| s).collect(), elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_the_same_workload_with_every_kind_of_request() {
        let a = plan(2000, 7, "t");
        let b = plan(2000, 7, "t");
        assert!(a
            .iter()
            .zip(&b)
            .all(|(x, y)| x.kind == y.kind && x.body == y.body));
        let c = plan(2000, 8, "t");
        assert!(
            a.iter().zip(&c).any(|(x, y)| x.body != y.body),
            "another seed, another workload"
        );
        for kind in [
            Kind::Hot,
            Kind::Spread,
            Kind::MultiLine,
            Kind::UnknownProduct,
            Kind::Duplicate,
            Kind::Invalid,
        ] {
            assert!(a.iter().any(|p| p.kind == kind), "{kind:?} missing");
        }
        for (i, p) in a.iter().enumerate() {
            if let Some(j) = p.repeats {
                assert!(j < i && a[j].body == p.body && a[j].kind != Kind::Invalid);
            }
        }
    }

    #[test]
    fn planned_requests_are_valid_exactly_when_they_should_be() {
        for p in plan(1000, 3, "t") {
            let valid = engine::validation::parse_order(p.body.as_bytes()).is_ok();
            assert_eq!(valid, p.kind != Kind::Invalid, "{:?}: {}", p.kind, p.body);
        }
    }

    #[test]
    fn a_flash_sale_sends_most_requests_in_its_middle() {
        let due = flash_sale(2800, Duration::from_secs(10));
        assert_eq!(due[0], Duration::ZERO);
        assert!(due.windows(2).all(|w| w[0] <= w[1]), "due times in order");
        assert!(*due.last().unwrap() < Duration::from_secs(10));
        // Tenths 4 to 6 (weights 6, 8, 5 of 28) carry 19/28 of the requests.
        let in_surge = due
            .iter()
            .filter(|d| (Duration::from_secs(4)..Duration::from_secs(7)).contains(*d))
            .count();
        assert_eq!(in_surge, 1900);
    }
}
