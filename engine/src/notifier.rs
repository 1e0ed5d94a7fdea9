//! The notifier: consumes `OrderProcessed` and dispatches one notification per
//! order, exactly once in effect ([`Notify`], the handler
//! [`crate::consumer::Consumer`] runs).
//!
//! Each dispatch is bracketed by a claim and a confirmation in the store
//! ([`crate::store::OrderStore::claim_notifications`], one transaction per
//! batch): a redelivered or re-published event
//! finds the confirmation and is only deleted. If a claim's outcome is in
//! doubt (the connection died around it, or its holder crashed), the same
//! message comes back (handed back 5 s, then three times longer at each
//! receive, while the database cannot serve it) and retries it, and any
//! other after the claim's lease; so no
//! notification is lost, and the only repeat is a dispatch whose
//! confirmation was lost. Dispatch targets should therefore treat `order_id`
//! as an idempotency key (the log line carries it).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::consumer::{Consumer, Delivery, Fate, Handler, Scope, Then, WorkerConfig};
use crate::context::Context;
use crate::domain::OrderId;
use crate::events::OrderProcessed;
use crate::queue::QueueBackend;
use crate::retry::retry;
use crate::store::{Claim, ClaimRequest, StoreError};

/// When a claim is held by another delivery, how soon to look again.
const HELD_RETRY: Duration = Duration::from_secs(1);

/// Where notifications go. The default writes a structured log line.
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    async fn dispatch(&self, event: &OrderProcessed);
}

/// Logs each notification as a structured line at `info`, target
/// `orderflow::notification`.
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn dispatch(&self, event: &OrderProcessed) {
        tracing::info!(
            target: "orderflow::notification",
            order_id = %event.order_id,
            customer_id = %event.customer_id,
            status = %event.status,
            reason = event.reason.map(|r| r.as_str()),
            "notification dispatched"
        );
    }
}

/// The notifier: a consumer of the processed queue that notifies.
pub type NotificationWorker = Consumer<Notify>;

impl NotificationWorker {
    /// Consumes `processed`, sending each order's notification to
    /// `notifier`. `lease` is how long another delivery's claim is
    /// respected: the queue's visibility timeout, after which that delivery
    /// is presumed dead. Messages the database could not serve are handed
    /// back as unfinished orders are ([`crate::consumer::hand_back`] from
    /// `config.retry_after`: [`WorkerConfig::within`] the lease).
    pub fn new(
        processed: Arc<dyn QueueBackend>,
        ctx: Context,
        notifier: Arc<dyn Notifier>,
        config: WorkerConfig,
        lease: Duration,
    ) -> Self {
        Consumer::over(processed, ctx, config, Notify { notifier, lease })
    }
}

/// The notifier's handler: claim every order's notification at once,
/// dispatch the granted ones, confirm them at once, and settle each
/// message by its order's claim.
pub struct Notify {
    notifier: Arc<dyn Notifier>,
    lease: Duration,
}

#[async_trait]
impl Handler for Notify {
    type Event = OrderProcessed;
    const EVENT: &'static str = "OrderProcessed";

    async fn handle(&self, batch: &[Delivery<OrderProcessed>], scope: &Scope<'_>) -> Vec<Fate> {
        let claims = match Claims::take(self, batch, scope).await {
            Ok(claims) => claims,
            Err(e) => return vec![Fate::hand_back(e.to_string()); batch.len()],
        };
        let confirmed = self.dispatch(batch, &claims, scope).await;
        batch
            .iter()
            .map(|d| settle(&d.event, &claims, confirmed))
            .collect()
    }
}

impl Notify {
    /// Dispatches each granted notification and confirms them all at once;
    /// answers whether the confirmation was recorded.
    async fn dispatch(
        &self,
        batch: &[Delivery<OrderProcessed>],
        claims: &Claims<'_>,
        scope: &Scope<'_>,
    ) -> bool {
        let mut dispatched = Vec::new();
        for Delivery { message, event } in batch {
            if claims.granted_to(&message.message_id, event) {
                self.notifier.dispatch(event).await;
                scope.ctx.metrics.notifications.inc();
                dispatched.push(event.order_id);
            }
        }
        let confirm = || scope.ctx.store.confirm_notifications(&dispatched);
        let backoff = scope.store_backoff();
        match retry(backoff, StoreError::is_transient, |_, _| {}, confirm).await {
            Ok(()) => true,
            Err(e) => {
                // Dispatched but not confirmed: the same messages come back,
                // retake their claims and dispatch again (the one repeat the
                // design allows).
                tracing::warn!(error = %e, "notifications dispatched but not confirmed");
                false
            }
        }
    }
}

/// A message's fate by its order's claim.
fn settle(event: &OrderProcessed, claims: &Claims<'_>, confirmed: bool) -> Fate {
    match claims.of(event) {
        Claim::Granted if !confirmed => Fate::hand_back("dispatched, confirmation failed"),
        Claim::Granted | Claim::AlreadySent => Fate::Finished,
        // Usually a copy of this event being handled right now: look again
        // in a second rather than after a whole visibility timeout.
        Claim::HeldElsewhere => Fate::Left {
            why: format!(
                "order {} is being notified by another delivery",
                event.order_id
            ),
            then: Then::After(HELD_RETRY),
        },
    }
}

/// A batch's notification claims: one per order (copies of an event in
/// the same batch follow the first one's fate), taken in one call.
struct Claims<'m> {
    requests: Vec<ClaimRequest<'m>>,
    /// Each order's request.
    first: HashMap<OrderId, usize>,
    answers: Vec<Claim>,
}

impl<'m> Claims<'m> {
    async fn take(
        notify: &Notify,
        batch: &'m [Delivery<OrderProcessed>],
        scope: &Scope<'_>,
    ) -> Result<Claims<'m>, StoreError> {
        let mut first = HashMap::new();
        let mut requests = Vec::new();
        for Delivery {
            message: m,
            event: e,
        } in batch
        {
            if let Entry::Vacant(slot) = first.entry(e.order_id) {
                slot.insert(requests.len());
                requests.push(ClaimRequest {
                    order_id: e.order_id,
                    status: e.status,
                    claimant: &m.message_id,
                });
            }
        }
        let claim = || scope.ctx.store.claim_notifications(&requests, notify.lease);
        let answers = retry(
            scope.store_backoff(),
            StoreError::is_transient,
            |_, _| {},
            claim,
        )
        .await?;
        Ok(Claims {
            requests,
            first,
            answers,
        })
    }

    /// The answer for the event's order.
    fn of(&self, e: &OrderProcessed) -> Claim {
        self.answers[self.first[&e.order_id]]
    }

    /// Whether the message `message_id` holds the granted claim for its
    /// order.
    fn granted_to(&self, message_id: &str, e: &OrderProcessed) -> bool {
        let k = self.first[&e.order_id];
        self.answers[k] == Claim::Granted && self.requests[k].claimant == message_id
    }
}
