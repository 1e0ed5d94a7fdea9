//! Dead-letter queues: what is in them, why, and sending it back.
//!
//! Consumers record the last error they met for each message in a
//! [`FailureLog`]; a DLQ listing shows it beside each message. A redrive sends
//! each dead letter back to its source queue and only then deletes it, so a
//! crash mid-redrive duplicates a message (which the processor's idempotency
//! absorbs) and never loses one.

use std::collections::{HashMap, VecDeque};
use std::fmt::Display;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use crate::queue::{QueueBackend, QueueError, MAX_BATCH};

/// A source queue and its dead-letter queue, if it has one.
#[derive(Clone)]
pub struct DeadLetterQueue {
    /// The source queue's name (`orders`, `processed`).
    pub name: String,
    /// `None` for a queue without a redrive policy (see
    /// [`crate::queues::NO_DLQ`]): nothing is ever set aside from it.
    pub dlq: Option<Arc<dyn QueueBackend>>,
    pub source: Arc<dyn QueueBackend>,
}

/// A message in a DLQ.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadLetter {
    /// The queue it failed on (`orders` or `processed`).
    pub queue: String,
    pub message_id: String,
    /// Receives before it was moved.
    pub receive_count: u32,
    /// The last error a consumer of this process met with it, if known.
    pub last_error: Option<String>,
    pub body: String,
}

/// The last error seen per message id, for the newest 10,000 messages.
#[derive(Default)]
pub struct FailureLog {
    inner: Mutex<(HashMap<String, String>, VecDeque<String>)>,
}

const FAILURE_LOG_CAP: usize = 10_000;

impl FailureLog {
    pub fn record(&self, message_id: &str, error: impl Display) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (errors, order) = &mut *guard;
        if errors
            .insert(message_id.to_owned(), error.to_string())
            .is_none()
        {
            order.push_back(message_id.to_owned());
            if order.len() > FAILURE_LOG_CAP {
                if let Some(oldest) = order.pop_front() {
                    errors.remove(&oldest);
                }
            }
        }
    }

    pub fn last(&self, message_id: &str) -> Option<String> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .get(message_id)
            .cloned()
    }
}

/// Up to `max` messages of a DLQ, oldest first; none for a queue without
/// one.
pub async fn list(
    q: &DeadLetterQueue,
    failures: &FailureLog,
    max: usize,
) -> Result<Vec<DeadLetter>, QueueError> {
    let Some(dlq) = &q.dlq else {
        return Ok(Vec::new());
    };
    Ok(dlq
        .peek(max)
        .await?
        .into_iter()
        .map(|m| DeadLetter {
            queue: q.name.clone(),
            last_error: failures.last(&m.message_id),
            message_id: m.message_id,
            receive_count: m.receive_count,
            body: m.body,
        })
        .collect())
}

/// Moves up to `max` messages from the DLQ back to its source queue;
/// answers how many moved (none for a queue without a DLQ).
pub async fn redrive(q: &DeadLetterQueue, max: usize) -> Result<usize, QueueError> {
    let Some(dlq) = &q.dlq else {
        return Ok(0);
    };
    let mut moved = 0;
    while moved < max {
        let batch = dlq
            .receive(MAX_BATCH.min(max - moved), Duration::ZERO)
            .await?;
        if batch.is_empty() {
            break;
        }
        for m in batch {
            q.source.send(m.body).await?;
            dlq.delete(&m.receipt_handle).await?;
            moved += 1;
        }
    }
    Ok(moved)
}
