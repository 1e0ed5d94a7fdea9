//! The notifier: consumes `OrderProcessed` and dispatches one notification per
//! order, exactly once in effect.
//!
//! Each dispatch is bracketed by a claim and a confirmation in the store
//! ([`crate::store::OrderStore::claim_notification`]): a redelivered or re-published event
//! finds the confirmation and is only deleted. If a claim's outcome is in
//! doubt (the connection died around it, or its holder crashed), the same
//! message retries it at once, and any other after the claim's lease; so no
//! notification is lost, and the only repeat is a dispatch whose
//! confirmation was lost. Dispatch targets should therefore treat `order_id`
//! as an idempotency key (the log line carries it).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::context::Context;
use crate::events::OrderProcessed;
use crate::queue::{Message, QueueBackend, MAX_BATCH};
use crate::shutdown::Shutdown;
use crate::store::Claim;

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
                Ok(messages) => {
                    self.process(messages).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "receive from the processed queue failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Handles one batch; answers the ids of messages left for redelivery.
    pub async fn process(&self, messages: Vec<Message>) -> Vec<String> {
        let mut failed = Vec::new();
        for m in messages {
            if let Err(e) = self.handle(&m).await {
                tracing::warn!(message_id = %m.message_id, error = %e, "notification not finished");
                self.ctx.failures.record(&m.message_id, &e);
                failed.push(m.message_id);
            }
        }
        failed
    }

    async fn handle(&self, m: &Message) -> Result<(), String> {
        let event: OrderProcessed = match serde_json::from_str(&m.body) {
            Ok(e) => e,
            Err(e) => {
                self.ctx.metrics.poison_messages.inc();
                let _ = self
                    .processed
                    .change_visibility(&m.receipt_handle, Duration::ZERO)
                    .await;
                return Err(format!("undecodable OrderProcessed: {e}"));
            }
        };
        let store = &self.ctx.store;
        let claim = store
            .claim_notification(event.order_id, event.status, &m.message_id, self.lease)
            .await
            .map_err(|e| e.to_string())?;
        match claim {
            Claim::Granted => {
                self.notifier.dispatch(&event).await;
                self.ctx.metrics.notifications.inc();
                store
                    .confirm_notification(event.order_id)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Claim::AlreadySent => {}
            Claim::HeldElsewhere => {
                return Err(format!(
                    "order {} is being notified by another delivery",
                    event.order_id
                ))
            }
        }
        if !self.delete_messages {
            return Ok(());
        }
        self.processed
            .delete(&m.receipt_handle)
            .await
            .map_err(|e| e.to_string())
    }

    /// Leaves deleting to the caller (Lambda's event source mapping).
    pub fn without_deletes(mut self) -> Self {
        self.delete_messages = false;
        self
    }
}
