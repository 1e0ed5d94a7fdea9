//! The MySQL (and MariaDB) store, over sqlx.
//!
//! A batch is one transaction at READ COMMITTED:
//! 0. have the server prepare the batch's `INSERT` before any lock is
//!    taken, so no round trip of preparing is made holding one;
//! 1. read which of the batch's orders are already recorded, before any
//!    lock is taken (so that round trip is not made holding the hot row);
//! 2. lock the inventory rows the batch names with `SELECT ... FOR UPDATE`,
//!    in ascending `product_id` order, so two batches that share products
//!    queue behind each other instead of deadlocking;
//! 3. decide every order in memory ([`super::decide`]);
//! 4. decrement stock with one `UPDATE` and record the orders with one
//!    `INSERT`, then commit.
//!
//! An order recorded by another batch between steps 1 and 2 (a duplicate
//! delivery in flight at once) is caught by the primary key: our `INSERT`
//! fails and the transaction rolls back; the batch then runs once more with
//! step 1 after step 2, under the locks. An order whose products all do not
//! exist locks no row: if two batches race to record it, the second fails
//! as a [`StoreError::Conflict`], to be retried. Never applied twice.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::mysql::{MySqlConnectOptions, MySqlDatabaseError, MySqlPool, MySqlPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, MySql, QueryBuilder};

use super::schema::{self, Found};
use super::{
    decide, products_of, record_of, Applied, Claim, ClaimRequest, OrderStore, StoreAdmin,
    StoreError,
};
use crate::domain::{InventoryItem, OrderId, OrderRecord, ProductId};
use crate::events::{now_millis, OrderCreated};

mod batch;
mod claims;
mod errors;
mod rows;
mod schema_steps;

use batch::{
    finish_pending, insert_orders, insert_orders_sql, lock_stock, push_in_list, recorded_orders,
    take_stock,
};
use claims::{claim_existing, insert_claims};
use errors::is_duplicate_key;
#[cfg(test)]
pub(crate) use rows::ORDER_FIELDS;
use rows::{item_from_row, naive, order_from_row, ORDER_COLUMNS};
use schema_steps::{adopt_rewritten_history, create_database, migration_failed};

/// When a batch reads which of its orders are recorded.
#[derive(Debug, Clone, Copy)]
enum Read {
    /// Before locking its products: the fast path.
    BeforeLocking,
    /// Holding the locks: after the fast path met a race.
    UnderLock,
}

/// `db/migrations`, as `build.rs` embeds them: (version, description,
/// type, SQL), in version order.
const EMBEDDED: &[(i64, &str, MigrationType, &str)] =
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The schema, embedded from `db/migrations` and applied on start: the
/// migrations sqlx's `migrate!` would make of the folder (each one's
/// checksum the SHA-384 of its SQL), built as that macro builds them.
pub static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| Migrator {
    migrations: EMBEDDED
        .iter()
        .map(|&(version, description, kind, sql)| {
            let no_tx = sql.starts_with("-- no-transaction");
            Migration::new(version, description.into(), kind, sql.into(), no_tx)
        })
        .collect::<Vec<_>>()
        .into(),
    ..Migrator::DEFAULT
});

/// The tables the pipeline reads and writes: all the application user may
/// change.
pub const DATA_TABLES: [&str; 3] = ["inventory", "orders", "notifications"];

