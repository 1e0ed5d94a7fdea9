//! The queue faults of a [`Faults`] plan, one small decorator each, so each
//! writes only the calls it changes and a use of a queue takes just the
//! faults that make sense there ([`super::Harness`]'s `Wrap`): duplicates
//! and poison where messages are published ([`Duplicating`]), refused
//! publishes ([`FailingSends`]), and visibility that runs out while a
//! consumer works on a batch ([`Expiring`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::faults::{FaultKind, Faults};
use crate::queue::{Message, QueueBackend, QueueDecorator, QueueError};

/// Bodies that no consumer can decode.
const POISON: [&str; 4] = [
    "not json at all",
    r#"{"order_id": "not-a-uuid", "customer_id": "c", "items": [], "timestamp": "x"}"#,
    r#"{"order_id": "00000000-0000-8000-8000-000000000001", "customer_id": "c", "items": [{"product_id": "p", "quantity": 0}], "timestamp": "2026-01-01T00:00:00.000Z"}"#,
    "[]",
];

/// A queue that, after each message it accepted, may enqueue a second copy
/// of it (SQS may deliver a message twice) and a poison message beside it.
pub struct Duplicating {
    inner: Arc<dyn QueueBackend>,
    faults: Arc<Faults>,
}

impl Duplicating {
    pub fn new(inner: Arc<dyn QueueBackend>, faults: Arc<Faults>) -> Arc<Self> {
        Arc::new(Duplicating { inner, faults })
    }

    async fn after_send(&self, body: String) {
        if self.faults.roll(FaultKind::DuplicateDelivery) {
            let _ = self.inner.send(body).await;
        }
        if self.faults.chance(FaultKind::PoisonMessage) {
            let poison = POISON[self.faults.pick(POISON.len())];
            if self.inner.send(poison.to_owned()).await.is_ok() {
                self.faults.count(FaultKind::PoisonMessage);
            }
        }
    }
}

#[async_trait]
impl QueueDecorator for Duplicating {
    fn inner(&self) -> &dyn QueueBackend {
        &*self.inner
    }

    // The original goes first: a duplicate is only ever a second copy of a
    // message the queue accepted.
    async fn send(&self, body: String) -> Result<String, QueueError> {
        let id = self.inner.send(body.clone()).await?;
        self.after_send(body).await;
        Ok(id)
    }

    async fn send_batch(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        self.inner.send_batch(bodies.clone()).await?;
        for body in bodies {
            self.after_send(body).await;
        }
        Ok(())
    }
}

/// A queue whose publishes fail now and then, before they reach it.
pub struct FailingSends {
    inner: Arc<dyn QueueBackend>,
    faults: Arc<Faults>,
}

impl FailingSends {
    pub fn new(inner: Arc<dyn QueueBackend>, faults: Arc<Faults>) -> Arc<Self> {
        Arc::new(FailingSends { inner, faults })
    }

    fn injected_failure(&self) -> Result<(), QueueError> {
        match self.faults.roll(FaultKind::PublishFailure) {
            false => Ok(()),
            true => Err(QueueError::unavailable(
                self.inner.name(),
                "injected publish failure",
            )),
        }
    }
}

#[async_trait]
impl QueueDecorator for FailingSends {
    fn inner(&self) -> &dyn QueueBackend {
        &*self.inner
    }
    async fn send(&self, body: String) -> Result<String, QueueError> {
        self.injected_failure()?;
        self.inner.send(body).await
    }
    async fn send_batch(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        self.injected_failure()?;
        self.inner.send_batch(bodies).await
    }
}

/// Visibility expiry: a batch that starts with a long poll (the receive a
/// consumer waits on; its top-ups do not wait) is, with the fault's rate,
/// made visible again as it is handed over, so other consumers receive it
/// too while the first works on it.
pub struct Expiring {
    inner: Arc<dyn QueueBackend>,
    faults: Arc<Faults>,
}

impl Expiring {
    pub fn new(inner: Arc<dyn QueueBackend>, faults: Arc<Faults>) -> Arc<Self> {
        Arc::new(Expiring { inner, faults })
    }
}

#[async_trait]
impl QueueDecorator for Expiring {
    fn inner(&self) -> &dyn QueueBackend {
        &*self.inner
    }
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, QueueError> {
        let messages = self.inner.receive(max, wait).await?;
        let starts_a_batch = !wait.is_zero() && !messages.is_empty();
        if starts_a_batch && self.faults.roll(FaultKind::VisibilityExpiry) {
            for m in &messages {
                let _ = self
                    .inner
                    .change_visibility(&m.receipt_handle, Duration::ZERO)
                    .await;
            }
        }
        Ok(messages)
    }
}
