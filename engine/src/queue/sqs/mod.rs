//! The SQS backend, over `aws-sdk-sqs`. It speaks to AWS, or to any
//! SQS-compatible server named by the standard `AWS_ENDPOINT_URL_SQS` or
//! `AWS_ENDPOINT_URL` variables (moto's server, ElasticMQ, LocalStack).
//!
//! What SQS itself guarantees is what the trait promises; the two places the
//! API needs care are long polls (whole seconds, at most 20) and `peek`,
//! which SQS does not have (see [`SqsQueue::peek`]).
//!
//! Here are the client and the queue's own setup (creating a queue with its
//! dead-letter queue, finding that DLQ, checking it at start); the
//! [`QueueBackend`](super::QueueBackend) methods are in `backend`, and the
//! sorting of the SDK's errors into permanent and transient in `errors`.

use std::time::Duration;

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_sqs::Client;

use super::QueueError;

mod backend;
mod errors;

pub use errors::classify;

/// An SQS client configured from the environment (region, credentials,
/// endpoint overrides), as every AWS tool is.
pub async fn client() -> Client {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Client::new(&config)
}

#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
    name: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        let url = url.into();
        let name = url.rsplit('/').next().unwrap_or(&url).to_owned();
        SqsQueue { client, url, name }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Creates (or finds, if it exists with the same attributes) a queue
    /// named `name` and its dead-letter queue `name-dlq`, with a redrive
    /// policy after `max_receive_count` receives. Answers `(queue, dlq)`.
    pub async fn create_with_dlq(
        client: &Client,
        name: &str,
        visibility_timeout: Duration,
        max_receive_count: u32,
    ) -> Result<(SqsQueue, SqsQueue), QueueError> {
        let dlq_name = format!("{name}-dlq");
        let err = |e: String| QueueError::unavailable(name, e);
        let dlq_url = client
            .create_queue()
            .queue_name(&dlq_name)
            .send()
            .await
            .map_err(|e| classify(name, e))?
            .queue_url
            .ok_or_else(|| err("CreateQueue answered no URL".into()))?;
        let dlq_arn = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| classify(name, e))?
            .attributes
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .ok_or_else(|| err("the DLQ has no ARN".into()))?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": max_receive_count.to_string(),
        });
        let url = client
            .create_queue()
            .queue_name(name)
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility_timeout.as_secs().to_string(),
            )
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .send()
            .await
            .map_err(|e| classify(name, e))?
            .queue_url
            .ok_or_else(|| err("CreateQueue answered no URL".into()))?;
        Ok((
            SqsQueue::new(client.clone(), url),
            SqsQueue::new(client.clone(), dlq_url),
        ))
    }

    /// The dead-letter queue this queue's redrive policy names; `None` when
    /// it has no redrive policy.
    pub async fn dead_letter_queue(&self) -> Result<Option<SqsQueue>, QueueError> {
        let attrs = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| self.failed(e))?
            .attributes
            .unwrap_or_default();
        let Some(policy) = attrs.get(&QueueAttributeName::RedrivePolicy) else {
            return Ok(None);
        };
        let arn = serde_json::from_str::<serde_json::Value>(policy)
            .ok()
            .and_then(|p| p.get("deadLetterTargetArn")?.as_str().map(str::to_owned))
            .ok_or_else(|| self.unavailable(format!("unreadable redrive policy {policy}")))?;
        let name = arn.rsplit(':').next().unwrap_or(&arn);
        let url = self
            .client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| self.failed(e))?
            .queue_url
            .ok_or_else(|| self.unavailable("GetQueueUrl answered no URL"))?;
        Ok(Some(SqsQueue::new(self.client.clone(), url)))
    }

    fn unavailable(&self, e: impl std::fmt::Display) -> QueueError {
        QueueError::unavailable(&self.name, e.to_string())
    }

    fn permanent(&self, e: impl std::fmt::Display) -> QueueError {
        QueueError::permanent(&self.name, e.to_string())
    }

    /// A failed call, sorted: see [`classify`].
    fn failed<E, R>(&self, e: SdkError<E, R>) -> QueueError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        classify(&self.name, e)
    }

    /// Checks that the queue exists and may be read: a queue that does not
    /// is a permanent error, a clear failure at start rather than endless
    /// retries later.
    pub async fn check(&self) -> Result<(), QueueError> {
        self.client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| self.failed(e))?;
        Ok(())
    }
}
