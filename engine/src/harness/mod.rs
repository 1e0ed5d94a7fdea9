//! What the simulator and the tests wrap around the pipeline, from outside
//! (feature `harness`; the Lambda functions are built without it): seeded
//! fault injection ([`faults`]) and the bookkeeping of what ingest enqueued
//! ([`Counted`]), as decorators of the store and the queues that
//! [`crate::app::Hooks::wrap`] puts in place.

pub mod faults;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::app::{QueueUse, Wrap};
use crate::queue::{Message, QueueBackend, QueueDepth, QueueError};
use crate::store::OrderStore;
use faults::{Faults, FaultyQueue, FaultyStore};

/// The sim's and the tests' decorators: faults (none by default), and a
/// count of the `OrderCreated` messages ingest published.
pub struct Harness {
    pub faults: Arc<Faults>,
    enqueued: Arc<AtomicU64>,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new(Faults::none())
    }
}

impl Harness {
    pub fn new(faults: Arc<Faults>) -> Self {
        Harness {
            faults,
            enqueued: Arc::default(),
        }
    }

    /// Orders ingest published (accepted with 202) since start; duplicates
    /// and poison that faults slipped in beside them are not counted.
    pub fn enqueued(&self) -> u64 {
        self.enqueued.load(Ordering::SeqCst)
    }
}

impl Wrap for Harness {
    fn store(&self, store: Arc<dyn OrderStore>) -> Arc<dyn OrderStore> {
        if self.faults.plan().is_empty() {
            store
        } else {
            FaultyStore::new(store, self.faults.clone())
        }
    }

    fn queue(&self, used: QueueUse, queue: Arc<dyn QueueBackend>) -> Arc<dyn QueueBackend> {
        let faults = self.faults.clone();
        let faulty = !faults.plan().is_empty();
        match used {
            // Counted outside the faults: what ingest itself published.
            QueueUse::Ingest => {
                let queue = if faulty {
                    FaultyQueue::duplicating(queue, faults)
                } else {
                    queue
                };
                Counted::new(queue, self.enqueued.clone())
            }
            QueueUse::ProcessorIn if faulty => FaultyQueue::expiring(queue, faults),
            QueueUse::ProcessorOut if faulty => FaultyQueue::failing_sends(queue, faults),
            _ => queue,
        }
    }
}

/// A queue that counts the messages it took into a shared counter.
pub struct Counted {
    inner: Arc<dyn QueueBackend>,
    sent: Arc<AtomicU64>,
}

impl Counted {
    pub fn new(inner: Arc<dyn QueueBackend>, sent: Arc<AtomicU64>) -> Arc<Self> {
        Arc::new(Counted { inner, sent })
    }
}

#[async_trait]
impl QueueBackend for Counted {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn send(&self, body: String) -> Result<String, QueueError> {
        let id = self.inner.send(body).await?;
        self.sent.fetch_add(1, Ordering::SeqCst);
        Ok(id)
    }
    async fn send_batch(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        let n = bodies.len() as u64;
        self.inner.send_batch(bodies).await?;
        self.sent.fetch_add(n, Ordering::SeqCst);
        Ok(())
    }
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, QueueError> {
        self.inner.receive(max, wait).await
    }
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.inner.delete(receipt_handle).await
    }
    async fn delete_batch(&self, receipt_handles: &[&str]) -> Vec<Result<(), QueueError>> {
        self.inner.delete_batch(receipt_handles).await
    }
    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        self.inner.change_visibility(receipt_handle, timeout).await
    }
    async fn peek(&self, max: usize) -> Result<Vec<Message>, QueueError> {
        self.inner.peek(max).await
    }
    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        self.inner.depth().await
    }
}
