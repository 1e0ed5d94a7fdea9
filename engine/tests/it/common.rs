//! Test helpers: a MySQL database of its own for each test, an app started
//! the way `sim` starts it, and small builders.
//!
//! MySQL tests never skip: if the server at `TEST_MYSQL_URL` (default
//! `mysql://root@127.0.0.1:3306`) cannot be reached, they fail and say how
//! to start it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use engine::app::{App, Hooks};
use engine::config::Config;
use engine::domain::{seed_products, InventoryItem, ProductId};
use engine::domain::{OrderLine, ValidOrder};
use engine::events::{now_millis, OrderCreated};
use engine::harness::Harness;
use engine::store::{
    Applied, MemoryStore, MySqlStore, OrderStore, StoreAdmin, StoreDecorator, StoreError,
    StoreOptions,
};
use orderflow_client::Client;
use sqlx::mysql::MySqlConnectOptions;
use sqlx::{ConnectOptions, Executor};
use std::time::Duration;

pub use testkit::server_url;
#[allow(unused_imports)] // not every test binary waits
pub use testkit::wait_until;

/// A database created for one test, dropped when the value is (whether the
/// test passed or panicked), unless it is [`TestDb::named`] for reuse.
pub struct TestDb {
    pub name: String,
    pub options: MySqlConnectOptions,
    _dropped_with: Option<testkit::TestDatabase>,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let guard = testkit::TestDatabase::new("orderflow_test");
        TestDb {
            name: guard.name.clone(),
            options: guard.options.clone(),
            _dropped_with: Some(guard),
        }
    }

    /// A new, empty database (no schema), made now.
    pub async fn created() -> TestDb {
        let db = Self::new().await;
        let mut server = db
            .options
            .clone()
            .database("")
            .connect()
            .await
            .unwrap_or_else(|e| panic!("MySQL tests need a server at {}: {e}", server_url()));
        server
            .execute(format!("CREATE DATABASE `{}`", db.name).as_str())
            .await
            .unwrap();
        db
    }

    /// A database with a fixed name, reused from run to run (for tests that
    /// reset it themselves and cannot drop it at the end).
    pub fn named(name: &str) -> TestDb {
        let name = name.to_owned();
        let options = MySqlConnectOptions::from_str(&server_url())
            .expect("TEST_MYSQL_URL is a MySQL URL")
            .database(&name);
        TestDb {
            name,
            options,
            _dropped_with: None,
        }
    }

    /// Opens the store (creating the database and applying migrations) and
    /// seeds the five products.
    pub async fn store(&self) -> Arc<MySqlStore> {
        let store = StoreOptions::mysql(self.options.clone()).pool_size(16).open_mysql().await.unwrap_or_else(|e| {
            panic!(
                "MySQL tests need a server at {} ({e}). Start MariaDB with \
                 `start-stop-daemon --start --oknodo --background --exec \"$(command -v mariadbd)\"` \
                 or point TEST_MYSQL_URL at one.",
                server_url()
            )
        });
        store.seed_if_empty(&seed_products()).await.expect("seed");
        Arc::new(store)
    }

    pub fn url(&self) -> String {
        format!("{}/{}", server_url().trim_end_matches('/'), self.name)
    }

    /// Drops the database now (as dropping the value does), named or not.
    pub async fn drop_db(self) {
        if self._dropped_with.is_none() {
            drop(testkit::TestDatabase::named(&self.name));
        }
    }
}

pub async fn memory_store() -> Arc<MemoryStore> {
    let store = MemoryStore::new();
    store.seed_if_empty(&seed_products()).await.expect("seed");
    Arc::new(store)
}

/// A running app, the harness that counts what ingest enqueued, and a
/// client of its API (the one the sim and loadtest use).
pub struct TestApp {
    pub app: App,
    pub harness: Arc<Harness>,
    pub client: Client,
}

impl std::ops::Deref for TestApp {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

impl TestApp {
    /// Orders ingest published since start.
    pub fn enqueued(&self) -> u64 {
        self.harness.enqueued()
    }

    pub async fn stop(self) {
        self.app.stop().await;
    }

    /// `GET path`: status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let a = self.client.get(path).await.expect("the server answers");
        (a.status, a.body)
    }

    /// `POST /api/orders`: status and JSON body.
    pub async fn post_order(&self, order: &serde_json::Value) -> (u16, serde_json::Value) {
        let a = self
            .client
            .post_order_json(order)
            .await
            .expect("the server answers");
        (a.status, a.body)
    }

    pub async fn stock(&self, product: &str) -> i64 {
        self.client.stock(product).await.expect("a stock")
    }

    /// Polls the order until it is recorded.
    pub async fn finished(&self, order_id: &str) -> serde_json::Value {
        let wait = Duration::from_secs(15);
        let order = self.client.wait_for_order(order_id, wait).await;
        order.unwrap_or_else(|| panic!("order {order_id} never finished"))
    }
}

/// Starts the whole app on a free port over `store`.
pub async fn spawn_app(store: Arc<dyn OrderStore>) -> TestApp {
    spawn_app_with(store, Config::default()).await
}

pub async fn spawn_app_with(store: Arc<dyn OrderStore>, config: Config) -> TestApp {
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let harness = Arc::new(Harness::default());
    let hooks = Hooks {
        wrap: harness.clone(),
        ..Hooks::default()
    };
    let app = App::start_with_store(store, &config, addr, hooks)
        .await
        .expect("app starts");
    let client = Client::new(app.base_url()).expect("a client");
    TestApp {
        app,
        harness,
        client,
    }
}

