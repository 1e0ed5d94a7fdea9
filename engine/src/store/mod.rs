//! The order store: inventory rows and order outcomes, in MySQL ([`mysql`])
//! or in memory ([`memory`]), with one contract and one decision function
//! ([`decide`]) so both give the same answer for the same orders.
//!
//! The contract of [`OrderStore::apply`]: a batch of `OrderCreated` events is
//! applied in one atomic step. Each order either takes all of its lines from
//! stock and is recorded `PROCESSED`, or takes nothing and is recorded
//! `FAILED` with a reason; an `order_id` already recorded (earlier, or earlier
//! in the same batch) is not applied again but answered with its recorded
//! outcome. On error nothing of the batch is applied.

pub mod decorator;
pub mod memory;
pub mod mysql;
pub mod none;
mod open;
pub mod schema;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    CustomerId, FailureReason, InventoryItem, OrderId, OrderRecord, OrderStatus, ProductId,
};
use crate::events::{OrderCreated, OrderProcessed};

pub use decorator::StoreDecorator;
pub use memory::MemoryStore;
pub use mysql::MySqlStore;
pub use none::NoDatabase;
pub use open::{OpenedStore, Schema, StoreOptions};

/// A store error, sorted once (in `From<sqlx::Error>`) into what the
/// engine does about it: retry ([`StoreError::is_transient`]) or not. The
/// database's own error stays attached as the source.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (connection refused or lost, pool
    /// exhausted, server shutting down or read-only). Try again.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Arc<sqlx::Error>),
    /// The transaction lost a race (deadlock, lock wait timeout, a concurrent
    /// insert of the same order). Nothing was applied; try again.
    #[error("transaction conflict: {0}")]
    Conflict(#[source] Arc<sqlx::Error>),
    /// Another batch finished an order this one was about to (an order the
    /// original system left PENDING). Nothing was applied; try again.
    #[error("order {0} was finished by another batch meanwhile")]
    Overtaken(OrderId),
    /// The database refused the credentials (MySQL error 1045): a password
    /// rotated since it was read. Transient: the Lambda functions re-read
    /// their secret before trying again.
    #[error("database refused the credentials: {0}")]
    AccessDenied(#[source] Arc<sqlx::Error>),
    /// Any other error the database answered: a bug or a broken schema.
    /// Retrying will not help.
    #[error("database error: {0}")]
    Database(#[source] Arc<sqlx::Error>),
    /// A stored value the engine cannot read (a row written by hand, or by
    /// another system). Retrying will not help.
    #[error("unexpected stored value: {0}")]
    Corrupt(String),
    /// The engine broke a promise to itself (a batch answered without an
    /// outcome, a value it cannot encode). Retrying will not help.
    #[error("internal error: {0}")]
    Internal(String),
    /// The database's schema is not one the engine can use, or a migration
    /// failed; the message says what is missing and how to migrate.
    #[error("{0}")]
    Schema(String),
    /// A MySQL store was asked for with no MySQL to open.
    #[error("this needs a MySQL store: set DATABASE_URL (or DB_HOST)")]
    NotMySql,
}

impl StoreError {
    /// Whether the database could not be reached at all (a refused or lost
    /// connection, no connection within the pool's wait): a failover or a
    /// network fault, not a limit or a refusal of the server's.
    pub fn is_unreachable(&self) -> bool {
        let StoreError::Unavailable(e) = self else {
            return false;
        };
        match &**e {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
            sqlx::Error::Database(d) => matches!(
                d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .map(|d| d.number()),
                Some(2006 | 2013)
            ),
            _ => false,
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_)
                | StoreError::Conflict(_)
                | StoreError::Overtaken(_)
                | StoreError::AccessDenied(_)
        )
    }
}

/// What became of one order of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub status: OrderStatus,
    pub reason: Option<FailureReason>,
    pub processed_at: DateTime<Utc>,
    /// `false` when the order had been recorded before: nothing changed now.
    pub first_time: bool,
}

impl Applied {
    /// The event that tells the rest of the system about this outcome.
    pub fn event(&self) -> OrderProcessed {
        OrderProcessed {
            order_id: self.order_id,
            customer_id: self.customer_id.clone(),
            status: self.status,
            processed_at: self.processed_at,
            reason: self.reason,
        }
    }
}