/// A digest of the migrations this binary carries: SHA-256, hex, of one
/// line per migration in version order, `<version>:<SHA-384 of its file,
/// hex>\n`. The Pulumi program's `migrationsDigest` computes the same from
/// `db/migrations`, so the deploy step can tell a migrate zip built from
/// other migrations (and refuse to run it).
pub fn migrations_digest() -> String {
    use sha2::Digest;
    let mut lines = String::new();
    for m in MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
    {
        let checksum: String = m.checksum.iter().map(|b| format!("{b:02x}")).collect();
        lines.push_str(&format!("{}:{checksum}\n", m.version));
    }
    sha2::Sha256::digest(lines.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
}

/// How a pool of `pool` connects: each session's isolation level and lock
/// wait, and a 5 s wait for a connection.
fn pool_options(pool: Pool) -> MySqlPoolOptions {
    let lock_wait = pool.lock_wait_timeout_secs;
    MySqlPoolOptions::new()
        .max_connections(pool.size)
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                // Each batch reads the orders table after taking its
                // locks and must see what committed before them.
                conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .await?;
                if let Some(secs) = lock_wait {
                    conn.execute(format!("SET SESSION innodb_lock_wait_timeout = {secs}").as_str())
                        .await?;
                }
                Ok(())
            })
        })
}

/// A pool's size, and what each of its sessions sets.
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    pub size: u32,
    /// `innodb_lock_wait_timeout`, seconds (none: the server's).
    pub lock_wait_timeout_secs: Option<u32>,
}

