//! The deploy as the functions live it, configured by environment variables
//! only (as Pulumi sets them), against MariaDB and moto (SQS and Secrets
//! Manager): the migration step migrates, seeds the demo inventory, creates
//! the application user with a generated password and generates the order
//! id key, each into its empty secret, and does nothing the second time;
//! it stocks the products a request names (a rehearsal's); then the ingest function's init reads the key and the application
//! user's credentials from Secrets Manager, and an order posted to it gets
//! the id keyed with that key; then the user's password is rotated, and
//! rotations stopped half-way are finished by the next deploy. It sets the
//! process's environment, as a function's init reads it, so it has a test
//! binary of its own (the one exception to one binary for the crate's
//! integration tests), sharing their set-up by path.
//!
//! moto checks every request against IAM here: the migration step runs
//! under the policy the Pulumi program gives the migrate role, and the
//! ingest function under ingest's (`deploy/iam-policies.json`), so an AWS
//! call the code makes and the role does not allow fails this test. The
//! test's own setup and checks use an admin user.

#[path = "it/common.rs"]
mod common;

use engine::idempotency::{order_id, OrderIdKey};
use lambda_http::tower::ServiceExt;
use orderflow_lambda::{migrate_from_env, Environment, MigrateRequest};
use std::str::FromStr;

use sqlx::{ConnectOptions, Executor};