#[async_trait]
pub trait OrderStore: Send + Sync + 'static {
    /// Applies a batch of orders atomically (see the module doc), answering
    /// one [`Applied`] per input order, in input order.
    async fn apply(&self, orders: &[OrderCreated]) -> Result<Vec<Applied>, StoreError>;

    async fn order(&self, order_id: OrderId) -> Result<Option<OrderRecord>, StoreError>;

    /// Answers `Ok` when the store can serve requests.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Every inventory row, by `product_id`.
    async fn inventory(&self) -> Result<Vec<InventoryItem>, StoreError>;

    async fn product(&self, product_id: &ProductId) -> Result<Option<InventoryItem>, StoreError>;

    /// Inserts `products` if the inventory is empty; answers whether it did.
    async fn seed_if_empty(&self, products: &[InventoryItem]) -> Result<bool, StoreError>;

    /// Claims the right to dispatch the notifications of a batch of
    /// orders (distinct order ids), one answer per request, in order. A claim
    /// is granted if nobody claimed the order yet, if the same `claimant`
    /// message claimed it before (its dispatch is in doubt: it is retried),
    /// or if another claim is older than `lease` (its holder presumably died).
    async fn claim_notifications(
        &self,
        requests: &[ClaimRequest<'_>],
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError>;

    /// Records that claimed notifications were dispatched: no claim is
    /// granted for these orders again.
    async fn confirm_notifications(&self, order_ids: &[OrderId]) -> Result<(), StoreError>;
}

/// What tools, the simulator and the tests read and write beside the
/// pipeline: the pipeline itself ([`OrderStore`]) needs none of it.
#[async_trait]
pub trait StoreAdmin: OrderStore {
    /// Orders whose outcome was committed at or after `since`, oldest first.
    async fn orders_processed_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<OrderRecord>, StoreError>;

    /// The newest `limit` orders by accept time.
    async fn recent_orders(&self, limit: u32) -> Result<Vec<OrderRecord>, StoreError>;

    /// Creates or restocks products (sets their stock to the given value).
    async fn upsert_products(&self, products: &[InventoryItem]) -> Result<(), StoreError>;
}

/// One notification claim: the order, its outcome, and the queue message
/// asking.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    pub order_id: OrderId,
    pub status: OrderStatus,
    pub claimant: &'a str,
}

/// The answer to a notification claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Dispatch, then confirm.
    Granted,
    /// Dispatched and confirmed already: nothing to do.
    AlreadySent,
    /// Another delivery holds a live claim: try again later.
    HeldElsewhere,
}

/// An order already recorded, as `decide` needs it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub customer_id: CustomerId,
    pub status: OrderStatus,
    pub reason: Option<FailureReason>,
    pub processed_at: DateTime<Utc>,
}

/// Decides a batch against the current stock of the products it names.
///
/// `stock` must hold every product of the batch that exists (locked, for a
/// database), and is updated in place; `recorded` holds the orders of the
/// batch already recorded. Orders are taken in batch order, each all or
/// nothing, so a failed order never disturbs the ones around it.
pub(crate) fn decide(
    orders: &[OrderCreated],
    recorded: &HashMap<OrderId, Recorded>,
    stock: &mut BTreeMap<ProductId, i64>,
    now: DateTime<Utc>,
) -> Vec<Applied> {
    let mut in_batch: HashMap<OrderId, usize> = HashMap::new();
    let mut out: Vec<Applied> = Vec::with_capacity(orders.len());
    for order in orders {
        if let Some(r) = recorded.get(&order.order_id) {
            out.push(Applied {
                order_id: order.order_id,
                customer_id: r.customer_id.clone(),
                status: r.status,
                reason: r.reason,
                processed_at: r.processed_at,
                first_time: false,
            });
            continue;
        }
        if let Some(&i) = in_batch.get(&order.order_id) {
            let earlier = Applied {
                first_time: false,
                ..out[i].clone()
            };
            out.push(earlier);
            continue;
        }
        let reason = take_lines(order, stock).err();
        in_batch.insert(order.order_id, out.len());
        out.push(Applied {
            order_id: order.order_id,
            customer_id: order.customer_id.clone(),
            status: if reason.is_some() {
                OrderStatus::Failed
            } else {
                OrderStatus::Processed
            },
            reason,
            processed_at: now,
            first_time: true,
        });
    }
    out
}

/// Takes every line of an order from `stock`, or nothing.
fn take_lines(
    order: &OrderCreated,
    stock: &mut BTreeMap<ProductId, i64>,
) -> Result<(), FailureReason> {
    // Unknown products are reported before shortages, whatever the line order.
    if order
        .items
        .iter()
        .any(|l| !stock.contains_key(&l.product_id))
    {
        return Err(FailureReason::UnknownProduct);
    }
    if order
        .items
        .iter()
        .any(|l| stock[&l.product_id] < i64::from(l.quantity.get()))
    {
        return Err(FailureReason::InsufficientStock);
    }
    for line in order.items.iter() {
        if let Some(q) = stock.get_mut(&line.product_id) {
            *q -= i64::from(line.quantity.get());
        }
    }
    Ok(())
}

/// The distinct products a batch names, ascending: the order rows are locked in.
pub(crate) fn products_of(orders: &[OrderCreated]) -> Vec<ProductId> {
    let mut ids: Vec<ProductId> = orders
        .iter()
        .flat_map(|o| o.items.iter().map(|l| l.product_id.clone()))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Whether a claim taken at `claimed_at` has outlived its lease by `now`.
pub(crate) fn lease_expired(
    claimed_at: DateTime<Utc>,
    lease: Duration,
    now: DateTime<Utc>,
) -> bool {
    chrono::Duration::from_std(lease).is_ok_and(|lease| claimed_at + lease <= now)
}

/// The record a newly applied order leaves.
pub(crate) fn record_of(order: &OrderCreated, applied: &Applied) -> OrderRecord {
    let items = order.items.to_vec();
    OrderRecord {
        order_id: order.order_id,
        customer_id: order.customer_id.clone(),
        items,
        status: applied.status,
        failure_reason: applied.reason,
        created_at: order.timestamp,
        processed_at: Some(applied.processed_at),
    }
}
