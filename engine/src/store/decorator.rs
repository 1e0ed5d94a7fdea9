//! Decorating a store: a store wrapped around another that changes some of
//! its calls (injected crashes, a re-read of rotated credentials, a test's
//! outage) writes only those. Implement [`StoreDecorator`] with the store
//! it wraps ([`StoreDecorator::inner`]) and the calls it changes; every
//! other call goes to the inner store unchanged, and the blanket impl makes
//! it an [`OrderStore`]. The forwarding is written once, here.

use std::time::Duration;

use async_trait::async_trait;

use super::{Applied, Claim, ClaimRequest, OrderStore, StoreError};
use crate::domain::{InventoryItem, OrderId, OrderRecord, ProductId};
use crate::events::OrderCreated;

/// A store around [`StoreDecorator::inner`]; see the module doc.
#[async_trait]
pub trait StoreDecorator: Send + Sync + 'static {
    /// The store this one wraps.
    fn inner(&self) -> &dyn OrderStore;

    async fn apply(&self, orders: &[OrderCreated]) -> Result<Vec<Applied>, StoreError> {
        self.inner().apply(orders).await
    }
    async fn order(&self, order_id: OrderId) -> Result<Option<OrderRecord>, StoreError> {
        self.inner().order(order_id).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner().ping().await
    }
    async fn inventory(&self) -> Result<Vec<InventoryItem>, StoreError> {
        self.inner().inventory().await
    }
    async fn product(&self, product_id: &ProductId) -> Result<Option<InventoryItem>, StoreError> {
        self.inner().product(product_id).await
    }
    async fn seed_if_empty(&self, products: &[InventoryItem]) -> Result<bool, StoreError> {
        self.inner().seed_if_empty(products).await
    }
    async fn claim_notifications(
        &self,
        requests: &[ClaimRequest<'_>],
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        self.inner().claim_notifications(requests, lease).await
    }
    async fn confirm_notifications(&self, order_ids: &[OrderId]) -> Result<(), StoreError> {
        self.inner().confirm_notifications(order_ids).await
    }
}

#[async_trait]
impl<D: StoreDecorator> OrderStore for D {
    async fn apply(&self, orders: &[OrderCreated]) -> Result<Vec<Applied>, StoreError> {
        StoreDecorator::apply(self, orders).await
    }
    async fn order(&self, order_id: OrderId) -> Result<Option<OrderRecord>, StoreError> {
        StoreDecorator::order(self, order_id).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        StoreDecorator::ping(self).await
    }
    async fn inventory(&self) -> Result<Vec<InventoryItem>, StoreError> {
        StoreDecorator::inventory(self).await
    }
    async fn product(&self, product_id: &ProductId) -> Result<Option<InventoryItem>, StoreError> {
        StoreDecorator::product(self, product_id).await
    }
    async fn seed_if_empty(&self, products: &[InventoryItem]) -> Result<bool, StoreError> {
        StoreDecorator::seed_if_empty(self, products).await
    }
    async fn claim_notifications(
        &self,
        requests: &[ClaimRequest<'_>],
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        StoreDecorator::claim_notifications(self, requests, lease).await
    }
    async fn confirm_notifications(&self, order_ids: &[OrderId]) -> Result<(), StoreError> {
        StoreDecorator::confirm_notifications(self, order_ids).await
    }
}
