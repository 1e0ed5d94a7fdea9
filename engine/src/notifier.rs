//! The notifier: consumes `OrderProcessed` and dispatches one notification per
//! order, exactly once in effect.
//!
//! Each dispatch is bracketed by a claim and a confirmation in the store
//! ([`crate::store::OrderStore::claim_notifications`], one transaction per
//! batch): a redelivered or re-published event
//! finds the confirmation and is only deleted. If a claim's outcome is in
//! doubt (the connection died around it, or its holder crashed), the same
//! message retries it at once, and any other after the claim's lease; so no
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
use crate::queue::{Message, QueueBackend, MAX_BATCH};
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
                    self.fill(&mut messages).await;
                    self.process(messages).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "receive from the processed queue failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Tops a received batch up with whatever else is waiting, without
    /// waiting, up to [`MAX_NOTIFY_BATCH`]: one claim transaction and one
    /// confirmation serve the whole batch.
    async fn fill(&self, messages: &mut Vec<Message>) {
        while messages.len() < MAX_NOTIFY_BATCH {
            let room = (MAX_NOTIFY_BATCH - messages.len()).min(MAX_BATCH);
            match self.processed.receive(room, Duration::ZERO).await {
                Ok(more) if !more.is_empty() => messages.extend(more),
                _ => break,
            }
        }
    }

    /// Handles one batch: claim every order's notification at once,
    /// dispatch the granted ones, confirm them at once, then delete.
    /// Answers the ids of messages left for redelivery.
    pub async fn process(&self, messages: Vec<Message>) -> Vec<String> {
        let mut failed = Vec::new();
        let mut fail = |m: &Message, why: String| {
            tracing::warn!(message_id = %m.message_id, error = %why, "notification not finished");
            self.ctx.failures.record(&m.message_id, &why);
            failed.push(m.message_id.clone());
        };

        let mut events: Vec<(Message, OrderProcessed)> = Vec::with_capacity(messages.len());
        for m in messages {
            match serde_json::from_str::<OrderProcessed>(&m.body) {
                Ok(e) => events.push((m, e)),
                Err(e) => {
                    self.ctx.metrics.poison_messages.inc();
                    let _ = self
                        .processed
                        .change_visibility(&m.receipt_handle, Duration::ZERO)
                        .await;
                    fail(&m, format!("undecodable OrderProcessed: {e}"));
                }
            }
        }

        // One claim per order; copies of an event in the same batch follow
        // the first one's fate.
        let mut first: HashMap<OrderId, usize> = HashMap::new();
        let mut requests = Vec::new();
        for (m, e) in &events {
            if let Entry::Vacant(slot) = first.entry(e.order_id) {
                slot.insert(requests.len());
                requests.push(ClaimRequest {
                    order_id: e.order_id,
                    status: e.status,
                    claimant: &m.message_id,
                });
            }
        }
        let claims = match retry(|| self.ctx.store.claim_notifications(&requests, self.lease)).await
        {
            Ok(claims) => claims,
            Err(e) => {
                for (m, _) in &events {
                    fail(m, e.to_string());
                }
                return failed;
            }
        };

        let mut dispatched = Vec::new();
        for (m, e) in &events {
            let k = first[&e.order_id];
            if claims[k] == Claim::Granted && requests[k].claimant == m.message_id {
                self.notifier.dispatch(e).await;
                self.ctx.metrics.notifications.inc();
                dispatched.push(e.order_id);
            }
        }
        let confirmed = match retry(|| self.ctx.store.confirm_notifications(&dispatched)).await {
            Ok(()) => true,
            Err(e) => {
                // Dispatched but not confirmed: the same messages come back,
                // retake their claims and dispatch again (the one repeat the
                // design allows).
                tracing::warn!(error = %e, "notifications dispatched but not confirmed");
                false
            }
        };

        let mut finished: Vec<&Message> = Vec::with_capacity(events.len());
        for (m, e) in &events {
            match claims[first[&e.order_id]] {
                Claim::Granted if !confirmed => fail(m, "dispatched, confirmation failed".into()),
                Claim::Granted | Claim::AlreadySent => finished.push(m),
                Claim::HeldElsewhere => {
                    // Usually a copy of this event being handled right now:
                    // look again in a second rather than after a whole
                    // visibility timeout.
                    let _ = self
                        .processed
                        .change_visibility(&m.receipt_handle, HELD_RETRY)
                        .await;
                    fail(
                        m,
                        format!("order {} is being notified by another delivery", e.order_id),
                    );
                }
            }
        }
        if self.delete_messages {
            for chunk in finished.chunks(MAX_BATCH) {
                let handles: Vec<&str> = chunk.iter().map(|m| m.receipt_handle.as_str()).collect();
                let results = self.processed.delete_batch(&handles).await;
                for (m, result) in chunk.iter().zip(results) {
                    if let Err(err) = result {
                        fail(m, err.to_string());
                    }
                }
            }
        }
        failed
    }

    /// Leaves deleting to the caller (Lambda's event source mapping).
    pub fn without_deletes(mut self) -> Self {
        self.delete_messages = false;
        self
    }
}
