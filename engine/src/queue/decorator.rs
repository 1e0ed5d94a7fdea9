//! Decorating a queue: a queue wrapped around another that changes some of
//! its calls (faults, counting, latency) writes only those. Implement
//! [`QueueDecorator`] with the queue it wraps ([`QueueDecorator::inner`])
//! and the calls it changes; every other call goes to the inner queue
//! unchanged, and the blanket impl makes it a [`QueueBackend`]. In the
//! manner of tower's `Layer`: the seam is narrow because the forwarding is
//! written once, here.

use std::time::Duration;

use async_trait::async_trait;

use super::{Message, QueueBackend, QueueDepth, QueueError};

/// A queue around [`QueueDecorator::inner`]; see the module doc.
#[async_trait]
pub trait QueueDecorator: Send + Sync + 'static {
    /// The queue this one wraps.
    fn inner(&self) -> &dyn QueueBackend;

    fn name(&self) -> &str {
        self.inner().name()
    }
    async fn send(&self, body: String) -> Result<String, QueueError> {
        self.inner().send(body).await
    }
    async fn send_batch(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        self.inner().send_batch(bodies).await
    }
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, QueueError> {
        self.inner().receive(max, wait).await
    }
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.inner().delete(receipt_handle).await
    }
    async fn delete_batch(&self, receipt_handles: &[&str]) -> Vec<Result<(), QueueError>> {
        self.inner().delete_batch(receipt_handles).await
    }
    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        self.inner()
            .change_visibility(receipt_handle, timeout)
            .await
    }
    async fn peek(&self, max: usize) -> Result<Vec<Message>, QueueError> {
        self.inner().peek(max).await
    }
    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        self.inner().depth().await
    }
}

#[async_trait]
impl<D: QueueDecorator> QueueBackend for D {
    fn name(&self) -> &str {
        QueueDecorator::name(self)
    }
    async fn send(&self, body: String) -> Result<String, QueueError> {
        QueueDecorator::send(self, body).await
    }
    async fn send_batch(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        QueueDecorator::send_batch(self, bodies).await
    }
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, QueueError> {
        QueueDecorator::receive(self, max, wait).await
    }
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        QueueDecorator::delete(self, receipt_handle).await
    }
    async fn delete_batch(&self, receipt_handles: &[&str]) -> Vec<Result<(), QueueError>> {
        QueueDecorator::delete_batch(self, receipt_handles).await
    }
    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        QueueDecorator::change_visibility(self, receipt_handle, timeout).await
    }
    async fn peek(&self, max: usize) -> Result<Vec<Message>, QueueError> {
        QueueDecorator::peek(self, max).await
    }
    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        QueueDecorator::depth(self).await
    }
}
