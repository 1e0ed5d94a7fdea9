//! One request as the load sends it, and what it got: an order tried again
//! after a retryable answer, a read at its due time, a buyer polling its
//! order, each try's answer ([`Answered`]) and each request's record
//! ([`Sent`], [`ReadSent`]). Apart from the scheduling (the parent): this
//! is what a single customer does, the parent when each one starts.

use std::time::Duration;

use orderflow_client::{Answer, Client};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::Options;
use crate::load::profile::Polls;
use crate::load::{Kind, Planned};

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

/// One try of a request: an order (its body and idempotency key) or a
/// read of `path`; what it got, and the answer if there was one.
async fn try_once(
    client: &Client,
    order: Option<(&str, Option<&str>)>,
    path: &str,
    timeout: Duration,
) -> (Answered, Option<Answer>) {
    let call = async {
        match order {
            Some((body, key)) => client.post_order_keyed(body.to_owned(), key).await,
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
pub(super) async fn order(
    client: &Client,
    p: Planned,
    opts: &Options,
    start: Instant,
    due: Instant,
) -> Sent {
    let sent = start.elapsed();
    let mut delay = Duration::from_millis(25);
    let mut first: Option<(Answered, f64)> = None;
    let mut tries = 0;
    loop {
        tries += 1;
        let order = (p.body.as_str(), p.idempotency_key.as_deref());
        let (answered, answer) = try_once(client, Some(order), "/api/orders", opts.timeout).await;
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
pub(super) async fn read(
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
pub(super) async fn poll(
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
pub(super) fn stock_path(body: &str) -> String {
    let product = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("items")?
                .get(0)?
                .get("product_id")?
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| crate::load::HOT[0].0.to_owned());
    format!("/api/inventory/{product}")
}
