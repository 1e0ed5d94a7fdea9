//! The [`OrderStore`] methods: a batch's transaction (the order of its
//! steps is the parent's doc), the reads, the seed, and the notification
//! claims.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::{Executor, MySql, QueryBuilder};

use super::batch::{
    finish_pending, insert_orders, insert_orders_sql, lock_stock, push_in_list, recorded_orders,
    take_stock,
};
use super::claims::{claim_existing, insert_claims};
use super::errors::is_duplicate_key;
use super::rows::{item_from_row, naive, order_from_row, ORDER_COLUMNS};
use super::MySqlStore;
use crate::domain::{InventoryItem, OrderId, OrderRecord, ProductId};
use crate::events::{now_millis, OrderCreated};
use crate::store::{
    decide, products_of, record_of, Applied, Claim, ClaimRequest, OrderStore, StoreError,
};

/// When a batch reads which of its orders are recorded.
#[derive(Debug, Clone, Copy)]
enum Read {
    /// Before locking its products: the fast path.
    BeforeLocking,
    /// Holding the locks: after the fast path met a race.
    UnderLock,
}

impl MySqlStore {
    /// One batch's transaction (see the parent's doc), reading which orders
    /// are recorded `when` asked.
    async fn apply_batch(
        &self,
        orders: &[OrderCreated],
        when: Read,
    ) -> Result<Vec<Applied>, StoreError> {
        let mut ids: Vec<String> = orders.iter().map(|o| o.order_id.to_string()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut tx = self.pool.begin().await?;
        // 0. Before taking any lock, have the server prepare the INSERT for
        //    the likely case (every order new): a statement of that many rows
        //    may not be among the connection's cached ones, and preparing it
        //    is a round trip that would otherwise be made holding the locks.
        let likely_insert = insert_orders_sql(ids.len());
        (&mut *tx).prepare(&likely_insert).await?;
        // 1. Read what is recorded and lock, in the order asked; 3. decide.
        let products = products_of(orders);
        let ((recorded, pending), before) = match when {
            Read::BeforeLocking => {
                let recorded = recorded_orders(&mut tx, &ids).await?;
                (recorded, lock_stock(&mut tx, &products).await?)
            }
            Read::UnderLock => {
                let before = lock_stock(&mut tx, &products).await?;
                (recorded_orders(&mut tx, &ids).await?, before)
            }
        };
        let mut stock = before.clone();
        let applied = decide(orders, &recorded, &mut stock, now_millis());
        // 4. Write: one decrement for every product that moved, and the
        //    orders recorded now (the original's PENDING ones finished in
        //    place, the rest inserted, in id order).
        take_stock(&mut tx, &before, &stock).await?;
        let mut new: Vec<OrderRecord> = orders
            .iter()
            .zip(&applied)
            .filter(|(_, a)| a.first_time)
            .map(|(o, a)| record_of(o, a))
            .collect();
        new.sort_by_key(|r| r.order_id);
        let (finished, new): (Vec<_>, Vec<_>) =
            new.into_iter().partition(|r| pending.contains(&r.order_id));
        for r in &finished {
            finish_pending(&mut tx, r).await?;
        }
        if !new.is_empty() {
            let sql = if new.len() == ids.len() {
                likely_insert
            } else {
                insert_orders_sql(new.len())
            };
            insert_orders(&mut tx, &sql, &new).await?;
        }
        tx.commit().await?;
        Ok(applied)
    }
}

#[async_trait]
impl OrderStore for MySqlStore {
    async fn apply(&self, orders: &[OrderCreated]) -> Result<Vec<Applied>, StoreError> {
        if orders.is_empty() {
            return Ok(Vec::new());
        }
        // Read first, lock second: a round trip fewer under the hot row's
        // lock. If another batch recorded one of these orders in between (a
        // duplicate delivery in flight at once), the primary key refuses our
        // INSERT and the transaction rolls back; the batch then runs again
        // with the read under the lock, which no such race can reach. (Other
        // conflicts, a deadlock, are the caller's to retry.)
        match self.apply_batch(orders, Read::BeforeLocking).await {
            Err(StoreError::Conflict(e)) if is_duplicate_key(&e) => {
                self.apply_batch(orders, Read::UnderLock).await
            }
            answer => answer,
        }
    }

    async fn order(&self, order_id: OrderId) -> Result<Option<OrderRecord>, StoreError> {
        let sql = format!("SELECT {} FROM orders WHERE order_id = ?", *ORDER_COLUMNS);
        let row = sqlx::query(&sql)
            .bind(order_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn inventory(&self) -> Result<Vec<InventoryItem>, StoreError> {
        const INVENTORY: &str =
            "SELECT product_id, product_name, quantity_available FROM inventory ORDER BY product_id";
        let rows = sqlx::query(INVENTORY).fetch_all(&self.pool).await?;
        rows.iter().map(item_from_row).collect()
    }

    async fn product(&self, product_id: &ProductId) -> Result<Option<InventoryItem>, StoreError> {
        const PRODUCT: &str =
            "SELECT product_id, product_name, quantity_available FROM inventory WHERE product_id = ?";
        let row = sqlx::query(PRODUCT)
            .bind(product_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(item_from_row).transpose()
    }

    async fn seed_if_empty(&self, products: &[InventoryItem]) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        // A locking read of the whole (small, or empty) table, so two
        // starters cannot both see it empty.
        let any = sqlx::query("SELECT product_id FROM inventory LIMIT 1 FOR UPDATE")
            .fetch_optional(&mut *tx)
            .await?;
        if any.is_some() || products.is_empty() {
            return Ok(false);
        }
        let mut q = QueryBuilder::<MySql>::new(
            "INSERT IGNORE INTO inventory (product_id, product_name, quantity_available) ",
        );
        q.push_values(products, |mut b, p| {
            b.push_bind(p.product_id.as_str())
                .push_bind(&p.product_name)
                .push_bind(p.quantity_available);
        });
        q.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Usually one statement: every order is new to the notifications
    /// table (each `OrderProcessed` arrives once), so one `INSERT IGNORE` of
    /// them all inserts every row and grants every claim. If some row
    /// exists (a redelivery, a copy, a claim in doubt), that transaction is
    /// rolled back and [`claim_existing`] decides each order under locks.
    async fn claim_notifications(
        &self,
        requests: &[ClaimRequest<'_>],
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_millis();
        let mut order: Vec<usize> = (0..requests.len()).collect();
        order.sort_by_key(|&i| requests[i].order_id);
        let ids: Vec<String> = order
            .iter()
            .map(|&i| requests[i].order_id.to_string())
            .collect();
        let all: Vec<(usize, &String)> = order.iter().copied().zip(&ids).collect();

        let mut tx = self.pool.begin().await?;
        if insert_claims(&mut tx, requests, &all, now).await? == all.len() as u64 {
            tx.commit().await?;
            return Ok(vec![Claim::Granted; requests.len()]);
        }
        tx.rollback().await?;
        claim_existing(&self.pool, requests, &all, lease, now).await
    }

    async fn confirm_notifications(&self, order_ids: &[OrderId]) -> Result<(), StoreError> {
        if order_ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = order_ids.iter().map(OrderId::to_string).collect();
        let mut q =
            QueryBuilder::<MySql>::new("UPDATE notifications SET state = 'SENT', sent_at = ");
        q.push_bind(naive(now_millis())).push(" WHERE order_id IN ");
        push_in_list(&mut q, ids.iter().map(String::as_str));
        q.build().execute(&self.pool).await?;
        Ok(())
    }
}
