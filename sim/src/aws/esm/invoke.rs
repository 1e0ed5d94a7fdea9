//! How a running mapping invokes a batch and settles it: the invoke and its
//! throttle retries, a failed or timed-out invocation left on the queue,
//! the deletes of what the response did not list as failed, and the SQS
//! event Lambda would deliver ([`event`]). Apart from the gathering
//! ([`super::poll`]): this is where the function's answer is read.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use engine::queue::{Message, MAX_BATCH};
use orderflow_lambda::{BatchResponse, SqsEvent};
use tokio::time::Instant;

use super::super::function::InvokeError;
use super::{Batch, Mapping};

impl Mapping {
    pub(super) async fn invoke(
        &self,
        Batch {
            messages: batch,
            received,
        }: Batch,
    ) {
        let s = &self.stats;
        s.batches.fetch_add(1, Ordering::Relaxed);
        s.messages.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let event = event(self.queue.name(), &batch);
        // The batch's messages come back once their visibility timeout, from
        // their receive, ends; a throttled invoke is tried again until then
        // (less a back-off).
        let visible_again = received + self.settings.visibility;
        let mut backoff = self.settings.backoff_first;
        loop {
            let handler = self.handler.clone();
            let event = event.clone();
            let answer = self.function.invoke(move |env| handler(env, event)).await;
            match answer {
                Ok(response) => return self.settle(batch, response).await,
                Err(InvokeError::Throttled) => {
                    s.throttled_invokes.fetch_add(1, Ordering::Relaxed);
                    self.step_back();
                    if Instant::now() + backoff >= visible_again {
                        s.throttled_batches.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.settings.backoff_max);
                }
                Err(InvokeError::InitFailed(e)) => {
                    s.init_failed_batches.fetch_add(1, Ordering::Relaxed);
                    self.back_off();
                    tracing::warn!(function = %self.function.name, error = %engine::report::error_chain(&*e), "init failed; the batch stays on the queue");
                    return;
                }
                Err(InvokeError::TimedOut) => {
                    s.timed_out_batches.fetch_add(1, Ordering::Relaxed);
                    self.back_off();
                    tracing::warn!(
                        function = %self.function.name,
                        "invocation timed out; the batch comes back after its visibility timeout"
                    );
                    return;
                }
            }
        }
    }

    /// Deletes what the response does not list as failed.
    async fn settle(&self, batch: Vec<Message>, response: BatchResponse) {
        let failed: HashSet<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        self.stats
            .item_failures
            .fetch_add(failed.len() as u64, Ordering::Relaxed);
        let done: Vec<&str> = batch
            .iter()
            .filter(|m| !failed.contains(&m.message_id))
            .map(|m| m.receipt_handle.as_str())
            .collect();
        // The chunks' DeleteMessageBatch calls go out at once.
        let deletes = done.chunks(MAX_BATCH).map(|c| self.queue.delete_batch(c));
        let failures = futures::future::join_all(deletes)
            .await
            .iter()
            .flatten()
            .filter(|r| r.is_err())
            .count();
        self.stats
            .delete_failures
            .fetch_add(failures as u64, Ordering::Relaxed);
    }
}

/// The SQS event Lambda would deliver for `batch`.
pub fn event(queue: &str, batch: &[Message]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for m in batch {
        let mut record = orderflow_lambda::SqsMessage::default();
        record.message_id = Some(m.message_id.clone());
        record.receipt_handle = Some(m.receipt_handle.clone());
        record.body = Some(m.body.clone());
        record.attributes.insert(
            "ApproximateReceiveCount".into(),
            m.receive_count.to_string(),
        );
        record.event_source = Some("aws:sqs".into());
        record.event_source_arn = Some(format!("arn:aws:sqs:local:000000000000:{queue}"));
        event.records.push(record);
    }
    event
}
