//! The processor: consumes `OrderCreated`, applies each batch through the
//! store (locks, all-or-nothing decrement, `PROCESSED` or `FAILED`), publishes
//! `OrderProcessed`, and only then deletes the messages.
//!
//! Why this order is safe: a crash before the commit leaves the messages to
//! come back; a crash after the commit but before the publish or the delete
//! brings them back too, and the store answers them with the recorded outcome
//! (never applying them twice), which is then published again. A message
//! that cannot be decoded is made visible again at once, so it reaches the
//! DLQ after its receives run out instead of blocking anything.
//!
//! A batch given a deadline (a Lambda invocation's, less a margin for the
//! publish and the delete) stops waiting on the store when it comes: its
//! orders are reported unfinished and made visible again after a short
//! wait, as are orders whose store errors stayed transient through every
//! retry, instead of the whole batch returning only after the visibility
//! timeout (and an invocation killed mid-batch).

use std::sync::Arc;
use std::time::Duration;

use crate::context::Context;
use crate::domain::OrderStatus;
use crate::events::OrderCreated;
use crate::queue::{top_up, Message, QueueBackend, QueueError, MAX_BATCH};
use crate::retry::{retry, Backoff};
use crate::shutdown::Shutdown;
use crate::store::{Applied, StoreError};

#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    /// Long-poll wait of each receive.
    pub wait: Duration,
    /// How often a batch is tried when the store fails transiently, before
    /// its messages are left to be redelivered.
    pub store_attempts: u32,
    /// First retry delay; doubles each attempt.
    pub retry_backoff: Duration,
    /// Delete each finished message. On Lambda the event source mapping
    /// deletes what the batch response does not list as failed.
    pub delete_messages: bool,
    /// Most orders applied in one transaction: a received batch of 10 is
    /// topped up from the queue while messages are waiting.
    pub max_batch: usize,
    /// When orders left unfinished by a transient failure or the deadline
    /// come back after their first receive; each later receive waits three
    /// times longer ([`hand_back`]).
    pub retry_after: Duration,
    /// Time kept back from a deadline for publishing and deleting.
    pub deadline_margin: Duration,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            wait: Duration::from_millis(200),
            store_attempts: 5,
            retry_backoff: Duration::from_millis(20),
            delete_messages: true,
            max_batch: 200,
            retry_after: Duration::from_secs(5),
            deadline_margin: Duration::from_secs(3),
        }
    }
}

#[derive(Clone)]
pub struct Processor {
    orders: Arc<dyn QueueBackend>,
    processed: Arc<dyn QueueBackend>,
    ctx: Context,
    config: ProcessorConfig,
}

/// What became of a batch: the ids of messages that were not finished (left
/// for redelivery). A Lambda handler reports exactly these as
/// `batchItemFailures`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub failed_message_ids: Vec<String>,
}

/// The longest visibility SQS allows a message (12 hours).
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

/// How long an order left unfinished on its `receive_count`th receive stays
/// invisible: `base` after the first, three times longer after each later
/// one (5, 15, 45, 135 s from the 5 s default), at most SQS's 12 hours. A
/// brief failure costs an order seconds; a long one does not use up its
/// receives: with `maxReceiveCount` 5 an order is handed back four times,
/// 200 s in all, before its last receive, so a Multi-AZ failover (60-120 s,
/// RDS User Guide) sends nothing to the DLQ.
pub fn hand_back(base: Duration, receive_count: u32) -> Duration {
    let grown = 3u32.saturating_pow(receive_count.saturating_sub(1).min(20));
    base.saturating_mul(grown).min(MAX_VISIBILITY)
}

/// Decodes an `OrderCreated`: its type holds the order's rules, so a body
/// that breaks them does not decode.
pub fn decode_order_created(body: &str) -> Result<OrderCreated, serde_json::Error> {
    serde_json::from_str(body)
}

impl Processor {
    pub fn new(
        orders: Arc<dyn QueueBackend>,
        processed: Arc<dyn QueueBackend>,
        ctx: Context,
        config: ProcessorConfig,
    ) -> Self {
        Processor {
            orders,
            processed,
            ctx,
            config,
        }
    }

    /// Receives and processes batches until shutdown.
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut idle_backoff = Duration::from_millis(50);
        while !shutdown.is_fired() {
            let received = tokio::select! {
                r = self.orders.receive(MAX_BATCH, self.config.wait) => r,
                _ = shutdown.fired() => break,
            };
            match received {
                Ok(messages) if messages.is_empty() => {}
                Ok(mut messages) => {
                    // Many orders in one transaction: one lock round, one commit.
                    top_up(&*self.orders, &mut messages, self.config.max_batch).await;
                    self.process(messages).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "receive from the order queue failed");
                    tokio::time::sleep(idle_backoff).await;
                    idle_backoff = (idle_backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            }
            idle_backoff = Duration::from_millis(50);
        }
    }

