//! The [`StoreAdmin`] methods, and the counts an operator's tools read:
//! what the pipeline itself never asks.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{MySql, QueryBuilder};

use super::rows::{naive, order_from_row, ORDER_COLUMNS};
use super::MySqlStore;
use crate::domain::{InventoryItem, OrderRecord};
use crate::store::{StoreAdmin, StoreError};

impl MySqlStore {
    /// How many products and orders the database holds.
    pub async fn row_counts(&self) -> Result<(i64, i64), StoreError> {
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM inventory), (SELECT COUNT(*) FROM orders)")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::from)
    }
}

#[async_trait]
impl StoreAdmin for MySqlStore {
    async fn orders_processed_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM orders WHERE processed_at >= ? ORDER BY processed_at, order_id",
            *ORDER_COLUMNS
        );
        let rows = sqlx::query(&sql)
            .bind(naive(since))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(order_from_row).collect()
    }

    async fn recent_orders(&self, limit: u32) -> Result<Vec<OrderRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM orders ORDER BY created_at DESC, order_id DESC LIMIT ?",
            *ORDER_COLUMNS
        );
        let rows = sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(order_from_row).collect()
    }

    async fn upsert_products(&self, products: &[InventoryItem]) -> Result<(), StoreError> {
        if products.is_empty() {
            return Ok(());
        }
        let mut q = QueryBuilder::<MySql>::new(
            "INSERT INTO inventory (product_id, product_name, quantity_available) ",
        );
        q.push_values(products, |mut b, p| {
            b.push_bind(p.product_id.as_str())
                .push_bind(&p.product_name)
                .push_bind(p.quantity_available);
        });
        q.push(
            " ON DUPLICATE KEY UPDATE product_name = VALUES(product_name), \
             quantity_available = VALUES(quantity_available)",
        );
        q.build().execute(&self.pool).await?;
        Ok(())
    }
}