// The deploy walked end to end reads as one story.
#[allow(clippy::too_many_lines)]
#[tokio::test]
async fn the_migration_step_makes_the_user_and_key_the_functions_then_read() {
    use common::moto::{deployed_policy, queue_arn, sqs_client_as};
    let queue = |q: &str| format!("deploy-step-{q}");
    let (moto, keys) = common::moto::moto_with_iam(&[
        ("migrate", deployed_policy("migrate", &[])),
        (
            "ingest",
            deployed_policy("ingest", &[("orders", &queue_arn(&queue("orders")))]),
        ),
    ])
    .await;
    let sm = common::moto::secrets_client_as(&moto.url, &keys["admin"]);
    for name in ["app", "order-id-key"] {
        sm.create_secret().name(name).send().await.unwrap();
    }
    // The queues, as the stack makes them; the functions are given their URLs.
    let sqs = sqs_client_as(&moto.url, &keys["admin"]);
    let mut urls = std::collections::HashMap::new();
    for q in ["orders", "orders-dlq", "processed", "processed-dlq"] {
        let made = sqs
            .create_queue()
            .queue_name(queue(q))
            .send()
            .await
            .unwrap();
        urls.insert(q, made.queue_url.unwrap());
    }
    let server =
        std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    let database = format!("orderflow_test_deploy_{}", std::process::id());
    let url = format!("{}/{database}", server.trim_end_matches('/'));
    // SAFETY (edition 2021: safe): the only test of this binary.
    for (k, v) in [
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("DATABASE_URL", url.as_str()),
        ("APP_DB_SECRET_ARN", "app"),
        ("ORDER_ID_KEY_SECRET_ARN", "order-id-key"),
        ("DEMO_INVENTORY", "true"),
        ("ORDER_QUEUE_URL", urls["orders"].as_str()),
        ("ORDER_DLQ_URL", urls["orders-dlq"].as_str()),
        ("PROCESSED_QUEUE_URL", urls["processed"].as_str()),
        ("PROCESSED_DLQ_URL", urls["processed-dlq"].as_str()),
    ] {
        std::env::set_var(k, v);
    }
    keys["migrate"].act_as();

    // A zip built from other migrations than the deploy's refuses to run,
    // before it touches the database (which does not exist yet).
    let stale = MigrateRequest {
        migrations: Some("0".repeat(64)),
        ..MigrateRequest::default()
    };
    let e = migrate_from_env(stale).await.unwrap_err().to_string();
    assert!(e.contains("rebuild the zips"), "{e}");
    let mut admin = sqlx::mysql::MySqlConnectOptions::from_str(&server)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let created: Option<(String,)> =
        sqlx::query_as("SELECT schema_name FROM information_schema.schemata WHERE schema_name = ?")
            .bind(&database)
            .fetch_optional(&mut admin)
            .await
            .unwrap();
    assert_eq!(created, None, "nothing done");

    let deployed = MigrateRequest {
        migrations: Some(engine::store::mysql::migrations_digest()),
        ..MigrateRequest::default()
    };
    let done = migrate_from_env(deployed).await.unwrap();
    let text = done.join("\n");
    assert!(text.contains("migration 1 "), "{text}");
    assert!(text.contains("demo inventory seeded"), "{text}");
    assert!(
        text.contains("application user orderflow_app: new password in app"),
        "{text}"
    );
    assert!(
        text.contains("order id key generated into order-id-key"),
        "{text}"
    );
    let again = migrate_from_env(MigrateRequest::default()).await.unwrap();
    assert!(
        again.is_empty(),
        "a second deploy changes nothing: {again:?}"
    );
    // A rehearsal's stock (`{"stock": [...]}`), set as the schema's owner:
    // a new product inserted, a seeded one's quantity set.
    let item = |id: &str, quantity_available| engine::domain::InventoryItem {
        product_id: engine::domain::ProductId::parse(id).unwrap(),
        product_name: "Sim hot product".into(),
        quantity_available,
    };
    let stocked = migrate_from_env(MigrateRequest {
        stock: vec![item("sim-hot-1", 1500), item("prod-101", 7)],
        ..MigrateRequest::default()
    })
    .await
    .unwrap();
    assert_eq!(stocked, ["2 products stocked: sim-hot-1, prod-101"]);
    let stock: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT CAST(product_id AS CHAR), CAST(quantity_available AS SIGNED) FROM `{database}`.inventory \
         WHERE product_id IN ('sim-hot-1', 'prod-101') ORDER BY product_id"
    ))
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        stock,
        [("prod-101".to_owned(), 7), ("sim-hot-1".to_owned(), 1500)]
    );
    let app_secret = sm.get_secret_value().secret_id("app").send().await.unwrap();
    let app: serde_json::Value = serde_json::from_str(app_secret.secret_string().unwrap()).unwrap();
    assert_eq!(app["username"], "orderflow_app");
    assert_eq!(app["password"].as_str().unwrap().len(), 64);
    // The application user: data rights on the data tables; none on the
    // migration history.
    let mut as_app = sqlx::mysql::MySqlConnectOptions::from_str(&url)
        .unwrap()
        .username("orderflow_app")
        .password(app["password"].as_str().unwrap())
        .connect()
        .await
        .unwrap();
    as_app
        .execute("UPDATE inventory SET quantity_available = quantity_available WHERE 1 = 0")
        .await
        .expect("data rights");
    for statement in [
        "SELECT COUNT(*) FROM _sqlx_migrations",
        "UPDATE _sqlx_migrations SET success = success",
    ] {
        let e = as_app.execute(statement).await.unwrap_err();
        assert!(e.to_string().contains("denied"), "{statement}: {e}");
    }
    assert!(as_app.execute("DROP TABLE orders").await.is_err(), "no DDL");

    // The ingest function, as deployed: the application user's secret, the key's secret.
    std::env::remove_var("APP_DB_SECRET_ARN");
    std::env::remove_var("DEMO_INVENTORY");
    std::env::set_var("DB_SECRET_ARN", "app");
    // As the program configures ingest: it checks its own queue only.
    std::env::set_var("SQS_CHECK_QUEUES", "orders");
    keys["ingest"].act_as();
    let env = Environment::from_env().await.expect("the function starts");
    assert!(!env.ctx.order_ids.is_development());
    let body = r#"{"customer_id":"cust-deploy","items":[{"product_id":"prod-101","quantity":1}]}"#;
    let response = env
        .router()
        .oneshot(
            lambda_http::http::Request::post("/api/orders")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let key = sm
        .get_secret_value()
        .secret_id("order-id-key")
        .send()
        .await
        .unwrap();
    let key = OrderIdKey::new(key.secret_string().unwrap()).unwrap();
    let order = engine::validation::parse_order(body.as_bytes()).unwrap();
    assert_eq!(
        answer["order_id"],
        order_id(&order, None, &key).to_string(),
        "keyed with the secret"
    );
    assert_ne!(
        answer["order_id"],
        order_id(&order, None, &OrderIdKey::development()).to_string()
    );
    assert_eq!(
        env.queues.orders.depth().await.unwrap().visible,
        1,
        "on the order queue"
    );

    // The functions connect as the application user, not the owner.
    let (who,): (String,) = sqlx::query_as("SELECT CURRENT_USER()")
        .fetch_one(
            &sqlx::MySqlPool::connect(&format!(
                "{}/{database}",
                server.replace(
                    "root@",
                    &format!("orderflow_app:{}@", app["password"].as_str().unwrap())
                )
            ))
            .await
            .unwrap(),
        )
        .await
        .unwrap();
    assert!(who.starts_with("orderflow_app@"), "{who}");

    keys["migrate"].act_as();
    rotation_never_leaves_a_password_nobody_knows(&sm, &url).await;

    let admin = sqlx::MySqlPool::connect(&server).await.unwrap();
    let _ = admin
        .execute(format!("DROP DATABASE IF EXISTS `{database}`").as_str())
        .await;
}

