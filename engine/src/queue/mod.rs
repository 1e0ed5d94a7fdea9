//! Queues with the semantics of SQS standard queues, behind one trait so the
//! engine runs the same over in-process channels ([`channel`]) and over SQS.
//!
//! What every backend promises: at-least-once delivery; `receive` returns up
//! to [`MAX_BATCH`] messages, waiting up to the long-poll time for the first;
//! a received message is invisible for the visibility timeout and comes back
//! unless deleted by its receipt handle; each delivery counts a receive, and a
//! queue with a redrive policy moves a message to its dead-letter queue
//! instead of delivering it once it has been received `max_receive_count`
//! times.

pub mod channel;
mod decorator;
#[cfg(feature = "sqs")]
pub mod sqs;

use std::time::Duration;

use async_trait::async_trait;

pub use channel::{ChannelQueue, QueueConfig};
pub use decorator::{Call, QueueDecorator};

/// Most messages one `receive` or `send_batch` handles, as in SQS.
pub const MAX_BATCH: usize = 10;

/// A delivered message.
#[derive(Debug, Clone)]
pub struct Message {
    pub message_id: String,
    /// Names this delivery; only the newest delivery's handle deletes.
    pub receipt_handle: String,
    pub body: String,
    /// How many times the message has been delivered, this time included
    /// (SQS's `ApproximateReceiveCount`).
    pub receive_count: u32,
}

/// How many messages a queue holds (SQS's `ApproximateNumberOfMessages` and
/// `ApproximateNumberOfMessagesNotVisible`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
}

impl QueueDepth {
    pub fn total(&self) -> u64 {
        self.visible + self.in_flight
    }
}

/// What lies beneath a queue's failure: the SDK's error, an encoding
/// error, or a cause the engine names (an injected fault, a missing
/// backend). Shared, so a [`QueueError`] can be cloned to each message of
/// a batch.
pub type Cause = std::sync::Arc<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum QueueError {
    /// The queue is at capacity: back-pressure, try again shortly.
    #[error("queue {0} is full")]
    Full(String),
    /// The queue cannot be reached or refused the call; try again.
    #[error("queue {queue} is unavailable: {cause}")]
    Unavailable {
        queue: String,
        #[source]
        cause: Cause,
    },
    /// The receipt handle is unknown or no longer the newest delivery's.
    #[error("receipt handle {0} is not valid (deleted, or delivered again since)")]
    InvalidReceipt(String),
    #[error("a batch holds at most {MAX_BATCH} messages, got {0}")]
    BatchTooLarge(usize),
    /// The queue cannot be used as configured: it does not exist, or this
    /// process may not use it. Trying again will not help.
    #[error("queue {queue} cannot be used: {cause}")]
    Permanent {
        queue: String,
        #[source]
        cause: Cause,
    },
}

impl QueueError {
    /// `queue` cannot be reached or refused the call, because of `cause`.
    pub fn unavailable(
        queue: impl Into<String>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        QueueError::Unavailable {
            queue: queue.into(),
            cause: Cause::from(cause.into()),
        }
    }

    /// `queue` cannot be used as configured, because of `cause`.
    pub fn permanent(
        queue: impl Into<String>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        QueueError::Permanent {
            queue: queue.into(),
            cause: Cause::from(cause.into()),
        }
    }

    /// Whether the same call may succeed if tried again.
    pub fn is_transient(&self) -> bool {
        matches!(self, QueueError::Full(_) | QueueError::Unavailable { .. })
    }
}

/// Tops a received batch up with whatever else is waiting on `queue`,
/// without waiting, up to `max` messages: the batch grows with the queue's
/// depth, so under load many messages share one transaction, and an idle
/// queue still hands each message on at once.
pub async fn top_up(queue: &dyn QueueBackend, messages: &mut Vec<Message>, max: usize) {
    while messages.len() < max {
        let room = (max - messages.len()).min(MAX_BATCH);
        match queue.receive(room, Duration::ZERO).await {
            Ok(more) if !more.is_empty() => messages.extend(more),
            _ => break,
        }
    }
}

/// One queue. Cheap to share: hold it in an `Arc`.
#[async_trait]
pub trait QueueBackend: Send + Sync + 'static {
    /// The queue's name, for logs and metrics.
    fn name(&self) -> &str;

    /// Enqueues one message and returns its id.
    async fn send(&self, body: String) -> Result<String, QueueError>;

    /// Enqueues up to [`MAX_BATCH`] messages: all of them, or (on error) none
    /// that the caller should count on.
    async fn send_batch(&self, bodies: Vec<String>) -> Result<(), QueueError>;

    /// Delivers up to `max` (at most [`MAX_BATCH`]) messages, waiting up to
    /// `wait` for the first one to arrive.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, QueueError>;

    /// Deletes a delivered message for good.
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError>;

    /// Deletes up to [`MAX_BATCH`] delivered messages in one call (SQS's
    /// `DeleteMessageBatch`); answers, for each handle in order, whether it
    /// was deleted. One handle failing does not stop the others.
    async fn delete_batch(&self, receipt_handles: &[&str]) -> Vec<Result<(), QueueError>> {
        if receipt_handles.len() > MAX_BATCH {
            let error = QueueError::BatchTooLarge(receipt_handles.len());
            return vec![Err(error); receipt_handles.len()];
        }
        let mut out = Vec::with_capacity(receipt_handles.len());
        for handle in receipt_handles {
            out.push(self.delete(handle).await);
        }
        out
    }

    /// Makes a delivered message visible again after `timeout` from now
    /// (zero: at once).
    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError>;

    /// Looks at up to `max` messages, in flight or not, without receiving
    /// them (no receive is counted, nothing becomes invisible): for listing a
    /// dead-letter queue. The receipt handles of peeked messages delete
    /// nothing.
    async fn peek(&self, max: usize) -> Result<Vec<Message>, QueueError>;

    async fn depth(&self) -> Result<QueueDepth, QueueError>;
}
