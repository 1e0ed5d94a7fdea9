//! The database's connection limit, as RDS enforces it: a user whose
//! `MAX_USER_CONNECTIONS` is below the pool's size. The server refuses the
//! connections past the limit; the engine takes that as the database being
//! busy, retries, and loses no order.

use crate::common;

use std::str::FromStr;
use std::time::Duration;

use engine::config::Config;
use engine::store::{Schema, StoreError, StoreOptions};
use sqlx::mysql::MySqlConnectOptions;
use sqlx::{ConnectOptions, Executor};

use common::{order, spawn_app_with, stock, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_past_the_users_limit_are_refused_and_no_order_is_lost() {
    let db = TestDb::new().await;
    db.store().await; // the schema, as its owner
    let user = format!("of_limited_{}", std::process::id());
    let mut admin = db.options.connect().await.unwrap();
    admin
        .execute(
            format!(
                "DROP USER IF EXISTS '{user}'@'%'; \
                 CREATE USER '{user}'@'%' IDENTIFIED BY 'limited' WITH MAX_USER_CONNECTIONS 2; \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON `{}`.* TO '{user}'@'%'",
                db.name
            )
            .as_str(),
        )
        .await
        .unwrap();
    let limited = MySqlConnectOptions::from_str(&common::server_url())
        .unwrap()
        .username(&user)
        .password("limited")
        .database(&db.name);
    // The server enforces the limit, and the engine takes a refusal for a
    // busy database (transient), not a broken one.
    let held = (
        limited.connect().await.unwrap(),
        limited.connect().await.unwrap(),
    );
    match StoreOptions::mysql(limited.clone())
        .pool_size(1)
        .schema(Schema::AsIs)
        .open_mysql()
        .await
    {
        Err(e @ StoreError::Unavailable(_)) => assert!(e.is_transient()),
        Err(e) => panic!("refused as {e:?}"),
        Ok(_) => panic!("a third connection was let in"),
    }
    drop(held);

    // A pool of 8 for a user allowed 2: whatever the server refuses is
    // retried (the pool's own waits absorb some), and every order gets
    // through.
    let store = std::sync::Arc::new(
        StoreOptions::mysql(limited)
            .pool_size(8)
            .schema(Schema::AsIs)
            .open_mysql()
            .await
            .unwrap(),
    );
    let config = Config {
        processor_workers: 4,
        notifier_workers: 2,
        ..Config::default()
    };
    let app = spawn_app_with(store.clone(), config).await;
    for i in 0..200 {
        let o = order(&format!("limited-{i}"), &[("prod-101", 1)]);
        app.queues
            .orders
            .send(serde_json::to_string(&o).unwrap())
            .await
            .unwrap();
    }
    assert!(
        app.wait_drained(Duration::from_secs(60)).await,
        "not drained"
    );
    let dlq = app.queues.order_dlq.as_ref().unwrap();
    assert_eq!(
        dlq.depth().await.unwrap().total(),
        0,
        "nothing dead-lettered"
    );
    assert_eq!(app.metrics.processed.get() + app.metrics.failed.get(), 200);
    assert_eq!(
        stock(&*store, "prod-101").await,
        0,
        "50 sold, the rest failed"
    );
    app.stop().await;
    let _ = admin
        .execute(format!("DROP USER '{user}'@'%'").as_str())
        .await;
    db.drop_db().await;
}
