//! Opening a store, the one way the sim, the functions, the migration step
//! and the tests all do it: [`StoreOptions`] says where (MySQL, or in
//! memory), with how many connections, what to do about the schema, and
//! whether to seed the demo inventory; [`StoreOptions::open`] opens it.

use std::sync::Arc;

use sqlx::mysql::MySqlConnectOptions;

use super::mysql::Pool;
use super::{MemoryStore, MySqlStore, OrderStore, StoreAdmin, StoreError};
use crate::domain::seed_products;

/// What opening a MySQL store does about the database's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Creates the database if it is missing, applies the pending
    /// migrations to a database this engine made (or a new one), and
    /// refuses a schema it cannot use, saying how to migrate it (the sim,
    /// `sim serve`, the tests).
    Migrate,
    /// Runs no DDL and opens no connection beyond the pool: a schema that
    /// is not current is refused (a deployed function: migrations are a
    /// deploy step, and its user has data rights only).
    Current,
    /// Creates the database if it is missing and leaves the schema alone
    /// (the migration step and `sim migrate`, which migrate it themselves).
    AsIs,
}

/// How to open a store; see the module doc.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// MySQL at these options; none: in memory.
    pub mysql: Option<MySqlConnectOptions>,
    /// Connections in the MySQL pool.
    pub pool_size: u32,
    /// Each session's `innodb_lock_wait_timeout`, seconds (none: the
    /// server's).
    pub lock_wait_timeout_secs: Option<u32>,
    pub schema: Schema,
    /// Seeds the demo products into an empty inventory.
    pub seed: bool,
}

impl StoreOptions {
    /// MySQL at `options`: a pool of 5, migrated, not seeded.
    pub fn mysql(options: MySqlConnectOptions) -> Self {
        StoreOptions {
            mysql: Some(options),
            pool_size: 5,
            lock_wait_timeout_secs: None,
            schema: Schema::Migrate,
            seed: false,
        }
    }

    pub fn pool_size(self, pool_size: u32) -> Self {
        StoreOptions { pool_size, ..self }
    }

    pub fn lock_wait_timeout(self, secs: Option<u32>) -> Self {
        StoreOptions {
            lock_wait_timeout_secs: secs,
            ..self
        }
    }

    fn pool(&self) -> Pool {
        Pool {
            size: self.pool_size,
            lock_wait_timeout_secs: self.lock_wait_timeout_secs,
        }
    }

    pub fn schema(self, schema: Schema) -> Self {
        StoreOptions { schema, ..self }
    }

    pub fn seeded(self, seed: bool) -> Self {
        StoreOptions { seed, ..self }
    }

    /// Opens the store.
    pub async fn open(self) -> Result<OpenedStore, StoreError> {
        let store = match &self.mysql {
            Some(_) => OpenedStore::MySql(Arc::new(self.open_mysql().await?)),
            None => {
                let store = OpenedStore::Memory(Arc::new(MemoryStore::new()));
                if self.seed {
                    store.as_dyn().seed_if_empty(&seed_products()).await?;
                }
                store
            }
        };
        Ok(store)
    }

    /// Opens the MySQL store; options without MySQL's are refused.
    pub async fn open_mysql(self) -> Result<MySqlStore, StoreError> {
        let pool = self.pool();
        let options = self.mysql.ok_or(StoreError::NotMySql)?;
        let store = match self.schema {
            Schema::Migrate => MySqlStore::connect(options, pool).await?,
            Schema::Current => MySqlStore::connect_migrated(options, pool).await?,
            Schema::AsIs => MySqlStore::open(options, pool).await?,
        };
        if self.seed {
            store.seed_if_empty(&seed_products()).await?;
        }
        Ok(store)
    }
}

/// An opened store: MySQL, or in memory.
pub enum OpenedStore {
    MySql(Arc<MySqlStore>),
    Memory(Arc<MemoryStore>),
}

impl OpenedStore {
    pub fn as_dyn(&self) -> Arc<dyn OrderStore> {
        match self {
            OpenedStore::MySql(s) => s.clone(),
            OpenedStore::Memory(s) => s.clone(),
        }
    }

    /// The same store, with the reads and writes of tools and the sim.
    pub fn admin(&self) -> Arc<dyn StoreAdmin> {
        match self {
            OpenedStore::MySql(s) => s.clone(),
            OpenedStore::Memory(s) => s.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    /// A function's cold start while the database fails over: the store
    /// opens without it (rather than failing the init), and answers
    /// "unavailable", a transient error, until the database is back.
    #[tokio::test]
    async fn a_function_starts_without_an_unreachable_database() {
        // Nothing listens on port 1.
        let options =
            MySqlConnectOptions::from_str("mysql://orderflow@127.0.0.1:1/orderflow").unwrap();
        let store = StoreOptions::mysql(options.clone())
            .pool_size(1)
            .schema(Schema::Current)
            .open_mysql()
            .await
            .expect("a lazy pool");
        let e = store.ping().await.unwrap_err();
        assert!(e.is_unreachable() && e.is_transient(), "{e}");
        // A start that migrates (the sim, a tool) still refuses.
        let e = StoreOptions::mysql(options)
            .pool_size(1)
            .open_mysql()
            .await
            .err()
            .expect("no database to migrate");
        assert!(e.is_unreachable(), "{e}");
    }
}
