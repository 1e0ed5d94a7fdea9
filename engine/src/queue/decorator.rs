//! Decorating a queue: a queue wrapped around another that changes some of
//! its calls (faults, counting, latency) writes only those. Implement
//! [`QueueDecorator`] with the queue it wraps ([`QueueDecorator::inner`])
//! and the calls it changes; every other call goes to the inner queue
//! unchanged, and the blanket impl makes it a [`QueueBackend`]. One that
//! changes every call the same way (an outage) overrides
//! [`QueueDecorator::around`] alone, and so cannot forget a call. In the
//! manner of tower's `Layer` (and of the store's decorator): the seam is
//! narrow because the forwarding is written once, here.

use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;

use super::{Message, QueueBackend, QueueDepth, QueueError};

/// One call of the queue, given the queue to make it on.
pub type Call<'a, T> =
    Box<dyn Fn(&'a dyn QueueBackend) -> BoxFuture<'a, Result<T, QueueError>> + Send + Sync + 'a>;

/// A queue around [`QueueDecorator::inner`]; see the module doc.
#[async_trait]
pub trait QueueDecorator: Send + Sync + 'static {
    /// The queue this one wraps.
    fn inner(&self) -> &dyn QueueBackend;

    /// How every call this decorator does not change reaches the inner
    /// queue: `call`, once, on [`QueueDecorator::inner`]. Override it to
    /// change them all alike (refuse them during an outage, say). A
    /// `delete_batch` refused here answers the refusal for each handle.
    fn around<'a, T: Send + 'a>(
        &'a self,
        call: Call<'a, T>,
    ) -> BoxFuture<'a, Result<T, QueueError>> {
        call(self.inner())
    }

    /// Not a call to the queue (nothing to refuse): always the inner name.
    fn name(&self) -> &str {
        self.inner().name()
    }
    // `Call` is `Fn` so that `around` may make a call again; a call that
    // owns its argument clones it for each try.
    async fn send(&self, body: String) -> Result<String, QueueError> {
        self.around(Box::new(move |q| q.send(body.clone()))).await
    }
    async fn send_batch(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        self.around(Box::new(move |q| q.send_batch(bodies.clone())))
            .await
    }
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, QueueError> {
        self.around(Box::new(move |q| q.receive(max, wait))).await
    }
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.around(Box::new(move |q| q.delete(receipt_handle)))
            .await
    }
    async fn delete_batch(&self, receipt_handles: &[&str]) -> Vec<Result<(), QueueError>> {
        let call = self.around(Box::new(move |q| {
            Box::pin(async move { Ok(q.delete_batch(receipt_handles).await) })
        }));
        match call.await {
            Ok(each) => each,
            Err(refused) => vec![Err(refused); receipt_handles.len()],
        }
    }
    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        self.around(Box::new(move |q| {
            q.change_visibility(receipt_handle, timeout)
        }))
        .await
    }
    async fn peek(&self, max: usize) -> Result<Vec<Message>, QueueError> {
        self.around(Box::new(move |q| q.peek(max))).await
    }
    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        self.around(Box::new(move |q| q.depth())).await
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
