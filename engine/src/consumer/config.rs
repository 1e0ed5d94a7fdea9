//! How a consumer works ([`WorkerConfig`]), one type for both, and how long
//! a message it hands back stays away ([`hand_back`]).

use std::time::Duration;

/// Most messages the notifier handles in one batch (one claim transaction,
/// one confirmation).
pub const MAX_NOTIFY_BATCH: usize = 200;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Long-poll wait of each receive.
    pub wait: Duration,
    /// Most messages handled as one batch: a received batch of 10 is
    /// topped up from the queue while messages are waiting.
    pub max_batch: usize,
    /// Delete each finished message. On Lambda the event source mapping
    /// deletes what the batch response does not list as failed.
    pub delete_messages: bool,
    /// When messages handed back ([`crate::consumer::Then::HandBack`]) come
    /// back after their first receive; each later receive waits three
    /// times longer ([`hand_back`]).
    pub retry_after: Duration,
    /// How often a store call is tried while it fails transiently, before
    /// its messages are left to be redelivered.
    pub store_attempts: u32,
    /// First retry delay of a store call; doubles each attempt.
    pub retry_backoff: Duration,
    /// Time kept back from a deadline for publishing and deleting.
    pub deadline_margin: Duration,
}

/// The processor's.
impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            wait: Duration::from_millis(200),
            max_batch: 200,
            delete_messages: true,
            retry_after: Duration::from_secs(5),
            store_attempts: 5,
            retry_backoff: Duration::from_millis(20),
            deadline_margin: Duration::from_secs(3),
        }
    }
}

impl WorkerConfig {
    /// The notifier's: its store calls are short (a claim, a confirmation),
    /// so they are tried again sooner; a confirmation lost to a dropped
    /// connection would otherwise repeat the whole batch's notifications.
    pub fn notifier() -> Self {
        WorkerConfig {
            max_batch: MAX_NOTIFY_BATCH,
            retry_backoff: Duration::from_millis(10),
            ..WorkerConfig::default()
        }
    }

    /// Hands messages back no later, at their first receive, than the
    /// queue's own `visibility_timeout` would bring them back.
    pub fn within(self, visibility_timeout: Duration) -> Self {
        WorkerConfig {
            retry_after: self.retry_after.min(visibility_timeout),
            ..self
        }
    }

    /// Leaves deleting to the caller (Lambda's event source mapping).
    pub fn without_deletes(self) -> Self {
        WorkerConfig {
            delete_messages: false,
            ..self
        }
    }
}

/// The longest visibility SQS allows a message (12 hours).
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

/// How long a message handed back on its `receive_count`th receive stays
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
