//! The MySQL (and MariaDB) store, over sqlx.
//!
//! A batch is one transaction at READ COMMITTED:
//! 0. have the server prepare the batch's `INSERT` before any lock is
//!    taken, so no round trip of preparing is made holding one;
//! 1. lock the inventory rows the batch names with `SELECT ... FOR UPDATE`,
//!    in ascending `product_id` order, so two batches that share products
//!    queue behind each other instead of deadlocking;
//! 2. read which of the batch's orders are already recorded (at READ
//!    COMMITTED this sees every commit made before our locks were granted);
//! 3. decide every order in memory ([`super::decide`]);
//! 4. decrement stock with one `UPDATE` and record the orders with one
//!    `INSERT`, then commit.
//!
//! An order whose products all do not exist locks no row; if two batches race
//! to record it, the second `INSERT` hits the primary key and the batch fails
//! as a [`StoreError::Conflict`], to be retried, never applied twice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::mysql::{MySqlConnectOptions, MySqlDatabaseError, MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::{ConnectOptions, Connection, Executor, MySql, QueryBuilder, Row};

use super::schema::{self, Found};
use super::{
    decide, lease_expired, products_of, record_of, Applied, Claim, ClaimRequest, OrderStore,
    Recorded, StoreAdmin, StoreError,
};
use crate::domain::{
    CustomerId, FailureReason, InventoryItem, OrderId, OrderLine, OrderRecord, OrderStatus,
    ProductId,
};
use crate::events::{now_millis, OrderCreated};

/// The schema, embedded from `db/migrations` and applied on start.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../db/migrations");

#[derive(Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
}

impl MySqlStore {
    /// Connects with a pool of `max_connections`, creating the database
    /// named in `options` if it is missing, applies the migrations to a
    /// database this engine made (or a new one), and checks that the schema
    /// is one it can use (see [`schema`]): a database made by the original
    /// system is refused, with a message saying how to migrate it.
    pub async fn connect(
        options: MySqlConnectOptions,
        max_connections: u32,
    ) -> Result<Self, StoreError> {
        let database = options.get_database().unwrap_or_default().to_owned();
        let store = Self::open(options, max_connections).await?;
        let found = schema::found(&store.pool).await?;
        match found {
            Found::Empty | Found::Ours => {
                store.migrate().await?;
            }
            Found::Foreign => {}
        }
        let problems = schema::problems(&store.pool).await?;
        if !problems.is_empty() {
            return Err(schema::refusal(&database, found, &problems));
        }
        if found == Found::Foreign {
            tracing::warn!(
                database,
                "the database has orderflow's tables but no migration history; \
                 `sim migrate` records it, so later migrations apply on start"
            );
        }
        Ok(store)
    }

    /// Connects with a pool of `max_connections`, creating the database
    /// named in `options` if it is missing; leaves the schema alone.
    pub async fn open(
        options: MySqlConnectOptions,
        max_connections: u32,
    ) -> Result<Self, StoreError> {
        if let Some(db) = options.get_database().map(str::to_owned) {
            create_database(&options, &db).await?;
        }
        let pool = MySqlPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // Each batch reads the orders table after taking its
                    // locks and must see what committed before them.
                    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(MySqlStore { pool })
    }

    /// Applies every pending migration, whoever made the database (this is
    /// how one made by the original system is brought to this schema), and
    /// answers the ones applied now, as `(version, description)`.
    pub async fn migrate(&self) -> Result<Vec<(i64, String)>, StoreError> {
        // Absent before the first migration: nothing applied yet.
        let before: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
            .fetch_all(&self.pool)
            .await
            .unwrap_or_default();
        adopt_rewritten_history(&self.pool).await?;
        MIGRATOR.run(&self.pool).await.map_err(migration_failed)?;
        Ok(MIGRATOR
            .iter()
            .filter(|m| !before.contains(&m.version))
            .map(|m| (m.version, m.description.to_string()))
            .collect())
    }

    /// How many products and orders the database holds.
    pub async fn row_counts(&self) -> Result<(i64, i64), StoreError> {
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM inventory), (SELECT COUNT(*) FROM orders)")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::from)
    }

    /// What keeps the engine from using this database's schema; empty when
    /// nothing does.
    pub async fn schema_problems(&self) -> Result<Vec<String>, StoreError> {
        schema::problems(&self.pool).await
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }
}

async fn create_database(options: &MySqlConnectOptions, db: &str) -> Result<(), StoreError> {
    if !db
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(StoreError::Schema(format!(
            "database name {db:?} may hold only letters, digits, '_' and '-'"
        )));
    }
    let server = options.clone().database("");
    let mut conn = server.connect().await?;
    conn.execute(format!("CREATE DATABASE IF NOT EXISTS `{db}`").as_str())
        .await?;
    conn.close().await?;
    Ok(())
}

