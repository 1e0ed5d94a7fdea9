//! Sends a load as customers make it: open-loop, every request at its due
//! time whatever became of the earlier ones, its latency counted from when
//! it was due (so a stalled client cannot hide a slow server), what it got
//! on the first try as well as after the client's retries, and the reads a
//! buyer makes while it waits. With no schedule (`--duration 0`) it is a
//! closed loop instead: a fixed number in flight, as fast as answered.
//!
//! Here the scheduling: when each request starts, and the answers gathered
//! in plan order; each request itself and what it got in [`request`].

mod request;

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use orderflow_client::Client;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

use super::profile::{Browse, Reads};
use super::{Kind, Planned};

use request::{order, poll, read, stock_path};
pub use request::{Answered, ReadRoute, ReadSent, Sent};

/// How a load is sent.
#[derive(Debug, Clone)]
pub struct Options {
    /// When each request is due, from the start (open loop); none: a
    /// closed loop, `max_in_flight` at once, as fast as answered.
    pub due: Option<Vec<Duration>>,
    /// Requests (orders and reads) in flight at most. Open-loop, a ceiling
    /// far above what a healthy run needs; a run that reaches it falls
    /// behind its schedule, and its send lag says so.
    pub max_in_flight: usize,
    /// Tries after the first, for a 429, a 5xx, a timeout or no connection.
    pub retries: u32,
    /// How long one try waits for its answer.
    pub timeout: Duration,
    pub reads: Reads,
    /// Seeds which visitors read the stock.
    pub seed: u64,
}

/// Everything a load sent and got back.
#[derive(Debug, Clone, Default)]
pub struct Sends {
    pub orders: Vec<Sent>,
    pub reads: Vec<ReadSent>,
    /// Buyers who polled, and those who saw their order final.
    pub pollers: usize,
    pub saw_final: usize,
    /// From the start to the last answer.
    pub elapsed: Duration,
    pub open_loop: bool,
}

/// What one request's task reports.
enum Done {
    Order(usize, Sent, Vec<ReadSent>, Option<bool>),
    Read(ReadSent),
}

/// Sends every planned request as `opts` says; answers them in plan order.
pub async fn send(client: &Client, planned: Vec<Planned>, opts: Options) -> Sends {
    let n = planned.len();
    let bar = progress(n);
    // The sale opens once the visitors who wait for it have browsed.
    let browse = opts
        .reads
        .browse_before
        .filter(|b| b.secs > 0.0 && b.per_sec > 0.0);
    let start = Instant::now() + browse.map_or(Duration::ZERO, |b| Duration::from_secs_f64(b.secs));
    let (tx, mut rx) = mpsc::unbounded_channel::<Done>();
    if let Some(b) = browse {
        browse_before(client, b, start, tx.clone());
    }
    let schedule = schedule(client, planned, &opts, start, tx);
    let collect = async {
        let mut orders: Vec<Option<Sent>> = vec![None; n];
        let mut sends = Sends::default();
        while let Some(done) = rx.recv().await {
            match done {
                Done::Order(i, sent, polls, saw_final) => {
                    orders[i] = Some(sent);
                    sends.reads.extend(polls);
                    if let Some(saw) = saw_final {
                        sends.pollers += 1;
                        sends.saw_final += usize::from(saw);
                    }
                    bar.inc(1);
                }
                Done::Read(read) => sends.reads.push(read),
            }
        }
        sends.orders = orders.into_iter().flatten().collect();
        sends
    };
    let ((), mut sends) = tokio::join!(schedule, collect);
    bar.finish_and_clear();
    sends.elapsed = start.elapsed();
    sends.open_loop = opts.due.is_some();
    sends.reads.sort_by_key(|r| r.due);
    sends
}

