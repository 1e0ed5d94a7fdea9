//! The store of an execution environment that has no database: the
//! deployed ingest function, whose one route (`POST /api/orders`) only
//! publishes, opens no connection (its pool size is 0). Every call is
//! refused as an internal error: a request that reaches it was routed to
//! the wrong function, which is a deployment bug.

use std::time::Duration;

use async_trait::async_trait;

use super::{Applied, Claim, ClaimRequest, OrderStore, StoreError};
use crate::domain::{InventoryItem, OrderId, OrderRecord, ProductId};
use crate::events::OrderCreated;

#[derive(Debug, Default, Clone, Copy)]
pub struct NoDatabase;

impl NoDatabase {
    fn refuse<T>() -> Result<T, StoreError> {
        Err(StoreError::Internal(
            "this function has no database (DB_MAX_CONNECTIONS=0): it serves POST /api/orders only"
                .into(),
        ))
    }
}

#[async_trait]
impl OrderStore for NoDatabase {
    async fn apply(&self, _orders: &[OrderCreated]) -> Result<Vec<Applied>, StoreError> {
        Self::refuse()
    }
    async fn order(&self, _order_id: OrderId) -> Result<Option<OrderRecord>, StoreError> {
        Self::refuse()
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Self::refuse()
    }
    async fn inventory(&self) -> Result<Vec<InventoryItem>, StoreError> {
        Self::refuse()
    }
    async fn product(&self, _product_id: &ProductId) -> Result<Option<InventoryItem>, StoreError> {
        Self::refuse()
    }
    async fn seed_if_empty(&self, _products: &[InventoryItem]) -> Result<bool, StoreError> {
        Self::refuse()
    }
    async fn claim_notifications(
        &self,
        _requests: &[ClaimRequest<'_>],
        _lease: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        Self::refuse()
    }
    async fn confirm_notifications(&self, _order_ids: &[OrderId]) -> Result<(), StoreError> {
        Self::refuse()
    }
}
