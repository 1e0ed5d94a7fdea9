//! SQS as the deployed shape meets it: every call takes a modelled latency
//! (drawn per call from the model's distribution), and is counted. A
//! decorator of the pipeline's in-process queues, put where a function or
//! an event source mapping would call SQS; the queues' semantics stay the
//! channel backend's (see the conformance suite).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use engine::queue::{Message, QueueBackend, QueueDecorator, QueueError};

use super::bill;
use super::model::Model;

/// SQS API calls made, by kind (for the report and the bill).
#[derive(Debug, Default)]
pub struct SqsCalls {
    pub send: AtomicU64,
    pub send_batch: AtomicU64,
    pub receive: AtomicU64,
    /// Receives that came back empty (an idle long poll is billed too).
    pub empty_receive: AtomicU64,
    pub delete: AtomicU64,
    pub delete_batch: AtomicU64,
    pub change_visibility: AtomicU64,
    /// The requests SQS bills for all of them: one per call, and one more
    /// per 64 KB of payload past the first ([`bill::sqs_requests`]).
    pub billed: AtomicU64,
    /// The payload bytes sent and received, which pass the VPC endpoint.
    pub bytes: AtomicU64,
}

impl SqsCalls {
    pub fn total(&self) -> u64 {
        [
            &self.send,
            &self.send_batch,
            &self.receive,
            &self.delete,
            &self.delete_batch,
            &self.change_visibility,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
    }
}

/// A queue whose calls cost what the model says SQS's do.
pub struct Latent {
    inner: Arc<dyn QueueBackend>,
    model: Arc<Model>,
    calls: Arc<SqsCalls>,
    /// A function's calls pass the VPC endpoint (their bytes are billed
    /// there); an event source mapping polls from Lambda's side.
    through_endpoint: bool,
    /// The depth below which a receive returns fewer messages than asked
    /// (an event source mapping's polls; none: as asked).
    full_depth: Option<f64>,
}

impl Latent {
    /// A function's queue, reached through the VPC endpoint.
    pub fn wrap(
        inner: Arc<dyn QueueBackend>,
        model: Arc<Model>,
        calls: Arc<SqsCalls>,
    ) -> Arc<dyn QueueBackend> {
        Arc::new(Latent {
            inner,
            model,
            calls,
            through_endpoint: true,
            full_depth: None,
        })
    }

    /// An event source mapping's queue: polled from Lambda's side, a
    /// receive from a shallow queue returning fewer messages than asked.
    pub fn for_mapping(
        inner: Arc<dyn QueueBackend>,
        model: Arc<Model>,
        calls: Arc<SqsCalls>,
    ) -> Arc<dyn QueueBackend> {
        let full_depth = model.v(&model.c.sqs_full_receive_depth);
        Arc::new(Latent {
            inner,
            model,
            calls,
            through_endpoint: false,
            full_depth: Some(full_depth),
        })
    }

    /// How many messages a receive asking `max` takes.
    async fn asked(&self, max: usize) -> usize {
        match self.full_depth {
            Some(full) if full > 0.0 => {
                let visible = self
                    .inner
                    .depth()
                    .await
                    .map_or(max, |d| usize::try_from(d.visible).unwrap_or(usize::MAX));
                messages_per_receive(max, visible, full, self.model.uniform())
            }
            _ => max,
        }
    }

    async fn call(&self, counter: &AtomicU64, bytes: usize) {
        counter.fetch_add(1, Ordering::Relaxed);
        self.bill(bytes);
        tokio::time::sleep(self.model.sqs_call()).await;
    }