/// Starts each request at its due time (or, closed-loop, as soon as one
/// of `max_in_flight` is free), each in a task of its own.
async fn schedule(
    client: &Client,
    planned: Vec<Planned>,
    opts: &Options,
    start: Instant,
    tx: mpsc::UnboundedSender<Done>,
) {
    let gate = Arc::new(Semaphore::new(opts.max_in_flight.max(1)));
    let mut rng = StdRng::seed_from_u64(opts.seed ^ 0x570c4);
    for (i, p) in planned.into_iter().enumerate() {
        let due = opts.due.as_ref().and_then(|d| d.get(i)).copied();
        if let Some(due) = due {
            tokio::time::sleep_until(start + due).await;
        }
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break;
        };
        let due = due.unwrap_or_else(|| start.elapsed());
        let reads_stock = rng.gen_bool(opts.reads.stock_readers.clamp(0.0, 1.0));
        if reads_stock && p.kind != Kind::Invalid {
            let (client, tx, gate) = (client.clone(), tx.clone(), gate.clone());
            let path = stock_path(&p.body);
            tokio::spawn(async move {
                let read = read(
                    &client,
                    &gate,
                    ReadRoute::Stock,
                    &path,
                    (start, start + due),
                )
                .await;
                let _ = tx.send(Done::Read(read.0));
            });
        }
        let (client, tx, opts, gate) = (client.clone(), tx.clone(), opts.clone(), gate.clone());
        tokio::spawn(async move {
            let sent = order(&client, p, &opts, start, start + due).await;
            drop(permit);
            let (polls, saw_final) = match (&sent.order_id, opts.reads.status_polls) {
                (Some(id), Some(polls)) if sent.status == 202 => {
                    let accepted = start + sent.due + Duration::from_secs_f64(sent.done_ms / 1e3);
                    let (reads, saw) = poll(&client, &gate, id, polls, (start, accepted)).await;
                    (reads, Some(saw))
                }
                _ => (Vec::new(), None),
            };
            let _ = tx.send(Done::Order(i, sent, polls, saw_final));
        });
    }
}

/// The visitors waiting on the hot products' page before the sale opens
/// at `opening`: `per_sec` stock reads a second over `secs`, each at its
/// due time.
fn browse_before(client: &Client, b: Browse, opening: Instant, tx: mpsc::UnboundedSender<Done>) {
    let n = (b.secs * b.per_sec).round() as u64;
    let from = opening - Duration::from_secs_f64(b.secs);
    let gate = Arc::new(Semaphore::new(Semaphore::MAX_PERMITS));
    for k in 0..n {
        let due = from + Duration::from_secs_f64(k as f64 / b.per_sec);
        let path = format!(
            "/api/inventory/{}",
            super::HOT[k as usize % super::HOT.len()].0
        );
        let (client, tx, gate) = (client.clone(), tx.clone(), gate.clone());
        tokio::spawn(async move {
            let read = read(&client, &gate, ReadRoute::Stock, &path, (opening, due)).await;
            let _ = tx.send(Done::Read(read.0));
        });
    }
}

