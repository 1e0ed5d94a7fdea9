//! The one consumer loop both queue consumers run, the processor
//! ([`crate::processor::ApplyOrders`]) and the notifier
//! ([`crate::notifier::Notify`]): what differs between them is a
//! [`Handler`], and everything a queue consumer must get right is written
//! once, here.
//!
//! One turn of the loop: receive (a long poll, given up at shutdown), top
//! the batch up while messages wait (many messages share one store
//! transaction), decode each body, set poison aside (made visible at once,
//! so it reaches the DLQ after its receives instead of blocking anything),
//! hand the decoded batch to the handler, which answers each message's
//! [`Fate`], then delete the finished ones and leave the rest as their fate
//! says. A receive that fails is tried again after a growing pause.
//!
//! On Lambda there is no loop: the event source mapping receives and
//! deletes, and the handlers call [`Consumer::process_by`], whose
//! [`BatchReport`] names the messages to report as `batchItemFailures`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::context::Context;
use crate::queue::{top_up, Message, QueueBackend, MAX_BATCH};
use crate::retry::Backoff;
use crate::shutdown::Shutdown;

mod config;
#[cfg(test)]
mod tests;

pub use config::{hand_back, WorkerConfig, MAX_NOTIFY_BATCH};

/// A received message and the event its body holds.
#[derive(Debug, Clone)]
pub struct Delivery<E> {
    pub message: Message,
    pub event: E,
}

/// What a handler may use beside its own parts: the pipeline's context,
/// the worker's configuration, and when the batch must be done.
pub struct Scope<'a> {
    pub ctx: &'a Context,
    pub config: &'a WorkerConfig,
    /// An invocation's end, if the batch has one.
    pub deadline: Option<Instant>,
}

impl Scope<'_> {
    /// How store calls are retried while they fail transiently.
    pub fn store_backoff(&self) -> Backoff {
        Backoff {
            attempts: self.config.store_attempts,
            first_delay: self.config.retry_backoff,
        }
    }
}

/// What became of one message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Done: deleted (when the worker deletes).
    Finished,
    /// Not done, for `why` (logged, recorded, reported failed); it comes
    /// back as `then` says.
    Left { why: String, then: Then },
}

/// When a message left unfinished comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// After [`hand_back`]'s wait, growing with its receives: a store that
    /// cannot serve it now may at the next.
    HandBack,
    /// After this long (a claim held elsewhere is looked at again soon).
    After(Duration),
    /// When its visibility timeout runs out, as the queue has it.
    AsIs,
}

impl Fate {
    pub fn hand_back(why: impl Into<String>) -> Fate {
        Fate::Left {
            why: why.into(),
            then: Then::HandBack,
        }
    }

    pub fn left(why: impl Into<String>) -> Fate {
        Fate::Left {
            why: why.into(),
            then: Then::AsIs,
        }
    }
}

/// What a consumer does with a decoded batch.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// What each message's body holds.
    type Event: DeserializeOwned + Send + Sync;
    /// The event's name, for logs and the failure log.
    const EVENT: &'static str;

    /// Handles a batch (never empty); answers one fate per delivery, in
    /// order. A message it does not answer for is left as it is.
    async fn handle(&self, batch: &[Delivery<Self::Event>], scope: &Scope<'_>) -> Vec<Fate>;
}

/// What became of a batch: the ids of messages that were not finished (left
/// for redelivery). A Lambda handler reports exactly these as
/// `batchItemFailures`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub failed_message_ids: Vec<String>,
}

/// The first pause after a failed receive; it doubles up to
/// [`MAX_RECEIVE_BACKOFF`], and a receive that answers resets it.
const FIRST_RECEIVE_BACKOFF: Duration = Duration::from_millis(50);
const MAX_RECEIVE_BACKOFF: Duration = Duration::from_secs(2);

/// A queue consumer: its input queue, and what it does with each batch.
pub struct Consumer<H> {
    queue: Arc<dyn QueueBackend>,
    ctx: Context,
    config: WorkerConfig,
    handler: Arc<H>,
}

impl<H> Clone for Consumer<H> {
    fn clone(&self) -> Self {
        Consumer {
            queue: self.queue.clone(),
            ctx: self.ctx.clone(),
            config: self.config.clone(),
            handler: self.handler.clone(),
        }
    }
}

impl<H: Handler> Consumer<H> {
    /// A consumer of `queue` (which it receives from, deletes on and hands
    /// messages back to) that gives each batch to `handler`.
    pub fn over(
        queue: Arc<dyn QueueBackend>,
        ctx: Context,
        config: WorkerConfig,
        handler: H,
    ) -> Self {
        Consumer {
            queue,
            ctx,
            config,
            handler: Arc::new(handler),
        }
    }

