//! The notifier: consumes `OrderProcessed` and dispatches one notification per
//! order, exactly once in effect.
//!
//! Each dispatch is bracketed by a claim and a confirmation in the store
//! ([`crate::store::OrderStore::claim_notifications`], one transaction per
//! batch): a redelivered or re-published event
//! finds the confirmation and is only deleted. If a claim's outcome is in
//! doubt (the connection died around it, or its holder crashed), the same
//! message comes back (handed back 5 s, then three times longer at each
//! receive, while the database cannot serve it) and retries it, and any
//! other after the claim's lease; so no
//! notification is lost, and the only repeat is a dispatch whose
//! confirmation was lost. Dispatch targets should therefore treat `order_id`
//! as an idempotency key (the log line carries it).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::context::Context;
use crate::domain::OrderId;
use crate::events::OrderProcessed;
use crate::queue::{top_up, Message, QueueBackend, MAX_BATCH};
use crate::retry::Backoff;
use crate::shutdown::Shutdown;
use crate::store::{Claim, ClaimRequest, StoreError};

/// Tries a store call up to five times while it fails transiently: a
/// confirmation lost to a dropped connection would otherwise repeat the
/// whole batch's notifications.
async fn retry<T, F, Fut>(call: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let policy = Backoff {
        attempts: 5,
        first_delay: Duration::from_millis(10),
    };
    crate::retry::retry(policy, StoreError::is_transient, |_, _| {}, call).await
}

/// Most notifications handled per batch.
pub const MAX_NOTIFY_BATCH: usize = 200;

/// When a claim is held by another delivery, how soon to look again.
const HELD_RETRY: Duration = Duration::from_secs(1);

/// The first wait of a message the database could not serve.
const HAND_BACK: Duration = Duration::from_secs(5);

/// Where notifications go. The default writes a structured log line.
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    async fn dispatch(&self, event: &OrderProcessed);
}

/// Logs each notification as a structured line at `info`, target
/// `orderflow::notification`.
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn dispatch(&self, event: &OrderProcessed) {
        tracing::info!(
            target: "orderflow::notification",
            order_id = %event.order_id,
            customer_id = %event.customer_id,
            status = %event.status,
            reason = event.reason.map(|r| r.as_str()),
            "notification dispatched"
        );
    }
}

#[derive(Clone)]
pub struct NotificationWorker {
    processed: Arc<dyn QueueBackend>,
    ctx: Context,
    notifier: Arc<dyn Notifier>,
    wait: Duration,
    /// How long another delivery's claim is respected: the queue's
    /// visibility timeout, after which that delivery is presumed dead.
    lease: Duration,
    /// Delete each handled message (not on Lambda, where the event source
    /// mapping deletes what the batch response does not list as failed).
    delete_messages: bool,
}

impl NotificationWorker {
    pub fn new(
        processed: Arc<dyn QueueBackend>,
        ctx: Context,
        notifier: Arc<dyn Notifier>,
        wait: Duration,
        lease: Duration,
    ) -> Self {
        NotificationWorker {
            processed,
            ctx,
            notifier,
            wait,
            lease,
            delete_messages: true,
        }
    }