/// Migrations rewritten before the first release, as `(version, SHA-384 of
/// the text first applied)`: 0001 lost a comment about docker-compose, and
/// 0002 alters the notifications table in place instead of dropping and
/// recreating it. Both leave the same schema as before, so a database that
/// applied the old texts has its records' checksums brought up to date
/// instead of being refused for a changed migration. (The old texts are in
/// `engine/tests/data/migrations-0.1`, where a test applies them and then
/// these.)
const REWRITTEN: &[(i64, &str)] = &[
    (
        1,
        "b32f2b3143bec1f2fcabf1068c5c5e15f9522a9ab1009845e2706f97ea842304fe67b8a39cebe3f1e59c4bec968659c3",
    ),
    (
        2,
        "2e21d9fe332fad986e20d3dbcdc9bda05e798422f8bbd842fe44cba326fa34be1c6239a8c8666c54f42c160759d1963f",
    ),
];

async fn adopt_rewritten_history(pool: &MySqlPool) -> Result<(), StoreError> {
    if schema::found(pool).await? != Found::Ours {
        return Ok(());
    }
    for (version, old) in REWRITTEN {
        let Some(now) = MIGRATOR.iter().find(|m| m.version == *version) else {
            continue;
        };
        sqlx::query(
            "UPDATE _sqlx_migrations SET checksum = ? WHERE version = ? AND checksum = UNHEX(?)",
        )
        .bind(now.checksum.as_ref())
        .bind(version)
        .bind(old)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// A failed migration, with what to do about it: MySQL cannot roll a schema
/// change back, so sqlx records the migration as begun and refuses to go on
/// until someone looks.
fn migration_failed(e: sqlx::migrate::MigrateError) -> StoreError {
    use sqlx::migrate::MigrateError;
    let (what, version) = match &e {
        MigrateError::ExecuteMigration(source, version) => {
            (format!("migration {version:04} failed: {source}"), *version)
        }
        MigrateError::Dirty(version) => (
            format!("migration {version:04} stopped part way in an earlier run"),
            *version,
        ),
        other => return StoreError::Schema(format!("migrations: {other}")),
    };
    StoreError::Schema(format!(
        "{what}. Fix the cause (a CHECK constraint that fails names the table whose rows \
         break it), then delete the migration's record \
         (DELETE FROM _sqlx_migrations WHERE version = {version}) and migrate again: \
         its steps check before they change anything, so a second run is safe"
    ))
}

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
                    // server shutdown, connection killed, too many connections,
                    // read-only (failover), lost connection, gone away
                    Some(1053 | 1927 | 1040 | 1290 | 1836 | 2006 | 2013) => StoreError::Unavailable,
                    _ => StoreError::Database,
                }
            }
            _ => StoreError::Database,
        };
        kind(Arc::new(e))
    }
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

const ORDER_COLUMNS: &str = "order_id, customer_id, CAST(items AS CHAR) AS items, status, \
     failure_reason, created_at, processed_at";

fn order_from_row(row: &MySqlRow) -> Result<OrderRecord, StoreError> {
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

fn item_from_row(row: &MySqlRow) -> Result<InventoryItem, StoreError> {
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
fn text(row: &MySqlRow, column: &str) -> Result<String, StoreError> {
    opt_text(row, column)?.ok_or_else(|| corrupt(format!("{column} is NULL")))
}

fn opt_text(row: &MySqlRow, column: &str) -> Result<Option<String>, StoreError> {
    let bytes: Option<Vec<u8>> = row.try_get_unchecked(column)?;
    bytes
        .map(|b| String::from_utf8(b).map_err(|e| corrupt(format!("{column}: {e}"))))
        .transpose()
}

/// `INSERT` of `rows` orders, seven values each, bound in [`OrderRecord`]'s
/// field order.
fn insert_orders_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO orders (order_id, customer_id, items, status, failure_reason, \
         created_at, processed_at) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, ?, ?, ?, ?, ?)");
    }
    sql
}

/// Pushes `(?, ?, ...)` binding `values`, padded up to the next power of
/// two by repeating the last value (which changes nothing in an `IN` list).
/// sqlx caches prepared statements by their text, so the lists of batches
/// of any size then make a handful of statements, each prepared once per
/// connection, rather than one per batch size, each prepared again and
/// again as the cache turns over. No values push `(NULL)`, which matches
/// nothing.
fn push_in_list<'a>(q: &mut QueryBuilder<'a, MySql>, values: impl IntoIterator<Item = &'a str>) {
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

fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