    fn bill(&self, bytes: usize) {
        let c = &self.calls;
        c.billed
            .fetch_add(bill::sqs_requests(bytes), Ordering::Relaxed);
        if self.through_endpoint {
            c.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }
}

/// On average, how many of `asked` messages a receive returns from a queue
/// with `visible` waiting ([`messages_per_receive`]'s mean; what the
/// screen of `sim plan` uses).
pub fn mean_messages_per_receive(asked: usize, visible: usize, full_depth: f64) -> f64 {
    let most = asked.min(visible).max(1) as f64;
    if full_depth <= 0.0 || visible as f64 >= full_depth {
        return most;
    }
    (most * visible as f64 / full_depth).clamp(1.0, most)
}

/// How many of `asked` messages a receive returns from a queue with
/// `visible` waiting: all it can once the queue is `full_depth` deep; below
/// that, the depth's share of them (a draw `u` in [0, 1) rounds it), at
/// least one. SQS documents that a receive from a queue of fewer than 1,000
/// messages most likely returns fewer than asked.
pub fn messages_per_receive(asked: usize, visible: usize, full_depth: f64, u: f64) -> usize {
    let most = asked.min(visible).max(1);
    if full_depth <= 0.0 || visible as f64 >= full_depth {
        return most;
    }
    let share = visible as f64 / full_depth;
    ((most as f64 * share + u).floor() as usize).clamp(1, most)
}

#[async_trait]
impl QueueDecorator for Latent {
    fn inner(&self) -> &dyn QueueBackend {
        &*self.inner
    }
    async fn send(&self, body: String) -> Result<String, QueueError> {
        self.call(&self.calls.send, body.len()).await;
        self.inner.send(body).await
    }
    async fn send_batch(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        let bytes = bodies.iter().map(String::len).sum();
        self.call(&self.calls.send_batch, bytes).await;
        self.inner.send_batch(bodies).await
    }
    /// The messages come back one call's latency after the queue has them.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, QueueError> {
        let asked = self.asked(max).await;
        let got = self.inner.receive(asked, wait).await?;
        self.calls.receive.fetch_add(1, Ordering::Relaxed);
        self.bill(got.iter().map(|m| m.body.len()).sum());
        if got.is_empty() {
            self.calls.empty_receive.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep(self.model.sqs_call()).await;
        Ok(got)
    }
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.call(&self.calls.delete, 0).await;
        self.inner.delete(receipt_handle).await
    }
    async fn delete_batch(&self, receipt_handles: &[&str]) -> Vec<Result<(), QueueError>> {
        self.call(&self.calls.delete_batch, 0).await;
        self.inner.delete_batch(receipt_handles).await
    }
    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        self.call(&self.calls.change_visibility, 0).await;
        self.inner.change_visibility(receipt_handle, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::model::End;
    use engine::queue::{ChannelQueue, QueueConfig};

    #[tokio::test]
    async fn every_call_takes_a_modelled_latency_and_is_counted() {
        let model = Arc::new(Model::shipped(End::Central, 3).unwrap());
        let calls = Arc::new(SqsCalls::default());
        let queue = Latent::wrap(
            ChannelQueue::new(QueueConfig::new("orders")),
            model,
            calls.clone(),
        );
        let started = tokio::time::Instant::now();
        for i in 0..20 {
            queue.send(format!("m{i}")).await.unwrap();
        }
        let took = started.elapsed();
        // 20 draws of a call with a median of 8 ms.
        assert!(took >= Duration::from_millis(80), "{took:?}");
        let got = queue.receive(10, Duration::ZERO).await.unwrap();
        let handles: Vec<&str> = got.iter().map(|m| m.receipt_handle.as_str()).collect();
        assert!(queue.delete_batch(&handles).await.iter().all(Result::is_ok));
        assert_eq!(calls.send.load(Ordering::Relaxed), 20);
        assert_eq!(calls.receive.load(Ordering::Relaxed), 1);
        assert_eq!(calls.delete_batch.load(Ordering::Relaxed), 1);
        assert_eq!(calls.total(), 22);
    }

    #[test]
    fn a_shallow_queue_answers_a_receive_with_fewer_messages_than_asked() {
        // Deep enough: all asked.
        assert_eq!(messages_per_receive(10, 5_000, 1000.0, 0.0), 10);
        assert_eq!(messages_per_receive(10, 1_000, 1000.0, 0.99), 10);
        // Fewer waiting than asked: at most what waits.
        assert_eq!(messages_per_receive(10, 3, 0.0, 0.5), 3);
        // Shallow: the depth's share, rounded by the draw, at least one.
        assert_eq!(messages_per_receive(10, 500, 1000.0, 0.0), 5);
        assert_eq!(messages_per_receive(10, 550, 1000.0, 0.6), 6);
        assert_eq!(messages_per_receive(10, 10, 1000.0, 0.0), 1);
        assert_eq!(
            messages_per_receive(10, 0, 1000.0, 0.0),
            1,
            "a long poll waits for one"
        );
        // On average the share: 10 asked at depth 250 of 1,000 gives 2.5.
        let mean = (0..1000)
            .map(|i| messages_per_receive(10, 250, 1000.0, f64::from(i) / 1000.0))
            .sum::<usize>() as f64
            / 1000.0;
        assert!((mean - 2.5).abs() < 0.01, "{mean}");
        assert!((mean_messages_per_receive(10, 250, 1000.0) - mean).abs() < 0.01);
        // The optimistic end (0) always answers in full.
        assert_eq!(messages_per_receive(10, 20, 0.0, 0.0), 10);
    }
}
