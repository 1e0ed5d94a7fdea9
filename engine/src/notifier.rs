//! The notifier: consumes `OrderProcessed` and dispatches one notification per
//! order. The store records each notification before it is dispatched, and a
//! redelivered event finds the record and is only deleted, so a customer is
//! told at most once; the event is deleted only after that, so (barring a
//! crash between record and dispatch) exactly once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::events::OrderProcessed;
use crate::metrics::Metrics;
use crate::queue::{Message, QueueBackend, MAX_BATCH};
use crate::shutdown::Shutdown;
use crate::store::OrderStore;

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
    store: Arc<dyn OrderStore>,
    notifier: Arc<dyn Notifier>,
    metrics: Arc<Metrics>,
    wait: Duration,
}

impl NotificationWorker {
    pub fn new(
        processed: Arc<dyn QueueBackend>,
        store: Arc<dyn OrderStore>,
        notifier: Arc<dyn Notifier>,
        metrics: Arc<Metrics>,
        wait: Duration,
    ) -> Self {
        NotificationWorker {
            processed,
            store,
            notifier,
            metrics,
            wait,
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
                failed.push(m.message_id);
            }
        }
        failed
    }

    async fn handle(&self, m: &Message) -> Result<(), String> {
        let event: OrderProcessed = match serde_json::from_str(&m.body) {
            Ok(e) => e,
            Err(e) => {
                self.metrics.poison_messages.inc();
                let _ = self
                    .processed
                    .change_visibility(&m.receipt_handle, Duration::ZERO)
                    .await;
                return Err(format!("undecodable OrderProcessed: {e}"));
            }
        };
        let first = self
            .store
            .record_notification(event.order_id, event.status)
            .await
            .map_err(|e| e.to_string())?;
        if first {
            self.notifier.dispatch(&event).await;
            self.metrics.notifications.inc();
        }
        self.processed
            .delete(&m.receipt_handle)
            .await
            .map_err(|e| e.to_string())
    }
}