/// Rotating the application user's password through the migration step:
/// at every point a rotation can stop (before the database changed, after
/// it), the database's password is one of the secret's versions, and the
/// next deploy finishes the rotation. MariaDB has no dual passwords, so
/// the old password stops when the database changes.
async fn rotation_never_leaves_a_password_nobody_knows(
    sm: &aws_sdk_secretsmanager::Client,
    url: &str,
) {
    std::env::remove_var("DB_SECRET_ARN");
    std::env::set_var("APP_DB_SECRET_ARN", "app");
    let deploy = |rotate_app_password| {
        migrate_from_env(MigrateRequest {
            migrations: Some(engine::store::mysql::migrations_digest()),
            rotate_app_password,
            ..MigrateRequest::default()
        })
    };
    let current = || async {
        let v = sm.get_secret_value().secret_id("app").send().await.unwrap();
        let json: serde_json::Value = serde_json::from_str(v.secret_string().unwrap()).unwrap();
        json["password"].as_str().unwrap().to_owned()
    };
    let logs_in = |password: String| async move {
        sqlx::mysql::MySqlConnectOptions::from_str(url)
            .unwrap()
            .username("orderflow_app")
            .password(&password)
            .connect()
            .await
            .is_ok()
    };
    let pending_left = || async {
        let d = sm.describe_secret().secret_id("app").send().await.unwrap();
        d.version_ids_to_stages()
            .unwrap()
            .values()
            .any(|labels| labels.iter().any(|l| l == "AWSPENDING"))
    };
    let stop_after_writing = |password: &'static str| async move {
        sm.put_secret_value()
            .secret_id("app")
            .secret_string(format!(
                r#"{{"username":"orderflow_app","password":"{password}"}}"#
            ))
            .version_stages("AWSPENDING")
            .send()
            .await
            .unwrap();
    };

    let old = current().await;
    let done = deploy(true).await.unwrap().join("\n");
    assert!(
        done.contains("password rotated (no dual passwords"),
        "{done}"
    );
    let new = current().await;
    assert_ne!(new, old);
    assert!(logs_in(new.clone()).await, "the new password works");
    assert!(!logs_in(old).await, "MariaDB forgot the old one");
    assert!(!pending_left().await, "the rotation finished");

    // Stopped after the new password was written down, before the
    // database had it: the current one still works.
    stop_after_writing("writtenbeforethedatabase1").await;
    assert!(logs_in(current().await).await);
    let done = deploy(false).await.unwrap().join("\n");
    assert!(
        done.contains("password rotated"),
        "the next deploy finishes it: {done}"
    );
    assert_eq!(current().await, "writtenbeforethedatabase1");
    assert!(logs_in(current().await).await);

    // Stopped after the database took it, before the secret changed: the
    // password the database has is the secret's pending one, known.
    stop_after_writing("takenbythedatabase2").await;
    sqlx::MySqlPool::connect(url)
        .await
        .unwrap()
        .execute("ALTER USER 'orderflow_app'@'%' IDENTIFIED BY 'takenbythedatabase2'")
        .await
        .unwrap();
    assert!(logs_in("takenbythedatabase2".into()).await);
    deploy(false).await.unwrap();
    assert_eq!(current().await, "takenbythedatabase2");
    assert!(logs_in(current().await).await);
    assert!(!pending_left().await);
    assert!(
        deploy(false).await.unwrap().is_empty(),
        "nothing left to finish"
    );
}
