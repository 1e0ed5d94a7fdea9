//! The embedded store: the same contract as MySQL, kept in one mutex. A batch
//! is applied under the lock, so it is atomic by construction.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    decide, lease_expired, record_of, Applied, Claim, ClaimRequest, OrderStore, Recorded,
    StoreAdmin, StoreError,
};
use crate::domain::{InventoryItem, OrderId, OrderRecord, ProductId};
use crate::events::{now_millis, OrderCreated};

#[derive(Default)]
struct Inner {
    /// product_id -> (product_name, quantity_available)
    inventory: BTreeMap<ProductId, (String, i64)>,
    orders: HashMap<OrderId, OrderRecord>,
    notifications: HashMap<OrderId, Notification>,
}

struct Notification {
    sent: bool,
    claimed_by: String,
    claimed_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every mutation below completes before any call that could panic,
        // so a poisoned lock still guards consistent data.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn item(id: &ProductId, (name, qty): &(String, i64)) -> InventoryItem {
    InventoryItem {
        product_id: id.clone(),
        product_name: name.clone(),
        quantity_available: *qty,
    }
}

#[async_trait]
impl OrderStore for MemoryStore {
    async fn apply(&self, orders: &[OrderCreated]) -> Result<Vec<Applied>, StoreError> {
        let now = now_millis();
        let mut inner = self.lock();
        let recorded: HashMap<OrderId, Recorded> = orders
            .iter()
            .filter_map(|o| inner.orders.get(&o.order_id))
            .map(|r| {
                let rec = Recorded {
                    customer_id: r.customer_id.clone(),
                    status: r.status,
                    reason: r.failure_reason,
                    processed_at: r.processed_at.unwrap_or(r.created_at),
                };
                (r.order_id, rec)
            })
            .collect();
        let mut stock: BTreeMap<ProductId, i64> = super::products_of(orders)
            .into_iter()
            .filter_map(|p| inner.inventory.get(&p).map(|(_, q)| (p, *q)))
            .collect();
        let applied = decide(orders, &recorded, &mut stock, now);
        for (product_id, qty) in stock {
            if let Some(row) = inner.inventory.get_mut(&product_id) {
                row.1 = qty;
            }
        }
        for (order, a) in orders.iter().zip(&applied) {
            if a.first_time {
                inner.orders.insert(order.order_id, record_of(order, a));
            }
        }
        Ok(applied)
    }

    async fn order(&self, order_id: OrderId) -> Result<Option<OrderRecord>, StoreError> {
        Ok(self.lock().orders.get(&order_id).cloned())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn inventory(&self) -> Result<Vec<InventoryItem>, StoreError> {
        Ok(self
            .lock()
            .inventory
            .iter()
            .map(|(id, row)| item(id, row))
            .collect())
    }

    async fn product(&self, product_id: &ProductId) -> Result<Option<InventoryItem>, StoreError> {
        Ok(self
            .lock()
            .inventory
            .get(product_id)
            .map(|row| item(product_id, row)))
    }

    async fn seed_if_empty(&self, products: &[InventoryItem]) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if !inner.inventory.is_empty() {
            return Ok(false);
        }
        for p in products {
            inner.inventory.insert(
                p.product_id.clone(),
                (p.product_name.clone(), p.quantity_available),
            );
        }
        Ok(true)
    }

    async fn claim_notifications(
        &self,
        requests: &[ClaimRequest<'_>],
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        let now = now_millis();
        let mut inner = self.lock();
        let mut out = Vec::with_capacity(requests.len());
        for r in requests {
            let claim = Notification {
                sent: false,
                claimed_by: r.claimant.to_owned(),
                claimed_at: now,
            };
            out.push(match inner.notifications.get_mut(&r.order_id) {
                None => {
                    inner.notifications.insert(r.order_id, claim);
                    Claim::Granted
                }
                Some(n) if n.sent => Claim::AlreadySent,
                Some(n)
                    if n.claimed_by == r.claimant || lease_expired(n.claimed_at, lease, now) =>
                {
                    *n = claim;
                    Claim::Granted
                }
                Some(_) => Claim::HeldElsewhere,
            });
        }
        Ok(out)
    }

    async fn confirm_notifications(&self, order_ids: &[OrderId]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        for id in order_ids {
            if let Some(n) = inner.notifications.get_mut(id) {
                n.sent = true;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl StoreAdmin for MemoryStore {
    async fn orders_processed_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let mut out: Vec<OrderRecord> = self
            .lock()
            .orders
            .values()
            .filter(|o| o.processed_at.is_some_and(|t| t >= since))
            .cloned()
            .collect();
        out.sort_by_key(|o| (o.processed_at, o.order_id));
        Ok(out)
    }

    async fn recent_orders(&self, limit: u32) -> Result<Vec<OrderRecord>, StoreError> {
        let mut out: Vec<OrderRecord> = self.lock().orders.values().cloned().collect();
        out.sort_by_key(|o| std::cmp::Reverse((o.created_at, o.order_id)));
        out.truncate(limit as usize);
        Ok(out)
    }

    async fn upsert_products(&self, products: &[InventoryItem]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        for p in products {
            inner.inventory.insert(
                p.product_id.clone(),
                (p.product_name.clone(), p.quantity_available),
            );
        }
        Ok(())
    }
}
