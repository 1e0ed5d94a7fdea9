//! What orderflow's tests share across crates (a dev-dependency of each):
//! where the MySQL server is ([`server_url`]), a database made for one test
//! and dropped when it ends, even by a panic ([`TestDatabase`]), and a moto
//! server per test with AWS clients for it ([`moto`]).

pub mod moto;

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::mysql::MySqlConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor};

/// The MySQL (or MariaDB) server the tests use: `TEST_MYSQL_URL`, or
/// MariaDB's default on this machine.
pub fn server_url() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
}

/// Waits (up to 10 s, polling every 10 ms) until `done` holds; panics
/// naming `what` otherwise. For a test's "before" before it asserts an
/// absence, instead of a sleep of a guessed length.
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        if std::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The server's connection options, with no database selected.
pub fn server() -> MySqlConnectOptions {
    MySqlConnectOptions::from_str(&server_url()).expect("TEST_MYSQL_URL is a MySQL URL")
}

/// A database name for one test: the prefix, the process and a counter, so
/// parallel tests and runs never share one (`.ci/run` drops leftovers by
/// the `orderflow_test_` prefix).
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// A database one test owns: dropped when the value is, whether the test
/// passed or panicked.
pub struct TestDatabase {
    pub name: String,
    /// Connection options for the database itself.
    pub options: MySqlConnectOptions,
}

impl TestDatabase {
    /// A name for a new database (not created: a store's `connect` creates
    /// it).
    pub fn new(prefix: &str) -> TestDatabase {
        let name = unique_name(prefix);
        let options = server().database(&name);
        TestDatabase { name, options }
    }

    /// The guard of a database with a fixed name.
    pub fn named(name: &str) -> TestDatabase {
        TestDatabase {
            name: name.to_owned(),
            options: server().database(name),
        }
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        format!("{}/{}", server_url().trim_end_matches('/'), self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop cannot wait on the test's runtime: a thread with its own
        // runs the statement, and the test waits for it.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(mut conn) = server().connect().await {
                        let drop = format!("DROP DATABASE IF EXISTS `{name}`");
                        let _ = conn.execute(drop.as_str()).await;
                        let _ = conn.close().await;
                    }
                });
            }
        });
        let _ = dropped.join();
    }
}