    /// Receives and handles batches until shutdown.
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut backoff = FIRST_RECEIVE_BACKOFF;
        while !shutdown.is_fired() {
            let received = tokio::select! {
                r = self.queue.receive(MAX_BATCH, self.config.wait) => r,
                _ = shutdown.fired() => break,
            };
            match received {
                Ok(mut messages) => {
                    backoff = FIRST_RECEIVE_BACKOFF;
                    if messages.is_empty() {
                        continue;
                    }
                    top_up(&*self.queue, &mut messages, self.config.max_batch).await;
                    self.process(messages).await;
                }
                Err(e) => {
                    tracing::warn!(queue = self.queue.name(), error = %e, "receive failed; trying again");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.fired() => break,
                    }
                    backoff = (backoff * 2).min(MAX_RECEIVE_BACKOFF);
                }
            }
        }
    }

    /// Handles one delivered batch. Never panics of its own and never loses
    /// a message: whatever is not finished stays on the queue.
    pub async fn process(&self, messages: Vec<Message>) -> BatchReport {
        self.process_by(messages, None).await
    }

    /// [`Consumer::process`], done by `deadline` (an invocation's end) as
    /// far as the handler can tell.
    pub async fn process_by(
        &self,
        messages: Vec<Message>,
        deadline: Option<Instant>,
    ) -> BatchReport {
        let mut report = BatchReport::default();
        let batch = self.decode(messages, &mut report).await;
        if batch.is_empty() {
            return report;
        }
        let scope = Scope {
            ctx: &self.ctx,
            config: &self.config,
            deadline,
        };
        let fates = self.handler.handle(&batch, &scope).await;
        let mut fates = fates.into_iter();
        let mut finished = Vec::with_capacity(batch.len());
        for Delivery { message, .. } in batch {
            match fates
                .next()
                .unwrap_or_else(|| Fate::left("the handler gave no answer"))
            {
                Fate::Finished => finished.push(message),
                Fate::Left { why, then } => self.leave(message, &why, then, &mut report).await,
            }
        }
        if self.config.delete_messages {
            self.delete(finished, &mut report).await;
        }
        report
    }

    /// The batch's events; an undecodable message is made visible again at
    /// once (so it reaches the DLQ after its last receive) and reported.
    async fn decode(
        &self,
        messages: Vec<Message>,
        report: &mut BatchReport,
    ) -> Vec<Delivery<H::Event>> {
        let mut batch = Vec::with_capacity(messages.len());
        for message in messages {
            match serde_json::from_str::<H::Event>(&message.body) {
                Ok(event) => batch.push(Delivery { message, event }),
                Err(error) => {
                    self.ctx.metrics.poison_messages.inc();
                    tracing::error!(
                        message_id = %message.message_id, receive_count = message.receive_count, %error,
                        "undecodable {}; it will reach the DLQ after its last receive", H::EVENT
                    );
                    let why = format!("undecodable {}: {error}", H::EVENT);
                    self.ctx.failures.record(&message.message_id, why);
                    let _ = self
                        .queue
                        .change_visibility(&message.receipt_handle, Duration::ZERO)
                        .await;
                    report.failed_message_ids.push(message.message_id);
                }
            }
        }
        batch
    }

    /// Reports `message` unfinished for `why`, and makes it visible again
    /// when `then` says rather than after the queue's whole visibility
    /// timeout.
    async fn leave(&self, message: Message, why: &str, then: Then, report: &mut BatchReport) {
        tracing::warn!(message_id = %message.message_id, error = %why, "{} not finished; the message will come back", H::EVENT);
        self.ctx.failures.record(&message.message_id, why);
        let after = match then {
            Then::HandBack => Some(hand_back(self.config.retry_after, message.receive_count)),
            Then::After(after) => Some(after),
            Then::AsIs => None,
        };
        if let Some(after) = after {
            let _ = self
                .queue
                .change_visibility(&message.receipt_handle, after)
                .await;
        }
        report.failed_message_ids.push(message.message_id);
    }

    /// Deletes the finished messages, [`MAX_BATCH`] to a call, the calls at
    /// once: a batch of 200 waits for one call's latency, not twenty.
    async fn delete(&self, finished: Vec<Message>, report: &mut BatchReport) {
        let calls = finished.chunks(MAX_BATCH).map(|chunk| async move {
            let handles: Vec<&str> = chunk.iter().map(|m| m.receipt_handle.as_str()).collect();
            chunk.iter().zip(self.queue.delete_batch(&handles).await)
        });
        for (message, result) in futures::future::join_all(calls).await.into_iter().flatten() {
            if let Err(e) = result {
                // Left as is: it comes back, and is answered from the store.
                self.leave(message.clone(), &format!("delete: {e}"), Then::AsIs, report)
                    .await;
            }
        }
    }
}