    /// Processes one delivered batch (see the module doc for the order of
    /// steps). Never panics and never loses a message: whatever is not
    /// finished stays on the queue.
    pub async fn process(&self, messages: Vec<Message>) -> BatchReport {
        self.process_by(messages, None).await
    }

    /// [`Processor::process`], done by `deadline` (an invocation's end):
    /// the store is given until the deadline less
    /// [`ProcessorConfig::deadline_margin`], and what it has not applied
    /// by then is reported unfinished and comes back after
    /// [`ProcessorConfig::retry_after`].
    pub async fn process_by(
        &self,
        messages: Vec<Message>,
        deadline: Option<tokio::time::Instant>,
    ) -> BatchReport {
        let mut report = BatchReport::default();
        let decoded = self.decode(messages, &mut report).await;
        if decoded.is_empty() {
            return report;
        }
        let events: Vec<OrderCreated> = decoded.iter().map(|(_, e)| e.clone()).collect();
        self.ctx.metrics.batches.inc();
        let outcomes = match deadline {
            None => Some(self.apply(&events).await),
            Some(deadline) => {
                let by = deadline
                    .checked_sub(self.config.deadline_margin)
                    .unwrap_or(deadline);
                tokio::time::timeout_at(by, self.apply(&events)).await.ok()
            }
        };
        let Some(outcomes) = outcomes else {
            tracing::warn!(
                orders = decoded.len(),
                "the invocation's deadline came before the store answered; the batch comes back"
            );
            for (message, _) in decoded {
                self.retry_later(
                    message,
                    "the invocation's deadline came before the store answered",
                    &mut report,
                )
                .await;
            }
            return report;
        };

        let mut done: Vec<(Message, Applied)> = Vec::with_capacity(decoded.len());
        for ((message, _), outcome) in decoded.into_iter().zip(outcomes) {
            match outcome {
                Ok(applied) => {
                    self.count(&applied);
                    done.push((message, applied));
                }
                Err(e) if e.is_transient() => {
                    self.retry_later(message, &e.to_string(), &mut report).await;
                }
                Err(e) => {
                    self.ctx.failures.record(&message.message_id, &e);
                    report.failed_message_ids.push(message.message_id);
                }
            }
        }
        // Each chunk's publish (and delete) is one SQS call: they go out at
        // once, so a batch of 200 waits for one call's latency, not twenty.
        let finished = done.chunks(MAX_BATCH).map(|chunk| self.finish(chunk));
        for result in futures::future::join_all(finished).await {
            if let Err((failed, e)) = result {
                for message in failed {
                    tracing::warn!(message_id = %message.message_id, error = %e, "not finished; the message will come back");
                    self.ctx.failures.record(&message.message_id, e.to_string());
                    report.failed_message_ids.push(message.message_id.clone());
                }
            }
        }
        report
    }

    /// Reports `message` unfinished for `why`, and makes it visible again
    /// after [`hand_back`]'s wait rather than the queue's whole visibility
    /// timeout.
    async fn retry_later(&self, message: Message, why: &str, report: &mut BatchReport) {
        self.ctx.failures.record(&message.message_id, why);
        let after = hand_back(self.config.retry_after, message.receive_count);
        let _ = self
            .orders
            .change_visibility(&message.receipt_handle, after)
            .await;
        report.failed_message_ids.push(message.message_id);
    }

    /// The batch's orders; an undecodable message is made visible again at
    /// once (so it reaches the DLQ after its last receive) and reported.
    async fn decode(
        &self,
        messages: Vec<Message>,
        report: &mut BatchReport,
    ) -> Vec<(Message, OrderCreated)> {
        let mut decoded = Vec::with_capacity(messages.len());
        for m in messages {
            match decode_order_created(&m.body) {
                Ok(event) => decoded.push((m, event)),
                Err(error) => {
                    self.ctx.metrics.poison_messages.inc();
                    tracing::error!(
                        message_id = %m.message_id, receive_count = m.receive_count, %error,
                        "undecodable OrderCreated; it will reach the DLQ after its last receive"
                    );
                    self.ctx
                        .failures
                        .record(&m.message_id, format!("undecodable OrderCreated: {error}"));
                    let _ = self
                        .orders
                        .change_visibility(&m.receipt_handle, Duration::ZERO)
                        .await;
                    report.failed_message_ids.push(m.message_id);
                }
            }
        }
        decoded
    }

