//! How a running mapping gathers its batches: a fleet of pollers handing
//! what they gather to the invocation slots, or (the model's pessimistic
//! end) each slot gathering its own batch and then invoking it. Apart from
//! the invocation ([`super::invoke`]): gathering is SQS calls alone.

use std::sync::Arc;
use std::time::Duration;

use engine::queue::MAX_BATCH;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Batch, Mapping};

impl Mapping {
    /// Poller `n` of the fleet: while active, gathers a batch and hands it
    /// to a slot.
    pub(super) async fn poller(
        self: Arc<Self>,
        n: usize,
        ready: tokio::sync::mpsc::Sender<Batch>,
        stop: watch::Receiver<bool>,
    ) {
        while !*stop.borrow() {
            if !self.active(n).await {
                continue;
            }
            let batch = self.gather().await;
            if !batch.messages.is_empty() && ready.send(batch).await.is_err() {
                return;
            }
        }
    }

    /// Invocation slot `n`: while active, invokes the next ready batch. Once
    /// the mapping stops, every slot invokes what the pollers still hold,
    /// until the last poller has stopped.
    pub(super) async fn slot(
        self: Arc<Self>,
        n: usize,
        batches: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Batch>>>,
        stop: watch::Receiver<bool>,
    ) {
        loop {
            if !*stop.borrow() && !self.active(n).await {
                continue;
            }
            let next = batches.lock().await.recv().await;
            match next {
                Some(batch) => self.invoke(batch).await,
                None => return,
            }
        }
    }

    /// One concurrent batch, gathered and then invoked, while `slot` is
    /// below the mapping's current concurrency.
    pub(super) async fn serial(self: Arc<Self>, slot: usize, stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            if !self.active(slot).await {
                continue;
            }
            let batch = self.gather().await;
            if !batch.messages.is_empty() {
                self.invoke(batch).await;
            }
        }
    }

    /// A batch: the first message by long poll, then more until the batch
    /// size or the end of the batching window.
    async fn gather(&self) -> Batch {
        let size = self.settings.batch_size.max(1);
        // SQS long polls up to 20 s; a shorter poll lets a stop be seen sooner
        // and changes nothing else (a poll returns as soon as messages come).
        let Ok(mut batch) = self
            .queue
            .receive(size.min(MAX_BATCH), Duration::from_millis(500))
            .await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Batch::none();
        };
        let received = Instant::now();
        if batch.is_empty() {
            return Batch::none();
        }
        let closes = received + self.settings.window;
        while batch.len() < size {
            let left = closes.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // Several reads at once, each of up to ten messages.
            let wanted = size - batch.len();
            let reads = wanted
                .div_ceil(MAX_BATCH)
                .min(self.settings.parallel_receives.max(1));
            let calls = (0..reads).map(|i| {
                let n = (wanted - i * MAX_BATCH).min(MAX_BATCH);
                self.queue.receive(n, left)
            });
            let mut got_any = false;
            for more in futures::future::join_all(calls).await.into_iter().flatten() {
                got_any |= !more.is_empty();
                batch.extend(more);
            }
            if !got_any {
                break;
            }
        }
        Batch {
            messages: batch,
            received,
        }
    }
}