impl MySqlStore {
    /// Connects with a pool of `max_connections`, creating the database
    /// named in `options` if it is missing, applies the migrations to a
    /// database this engine made (or a new one), and checks that the schema
    /// is one it can use (see [`schema`]): a database made by the original
    /// system is refused, with a message saying how to migrate it.
    pub(in crate::store) async fn connect(
        options: MySqlConnectOptions,
        pool: Pool,
    ) -> Result<Self, StoreError> {
        let database = options.get_database().unwrap_or_default().to_owned();
        let store = Self::open(options, pool).await?;
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

    /// Connects with a pool of `max_connections` to a database whose schema
    /// is already current, as the Lambda functions do: migrations are a
    /// deploy step (`sim migrate`, the migration function), so a cold start
    /// runs none and needs no DDL rights. A database that is not migrated
    /// is refused with the problems found.
    pub(in crate::store) async fn connect_migrated(
        options: MySqlConnectOptions,
        pool: Pool,
    ) -> Result<Self, StoreError> {
        let database = options.get_database().unwrap_or_default().to_owned();
        let store = match Self::pool_only(options.clone(), pool).await {
            Ok(store) => store,
            // A failover (or a network fault) at a cold start: the function
            // starts without the database rather than failing its init, which
            // would leave its first batch on the queue for the whole
            // visibility timeout; its batches hand their orders back until the
            // database answers. The schema is not checked this time.
            Err(e) if e.is_unreachable() => {
                tracing::warn!(
                    error = %e,
                    "the database is unreachable at start (a failover?): starting without it; \
                     the pool connects once it answers, and the schema check is skipped"
                );
                return Ok(MySqlStore {
                    pool: pool_options(pool).connect_lazy_with(options),
                });
            }
            Err(e) => return Err(e),
        };
        let problems = schema::problems(&store.pool).await?;
        if !problems.is_empty() {
            return Err(match schema::found(&store.pool).await? {
                Found::Empty => StoreError::Schema(format!(
                    "the database `{database}` has no tables: migrations are a deploy step, \
                     not part of a start. Run them once as the schema's owner with\n  \
                     cargo run -p sim -- migrate      (or the stack's migration function)"
                )),
                // The functions' user has no rights on the migration
                // history and cannot see it: whether the database is
                // migrated or foreign, it cannot tell, and the cure from
                // a deploy is the migration step either way.
                Found::Ours | Found::Foreign => StoreError::Schema(format!(
                    "the database `{database}` is not in the schema this build needs: {}. \
                     Run this build's migrations as the schema's owner (the stack's migration \
                     step, or `cargo run -p sim -- migrate`) before its functions; a database \
                     the original system made is migrated in place, keeping its rows \
                     (the book's \"Moving from the original system\")",
                    problems.join("; ")
                )),
            });
        }
        Ok(store)
    }

    /// Connects with a pool of `max_connections`, creating the database
    /// named in `options` if it is missing; leaves the schema alone.
    pub(in crate::store) async fn open(
        options: MySqlConnectOptions,
        pool: Pool,
    ) -> Result<Self, StoreError> {
        // A user with data rights only (an application user, a limited one)
        // may not run CREATE DATABASE even for a database that exists: the
        // database is created only when the server says it is unknown.
        let database_missing = |e: &sqlx::Error| {
            matches!(e, sqlx::Error::Database(d)
                if d.try_downcast_ref::<MySqlDatabaseError>().map(|d| d.number()) == Some(1049))
        };
        match options.connect().await {
            Ok(conn) => conn.close().await?,
            Err(e) if database_missing(&e) => {
                let db = options.get_database().unwrap_or_default().to_owned();
                create_database(&options, &db).await?;
            }
            Err(e) => return Err(e.into()),
        }
        Self::pool_only(options, pool).await
    }

    /// A pool of `max_connections` to the database `options` name, and no
    /// other connection: what an execution environment opens (the
    /// deployed shape's connection budget counts on it).
    async fn pool_only(options: MySqlConnectOptions, pool: Pool) -> Result<Self, StoreError> {
        let pool = pool_options(pool).connect_with(options).await?;
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

    /// Creates `user`@`host` if missing, sets its password, and grants it
    /// data rights on `database`: `SELECT, INSERT, UPDATE` on the data
    /// tables (it deletes nothing and runs no DDL) and none on the
    /// migration history. What the migration step does, as the schema's
    /// owner, for the functions' application user. The name and password
    /// are checked to be plain (letters, digits, `_`, `-`), as they are
    /// spliced into statements that take no parameters.
    pub async fn grant_data_rights(
        &self,
        user: (&str, &str),
        password: &str,
        database: &str,
    ) -> Result<(), StoreError> {
        let account = account(user)?;
        let password = plain("password", password)?;
        let database = plain("database name", database)?;
        let mut conn = self.pool.acquire().await?;
        conn.execute(
            format!("CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{password}'").as_str(),
        )
        .await?;
        // Without RETAIN, a secondary password a rotation kept stays.
        conn.execute(format!("ALTER USER {account} IDENTIFIED BY '{password}'").as_str())
            .await?;
        // Rights on the data tables only; none on the migration history (a
        // function checks the schema's columns, not its history). Accounts
        // made before had rights on the whole database, then SELECT on the
        // history: both are taken back.
        for grant in [
            format!("REVOKE SELECT, INSERT, UPDATE ON `{database}`.* FROM {account}"),
            format!("REVOKE SELECT ON `{database}`.`_sqlx_migrations` FROM {account}"),
        ] {
            match conn.execute(grant.as_str()).await {
                Ok(_) => {}
                // 1141, 1147: no such grant (an account made since).
                Err(sqlx::Error::Database(e))
                    if e.try_downcast_ref::<MySqlDatabaseError>()
                        .is_some_and(|d| matches!(d.number(), 1141 | 1147)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        for table in DATA_TABLES {
            conn.execute(
                format!("GRANT SELECT, INSERT, UPDATE ON `{database}`.`{table}` TO {account}")
                    .as_str(),
            )
            .await?;
        }
        // The same user from another host (an earlier deploy's `'%'`) would
        // keep its old password and rights, which no rotation changes:
        // dropped.
        let others: Vec<(String,)> = sqlx::query_as(
            "SELECT CAST(host AS CHAR) FROM mysql.user WHERE user = ? AND host <> ?",
        )
        .bind(user.0)
        .bind(user.1)
        .fetch_all(&mut *conn)
        .await?;
        for (host,) in others {
            let other = self::account((user.0, &host))?;
            conn.execute(format!("DROP USER IF EXISTS {other}").as_str())
                .await?;
        }
        Ok(())
    }

    /// Whether the server keeps two passwords per account (MySQL 8.0.14 and
    /// later: `RETAIN CURRENT PASSWORD`, `DISCARD OLD PASSWORD`). MariaDB
    /// does not.
    pub async fn has_dual_passwords(&self) -> Result<bool, StoreError> {
        let (version,): (String,) = sqlx::query_as("SELECT VERSION()")
            .fetch_one(&self.pool)
            .await?;
        Ok(dual_passwords(&version))
    }

    /// Gives `user`@`host` a new password; with `retain_current`, the one
    /// it had keeps working too (until [`MySqlStore::discard_old_password`]),
    /// on a server that [has dual passwords](MySqlStore::has_dual_passwords).
    pub async fn set_password(
        &self,
        user: (&str, &str),
        password: &str,
        retain_current: bool,
    ) -> Result<(), StoreError> {
        let account = account(user)?;
        let password = plain("password", password)?;
        let retain = if retain_current {
            " RETAIN CURRENT PASSWORD"
        } else {
            ""
        };
        sqlx::query(&format!(
            "ALTER USER {account} IDENTIFIED BY '{password}'{retain}"
        ))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the password [`MySqlStore::set_password`] retained.
    pub async fn discard_old_password(&self, user: (&str, &str)) -> Result<(), StoreError> {
        let account = account(user)?;
        sqlx::query(&format!("ALTER USER {account} DISCARD OLD PASSWORD"))
            .execute(&self.pool)
            .await?;
        Ok(())
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

    /// One batch's transaction (see the module doc), reading which orders
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

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
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

/// `value`, if it is plain enough to splice into a statement: letters,
/// digits, `_` and `-`.
fn plain<'a>(what: &str, value: &'a str) -> Result<&'a str, StoreError> {
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match ok {
        true => Ok(value),
        false => Err(StoreError::Internal(format!(
            "a database {what} with characters other than letters, digits, `_` and `-`"
        ))),
    }
}

/// `'user'@'host'`, for a plain user name and a host pattern (`%`, or an
/// address range such as `10.20.%`).
fn account((user, host): (&str, &str)) -> Result<String, StoreError> {
    let user = plain("user", user)?;
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"%._-:".contains(&b))
    {
        return Err(StoreError::Internal(format!(
            "a database user host `{host}` with characters other than letters, digits, `%`, `.`, `_`, `-` and `:`"
        )));
    }
    Ok(format!("'{user}'@'{host}'"))
}

/// Whether a server reporting `version` (`SELECT VERSION()`) has dual
/// passwords: MySQL from 8.0.14; no MariaDB release.
fn dual_passwords(version: &str) -> bool {
    if version.contains("MariaDB") {
        return false;
    }
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (major, minor, patch) >= (8, 0, 14)
}

#[cfg(test)]
mod tests {
    /// The embedded migrations are sqlx's reading of the folder, checksums
    /// and all: a database migrated by an earlier build (whose `migrate!`
    /// recorded them) is up to date with this one.
    #[tokio::test]
    async fn the_embedded_migrations_are_what_sqlx_reads_from_the_folder() {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../db/migrations"));
        let read = sqlx::migrate::Migrator::new(dir).await.unwrap();
        let embedded: Vec<_> = super::MIGRATOR.iter().collect();
        assert_eq!(embedded.len(), read.iter().count());
        for (e, r) in embedded.iter().zip(read.iter()) {
            assert_eq!(
                (e.version, &e.description, e.migration_type, e.no_tx),
                (r.version, &r.description, r.migration_type, r.no_tx)
            );
            assert_eq!(e.sql, r.sql, "{}", e.version);
            assert_eq!(e.checksum, r.checksum, "{}", e.version);
        }
    }

    #[test]
    fn dual_passwords_are_mysql_8_0_14_and_later() {
        for (version, dual) in [
            ("8.4.3", true),
            ("8.0.14", true),
            ("8.0.13-log", false),
            ("5.7.44-log", false),
            ("10.11.19-MariaDB-0+deb12u1", false),
            ("11.4.2-MariaDB", false),
            ("9.1.0", true),
        ] {
            assert_eq!(super::dual_passwords(version), dual, "{version}");
        }
    }
}
