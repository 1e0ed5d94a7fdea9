//! Rotation-safe credentials: the processor function's environment reads its
//! database credentials from a secret (moto's Secrets Manager, started per
//! test), and the password changes twice in the middle of a run (the user
//! in MariaDB and the secret), with the user's open connections killed so
//! every batch after a rotation needs a new one: once with the secret
//! updated right after the database, once with the secret a moment behind
//! (the middle of a rotation); then a cold start in that middle, which
//! waits for the secret. No batch reports a failure, so nothing goes back to the queue
//! or on to the DLQ, and every order is applied once. Needs MariaDB at
//! TEST_MYSQL_URL and moto's server (`scripts/test.sh` installs it).

use crate::common;

use std::str::FromStr;
use std::time::Duration;

use engine::config::Config;
use engine::domain::InventoryItem;
use engine::idempotency::OrderIdKey;
use engine::queues::Queues;
use engine::store::{OrderStore, Schema, StoreError, StoreOptions};
use orderflow_lambda::{
    handle_orders, Credentials, Environment, Secret, SqsEvent, SqsMessage, Startup,
};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool};
use sqlx::Executor;

fn server() -> MySqlConnectOptions {
    let url =
        std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    MySqlConnectOptions::from_str(&url).expect("TEST_MYSQL_URL is a MySQL URL")
}

/// A batch of `n` orders of one unit of `product`, as SQS hands it over.
fn batch(round: usize, n: usize, product: &str) -> SqsEvent {
    let mut event = SqsEvent::default();
    for i in 0..n {
        let body = format!(
            r#"{{"customer_id":"rot-{round}-{i}","items":[{{"product_id":"{product}","quantity":1}}]}}"#
        );
        let order = engine::validation::parse_order(body.as_bytes()).unwrap();
        let created = engine::ingest::order_created(
            &order,
            None,
            &OrderIdKey::development(),
            engine::events::now_millis(),
        );
        let mut m = SqsMessage::default();
        m.message_id = Some(format!("m-{round}-{i}"));
        m.receipt_handle = Some(format!("r-{round}-{i}"));
        m.body = Some(serde_json::to_string(&created).unwrap());
        m.attributes
            .insert("ApproximateReceiveCount".into(), "1".into());
        event.records.push(m);
    }
    event
}

/// Puts `credentials` into the test's secret after `delay`, in a task.
fn put_secret_after(
    sm: &aws_sdk_secretsmanager::Client,
    credentials: Credentials,
    delay: Duration,
) -> tokio::task::JoinHandle<()> {
    let sm = sm.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        sm.put_secret_value()
            .secret_id("orderflow/app")
            .secret_string(credentials.to_json())
            .send()
            .await
            .unwrap();
    })
}

async fn kill_connections_of(admin: &MySqlPool, user: &str) -> usize {
    let ids: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM information_schema.processlist WHERE user = ?")
            .bind(user)
            .fetch_all(admin)
            .await
            .unwrap();
    for (id,) in &ids {
        let _ = admin
            .execute(format!("KILL CONNECTION {id}").as_str())
            .await;
    }
    ids.len()
}