fn progress(n: usize) -> ProgressBar {
    if crate::console::quiet() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(n as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "  load [{bar:40}] {pos}/{len} orders answered ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::routing::post;
    use axum::Router;

    use super::*;
    use crate::load::measure::LoadReport;

    /// A server that answers every order 202, and every fifth only after
    /// sleeping `stall`.
    async fn stalling_server(stall: Duration) -> Client {
        let count = Arc::new(AtomicUsize::new(0));
        let app = Router::new().route(
            "/api/orders",
            post(move || {
                let n = count.fetch_add(1, Ordering::Relaxed);
                async move {
                    if n % 5 == 0 {
                        tokio::time::sleep(stall).await;
                    }
                    (
                        axum::http::StatusCode::ACCEPTED,
                        axum::Json(serde_json::json!({"message": "Order accepted", "order_id": format!("id-{n}")})),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Client::new(format!("http://{addr}")).unwrap()
    }

    fn planned(n: usize) -> Vec<Planned> {
        (0..n)
            .map(|i| Planned {
                kind: Kind::Hot,
                body: format!(r#"{{"customer_id":"c{i}","items":[{{"product_id":"sim-hot-1","quantity":1}}]}}"#),
                repeats: None,
                idempotency_key: None,
            })
            .collect()
    }

    /// A server that answers an order as ingest does: 400 for an invalid
    /// one, else 202 with the id derived from its content or, given one,
    /// from its customer and `Idempotency-Key`.
    async fn deriving_server() -> Client {
        use engine::idempotency::{order_id, IdempotencyKey, OrderIdKey};
        let app = Router::new().route(
            "/api/orders",
            post(|headers: axum::http::HeaderMap, body: String| async move {
                let Ok(order) = engine::validation::parse_order(body.as_bytes()) else {
                    return (
                        axum::http::StatusCode::BAD_REQUEST,
                        axum::Json(serde_json::json!({})),
                    );
                };
                let key = headers
                    .get("idempotency-key")
                    .map(|k| IdempotencyKey::parse(k.as_bytes()).expect("a key ingest takes"));
                let id = order_id(&order, key.as_ref(), &OrderIdKey::development());
                (
                    axum::http::StatusCode::ACCEPTED,
                    axum::Json(serde_json::json!({"order_id": id.to_string()})),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Client::new(format!("http://{addr}")).unwrap()
    }

    /// One customer's load (`sim load --customer`): each order sent with its
    /// key gets an id of its own and each duplicate its original's; sent
    /// without the keys, orders of the same items by the one customer would
    /// have been taken for one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_customers_orders_stay_distinct_by_their_idempotency_keys() {
        let client = deriving_server().await;
        let n = 400;
        let due: Vec<Duration> = (0..n).map(|i| Duration::from_millis(i as u64)).collect();
        let planned = crate::load::plan_for(n, 3, "t", Some("client-abc"));
        let sends = send(&client, planned, options(due.clone(), 10_000)).await;
        let mut ids = std::collections::HashSet::new();
        for s in &sends.orders {
            match (s.kind, s.repeats) {
                (Kind::Invalid, _) => assert_eq!(s.status, 400),
                (_, Some(j)) => assert_eq!(s.order_id, sends.orders[j].order_id, "a duplicate"),
                _ => assert!(ids.insert(s.order_id.clone().expect("202 with an id"))),
            }
        }
        let mut unkeyed = crate::load::plan_for(n, 3, "t", Some("client-abc"));
        unkeyed.iter_mut().for_each(|p| p.idempotency_key = None);
        let originals = unkeyed
            .iter()
            .filter(|p| p.kind != Kind::Invalid && p.repeats.is_none())
            .count();
        let sends = send(&client, unkeyed, options(due, 10_000)).await;
        let collapsed: std::collections::HashSet<_> = sends
            .orders
            .iter()
            .filter_map(|s| s.order_id.clone())
            .collect();
        assert_eq!(ids.len(), originals);
        assert!(
            collapsed.len() < originals / 2,
            "{} of {originals}",
            collapsed.len()
        );
    }

    fn options(due: Vec<Duration>, max_in_flight: usize) -> Options {
        Options {
            due: Some(due),
            max_in_flight,
            retries: 0,
            timeout: Duration::from_secs(30),
            reads: Reads::default(),
            seed: 1,
        }
    }

    /// While the server sleeps 2 s on every fifth request, the open-loop
    /// client still sends each request when it is due, and a stalled
    /// request's latency counts the whole wait from then. (The margins are
    /// wide: a busy machine's timers fire late by milliseconds, not by the
    /// seconds a closed loop would fall behind.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_open_loop_client_keeps_its_schedule_while_the_server_stalls() {
        let stall = Duration::from_secs(2);
        let client = stalling_server(stall).await;
        let n = 200;
        let due: Vec<Duration> = (0..n)
            .map(|i| Duration::from_millis(10 * i as u64))
            .collect();
        let sends = send(&client, planned(n), options(due, 10_000)).await;
        assert_eq!(sends.orders.len(), n);
        for s in &sends.orders {
            let late = s.sent.saturating_sub(s.due);
            assert!(late < Duration::from_millis(500), "sent {late:?} late");
        }
        let stalled: Vec<&Sent> = sends
            .orders
            .iter()
            .filter(|s| s.first_ms >= stall.as_secs_f64() * 1e3)
            .collect();
        assert_eq!(
            stalled.len(),
            n / 5,
            "every stalled request counts its wait"
        );
        let report = LoadReport::of(&sends);
        assert!(report.kept_up, "{report:?}");
        assert!(report.offered.unwrap() > 0.9, "{report:?}");
        assert!(report.submit_to_202_ms.max >= 2000.0, "{report:?}");
    }

    /// The same schedule with 4 requests in flight at most: the stalls hold
    /// the client back, it falls seconds behind, and says so.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_cannot_keep_up_says_so() {
        let client = stalling_server(Duration::from_secs(2)).await;
        let n = 100;
        let due: Vec<Duration> = (0..n)
            .map(|i| Duration::from_millis(10 * i as u64))
            .collect();
        let sends = send(&client, planned(n), options(due, 4)).await;
        let report = LoadReport::of(&sends);
        assert!(!report.kept_up, "{report:?}");
        assert!(report.send_lag_ms.p99 > 1000.0, "{report:?}");
    }
}
