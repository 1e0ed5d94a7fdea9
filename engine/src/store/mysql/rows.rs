//! Reading rows into the engine's types.

use crate::domain::{
    CustomerId, FailureReason, InventoryItem, OrderId, OrderLine, OrderRecord, OrderStatus,
    ProductId,
};
use crate::store::StoreError;
use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::mysql::MySqlRow;
use sqlx::Row;

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// The `orders` columns the engine writes and reads, in [`OrderRecord`]'s
/// field order: the one list the `INSERT` ([`super::batch::insert_orders_sql`]),
/// the `SELECT`s ([`ORDER_COLUMNS`]) and the start's schema check
/// (`store::schema`, a unit test holds them equal) are made from. A column
/// added here and not to the migrations fails every MySQL test's start.
pub(crate) const ORDER_FIELDS: [&str; 7] = [
    "order_id",
    "customer_id",
    "items",
    "status",
    "failure_reason",
    "created_at",
    "processed_at",
];

/// The select list of an order: [`ORDER_FIELDS`], the JSON read as text.
pub(crate) static ORDER_COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    ORDER_FIELDS
        .map(|c| match c {
            "items" => "CAST(items AS CHAR) AS items",
            c => c,
        })
        .join(", ")
});

pub(crate) fn order_from_row(row: &MySqlRow) -> Result<OrderRecord, StoreError> {
    let id = text(row, "order_id")?;
    let customer = text(row, "customer_id")?;
    let items = text(row, "items")?;
    let status = text(row, "status")?;
    let reason = opt_text(row, "failure_reason")?;
    let created_at: NaiveDateTime = row.try_get("created_at")?;
    let processed_at: Option<NaiveDateTime> = row.try_get("processed_at")?;
    Ok(OrderRecord {
        order_id: OrderId::parse(&id).ok_or_else(|| corrupt(&id))?,
        customer_id: CustomerId::parse(&customer).map_err(corrupt)?,
        items: serde_json::from_str::<Vec<OrderLine>>(&items).map_err(corrupt)?,
        status: OrderStatus::parse(&status).ok_or_else(|| corrupt(&status))?,
        failure_reason: reason
            .map(|r| FailureReason::parse(&r).ok_or_else(|| corrupt(&r)))
            .transpose()?,
        created_at: created_at.and_utc(),
        processed_at: processed_at.map(|t| t.and_utc()),
    })
}

pub(crate) fn item_from_row(row: &MySqlRow) -> Result<InventoryItem, StoreError> {
    let id = text(row, "product_id")?;
    let quantity: i32 = row.try_get("quantity_available")?;
    Ok(InventoryItem {
        product_id: ProductId::parse(&id).map_err(corrupt)?,
        product_name: text(row, "product_name")?,
        quantity_available: i64::from(quantity),
    })
}

/// Reads a text column. Columns with a binary collation (`utf8mb4_bin`, which
/// the schema uses so ids compare byte for byte, as in Rust) arrive flagged
/// binary, so they are read as bytes and checked to be UTF-8.
pub(crate) fn text(row: &MySqlRow, column: &str) -> Result<String, StoreError> {
    opt_text(row, column)?.ok_or_else(|| corrupt(format!("{column} is NULL")))
}

pub(crate) fn opt_text(row: &MySqlRow, column: &str) -> Result<Option<String>, StoreError> {
    let bytes: Option<Vec<u8>> = row.try_get_unchecked(column)?;
    bytes
        .map(|b| String::from_utf8(b).map_err(|e| corrupt(format!("{column}: {e}"))))
        .transpose()
}

pub(crate) fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}
