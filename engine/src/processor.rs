//! The processor: consumes `OrderCreated`, applies each batch through the
//! store (locks, all-or-nothing decrement, `PROCESSED` or `FAILED`), publishes
//! `OrderProcessed`, and only then lets the consumer delete the messages
//! ([`ApplyOrders`], the handler [`crate::consumer::Consumer`] runs).
//!
//! Why this order is safe: a crash before the commit leaves the messages to
//! come back; a crash after the commit but before the publish or the delete
//! brings them back too, and the store answers them with the recorded outcome
//! (never applying them twice), which is then published again.
//!
//! A batch given a deadline (a Lambda invocation's, less a margin for the
//! publish and the delete) stops waiting on the store when it comes: its
//! orders are reported unfinished and handed back after a short wait, as
//! are orders whose store errors stayed transient through every retry,
//! instead of the whole batch returning only after the visibility timeout
//! (and an invocation killed mid-batch).

use std::sync::Arc;

use async_trait::async_trait;

use crate::consumer::{Consumer, Delivery, Fate, Handler, Scope, WorkerConfig};
use crate::context::Context;
use crate::domain::OrderStatus;
use crate::events::OrderCreated;
use crate::queue::{QueueBackend, MAX_BATCH};
use crate::retry::retry;
use crate::store::{Applied, StoreError};

pub use crate::consumer::{hand_back, BatchReport};

/// The processor: a consumer of the order queue that applies orders.
pub type Processor = Consumer<ApplyOrders>;

impl Processor {
    /// Consumes `orders`, publishing each outcome to `processed`.
    pub fn new(
        orders: Arc<dyn QueueBackend>,
        processed: Arc<dyn QueueBackend>,
        ctx: Context,
        config: WorkerConfig,
    ) -> Self {
        Consumer::over(orders, ctx, config, ApplyOrders { processed })
    }
}

/// The processor's handler: apply, then publish the outcomes.
pub struct ApplyOrders {
    processed: Arc<dyn QueueBackend>,
}

/// Decodes an `OrderCreated`: its type holds the order's rules, so a body
/// that breaks them does not decode.
pub fn decode_order_created(body: &str) -> Result<OrderCreated, serde_json::Error> {
    serde_json::from_str(body)
}

#[async_trait]
impl Handler for ApplyOrders {
    type Event = OrderCreated;
    const EVENT: &'static str = "OrderCreated";

    async fn handle(&self, batch: &[Delivery<OrderCreated>], scope: &Scope<'_>) -> Vec<Fate> {
        let events: Vec<OrderCreated> = batch.iter().map(|d| d.event.clone()).collect();
        scope.ctx.metrics.batches.inc();
        let Some(outcomes) = apply_by(&events, scope).await else {
            let why = "the invocation's deadline came before the store answered";
            tracing::warn!(orders = batch.len(), "{why}; the batch comes back");
            return vec![Fate::hand_back(why); batch.len()];
        };
        let mut fates = Vec::with_capacity(batch.len());
        let mut applied = Vec::with_capacity(batch.len());
        for (i, outcome) in outcomes.into_iter().enumerate() {
            fates.push(match outcome {
                Ok(a) => {
                    count(scope.ctx, &a);
                    applied.push((i, a));
                    Fate::Finished
                }
                Err(e) if e.is_transient() => Fate::hand_back(e.to_string()),
                // Handing it back would not help: it waits its visibility
                // timeout, and its receives bring it to the DLQ.
                Err(e) => Fate::left(e.to_string()),
            });
        }
        // Each chunk's publish is one SQS call: they go out at once, so a
        // batch of 200 waits for one call's latency, not twenty. A message
        // whose outcome was not published is not finished: it comes back
        // and is answered from the store.
        let chunks = applied.chunks(MAX_BATCH);
        let published = futures::future::join_all(chunks.clone().map(|c| self.publish(c))).await;
        for (chunk, result) in chunks.zip(published) {
            if let Err(why) = result {
                for (i, _) in chunk {
                    fates[*i] = Fate::left(why.clone());
                }
            }
        }
        fates
    }
}

impl ApplyOrders {
    /// Publishes the outcomes of up to [`MAX_BATCH`] orders in one call.
    async fn publish(&self, chunk: &[(usize, Applied)]) -> Result<(), String> {
        let events = chunk
            .iter()
            .map(|(_, applied)| serde_json::to_string(&applied.event()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("encoding OrderProcessed: {e}"))?;
        self.processed
            .send_batch(events)
            .await
            .map_err(|e| format!("publish: {e}"))
    }
}

/// Applies the batch, by the scope's deadline less its margin if it has
/// one: `None` if the deadline came first.
async fn apply_by(
    events: &[OrderCreated],
    scope: &Scope<'_>,
) -> Option<Vec<Result<Applied, StoreError>>> {
    match scope.deadline {
        None => Some(apply(events, scope).await),
        Some(deadline) => {
            let by = deadline
                .checked_sub(scope.config.deadline_margin)
                .unwrap_or(deadline);
            tokio::time::timeout_at(by, apply(events, scope)).await.ok()
        }
    }
}

/// Applies the batch, answering one outcome per order. A batch that fails
/// for good may hold one order the database refuses: its orders are then
/// applied one by one, so only that one waits.
async fn apply(events: &[OrderCreated], scope: &Scope<'_>) -> Vec<Result<Applied, StoreError>> {
    match apply_with_retry(events, scope).await {
        Ok(applied) => applied.into_iter().map(Ok).collect(),
        Err(e) if !e.is_transient() && events.len() > 1 => {
            tracing::warn!(error = %e, "batch failed; applying its orders one by one");
            let mut each = Vec::with_capacity(events.len());
            for event in events {
                let one = apply_with_retry(std::slice::from_ref(event), scope).await;
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

async fn apply_with_retry(
    events: &[OrderCreated],
    scope: &Scope<'_>,
) -> Result<Vec<Applied>, StoreError> {
    let on_retry = |e: &StoreError, attempt| {
        scope.ctx.metrics.store_retries.inc();
        tracing::warn!(error = %e, attempt, "transient store error; retrying the batch");
    };
    retry(
        scope.store_backoff(),
        StoreError::is_transient,
        on_retry,
        || scope.ctx.store.apply(events),
    )
    .await
}

fn count(ctx: &Context, applied: &Applied) {
    let m = &ctx.metrics;
    match (applied.first_time, applied.status) {
        (false, _) => m.duplicate_deliveries.inc(),
        (true, OrderStatus::Failed) => m.failed.inc(),
        (true, _) => m.processed.inc(),
    };
}
