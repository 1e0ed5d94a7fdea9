//! Decorating a store: a store wrapped around another that changes some of
//! its calls (injected crashes, a test's outage) writes only those.
//! Implement [`StoreDecorator`] with the store it wraps
//! ([`StoreDecorator::inner`]) and the calls it changes; every other call
//! goes to the inner store unchanged, and the blanket impl makes it an
//! [`OrderStore`]. One that changes every call the same way (a re-read of
//! rotated credentials) overrides [`StoreDecorator::around`] alone. The
//! forwarding is written once, here.

use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;

use super::{Applied, Claim, ClaimRequest, OrderStore, StoreError};
use crate::domain::{InventoryItem, OrderId, OrderRecord, ProductId};
use crate::events::OrderCreated;

/// One call of the store, given the store to make it on.
pub type Call<'a, T> =
    Box<dyn Fn(&'a dyn OrderStore) -> BoxFuture<'a, Result<T, StoreError>> + Send + Sync + 'a>;

/// A store around [`StoreDecorator::inner`]; see the module doc.
#[async_trait]
pub trait StoreDecorator: Send + Sync + 'static {
    /// The store this one wraps.
    fn inner(&self) -> &dyn OrderStore;

    /// How every call this decorator does not change reaches the inner
    /// store: `call`, once, on [`StoreDecorator::inner`]. Override it to
    /// change them all alike (run a call again after a refusal, say).
    fn around<'a, T: Send + 'a>(
        &'a self,
        call: Call<'a, T>,
    ) -> BoxFuture<'a, Result<T, StoreError>> {
        call(self.inner())
    }

    async fn apply(&self, orders: &[OrderCreated]) -> Result<Vec<Applied>, StoreError> {
        self.around(Box::new(move |s| s.apply(orders))).await
    }
    async fn order(&self, order_id: OrderId) -> Result<Option<OrderRecord>, StoreError> {
        self.around(Box::new(move |s| s.order(order_id))).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.around(Box::new(move |s| s.ping())).await
    }
    async fn inventory(&self) -> Result<Vec<InventoryItem>, StoreError> {
        self.around(Box::new(move |s| s.inventory())).await
    }
    async fn product(&self, product_id: &ProductId) -> Result<Option<InventoryItem>, StoreError> {
        self.around(Box::new(move |s| s.product(product_id))).await
    }
    async fn seed_if_empty(&self, products: &[InventoryItem]) -> Result<bool, StoreError> {
        self.around(Box::new(move |s| s.seed_if_empty(products)))
            .await
    }
    async fn claim_notifications(
        &self,
        requests: &[ClaimRequest<'_>],
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        self.around(Box::new(move |s| s.claim_notifications(requests, lease)))
            .await
    }
    async fn confirm_notifications(&self, order_ids: &[OrderId]) -> Result<(), StoreError> {
        self.around(Box::new(move |s| s.confirm_notifications(order_ids)))
            .await
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