pub fn product(id: &str, qty: i64) -> InventoryItem {
    InventoryItem {
        product_id: ProductId::parse(id).unwrap(),
        product_name: format!("Test {id}"),
        quantity_available: qty,
    }
}

/// An `OrderCreated` as ingest would publish it for this customer and lines.
pub fn order(customer: &str, lines: &[(&str, u32)]) -> OrderCreated {
    let valid = ValidOrder::of(customer, lines).expect("valid test order");
    engine::ingest::order_created(
        &valid,
        None,
        &engine::idempotency::OrderIdKey::development(),
        now_millis(),
    )
}

pub async fn stock(store: &dyn OrderStore, id: &str) -> i64 {
    store
        .product(&ProductId::parse(id).unwrap())
        .await
        .unwrap()
        .map(|p| p.quantity_available)
        .unwrap_or_else(|| panic!("no product {id}"))
}

/// Runs an async test body against both stores: `name_memory` and
/// `name_mysql`. The body is `async fn(Arc<dyn OrderStore>)`.
#[macro_export]
macro_rules! both_stores {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn memory() {
                $body(common::memory_store().await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn mysql() {
                let db = common::TestDb::new().await;
                $body(db.store().await).await;
                db.drop_db().await;
            }
        }
    };
}

/// Deadlocks the server has detected since it started (MariaDB's
/// `Innodb_deadlocks`, or MySQL 8's `lock_deadlocks` metric).
pub async fn server_deadlocks(pool: &sqlx::MySqlPool) -> u64 {
    use sqlx::Row;
    let status = sqlx::query("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'")
        .fetch_optional(pool)
        .await
        .expect("SHOW GLOBAL STATUS");
    if let Some(row) = status {
        let value: String = row.try_get_unchecked(1).expect("a status value");
        return value.parse().expect("a number");
    }
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT FROM information_schema.INNODB_METRICS WHERE NAME = 'lock_deadlocks'",
    )
    .fetch_one(pool)
    .await
    .expect("the lock_deadlocks metric");
    count as u64
}

/// Waits until a transaction on database `db` waits for a row lock, as the
/// server's own tables say (`INNODB_TRX`, in MySQL 8 and MariaDB alike).
pub async fn wait_for_lock_wait(pool: &sqlx::MySqlPool, db: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.INNODB_TRX t \
             JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
             WHERE t.trx_state = 'LOCK WAIT' AND p.DB = ?",
        )
        .bind(db)
        .fetch_one(pool)
        .await
        .expect("INNODB_TRX");
        if waiting > 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no transaction on {db} waited for a lock"
        );
        // Not more often: MariaDB refreshes its INNODB_TRX snapshot only
        // once nobody has read it for 100 ms.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Wraps a real store and fails `apply` with a transient error while its
/// budget of failures lasts: a database that drops out and comes back.
pub struct Flaky {
    inner: Arc<dyn OrderStore>,
    pub failures_left: AtomicU32,
}

impl Flaky {
    pub fn new(inner: Arc<dyn OrderStore>, failures: u32) -> Arc<Flaky> {
        Arc::new(Flaky {
            inner,
            failures_left: AtomicU32::new(failures),
        })
    }
}

#[async_trait]
impl StoreDecorator for Flaky {
    fn inner(&self) -> &dyn OrderStore {
        &*self.inner
    }
    async fn apply(&self, orders: &[OrderCreated]) -> Result<Vec<Applied>, StoreError> {
        let left = self.failures_left.load(Ordering::SeqCst);
        if left > 0 {
            self.failures_left.store(left - 1, Ordering::SeqCst);
            let lost = std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected: connection lost",
            );
            return Err(StoreError::Unavailable(Arc::new(sqlx::Error::Io(lost))));
        }
        self.inner.apply(orders).await
    }
}

/// An `OrderCreated` as another producer might write it, its lines in the
/// order given, read off the queue as the processor reads it (decoding
/// sorts them: the store never sees lines out of order).
pub fn raw_order(customer: &str, lines: &[(&str, u32)]) -> OrderCreated {
    let items: Vec<OrderLine> = lines
        .iter()
        .map(|(p, q)| OrderLine::new(p, *q).expect("a valid line"))
        .collect();
    let mut event = serde_json::to_value(order(customer, lines)).expect("encodes");
    event["items"] = serde_json::to_value(items).expect("encodes");
    engine::processor::decode_order_created(&event.to_string()).expect("decodes")
}

/// Applies `orders` from `tasks` concurrent tasks in batches of `batch`,
/// answering every outcome; panics if any apply fails (a deadlock or lock
/// wait error included).
pub async fn apply_concurrently(
    store: &Arc<dyn StoreAdmin>,
    orders: Vec<OrderCreated>,
    tasks: usize,
    batch: usize,
) -> Vec<Applied> {
    let chunks: Vec<Vec<OrderCreated>> = orders.chunks(batch).map(<[_]>::to_vec).collect();
    let per_task = chunks.len().div_ceil(tasks);
    let mut handles = Vec::new();
    for work in chunks.chunks(per_task.max(1)).map(<[_]>::to_vec) {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for b in work {
                out.extend(
                    store
                        .apply(&b)
                        .await
                        .expect("no apply fails under concurrency"),
                );
            }
            out
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all
}
