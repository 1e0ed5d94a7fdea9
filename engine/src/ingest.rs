//! Ingest: a request body in, an accepted `OrderCreated` on the order queue
//! out. It answers only after the publish succeeded, so an order id handed to
//! a client always names an enqueued event.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::{OrderId, ValidOrder};
use crate::events::{now_millis, OrderCreated};
use crate::idempotency::{order_id, IdempotencyKey, OrderIdKey};
use crate::metrics::Metrics;
use crate::queue::{QueueBackend, QueueError};
use crate::retry::{retry, Backoff};
use crate::validation::{parse_order, ValidationError};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The server is shutting down and takes no new orders.
    #[error("the server is shutting down and takes no new orders")]
    Closed,
    /// The order names another customer than the verified caller.
    #[error(
        "customer_id {order:?} is not the customer your token names ({caller:?}): \
         an order can only be placed for yourself"
    )]
    NotTheCaller { order: String, caller: String },
}

/// The customer a verified credential names (on AWS, the API's JWT
/// authorizer: the token's subject, or the claim the deployment names).
/// An order placed by a caller must be for that customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

/// Builds the event for an accepted order.
pub fn order_created(
    order: &ValidOrder,
    key: Option<&IdempotencyKey>,
    secret: &OrderIdKey,
    at: DateTime<Utc>,
) -> OrderCreated {
    OrderCreated {
        order_id: order_id(order, key, secret),
        customer_id: order.customer_id().clone(),
        items: order.items().clone(),
        timestamp: at,
    }
}

/// Ingest's handle: clones share the queue, the metrics, the order id key
/// and whether intake is open.
#[derive(Clone)]
pub struct Ingest {
    queue: Arc<dyn QueueBackend>,
    metrics: Arc<Metrics>,
    order_ids: OrderIdKey,
    open: Arc<AtomicBool>,
}

/// How a publish that failed transiently is tried again before the client
/// gets a 503 (20 ms, then 40 ms). A full queue is not retried: that is
/// back-pressure.
const PUBLISH: Backoff = Backoff {
    attempts: 3,
    first_delay: Duration::from_millis(20),
};

impl Ingest {
    pub fn new(queue: Arc<dyn QueueBackend>, metrics: Arc<Metrics>, order_ids: OrderIdKey) -> Self {
        Ingest {
            queue,
            metrics,
            order_ids,
            open: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Stops taking orders, for a graceful stop: from now on every order is
    /// refused with [`IngestError::Closed`] before anything is enqueued.
    pub fn close(&self) {
        self.open.store(false, Ordering::SeqCst);
    }

    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }

    /// Validates, derives the id, publishes. `key` is the raw
    /// `Idempotency-Key` header, if any; `caller`, the verified customer
    /// placing the order, if the API knows one (the order must be theirs).
    pub async fn accept(
        &self,
        body: &[u8],
        key: Option<&[u8]>,
        caller: Option<&Caller>,
    ) -> Result<OrderId, IngestError> {
        let parsed = key
            .map(|k| {
                IdempotencyKey::parse(k).map_err(|m| ValidationError {
                    field: Some("Idempotency-Key".into()),
                    message: m.into(),
                })
            })
            .transpose()
            .and_then(|key| Ok((parse_order(body)?, key)));
        let (order, key) = match parsed {
            Ok(v) => v,
            Err(e) => {
                self.metrics.rejected.inc();
                return Err(e.into());
            }
        };
        if let Some(Caller(caller)) = caller.filter(|c| c.0 != order.customer_id().as_str()) {
            self.metrics.rejected.inc();
            return Err(IngestError::NotTheCaller {
                order: order.customer_id().as_str().to_owned(),
                caller: caller.clone(),
            });
        }
        if !self.is_open() {
            return Err(IngestError::Closed);
        }
        let event = order_created(&order, key.as_ref(), &self.order_ids, now_millis());
        let body = serde_json::to_string(&event)
            .map_err(|e| QueueError::unavailable(self.queue.name(), e))?;
        // A full queue is back-pressure, answered at once; an unavailable
        // one may be a blip.
        let unavailable = |e: &QueueError| matches!(e, QueueError::Unavailable { .. });
        let on_retry = |e: &QueueError, attempt| {
            tracing::warn!(error = %e, attempt, "publish failed, retrying");
        };
        retry(PUBLISH, unavailable, on_retry, || {
            self.queue.send(body.clone())
        })
        .await?;
        self.metrics.accepted.inc();
        Ok(event.order_id)
    }
}
