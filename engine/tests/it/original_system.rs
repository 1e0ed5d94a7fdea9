//! orderflow as a drop-in for the original Python system, one piece at a
//! time: its database (its schema and rows, brought to ours in place), and
//! our events read the way its notifier reads them. Its messages through its
//! queues, on `sim serve --queue sqs`, are in `sim/tests/it/original_system.rs`.

use crate::common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use engine::domain::{CustomerId, FailureReason, OrderId, OrderStatus};
use engine::events::{now_millis, OrderProcessed};
use engine::store::{MySqlStore, OrderStore, Schema, StoreError, StoreOptions};
use serde_json::{json, Value};
use sqlx::{Connection, Executor};

use common::{spawn_app, stock, TestApp, TestDb};

/// The original's schema and what it holds after a while (see the file).
const ORIGINAL_DATABASE: &str = include_str!("../data/original_database.sql");

const PROCESSED_ID: &str = "3b1f16d4-37da-40c2-a24a-92dfc3636d4b";
const FAILED_ID: &str = "9a0c5e44-1d3b-4f6e-9c2a-7b8d1e2f3a4b";
const PENDING_ID: &str = "5c8e2b1a-6f4d-4e3c-8b2a-1d0e9f8a7b6c";

/// A new database made the way the original system makes one.
async fn original_database() -> TestDb {
    let db = TestDb::created().await;
    let mut conn = sqlx::MySqlConnection::connect_with(&db.options)
        .await
        .unwrap();
    conn.execute(ORIGINAL_DATABASE).await.unwrap();
    db
}