    /// Applies the batch, answering one outcome per order. A batch that
    /// fails for good may hold one order the database refuses: its orders
    /// are then applied one by one, so only that one waits.
    async fn apply(&self, events: &[OrderCreated]) -> Vec<Result<Applied, StoreError>> {
        match self.apply_with_retry(events).await {
            Ok(applied) => applied.into_iter().map(Ok).collect(),
            Err(e) if !e.is_transient() && events.len() > 1 => {
                tracing::warn!(error = %e, "batch failed; applying its orders one by one");
                let mut each = Vec::with_capacity(events.len());
                for event in events {
                    let one = self.apply_with_retry(std::slice::from_ref(event)).await;
                    each.push(one.and_then(|mut a| {
                        a.pop().ok_or(StoreError::Internal(
                            "an order applied without an outcome".into(),
                        ))
                    }));
                }
                each
            }
            Err(e) => {
                tracing::error!(error = %e, orders = events.len(), "batch left for redelivery");
                vec![Err(e); events.len()]
            }
        }
    }

    async fn apply_with_retry(&self, events: &[OrderCreated]) -> Result<Vec<Applied>, StoreError> {
        let policy = Backoff {
            attempts: self.config.store_attempts,
            first_delay: self.config.retry_backoff,
        };
        let on_retry = |e: &StoreError, attempt| {
            self.ctx.metrics.store_retries.inc();
            tracing::warn!(error = %e, attempt, "transient store error; retrying the batch");
        };
        retry(policy, StoreError::is_transient, on_retry, || {
            self.ctx.store.apply(events)
        })
        .await
    }

    fn count(&self, applied: &Applied) {
        let m = &self.ctx.metrics;
        match (applied.first_time, applied.status) {
            (false, _) => m.duplicate_deliveries.inc(),
            (true, OrderStatus::Failed) => m.failed.inc(),
            (true, _) => m.processed.inc(),
        };
    }

    /// Publishes the outcomes of up to [`MAX_BATCH`] orders in one call,
    /// then deletes their messages in one call. Answers the messages not
    /// finished (they come back and are answered from the store) and why.
    async fn finish<'a>(
        &self,
        chunk: &'a [(Message, Applied)],
    ) -> Result<(), (Vec<&'a Message>, Unfinished)> {
        let all = || chunk.iter().map(|(m, _)| m).collect::<Vec<_>>();
        let events = chunk
            .iter()
            .map(|(_, applied)| serde_json::to_string(&applied.event()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| (all(), Unfinished::Encode(e)))?;
        self.processed
            .send_batch(events)
            .await
            .map_err(|e| (all(), Unfinished::Publish(e)))?;
        if !self.config.delete_messages {
            return Ok(());
        }
        let handles: Vec<&str> = chunk
            .iter()
            .map(|(m, _)| m.receipt_handle.as_str())
            .collect();
        let results = self.orders.delete_batch(&handles).await;
        let mut failed = Vec::new();
        let mut why = None;
        for ((message, _), result) in chunk.iter().zip(results) {
            if let Err(e) = result {
                why = Some(Unfinished::Delete(e));
                failed.push(message);
            }
        }
        match why {
            None => Ok(()),
            Some(why) => Err((failed, why)),
        }
    }
}
/// Why an applied order's message was not finished (its outcome published
/// and its message deleted): it comes back, and is answered from the store.
#[derive(Debug, thiserror::Error)]
enum Unfinished {
    #[error("encoding OrderProcessed: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("publish: {0}")]
    Publish(#[source] QueueError),
    #[error("delete: {0}")]
    Delete(#[source] QueueError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unfinished_order_waits_longer_at_each_receive_and_outlasts_a_failover() {
        let base = Duration::from_secs(5);
        let waits: Vec<u64> = (1..=5).map(|n| hand_back(base, n).as_secs()).collect();
        assert_eq!(waits, [5, 15, 45, 135, 405]);
        // With maxReceiveCount 5 an order is handed back after receives 1-4
        // before its last: a 120 s failover (and the attempts inside it)
        // ends well before.
        let before_last: u64 = waits[..4].iter().sum();
        assert!(before_last >= 200, "{before_last}");
        assert_eq!(hand_back(base, 0), base, "a count SQS did not give");
        assert_eq!(
            hand_back(base, 40),
            Duration::from_secs(12 * 3600),
            "SQS's limit"
        );
    }
}
