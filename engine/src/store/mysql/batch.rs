//! The statements of a batch's transaction (see the parent's doc for the
//! order they run in).

use super::rows::{corrupt, naive, opt_text, text, ORDER_FIELDS};
use crate::domain::{CustomerId, FailureReason, OrderId, OrderRecord, OrderStatus, ProductId};
use crate::store::Recorded;
use crate::store::StoreError;
use chrono::NaiveDateTime;
use sqlx::Row;
use sqlx::{MySql, QueryBuilder};
use std::collections::{BTreeMap, HashMap, HashSet};

/// `INSERT` of `rows` orders, one value for each of [`ORDER_FIELDS`],
/// bound by [`insert_orders`] in that order.
pub(crate) fn insert_orders_sql(rows: usize) -> String {
    let placeholders = format!("({})", vec!["?"; ORDER_FIELDS.len()].join(", "));
    let values = vec![placeholders.as_str(); rows].join(", ");
    format!(
        "INSERT INTO orders ({}) VALUES {values}",
        ORDER_FIELDS.join(", ")
    )
}

/// Pushes `(?, ?, ...)` binding `values`, padded up to the next power of
/// two by repeating the last value (which changes nothing in an `IN` list).
/// sqlx caches prepared statements by their text, so the lists of batches
/// of any size then make a handful of statements, each prepared once per
/// connection, rather than one per batch size, each prepared again and
/// again as the cache turns over. No values push `(NULL)`, which matches
/// nothing.
pub(crate) fn push_in_list<'a>(
    q: &mut QueryBuilder<'a, MySql>,
    values: impl IntoIterator<Item = &'a str>,
) {
    let values: Vec<&str> = values.into_iter().collect();
    if values.is_empty() {
        q.push("(NULL)");
        return;
    }
    let padding = values.len().next_power_of_two() - values.len();
    let last = values.last().copied();
    q.push("(");
    let mut list = q.separated(", ");
    for v in values
        .into_iter()
        .chain(last.into_iter().cycle().take(padding))
    {
        list.push_bind(v);
    }
    q.push(")");
}

/// Locks the inventory rows of `products` (ascending, the primary key's
/// order; ORDER BY keeps the scan on it) and answers their stock. Products
/// that do not exist are absent.
pub(crate) async fn lock_stock(
    conn: &mut sqlx::MySqlConnection,
    products: &[ProductId],
) -> Result<BTreeMap<ProductId, i64>, StoreError> {
    let mut q = QueryBuilder::<MySql>::new(
        "SELECT product_id, quantity_available FROM inventory WHERE product_id IN ",
    );
    push_in_list(&mut q, products.iter().map(ProductId::as_str));
    q.push(" ORDER BY product_id FOR UPDATE");
    let mut stock = BTreeMap::new();
    for row in &q.build().fetch_all(&mut *conn).await? {
        let id = text(row, "product_id")?;
        let qty: i32 = row.try_get("quantity_available")?;
        stock.insert(ProductId::parse(&id).map_err(corrupt)?, i64::from(qty));
    }
    Ok(stock)
}

/// Which of the orders `ids` are recorded with an outcome, and which the
/// original system recorded PENDING and never finished (not applied yet:
/// they are applied now and their rows updated).
pub(crate) async fn recorded_orders(
    conn: &mut sqlx::MySqlConnection,
    ids: &[String],
) -> Result<(HashMap<OrderId, Recorded>, HashSet<OrderId>), StoreError> {
    let mut q = QueryBuilder::<MySql>::new(
        "SELECT order_id, customer_id, status, failure_reason, processed_at, created_at \
         FROM orders WHERE order_id IN ",
    );
    push_in_list(&mut q, ids.iter().map(String::as_str));
    let mut recorded = HashMap::new();
    let mut pending = HashSet::new();
    for row in &q.build().fetch_all(&mut *conn).await? {
        let id = text(row, "order_id")?;
        let order_id = OrderId::parse(&id).ok_or_else(|| corrupt(&id))?;
        let status = text(row, "status")?;
        let status = OrderStatus::parse(&status).ok_or_else(|| corrupt(&status))?;
        if status == OrderStatus::Pending {
            pending.insert(order_id);
            continue;
        }
        let customer = text(row, "customer_id")?;
        let reason = opt_text(row, "failure_reason")?;
        let processed_at: Option<NaiveDateTime> = row.try_get("processed_at")?;
        let created_at: NaiveDateTime = row.try_get("created_at")?;
        recorded.insert(
            order_id,
            Recorded {
                customer_id: CustomerId::parse(&customer).map_err(corrupt)?,
                status,
                reason: reason
                    .map(|r| FailureReason::parse(&r).ok_or_else(|| corrupt(&r)))
                    .transpose()?,
                processed_at: processed_at.unwrap_or(created_at).and_utc(),
            },
        );
    }
    Ok((recorded, pending))
}

/// One `UPDATE` taking from each product what moved between `before` and
/// `after`; none if nothing moved.
pub(crate) async fn take_stock(
    conn: &mut sqlx::MySqlConnection,
    before: &BTreeMap<ProductId, i64>,
    after: &BTreeMap<ProductId, i64>,
) -> Result<(), StoreError> {
    let taken: Vec<(&ProductId, i64)> = after
        .iter()
        .filter_map(|(p, now)| {
            let taken = before.get(p).copied().unwrap_or(*now) - now;
            (taken != 0).then_some((p, taken))
        })
        .collect();
    if taken.is_empty() {
        return Ok(());
    }
    let mut q = QueryBuilder::<MySql>::new(
        "UPDATE inventory SET quantity_available = quantity_available - CASE product_id",
    );
    for (p, n) in &taken {
        q.push(" WHEN ")
            .push_bind(p.as_str())
            .push(" THEN ")
            .push_bind(*n);
    }
    q.push(" END WHERE product_id IN (");
    let mut list = q.separated(", ");
    for (p, _) in &taken {
        list.push_bind(p.as_str());
    }
    q.push(")");
    q.build().execute(&mut *conn).await?;
    Ok(())
}

/// Inserts `records` with `sql` (from [`insert_orders_sql`] for as many).
pub(crate) async fn insert_orders(
    conn: &mut sqlx::MySqlConnection,
    sql: &str,
    records: &[OrderRecord],
) -> Result<(), StoreError> {
    let mut q = sqlx::query(sql);
    // One bind for each of ORDER_FIELDS, in its order.
    for r in records {
        let items = serde_json::to_string(&r.items)
            .map_err(|e| StoreError::Internal(format!("encoding items: {e}")))?;
        q = q
            .bind(r.order_id.to_string())
            .bind(r.customer_id.as_str())
            .bind(items)
            .bind(r.status.as_str())
            .bind(r.failure_reason.map(FailureReason::as_str))
            .bind(naive(r.created_at))
            .bind(r.processed_at.map(naive));
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// Records the outcome of an order that the original system left `PENDING`
/// (its accept time stays). Another batch finishing it first is a conflict,
/// retried: the retry finds its outcome.
pub(crate) async fn finish_pending(
    conn: &mut sqlx::MySqlConnection,
    r: &OrderRecord,
) -> Result<(), StoreError> {
    let updated = sqlx::query(
        "UPDATE orders SET failure_reason = ?, processed_at = ?, status = ? \
         WHERE order_id = ? AND status = 'PENDING'",
    )
    .bind(r.failure_reason.map(FailureReason::as_str))
    .bind(r.processed_at.map(naive))
    .bind(r.status.as_str())
    .bind(r.order_id.to_string())
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Overtaken(r.order_id))
    }
}