    pub async fn run(self, mut shutdown: Shutdown) {
        while !shutdown.is_fired() {
            let received = tokio::select! {
                r = self.processed.receive(MAX_BATCH, self.wait) => r,
                _ = shutdown.fired() => break,
            };
            match received {
                Ok(mut messages) => {
                    // One claim transaction and one confirmation serve the batch.
                    top_up(&*self.processed, &mut messages, MAX_NOTIFY_BATCH).await;
                    self.process(messages).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "receive from the processed queue failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Handles one batch: claim every order's notification at once,
    /// dispatch the granted ones, confirm them at once, then delete.
    /// Answers the ids of messages left for redelivery.
    pub async fn process(&self, messages: Vec<Message>) -> Vec<String> {
        let mut left = Left::new(&self.ctx);
        let events = self.decode(messages, &mut left).await;
        let claims = match Claims::take(self, &events).await {
            Ok(claims) => claims,
            Err(e) => {
                for (m, _) in &events {
                    self.hand_back(m).await;
                    left.add(m, e.to_string());
                }
                return left.ids;
            }
        };
        let confirmed = self.dispatch(&events, &claims).await;
        let finished = self.settle(&events, &claims, confirmed, &mut left).await;
        if self.delete_messages {
            self.delete(&finished, &mut left).await;
        }
        left.ids
    }

    /// A message the database could not serve comes back as an unfinished
    /// order does ([`crate::processor::hand_back`]: 5 s, then three times
    /// longer each receive, never longer at first than the queue's
    /// visibility timeout), not after the whole visibility timeout.
    async fn hand_back(&self, m: &Message) {
        let base = HAND_BACK.min(self.lease);
        let after = crate::processor::hand_back(base, m.receive_count);
        let _ = self
            .processed
            .change_visibility(&m.receipt_handle, after)
            .await;
    }

    /// The batch's events; an undecodable one is made visible again at once
    /// (so it reaches the DLQ after its receives) and left.
    async fn decode(
        &self,
        messages: Vec<Message>,
        left: &mut Left<'_>,
    ) -> Vec<(Message, OrderProcessed)> {
        let mut events = Vec::with_capacity(messages.len());
        for m in messages {
            match serde_json::from_str::<OrderProcessed>(&m.body) {
                Ok(e) => events.push((m, e)),
                Err(e) => {
                    self.ctx.metrics.poison_messages.inc();
                    let _ = self
                        .processed
                        .change_visibility(&m.receipt_handle, Duration::ZERO)
                        .await;
                    left.add(&m, format!("undecodable OrderProcessed: {e}"));
                }
            }
        }
        events
    }

    /// Dispatches each granted notification and confirms them all at once;
    /// answers whether the confirmation was recorded.
    async fn dispatch(&self, events: &[(Message, OrderProcessed)], claims: &Claims<'_>) -> bool {
        let mut dispatched = Vec::new();
        for (m, e) in events {
            if claims.granted_to(m, e) {
                self.notifier.dispatch(e).await;
                self.ctx.metrics.notifications.inc();
                dispatched.push(e.order_id);
            }
        }
        match retry(|| self.ctx.store.confirm_notifications(&dispatched)).await {
            Ok(()) => true,
            Err(e) => {
                // Dispatched but not confirmed: the same messages come back,
                // retake their claims and dispatch again (the one repeat the
                // design allows).
                tracing::warn!(error = %e, "notifications dispatched but not confirmed");
                false
            }
        }
    }

    /// Sorts the batch's messages into finished (to delete) and left, by
    /// their order's claim.
    async fn settle<'m>(
        &self,
        events: &'m [(Message, OrderProcessed)],
        claims: &Claims<'_>,
        confirmed: bool,
        left: &mut Left<'_>,
    ) -> Vec<&'m Message> {
        let mut finished = Vec::with_capacity(events.len());
        for (m, e) in events {
            match claims.of(e) {
                Claim::Granted if !confirmed => {
                    self.hand_back(m).await;
                    left.add(m, "dispatched, confirmation failed".into())
                }
                Claim::Granted | Claim::AlreadySent => finished.push(m),
                Claim::HeldElsewhere => {
                    // Usually a copy of this event being handled right now:
                    // look again in a second rather than after a whole
                    // visibility timeout.
                    let _ = self
                        .processed
                        .change_visibility(&m.receipt_handle, HELD_RETRY)
                        .await;
                    let why = format!("order {} is being notified by another delivery", e.order_id);
                    left.add(m, why);
                }
            }
        }
        finished
    }

    /// Deletes finished messages, ten at a time.
    async fn delete(&self, finished: &[&Message], left: &mut Left<'_>) {
        for chunk in finished.chunks(MAX_BATCH) {
            let handles: Vec<&str> = chunk.iter().map(|m| m.receipt_handle.as_str()).collect();
            let results = self.processed.delete_batch(&handles).await;
            for (m, result) in chunk.iter().zip(results) {
                if let Err(err) = result {
                    left.add(m, err.to_string());
                }
            }
        }
    }

    /// Leaves deleting to the caller (Lambda's event source mapping).
    pub fn without_deletes(mut self) -> Self {
        self.delete_messages = false;
        self
    }
}

/// The messages of a batch left for redelivery, each logged and its error
/// recorded for the DLQ listing.
struct Left<'a> {
    ctx: &'a Context,
    ids: Vec<String>,
}

impl<'a> Left<'a> {
    fn new(ctx: &'a Context) -> Self {
        Left {
            ctx,
            ids: Vec::new(),
        }
    }

    fn add(&mut self, m: &Message, why: String) {
        tracing::warn!(message_id = %m.message_id, error = %why, "notification not finished");
        self.ctx.failures.record(&m.message_id, &why);
        self.ids.push(m.message_id.clone());
    }
}

/// A batch's notification claims: one per order (copies of an event in
/// the same batch follow the first one's fate), taken in one call.
struct Claims<'m> {
    requests: Vec<ClaimRequest<'m>>,
    /// Each order's request.
    first: HashMap<OrderId, usize>,
    answers: Vec<Claim>,
}

impl<'m> Claims<'m> {
    async fn take(
        worker: &NotificationWorker,
        events: &'m [(Message, OrderProcessed)],
    ) -> Result<Claims<'m>, StoreError> {
        let mut first = HashMap::new();
        let mut requests = Vec::new();
        for (m, e) in events {
            if let Entry::Vacant(slot) = first.entry(e.order_id) {
                slot.insert(requests.len());
                requests.push(ClaimRequest {
                    order_id: e.order_id,
                    status: e.status,
                    claimant: &m.message_id,
                });
            }
        }
        let answers = retry(|| {
            worker
                .ctx
                .store
                .claim_notifications(&requests, worker.lease)
        })
        .await?;
        Ok(Claims {
            requests,
            first,
            answers,
        })
    }

    /// The answer for the event's order.
    fn of(&self, e: &OrderProcessed) -> Claim {
        self.answers[self.first[&e.order_id]]
    }

    /// Whether this message holds the granted claim for its order.
    fn granted_to(&self, m: &Message, e: &OrderProcessed) -> bool {
        let k = self.first[&e.order_id];
        self.answers[k] == Claim::Granted && self.requests[k].claimant == m.message_id
    }
}