/// The database's tables and columns, to see that nothing changed.
async fn columns(db: &TestDb) -> Vec<(String, String, String)> {
    let mut conn = sqlx::MySqlConnection::connect_with(&db.options)
        .await
        .unwrap();
    sqlx::query_as(
        "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), CAST(column_type AS CHAR) \
         FROM information_schema.columns WHERE table_schema = DATABASE() \
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

/// `sim migrate`: the migrations applied to the database, whoever made it.
async fn migrate(db: &TestDb) -> Vec<(i64, String)> {
    StoreOptions::mysql(db.options.clone())
        .pool_size(2)
        .schema(Schema::AsIs)
        .open_mysql()
        .await
        .unwrap()
        .migrate()
        .await
        .expect("the original database migrates")
}

/// Polls the order until it is finished (PROCESSED or FAILED).
async fn finished(app: &TestApp, order_id: &str) -> Value {
    for _ in 0..500 {
        let (status, order) = app.get(&format!("/api/orders/{order_id}")).await;
        if status == 200 && order["status"] != "PENDING" {
            return order;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("order {order_id} did not finish");
}

#[tokio::test]
async fn the_original_database_is_refused_with_how_to_migrate_and_left_untouched() {
    let db = original_database().await;
    let before = columns(&db).await;

    let refusal = match StoreOptions::mysql(db.options.clone())
        .pool_size(4)
        .open_mysql()
        .await
    {
        Err(StoreError::Schema(message)) => message,
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("the engine started on the original schema"),
    };
    for needed in [
        "table notifications is missing",
        "orders has no column failure_reason",
        "orders.created_at allows NULL",
        "cargo run -p sim -- migrate",
    ] {
        assert!(refusal.contains(needed), "{needed:?} not in: {refusal}");
    }
    assert_eq!(columns(&db).await, before, "the refusal changed the schema");
    db.drop_db().await;
}

#[tokio::test]
async fn the_original_database_migrated_in_place_keeps_its_rows_and_runs_the_seed_scenarios() {
    let db = original_database().await;
    let applied = migrate(&db).await;
    assert!(
        applied.iter().any(|(_, d)| d == "adopt original schema"),
        "{applied:?}"
    );
    assert!(
        migrate(&db).await.is_empty(),
        "a second migrate changes nothing"
    );
    let store: Arc<MySqlStore> = Arc::new(
        StoreOptions::mysql(db.options.clone())
            .pool_size(8)
            .open_mysql()
            .await
            .unwrap(),
    );
    let app = spawn_app(store.clone()).await;

    // Its orders read back with their status; its stock is untouched.
    let (status, order) = app.get(&format!("/api/orders/{PROCESSED_ID}")).await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "PROCESSED");
    assert_eq!(order["customer_id"], "test_user_001");
    assert_eq!(
        order["items"],
        json!([{"product_id": "prod-101", "quantity": 1}])
    );
    assert_eq!(order["created_at"], "2026-02-13T10:00:00Z");
    assert_eq!(order["processed_at"], "2026-02-13T10:00:05Z");
    let (_, order) = app.get(&format!("/api/orders/{FAILED_ID}")).await;
    assert_eq!(order["status"], "FAILED");
    assert_eq!(order["failure_reason"], Value::Null);
    let (_, order) = app.get(&format!("/api/orders/{PENDING_ID}")).await;
    assert_eq!(order["status"], "PENDING");
    let (_, inventory) = app.get("/api/inventory").await;
    let stock_of: Vec<(String, i64)> = inventory
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["product_id"].as_str().unwrap().to_owned(),
                i["quantity_available"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stock_of,
        [
            ("prod-101", 49),
            ("prod-102", 20),
            ("prod-103", 35),
            ("prod-104", 10),
            ("prod-105", 5)
        ]
        .map(|(p, q)| (p.to_owned(), q))
    );

    // The order it left PENDING, delivered again as its ingest wrote it, is
    // applied now, once.
    let event = json!({"order_id": PENDING_ID, "customer_id": "slow_user_004",
        "items": [{"product_id": "prod-103", "quantity": 2}],
        "timestamp": "2026-02-13T10:00:00.123456"});
    for _ in 0..2 {
        app.queues.orders.send(event.to_string()).await.unwrap();
        assert_eq!(finished(&app, PENDING_ID).await["status"], "PROCESSED");
        assert!(app.wait_drained(Duration::from_secs(10)).await);
        assert_eq!(stock(&*app.store, "prod-103").await, 33);
    }

    // The seed's four verification scenarios.
    let happy = json!({"customer_id": "test_user_001", "items": [{"product_id": "prod-101", "quantity": 1}]});
    let (status, accepted) = app.post_order(&happy.clone()).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["order_id"].as_str().unwrap().to_owned();
    assert_eq!(finished(&app, &id).await["status"], "PROCESSED");
    assert_eq!(stock(&*app.store, "prod-101").await, 48);

    let (status, again) = app.post_order(&happy).await;
    assert_eq!(
        (status, again["order_id"].as_str()),
        (202, Some(id.as_str()))
    );
    assert!(app.wait_drained(Duration::from_secs(10)).await);
    assert_eq!(stock(&*app.store, "prod-101").await, 48);

    let (status, refused) = app.post_order(&json!({"customer_id": "hacker_002", "items": [{"product_id": "prod-102", "quantity": -5}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        refused["message"],
        "items[0].quantity must be a positive integer"
    );

    let (status, accepted) = app.post_order(&json!({"customer_id": "greedy_user_003", "items": [{"product_id": "prod-102", "quantity": 9999}]}),
    )
    .await;
    assert_eq!(status, 202);
    let order = finished(&app, accepted["order_id"].as_str().unwrap()).await;
    assert_eq!(order["status"], "FAILED");
    assert_eq!(order["failure_reason"], "INSUFFICIENT_STOCK");
    assert_eq!(stock(&*app.store, "prod-102").await, 20);

    app.stop().await;
    db.drop_db().await;
}

/// Our `OrderProcessed` events, read by a notifier written as the original's
/// is: Python, `json.loads` of each SQS record's body, the seed's field
/// names, and `datetime.fromisoformat` for the timestamp.
#[test]
fn our_events_read_the_way_the_original_notifier_reads_them() {
    let processed = OrderProcessed {
        order_id: OrderId::parse(PROCESSED_ID).unwrap(),
        customer_id: CustomerId::parse("cust-12345").unwrap(),
        status: OrderStatus::Processed,
        processed_at: now_millis(),
        reason: None,
    };
    let failed = OrderProcessed {
        status: OrderStatus::Failed,
        reason: Some(FailureReason::InsufficientStock),
        ..processed.clone()
    };
    let records: Vec<Value> = [&processed, &failed]
        .iter()
        .map(|e| json!({"messageId": "m", "body": serde_json::to_string(e).unwrap()}))
        .collect();
    let notifier = r#"
import json, sys
from datetime import datetime
event = json.load(sys.stdin)
for record in event["Records"]:
    body = json.loads(record["body"])
    at = datetime.fromisoformat(body["processed_at"].replace("Z", "+00:00"))
    assert at.utcoffset().total_seconds() == 0, at
    print(body["order_id"], body["customer_id"], body["status"], body.get("reason"), at.isoformat())
"#;
    let mut child = Command::new("python3")
        .args(["-c", notifier])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("this test needs python3 on the PATH, as the original system's functions do");
    let input = json!({ "Records": records }).to_string();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Python's isoformat(): six fractional digits, or none when zero.
    let t = processed.processed_at;
    let at = if t.timestamp_subsec_micros() == 0 {
        t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    };
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            format!("{PROCESSED_ID} cust-12345 PROCESSED None {at}"),
            format!("{PROCESSED_ID} cust-12345 FAILED INSUFFICIENT_STOCK {at}"),
        ]
    );
}

#[tokio::test]
async fn an_order_the_original_left_pending_is_not_taken_for_an_outcome() {
    let db = original_database().await;
    migrate(&db).await;
    let store = StoreOptions::mysql(db.options.clone())
        .pool_size(4)
        .open_mysql()
        .await
        .unwrap();
    let record = store
        .order(OrderId::parse(PENDING_ID).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, OrderStatus::Pending);
    let event = serde_json::from_value(
        json!({"order_id": PENDING_ID, "customer_id": "slow_user_004",
        "items": [{"product_id": "prod-103", "quantity": 2}], "timestamp": "2026-02-13T10:00:00"}),
    )
    .unwrap();
    let applied = store.apply(&[event]).await.unwrap();
    assert!(applied[0].first_time);
    assert_eq!(applied[0].status, OrderStatus::Processed);
    assert_eq!(stock(&store, "prod-103").await, 33);
    db.drop_db().await;
}

#[tokio::test]
async fn a_migration_stopped_by_oversold_stock_says_how_to_finish_it() {
    let db = original_database().await;
    let mut conn = sqlx::MySqlConnection::connect_with(&db.options)
        .await
        .unwrap();
    conn.execute("UPDATE inventory SET quantity_available = -1 WHERE product_id = 'prod-104'")
        .await
        .unwrap();
    let store = StoreOptions::mysql(db.options.clone())
        .pool_size(2)
        .schema(Schema::AsIs)
        .open_mysql()
        .await
        .unwrap();
    let failed = store
        .migrate()
        .await
        .expect_err("a CHECK of stock >= 0 fails");
    let message = failed.to_string();
    assert!(message.contains("inventory_no_oversell"), "{message}");
    assert!(
        message.contains("DELETE FROM _sqlx_migrations WHERE version = 3"),
        "{message}"
    );
    // Refused on start too, the same way.
    match StoreOptions::mysql(db.options.clone())
        .pool_size(2)
        .open_mysql()
        .await
    {
        Err(StoreError::Schema(m)) => assert!(m.contains("stopped part way"), "{m}"),
        other => panic!("{:?}", other.err()),
    }
    // Fixed as it says, the second run finishes.
    conn.execute(
        "UPDATE inventory SET quantity_available = 0 WHERE product_id = 'prod-104'; \
         DELETE FROM _sqlx_migrations WHERE version = 3",
    )
    .await
    .unwrap();
    assert_eq!(store.migrate().await.unwrap().len(), 1);
    assert!(store.schema_problems().await.unwrap().is_empty());
    db.drop_db().await;
}
