//! The queue functions' handlers: an SQS batch in, a [`BatchResponse`] out
//! that lists only the messages that failed (`ReportBatchItemFailures`), so
//! one bad message does not bring nine good ones back.

use std::time::Duration;

use engine::notifier::NotificationWorker;
use engine::processor::Processor;
use engine::queue::Message;

pub use aws_lambda_events::event::sqs::{SqsBatchResponse as BatchResponse, SqsEvent, SqsMessage};

/// The messages of an SQS event, as the queue backends deliver them.
pub fn messages(event: SqsEvent) -> Vec<Message> {
    event
        .records
        .into_iter()
        .map(|r| Message {
            receive_count: r
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1),
            message_id: r.message_id.unwrap_or_default(),
            receipt_handle: r.receipt_handle.unwrap_or_default(),
            body: r.body.unwrap_or_default(),
        })
        .collect()
}

fn batch_response(failed: Vec<String>) -> BatchResponse {
    let mut response = BatchResponse::default();
    for id in failed {
        response.add_failure(id);
    }
    response
}

/// The processor function: one SQS batch of `OrderCreated`, done by the
/// invocation's `deadline` ([`Processor::process_by`]).
pub async fn handle_orders(
    processor: &Processor,
    event: SqsEvent,
    deadline: Option<tokio::time::Instant>,
) -> BatchResponse {
    batch_response(
        processor
            .process_by(messages(event), deadline)
            .await
            .failed_message_ids,
    )
}

/// When an invocation must be done, from the Lambda context's deadline
/// (milliseconds since the Unix epoch).
pub fn invocation_deadline(deadline_ms: u64) -> tokio::time::Instant {
    let deadline = std::time::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = deadline
        .duration_since(std::time::SystemTime::now())
        .unwrap_or(Duration::ZERO);
    tokio::time::Instant::now() + left
}

/// The notifier function: one SQS batch of `OrderProcessed`.
pub async fn handle_processed(worker: &NotificationWorker, event: SqsEvent) -> BatchResponse {
    batch_response(worker.process(messages(event)).await.failed_message_ids)
}
