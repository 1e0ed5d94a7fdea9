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
//! as a [`StoreError::Conflict`](super::StoreError::Conflict), to be retried. Never applied twice.
//!
//! Each concern in its own file: opening the pool (`connect`), the
//! [`OrderStore`](super::OrderStore) methods with the batch above
//! (`order_store`), the [`StoreAdmin`](super::StoreAdmin) methods
//! (`admin`), the application user's account and rights (`accounts`), and
//! the embedded migrations with the steps that apply them (`schema_steps`).
//! The statements they run are in `batch` and `claims`, rows are read in
//! `rows`, and errors sorted in `errors`.

use sqlx::mysql::MySqlPool;

mod accounts;
mod admin;
mod batch;
mod claims;
mod connect;
mod errors;
mod order_store;
mod rows;
mod schema_steps;

pub use accounts::DATA_TABLES;
pub use connect::Pool;
#[cfg(test)]
pub(crate) use rows::ORDER_FIELDS;
pub use schema_steps::{migrations_digest, MIGRATOR};

#[derive(Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
}

impl MySqlStore {
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }
}
