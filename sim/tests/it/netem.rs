//! The modelled network between the functions' pools and the MySQL server
//! (`TEST_MYSQL_URL`): a commit's modelled extra time holds the row lock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sim::netem::{in_front_of_counting, ServerCosts};

/// The commit's extra time is inside the row lock: a second transaction
/// waiting on the row gets it only once the delayed COMMIT has reached
/// the server (MySQL at `TEST_MYSQL_URL`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_holds_the_row_lock_for_its_extra_time() {
    use sqlx::{ConnectOptions, Connection, Executor};
    use std::str::FromStr;
    let url = std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned());
    let database = format!("orderflow_test_commit_{}", std::process::id());
    let server = sqlx::mysql::MySqlConnectOptions::from_str(&url).unwrap();
    let mut admin = server
        .connect()
        .await
        .expect("the MySQL server at TEST_MYSQL_URL");
    admin
        .execute(format!("CREATE DATABASE IF NOT EXISTS `{database}`").as_str())
        .await
        .unwrap();
    let options = server.clone().database(&database);
    let mut direct = options.connect().await.unwrap();
    direct
        .execute(
            "CREATE TABLE row_lock (id INT PRIMARY KEY, n INT); INSERT INTO row_lock VALUES (1, 0)",
        )
        .await
        .unwrap();
    let costs = ServerCosts {
        commit_extra: Duration::from_millis(300),
        statement_stretch: 1.0,
    };
    let (_proxy, through) = in_front_of_counting(&options, Duration::ZERO, costs, Arc::default())
        .await
        .unwrap();
    let mut holder = through.connect().await.unwrap();
    holder.execute("BEGIN").await.unwrap();
    holder
        .execute("SELECT n FROM row_lock WHERE id = 1 FOR UPDATE")
        .await
        .unwrap();
    let committing = tokio::spawn(async move {
        holder.execute("COMMIT").await.unwrap();
        holder.close().await.unwrap();
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let asked = Instant::now();
    direct.execute("BEGIN").await.unwrap();
    direct
        .execute("SELECT n FROM row_lock WHERE id = 1 FOR UPDATE")
        .await
        .unwrap();
    let waited = asked.elapsed();
    direct.execute("COMMIT").await.unwrap();
    committing.await.unwrap();
    admin
        .execute(format!("DROP DATABASE `{database}`").as_str())
        .await
        .unwrap();
    assert!(
        waited >= Duration::from_millis(200),
        "the lock was held through the commit's 300 ms: waited {waited:?}"
    );
}