#[async_trait]
impl OrderStore for MySqlStore {
    async fn apply(&self, orders: &[OrderCreated]) -> Result<Vec<Applied>, StoreError> {
        if orders.is_empty() {
            return Ok(Vec::new());
        }
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
        // 1. Lock; 2. read what is recorded; 3. decide.
        let before = lock_stock(&mut tx, &products_of(orders)).await?;
        let (recorded, pending) = recorded_orders(&mut tx, &ids).await?;
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

    async fn order(&self, order_id: OrderId) -> Result<Option<OrderRecord>, StoreError> {
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = ?");
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
        let rows = sqlx::query(
            "SELECT product_id, product_name, quantity_available FROM inventory ORDER BY product_id",
        )
        .fetch_all(&self.pool)
        .await
        ?;
        rows.iter().map(item_from_row).collect()
    }

    async fn product(&self, product_id: &ProductId) -> Result<Option<InventoryItem>, StoreError> {
        let row = sqlx::query(
            "SELECT product_id, product_name, quantity_available FROM inventory WHERE product_id = ?",
        )
        .bind(product_id.as_str())
        .fetch_optional(&self.pool)
        .await
        ?;
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

#[async_trait]
impl StoreAdmin for MySqlStore {
    async fn orders_processed_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE processed_at >= ? ORDER BY processed_at, order_id"
        );
        let rows = sqlx::query(&sql)
            .bind(naive(since))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(order_from_row).collect()
    }

    async fn recent_orders(&self, limit: u32) -> Result<Vec<OrderRecord>, StoreError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders ORDER BY created_at DESC, order_id DESC LIMIT ?"
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

/// Locks the inventory rows of `products` (ascending, the primary key's
/// order; ORDER BY keeps the scan on it) and answers their stock. Products
/// that do not exist are absent.
async fn lock_stock(
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
async fn recorded_orders(
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
async fn take_stock(
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
async fn insert_orders(
    conn: &mut sqlx::MySqlConnection,
    sql: &str,
    records: &[OrderRecord],
) -> Result<(), StoreError> {
    let mut q = sqlx::query(sql);
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
async fn finish_pending(
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

/// Inserts a claim row for each of `rows` (request index, order id, in id
/// order) that has none; answers how many it inserted.
async fn insert_claims(
    conn: &mut sqlx::MySqlConnection,
    requests: &[ClaimRequest<'_>],
    rows: &[(usize, &String)],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut q = QueryBuilder::<MySql>::new(
        "INSERT IGNORE INTO notifications (order_id, status, state, claimed_by, claimed_at) ",
    );
    q.push_values(rows, |mut b, (i, id)| {
        b.push_bind(id.as_str())
            .push_bind(requests[*i].status.as_str())
            .push_bind("CLAIMED")
            .push_bind(requests[*i].claimant)
            .push_bind(naive(now));
    });
    Ok(q.build().execute(&mut *conn).await?.rows_affected())
}

/// The claim when some of the orders have a notification row already, in
/// one transaction: existing rows are locked in `order_id` order (the
/// primary key's), missing ones inserted in the same order, so two
/// notifiers with overlapping batches queue instead of deadlocking; an
/// insert that loses a race to another notifier is seen as that notifier's
/// claim.
async fn claim_existing(
    pool: &MySqlPool,
    requests: &[ClaimRequest<'_>],
    all: &[(usize, &String)],
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Claim>, StoreError> {
    let mut tx = pool.begin().await?;
    let mut q = QueryBuilder::<MySql>::new(
        "SELECT order_id, state, claimed_by, claimed_at FROM notifications WHERE order_id IN ",
    );
    push_in_list(&mut q, all.iter().map(|(_, id)| id.as_str()));
    q.push(" ORDER BY order_id FOR UPDATE");
    let mut existing: HashMap<String, (String, String, NaiveDateTime)> = HashMap::new();
    for row in &q.build().fetch_all(&mut *tx).await? {
        let claimed_at: NaiveDateTime = row.try_get("claimed_at")?;
        existing.insert(
            text(row, "order_id")?,
            (text(row, "state")?, text(row, "claimed_by")?, claimed_at),
        );
    }

    let mut out = vec![Claim::HeldElsewhere; requests.len()];
    let (mut insert, mut take) = (Vec::new(), Vec::new());
    for &(i, id) in all {
        match existing.get(id) {
            None => insert.push((i, id)),
            Some((state, _, _)) if state == "SENT" => out[i] = Claim::AlreadySent,
            Some((_, holder, at))
                if holder == requests[i].claimant || lease_expired(at.and_utc(), lease, now) =>
            {
                take.push((i, id))
            }
            Some(_) => {}
        }
    }

    if !insert.is_empty() {
        if insert_claims(&mut tx, requests, &insert, now).await? == insert.len() as u64 {
            for (i, _) in &insert {
                out[*i] = Claim::Granted;
            }
        } else {
            // Some were inserted meanwhile by another notifier: ours are
            // the rows that name our claimant.
            let mut q = QueryBuilder::<MySql>::new(
                "SELECT order_id, claimed_by FROM notifications WHERE order_id IN ",
            );
            push_in_list(&mut q, insert.iter().map(|(_, id)| id.as_str()));
            let mut holders = HashMap::new();
            for row in &q.build().fetch_all(&mut *tx).await? {
                holders.insert(text(row, "order_id")?, text(row, "claimed_by")?);
            }
            for (i, id) in &insert {
                if holders.get(*id).map(String::as_str) == Some(requests[*i].claimant) {
                    out[*i] = Claim::Granted;
                }
            }
        }
    }

    for (i, id) in &take {
        sqlx::query("UPDATE notifications SET claimed_by = ?, claimed_at = ? WHERE order_id = ?")
            .bind(requests[*i].claimant)
            .bind(naive(now))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        out[*i] = Claim::Granted;
    }
    tx.commit().await?;
    Ok(out)
}
