//! Sends a load as customers make it: open-loop, every request at its due
//! time whatever became of the earlier ones, its latency counted from when
//! it was due (so a stalled client cannot hide a slow server), what it got
//! on the first try as well as after the client's retries, and the reads a
//! buyer makes while it waits. With no schedule (`--duration 0`) it is a
//! closed loop instead: a fixed number in flight, as fast as answered.

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use orderflow_client::{Answer, Client};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

use super::profile::{Browse, Polls, Reads};
use super::{Kind, Planned};

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

/// What one try got: a status, no answer in time, or no connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Answered {
    Status(u16),
    Timeout,
    NoConnection,
}

impl Answered {
    /// The name reports and the JSON use: the status, `timeout` or `error`.
    pub fn key(self) -> String {
        match self {
            Answered::Status(s) => s.to_string(),
            Answered::Timeout => "timeout".into(),
            Answered::NoConnection => "error".into(),
        }
    }

    /// Whether a well-behaved client tries again: a throttle (429), a
    /// server or gateway error (5xx), no answer in time, no connection.
    pub fn retryable(self) -> bool {
        match self {
            Answered::Status(s) => s == 429 || (500..600).contains(&s),
            Answered::Timeout | Answered::NoConnection => true,
        }
    }

    pub fn is_5xx(self) -> bool {
        matches!(self, Answered::Status(500..=599))
    }

    /// A 5xx, a timeout or no connection: the server failed the customer.
    pub fn is_error(self) -> bool {
        self.is_5xx() || matches!(self, Answered::Timeout | Answered::NoConnection)
    }
}

/// What one order request got.
#[derive(Debug, Clone)]
pub struct Sent {
    pub kind: Kind,
    /// The last answer's status after the client's retries (0: none).
    pub status: u16,
    pub first: Answered,
    pub order_id: Option<String>,
    /// For a duplicate: the index of the request it repeats.
    pub repeats: Option<usize>,
    pub message: String,
    /// When it was due and when its first try went out, from the start.
    pub due: Duration,
    pub sent: Duration,
    /// From when it was due to its first answer, and to its last.
    pub first_ms: f64,
    pub done_ms: f64,
}

/// The two reads a customer makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReadRoute {
    /// `GET /api/orders/{order_id}`: a buyer polling its order.
    OrderStatus,
    /// `GET /api/inventory/{product_id}`: a visitor reading the stock.
    Stock,
}

impl ReadRoute {
    pub fn label(self) -> &'static str {
        match self {
            ReadRoute::OrderStatus => "order status polls",
            ReadRoute::Stock => "stock reads",
        }
    }
}

/// One read: when it was due, what it got, how long from due to answer.
#[derive(Debug, Clone)]
pub struct ReadSent {
    pub route: ReadRoute,
    pub due: Duration,
    pub answer: Answered,
    pub ms: f64,
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

/// One try of a request: what it got, and the answer if there was one.
async fn try_once(
    client: &Client,
    body: Option<&str>,
    path: &str,
    timeout: Duration,
) -> (Answered, Option<Answer>) {
    let call = async {
        match body {
            Some(body) => client.post_order(body.to_owned()).await,
            None => client.get(path).await,
        }
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(a)) => (Answered::Status(a.status), Some(a)),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, path, "request failed");
            (Answered::NoConnection, None)
        }
        Err(_) => (Answered::Timeout, None),
    }
}

/// An order request, tried again after a retryable answer (waiting 25
/// ms, then 50, 100 ...) up to the profile's retries. The API is
/// idempotent, so trying again is safe.
async fn order(client: &Client, p: Planned, opts: &Options, start: Instant, due: Instant) -> Sent {
    let sent = start.elapsed();
    let mut delay = Duration::from_millis(25);
    let mut first: Option<(Answered, f64)> = None;
    let mut tries = 0;
    loop {
        tries += 1;
        let (answered, answer) = try_once(client, Some(&p.body), "/api/orders", opts.timeout).await;
        let ms = due.elapsed().as_secs_f64() * 1e3;
        let first = *first.get_or_insert((answered, ms));
        if answered.retryable() && tries <= opts.retries {
            tokio::time::sleep(delay).await;
            delay *= 2;
            continue;
        }
        return Sent {
            kind: p.kind,
            status: match answered {
                Answered::Status(s) => s,
                _ => 0,
            },
            first: first.0,
            order_id: answer.as_ref().and_then(Answer::order_id),
            repeats: p.repeats,
            message: match (&answer, answered) {
                (Some(a), _) => a.message(),
                (None, a) => a.key(),
            },
            due: due - start,
            sent,
            first_ms: first.1,
            done_ms: ms,
        };
    }
}

/// One read at its due time (once one of the requests in flight is free).
async fn read(
    client: &Client,
    gate: &Semaphore,
    route: ReadRoute,
    path: &str,
    (start, due): (Instant, Instant),
) -> (ReadSent, Option<Answer>) {
    tokio::time::sleep_until(due).await;
    let permit = gate.acquire().await.ok();
    let (answer, body) = try_once(client, None, path, Duration::from_secs(30)).await;
    drop(permit);
    let read = ReadSent {
        route,
        due: due - start,
        answer,
        ms: due.elapsed().as_secs_f64() * 1e3,
    };
    (read, body)
}

/// A buyer polling its order until it is PROCESSED or FAILED or the buyer
/// gives up: the first poll when the profile says, each next one its
/// interval after the last answer (as a page that polls does); answers the
/// polls and whether it saw the order final.
async fn poll(
    client: &Client,
    gate: &Semaphore,
    order_id: &str,
    polls: Polls,
    (start, accepted): (Instant, Instant),
) -> (Vec<ReadSent>, bool) {
    let path = format!("/api/orders/{order_id}");
    let give_up = accepted + Duration::from_secs_f64(polls.for_secs);
    let mut next = accepted + Duration::from_millis(polls.first_after_ms);
    let mut reads = Vec::new();
    while next <= give_up {
        let (read, answer) = read(client, gate, ReadRoute::OrderStatus, &path, (start, next)).await;
        reads.push(read);
        let status = answer
            .as_ref()
            .and_then(|a| a.body.get("status")?.as_str().map(str::to_owned));
        if matches!(status.as_deref(), Some("PROCESSED" | "FAILED")) {
            return (reads, true);
        }
        next = Instant::now() + Duration::from_millis(polls.every_ms);
    }
    (reads, false)
}

/// The stock read of the product an order names first (the first hot
/// product's for a body that names none).
fn stock_path(body: &str) -> String {
    let product = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("items")?
                .get(0)?
                .get("product_id")?
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| super::HOT[0].0.to_owned());
    format!("/api/inventory/{product}")
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
            })
            .collect()
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