#[tokio::test]
async fn a_password_rotated_mid_run_loses_no_order_and_sends_none_to_the_dlq() {
    let pid = std::process::id();
    let database = format!("orderflow_test_rotation_{pid}");
    let user = format!("orderflow_rot_{pid}");
    let product = "prod-rot";

    // The schema's owner migrates and makes the application user.
    let owner = StoreOptions::mysql(server().database(&database))
        .pool_size(2)
        .open_mysql()
        .await
        .unwrap_or_else(|e| panic!("this test needs MySQL at TEST_MYSQL_URL: {e}"));
    owner
        .seed_if_empty(&[InventoryItem {
            product_id: engine::domain::ProductId::parse(product).unwrap(),
            product_name: "Rotation".into(),
            quantity_available: 1_000_000,
        }])
        .await
        .unwrap();
    // An account of the same user an earlier deploy made from another host
    // goes when the rights are granted: it would keep its old password.
    owner
        .pool()
        .execute(format!("CREATE USER '{user}'@'10.99.%' IDENTIFIED BY 'an-old-password'").as_str())
        .await
        .unwrap();
    owner
        .grant_data_rights((&user, "%"), "first-password-1", &database)
        .await
        .unwrap();
    let admin = owner.pool().clone();
    let hosts: Vec<(String,)> =
        sqlx::query_as("SELECT CAST(host AS CHAR) FROM mysql.user WHERE user = ?")
            .bind(&user)
            .fetch_all(&admin)
            .await
            .unwrap();
    assert_eq!(hosts, [("%".to_owned(),)], "one account of the user left");

    // The secret, in moto's Secrets Manager.
    let moto = common::moto::moto().await;
    let sm = common::secrets_client(&moto.url);
    let credentials = |password: &str| Credentials {
        username: Some(user.clone()),
        password: password.into(),
    };
    sm.create_secret()
        .name("orderflow/app")
        .secret_string(credentials("first-password-1").to_json())
        .send()
        .await
        .unwrap();

    // One execution environment of the processor function, its pool of 2.
    let config = Config {
        db_max_connections: 2,
        ..Config::default()
    };
    let startup = Startup {
        migrate: false,
        secret: Some(Secret::new(sm.clone(), "orderflow/app")),
    };
    let env = Environment::init(
        config.clone(),
        Some(server().database(&database)),
        Queues::channel(&config),
        startup,
    )
    .await
    .expect("the environment starts with the secret's credentials");
    let processor = env.processor();

    let (rounds, per_batch) = (30, 5);
    let mut late_secret = None;
    for round in 0..rounds {
        if round == 10 {
            // The database first, then the secret.
            owner
                .grant_data_rights((&user, "%"), "second-password-2", &database)
                .await
                .unwrap();
            put_secret_after(&sm, credentials("second-password-2"), Duration::ZERO)
                .await
                .unwrap();
            assert!(
                kill_connections_of(&admin, &user).await > 0,
                "the environment had connections open"
            );
        }
        if round == 20 {
            // The database first and the secret a moment behind: what a
            // function sees in the middle of a rotation. Its re-read finds
            // the old secret, the call fails and is retried (transient)
            // until the new secret is there.
            owner
                .grant_data_rights((&user, "%"), "third-password-3", &database)
                .await
                .unwrap();
            kill_connections_of(&admin, &user).await;
            late_secret = Some(put_secret_after(
                &sm,
                credentials("third-password-3"),
                Duration::from_millis(60),
            ));
        }
        let response = handle_orders(&processor, batch(round, per_batch, product), None).await;
        let response = serde_json::to_value(&response).unwrap();
        assert_eq!(
            response["batchItemFailures"].as_array().map(Vec::len),
            Some(0),
            "round {round}: no message goes back to the queue: {response}"
        );
    }

    late_secret.expect("rotated at round 20").await.unwrap();
    // A cold start in the middle of a rotation (the database changed, the
    // secret not yet): the init reads the secret again until it works.
    owner
        .grant_data_rights((&user, "%"), "fourth-password-4", &database)
        .await
        .unwrap();
    let late = put_secret_after(
        &sm,
        credentials("fourth-password-4"),
        Duration::from_millis(300),
    );
    let cold = Environment::init(
        config.clone(),
        Some(server().database(&database)),
        Queues::channel(&config),
        Startup {
            migrate: false,
            secret: Some(Secret::new(sm.clone(), "orderflow/app")),
        },
    )
    .await
    .expect("a cold start mid-rotation waits for the secret");
    late.await.unwrap();
    let response = handle_orders(&cold.processor(), batch(rounds, per_batch, product), None).await;
    let response = serde_json::to_value(&response).unwrap();
    assert_eq!(
        response["batchItemFailures"].as_array().map(Vec::len),
        Some(0),
        "{response}"
    );

    let total = ((rounds + 1) * per_batch) as i64;
    let (processed,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM `{database}`.orders WHERE status = 'PROCESSED'"
    ))
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(processed, total, "every order applied");
    let stock = owner
        .product(&engine::domain::ProductId::parse(product).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stock.quantity_available, 1_000_000 - total, "each once");
    let published = env.queues.processed.depth().await.unwrap().visible
        + cold.queues.processed.depth().await.unwrap().visible;
    assert_eq!(published as i64, total, "an OrderProcessed for each");

    // The control: a store that keeps the password it started with is
    // refused now, and a user with data rights runs no DDL.
    let stale =
        StoreOptions::mysql(credentials("first-password-1").apply(server().database(&database)))
            .pool_size(1)
            .schema(Schema::Current)
            .open_mysql()
            .await;
    assert!(
        matches!(stale, Err(StoreError::AccessDenied(_))),
        "{:?}",
        stale.err()
    );
    let app = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .connect_with(credentials("fourth-password-4").apply(server().database(&database)))
        .await
        .unwrap();
    let ddl = app.execute("CREATE TABLE not_allowed (x INT)").await;
    assert!(ddl.is_err(), "the application user cannot create tables");
    let ddl = app.execute("DROP TABLE orders").await;
    assert!(ddl.is_err(), "nor drop them");
    let delete = app.execute("DELETE FROM orders").await;
    assert!(delete.is_err(), "nor delete orders");
    app.close().await;

    let _ = admin
        .execute(format!("DROP USER IF EXISTS '{user}'@'%'").as_str())
        .await;
    let _ = admin
        .execute(format!("DROP DATABASE IF EXISTS `{database}`").as_str())
        .await;
}
