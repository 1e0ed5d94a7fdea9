//! The pipeline's four queues (orders and processed, each with its DLQ) on
//! either backend, chosen by the configuration.

use std::sync::Arc;

use crate::config::{Config, QueueKind};
use crate::dlq::DeadLetterQueue;
use crate::queue::{ChannelQueue, QueueBackend, QueueConfig, QueueError};

/// The four queues, whatever their backend.
#[derive(Clone)]
pub struct Queues {
    pub orders: Arc<dyn QueueBackend>,
    /// `None`: the order queue has no DLQ (an SQS queue without a redrive
    /// policy, as the original deployment's processed queue).
    pub order_dlq: Option<Arc<dyn QueueBackend>>,
    pub processed: Arc<dyn QueueBackend>,
    pub processed_dlq: Option<Arc<dyn QueueBackend>>,
    /// The same queues as channel queues, when that is their backend.
    pub channel: Option<ChannelQueues>,
}

impl Queues {
    /// Opens the configured backend's queues: in-process channels, or SQS
    /// (the configured URLs, or queues created with their DLQs).
    pub async fn open(config: &Config) -> Result<Queues, QueueError> {
        match config.queue {
            QueueKind::Channel => Ok(Self::channel(config)),
            QueueKind::Sqs => sqs(config).await,
        }
    }

    pub fn channel(config: &Config) -> Queues {
        let c = ChannelQueues::new(config);
        Queues {
            orders: c.orders.clone(),
            order_dlq: Some(c.order_dlq.clone()),
            processed: c.processed.clone(),
            processed_dlq: Some(c.processed_dlq.clone()),
            channel: Some(c),
        }
    }

    /// Both source queues, each with its DLQ (if it has one) to list and
    /// redrive.
    pub fn dead_letters(&self) -> Vec<DeadLetterQueue> {
        vec![
            DeadLetterQueue {
                name: "orders".into(),
                dlq: self.order_dlq.clone(),
                source: self.orders.clone(),
            },
            DeadLetterQueue {
                name: "processed".into(),
                dlq: self.processed_dlq.clone(),
                source: self.processed.clone(),
            },
        ]
    }

    /// Every queue there is: the two source queues and the DLQs they have.
    pub fn all(&self) -> Vec<Arc<dyn QueueBackend>> {
        [
            Some(self.orders.clone()),
            self.order_dlq.clone(),
            Some(self.processed.clone()),
            self.processed_dlq.clone(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The source queues that have no DLQ, by name (`orders`, `processed`).
    pub fn without_dlq(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.order_dlq.is_none() {
            out.push("orders");
        }
        if self.processed_dlq.is_none() {
            out.push("processed");
        }
        out
    }
}

#[cfg(feature = "sqs")]
async fn sqs(config: &Config) -> Result<Queues, QueueError> {
    use crate::queue::sqs::{self, SqsQueue};
    let client = sqs::client().await;
    let checked = |q: &str| config.sqs_check_queues.iter().any(|c| c == q);
    let pair = |url: &Option<String>, dlq_url: &Option<String>, name: &str| {
        let client = client.clone();
        let (check, check_dlq) = match name {
            "orders" => (checked("orders"), checked("order-dlq")),
            _ => (checked("processed"), checked("processed-dlq")),
        };
        let (url, dlq_url, name) = (
            url.clone(),
            dlq_url.clone(),
            format!("{}-{name}", config.sqs_queue_prefix),
        );
        async move {
            match url {
                Some(url) => {
                    let queue = SqsQueue::new(client.clone(), url);
                    // Each call below fails for good on a queue that does not
                    // exist or may not be used: a clear failure at start.
                    // Only the queues the function uses are checked (its
                    // role may read no other).
                    let dlq = match dlq_url {
                        Some(u) => {
                            if check {
                                queue.check().await?;
                            }
                            let dlq = SqsQueue::new(client, u);
                            if check_dlq {
                                dlq.check().await?;
                            }
                            Some(dlq)
                        }
                        None => queue.dead_letter_queue().await?,
                    };
                    if dlq.is_none() {
                        tracing::warn!(
                            queue = %queue.url(),
                            "the queue has no dead-letter queue (no redrive policy): {NO_DLQ}"
                        );
                    }
                    Ok((queue, dlq))
                }
                None => SqsQueue::create_with_dlq(
                    &client,
                    &name,
                    config.visibility_timeout(),
                    config.max_receive_count,
                )
                .await
                .map(|(queue, dlq)| (queue, Some(dlq))),
            }
        }
    };
    let (orders, order_dlq) =
        pair(&config.order_queue_url, &config.order_dlq_url, "orders").await?;
    let (processed, processed_dlq) = pair(
        &config.processed_queue_url,
        &config.processed_dlq_url,
        "processed",
    )
    .await?;
    Ok(Queues {
        orders: Arc::new(orders),
        order_dlq: order_dlq.map(|q| Arc::new(q) as Arc<dyn QueueBackend>),
        processed: Arc::new(processed),
        processed_dlq: processed_dlq.map(|q| Arc::new(q) as Arc<dyn QueueBackend>),
        channel: None,
    })
}

/// What a queue without a DLQ means, for the warning at start and the DLQ
/// tooling.
pub const NO_DLQ: &str = "a message that keeps failing (a poison message) is received again \
after every visibility timeout, for as long as the queue keeps messages (its retention period, \
4 days unless set), and is never set aside to look at; give the queue a redrive policy to a DLQ \
to have one";

#[cfg(not(feature = "sqs"))]
async fn sqs(_: &Config) -> Result<Queues, QueueError> {
    Err(QueueError::permanent(
        "orders",
        "this build has no SQS backend (enable the engine's `sqs` feature)",
    ))
}

/// The in-process queues: orders and processed, each with its DLQ.
#[derive(Clone)]
pub struct ChannelQueues {
    pub orders: Arc<ChannelQueue>,
    pub order_dlq: Arc<ChannelQueue>,
    pub processed: Arc<ChannelQueue>,
    pub processed_dlq: Arc<ChannelQueue>,
}

impl ChannelQueues {
    pub fn new(config: &Config) -> Self {
        let dlq = |name: &str| {
            ChannelQueue::new(QueueConfig {
                capacity: usize::MAX,
                ..QueueConfig::new(name)
            })
        };
        let order_dlq = dlq("order-dlq");
        let processed_dlq = dlq("processed-dlq");
        let queue = |name: &str, capacity, dlq: &Arc<ChannelQueue>| {
            ChannelQueue::new(QueueConfig {
                name: name.into(),
                visibility_timeout: config.visibility_timeout(),
                capacity,
                dead_letter: Some((config.max_receive_count, dlq.clone())),
            })
        };
        ChannelQueues {
            orders: queue("orders", config.queue_capacity, &order_dlq),
            // Processed events are never refused: the processor has already
            // committed them.
            processed: queue("processed", usize::MAX, &processed_dlq),
            order_dlq,
            processed_dlq,
        }
    }
}
