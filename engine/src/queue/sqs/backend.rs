//! The [`QueueBackend`] methods over SQS, and the receive they share with
//! `peek` (which SQS does not have: it receives, then makes visible again).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};

use super::SqsQueue;
use crate::queue::{Message, QueueBackend, QueueDepth, QueueError, MAX_BATCH};

impl SqsQueue {
    async fn receive_with(
        &self,
        max: usize,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<Message>, QueueError> {
        if max > MAX_BATCH {
            return Err(QueueError::BatchTooLarge(max));
        }
        // SQS long-polls in whole seconds, up to 20; round up so a short wait
        // is still a long poll and not a busy loop.
        let wait_secs = wait.as_millis().div_ceil(1000).min(20) as i32;
        let mut req = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.max(1) as i32)
            .wait_time_seconds(wait_secs)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount);
        if let Some(v) = visibility {
            req = req.visibility_timeout(v.as_secs() as i32);
        }
        let out = req.send().await.map_err(|e| self.failed(e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let receive_count = m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                Message {
                    message_id: m.message_id.unwrap_or_default(),
                    receipt_handle: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    receive_count,
                }
            })
            .collect())
    }
}

#[async_trait]
impl QueueBackend for SqsQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, body: String) -> Result<String, QueueError> {
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| self.failed(e))?;
        Ok(out.message_id.unwrap_or_default())
    }

    async fn send_batch(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        if bodies.len() > MAX_BATCH {
            return Err(QueueError::BatchTooLarge(bodies.len()));
        }
        if bodies.is_empty() {
            return Ok(());
        }
        let mut entries = Vec::with_capacity(bodies.len());
        for (i, body) in bodies.into_iter().enumerate() {
            let entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .build()
                .map_err(|e| self.permanent(e))?;
            entries.push(entry);
        }
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| self.failed(e))?;
        // A partial failure is a failure: the caller sends the batch again,
        // and the consumers' idempotency absorbs the copies.
        match out.failed.first() {
            Some(f) => Err(self.unavailable(format!(
                "{} of the batch failed, first: {} {}",
                out.failed.len(),
                f.code,
                f.message.as_deref().unwrap_or("")
            ))),
            None => Ok(()),
        }
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, QueueError> {
        self.receive_with(max, wait, None).await
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        match self
            .client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ReceiptHandleIsInvalid") => {
                Err(QueueError::InvalidReceipt(receipt_handle.to_owned()))
            }
            Err(e) => Err(self.failed(e)),
        }
    }

    async fn delete_batch(&self, receipt_handles: &[&str]) -> Vec<Result<(), QueueError>> {
        if receipt_handles.len() > MAX_BATCH {
            let error = QueueError::BatchTooLarge(receipt_handles.len());
            return vec![Err(error); receipt_handles.len()];
        }
        if receipt_handles.is_empty() {
            return Vec::new();
        }
        let mut entries = Vec::with_capacity(receipt_handles.len());
        for (i, handle) in receipt_handles.iter().enumerate() {
            match DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(*handle)
                .build()
            {
                Ok(entry) => entries.push(entry),
                Err(e) => return vec![Err(self.permanent(e)); receipt_handles.len()],
            }
        }
        let out = match self
            .client
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let error = self.failed(e);
                return vec![Err(error); receipt_handles.len()];
            }
        };
        let mut results: Vec<Result<(), QueueError>> = vec![Ok(()); receipt_handles.len()];
        for f in out.failed {
            let Some(i) = f.id.parse::<usize>().ok().filter(|i| *i < results.len()) else {
                continue;
            };
            results[i] = Err(if f.code == "ReceiptHandleIsInvalid" {
                QueueError::InvalidReceipt(receipt_handles[i].to_owned())
            } else {
                self.unavailable(format!("{} {}", f.code, f.message.as_deref().unwrap_or("")))
            });
        }
        results
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        match self
            .client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(timeout.as_secs() as i32)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.code(),
                    Some("ReceiptHandleIsInvalid" | "MessageNotInflight")
                ) =>
            {
                Err(QueueError::InvalidReceipt(receipt_handle.to_owned()))
            }
            Err(e) => Err(self.failed(e)),
        }
    }

    /// SQS cannot look without receiving, so this receives what is visible
    /// (hiding it for a minute so a second page does not repeat the first),
    /// then makes every message visible again at once. Each message peeked
    /// counts one receive; on a DLQ, which has no redrive policy, that
    /// changes nothing. Messages in flight elsewhere are not seen.
    async fn peek(&self, max: usize) -> Result<Vec<Message>, QueueError> {
        let mut seen: HashMap<String, Message> = HashMap::new();
        let mut order = Vec::new();
        while seen.len() < max {
            let page = self
                .receive_with(
                    MAX_BATCH.min(max - seen.len()),
                    Duration::ZERO,
                    Some(Duration::from_secs(60)),
                )
                .await?;
            if page.is_empty() {
                break;
            }
            for m in page {
                if !seen.contains_key(&m.message_id) {
                    order.push(m.message_id.clone());
                    seen.insert(m.message_id.clone(), m);
                }
            }
        }
        let mut out = Vec::with_capacity(order.len());
        for id in order {
            if let Some(mut m) = seen.remove(&id) {
                let _ = self
                    .change_visibility(&m.receipt_handle, Duration::ZERO)
                    .await;
                m.receipt_handle.clear();
                out.push(m);
            }
        }
        Ok(out)
    }

    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| self.failed(e))?;
        let attrs = out.attributes.unwrap_or_default();
        let get = |k: QueueAttributeName| attrs.get(&k).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(QueueDepth {
            visible: get(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        })
    }
}
