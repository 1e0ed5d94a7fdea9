//! What the simulator and the tests wrap around the pipeline, from outside
//! (feature `harness`; the Lambda functions are built without it): seeded
//! fault injection ([`faults`], its queue faults in [`queue_faults`]), an
//! outage of a queue ([`Outage`]), and the bookkeeping of what ingest
//! enqueued ([`Counted`]), as decorators of the store and the queues that
//! [`crate::app::Hooks::wrap`] puts in place.

pub mod faults;
pub mod queue_faults;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;

use crate::app::{QueueUse, Wrap};
use crate::queue::{Call, QueueBackend, QueueDecorator, QueueError};
use crate::store::OrderStore;
use faults::{Faults, FaultyStore};
use queue_faults::{Duplicating, Expiring, FailingSends};

/// The sim's and the tests' decorators: faults (none by default), and a
/// count of the `OrderCreated` messages ingest published.
pub struct Harness {
    pub faults: Arc<Faults>,
    enqueued: Arc<AtomicU64>,
    /// Whether the order queue, as ingest sees it, is down ([`Outage`]).
    ingest_outage: Arc<AtomicBool>,
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
            ingest_outage: Arc::default(),
        }
    }

    /// Orders ingest published (accepted with 202) since start; duplicates
    /// and poison that faults slipped in beside them are not counted.
    pub fn enqueued(&self) -> u64 {
        self.enqueued.load(Ordering::SeqCst)
    }

    /// Takes the order queue down for ingest (every call answers
    /// [`QueueError::Unavailable`], as in an SQS outage), or brings it back.
    pub fn set_ingest_outage(&self, down: bool) {
        self.ingest_outage.store(down, Ordering::SeqCst);
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
                    Duplicating::new(queue, faults)
                } else {
                    queue
                };
                let queue = Outage::new(queue, self.ingest_outage.clone());
                Counted::new(queue, self.enqueued.clone())
            }
            // Both consumers' batches may outlive their visibility: the
            // processor's store answers a second delivery from its record,
            // the notifier's claims hold a copy back while one is notified.
            QueueUse::ProcessorIn | QueueUse::NotifierIn if faulty => Expiring::new(queue, faults),
            QueueUse::ProcessorOut if faulty => FailingSends::new(queue, faults),
            QueueUse::ProcessorIn | QueueUse::ProcessorOut | QueueUse::NotifierIn => queue,
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
impl QueueDecorator for Counted {
    fn inner(&self) -> &dyn QueueBackend {
        &*self.inner
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
}

/// A queue that fails every call with [`QueueError::Unavailable`] while its
/// switch is down: an SQS outage, made from outside the queue.
pub struct Outage {
    inner: Arc<dyn QueueBackend>,
    down: Arc<AtomicBool>,
}

impl Outage {
    pub fn new(inner: Arc<dyn QueueBackend>, down: Arc<AtomicBool>) -> Arc<Self> {
        Arc::new(Outage { inner, down })
    }

    fn up(&self) -> Result<(), QueueError> {
        match self.down.load(Ordering::SeqCst) {
            false => Ok(()),
            true => Err(QueueError::unavailable(
                self.inner.name(),
                "injected outage",
            )),
        }
    }
}

impl QueueDecorator for Outage {
    fn inner(&self) -> &dyn QueueBackend {
        &*self.inner
    }
    // Every call, those added later included, passes this one gate.
    fn around<'a, T: Send + 'a>(
        &'a self,
        call: Call<'a, T>,
    ) -> BoxFuture<'a, Result<T, QueueError>> {
        match self.up() {
            Ok(()) => call(self.inner()),
            Err(refused) => Box::pin(std::future::ready(Err(refused))),
        }
    }
}
