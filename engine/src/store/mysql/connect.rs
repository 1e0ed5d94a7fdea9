//! Opening the store: the pool, what each of its sessions sets, and the
//! three ways a process starts with the database (migrating it, finding it
//! migrated, or leaving its schema alone), each checking what it needs.

use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlDatabaseError, MySqlPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor};

use super::schema_steps::create_database;
use super::MySqlStore;
use crate::store::schema::{self, Found};
use crate::store::StoreError;

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
}
