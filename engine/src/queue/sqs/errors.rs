//! Sorting a failed SQS call, once, where it is born: permanent (the queue
//! cannot be used as configured, so retrying cannot help) or transient (try
//! again), with the SDK's whole context kept as the error's message.

use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::queue::QueueError;

/// Error codes that say the queue cannot be used as configured (it does not
/// exist, or this process may not use it, or the request is malformed):
/// retrying cannot help. Everything else (throttling, a 5xx, a timeout, a
/// dropped connection) is transient.
const PERMANENT: &[&str] = &[
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "AccessDenied",
    "AccessDeniedException",
    "InvalidAddress",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidSecurity",
    "SignatureDoesNotMatch",
    "KMS.AccessDeniedException",
    "KmsAccessDenied",
    "InvalidParameterValue",
    "UnsupportedOperation",
];

/// Sorts a failed SQS call into permanent (the queue cannot be used) or
/// transient (try again).
pub fn classify<E, R>(queue: &str, e: SdkError<E, R>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let permanent = matches!(e, SdkError::ConstructionFailure(_))
        || e.code().is_some_and(|c| PERMANENT.contains(&c));
    let cause = SdkFailure {
        context: DisplayErrorContext(&e).to_string(),
        error: Box::new(e),
    };
    match permanent {
        true => QueueError::permanent(queue, cause),
        false => QueueError::unavailable(queue, cause),
    }
}

/// A failed SDK call: the SDK's error as the source, and the whole of its
/// context (code, message, request id) as what it says; the SDK's own
/// Display says only "service error".
#[derive(Debug)]
struct SdkFailure {
    context: String,
    error: Box<dyn std::error::Error + Send + Sync>,
}

impl std::fmt::Display for SdkFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.context)
    }
}

impl std::error::Error for SdkFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.error)
    }
}
