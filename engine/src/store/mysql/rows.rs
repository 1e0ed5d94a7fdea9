//! Reading rows, and sorting the database's errors into the engine's.

use super::*;

/// Sorts sqlx errors, once, into the kinds the engine acts on.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let kind: fn(Arc<sqlx::Error>) -> StoreError = match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => StoreError::Unavailable,
            sqlx::Error::Database(db) => {
                match db
                    .try_downcast_ref::<MySqlDatabaseError>()
                    .map(|d| d.number())
                {
                    // deadlock, lock wait timeout, duplicate key (a concurrent
                    // insert of the same order), query interrupted
                    Some(1213 | 1205 | 1062 | 1317) => StoreError::Conflict,
                    // access denied: a rotated password
                    Some(1045) => StoreError::AccessDenied,
                    // server shutdown, connection killed, too many connections
                    // (the server's, or the user's MAX_USER_CONNECTIONS: 1226,
                    // 1203), read-only (failover), lost connection, gone away
                    Some(1053 | 1927 | 1040 | 1226 | 1203 | 1290 | 1836 | 2006 | 2013) => {
                        StoreError::Unavailable
                    }
                    _ => StoreError::Database,
                }
            }
            _ => StoreError::Database,
        };
        kind(Arc::new(e))
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(crate) const ORDER_COLUMNS: &str =
    "order_id, customer_id, CAST(items AS CHAR) AS items, status, \
     failure_reason, created_at, processed_at";

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
