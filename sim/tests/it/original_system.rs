//! orderflow taking over the original system's processor and notifier, as a
//! user would: the original's database migrated with `sim migrate`, then
//! `sim serve --queue sqs` on the original deployment's queues (on moto): an
//! order queue with a DLQ after 3 receives, a processed queue with none. The
//! messages its ingest writes (Python's naive `isoformat()` timestamps)
//! become PROCESSED and FAILED orders.

use crate::common;

use std::process::Command;
use std::time::Duration;

use engine::queue::sqs::SqsQueue;
use engine::queue::QueueBackend;
use serde_json::{json, Value};
use sqlx::{ConnectOptions, Executor};

use common::{database, drop_database, server_url, Serve};

const ORIGINAL_DATABASE: &str = include_str!("../../../engine/tests/data/original_database.sql");

async fn get(base: &str, path: &str) -> (u16, Value) {
    let client = orderflow_client::Client::new(base).expect("a client");
    let a = client.get(path).await.expect("sim serve answers");
    (a.status, a.body)
}

/// Polls the order until it is finished; answers its status and reason.
async fn outcome(base: &str, order_id: &str) -> (Value, Value) {
    for _ in 0..1500 {
        let (status, order) = get(base, &format!("/api/orders/{order_id}")).await;
        if status == 200 && order["status"] != "PENDING" {
            return (order["status"].clone(), order["failure_reason"].clone());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("order {order_id} did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_originals_messages_through_its_queues_become_processed_and_failed_orders() {
    // The original deployment: its queues, its database.
    let moto = testkit::moto::moto().await;
    let client = testkit::moto::client(&moto.url);
    let (orders, _order_dlq) =
        SqsQueue::create_with_dlq(&client, "ecommerce-orders", Duration::from_secs(30), 3)
            .await
            .expect("order queue");
    let processed_url = client
        .create_queue()
        .queue_name("ecommerce-processed")
        .send()
        .await
        .expect("processed queue")
        .queue_url
        .expect("a URL");
    let (name, options) = database("original_sqs").await;
    let mut server = options.clone().database("").connect().await.expect("MySQL");
    server
        .execute(format!("CREATE DATABASE `{name}`").as_str())
        .await
        .unwrap();
    let mut conn = options.connect().await.unwrap();
    conn.execute(ORIGINAL_DATABASE).await.unwrap();

    // Step 0 of the book's migration guide: sim migrate.
    let url = format!("{}/{name}", server_url().trim_end_matches('/'));
    let migrated = Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .output()
        .expect("sim migrate runs");
    let said = String::from_utf8_lossy(&migrated.stdout);
    assert!(
        migrated.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    assert!(
        said.contains("schema ok: 5 products and 3 orders"),
        "{said}"
    );

    // Steps 1 and 2: orderflow's processor and notifier on its queues.
    let env = [
        ("QUEUE_BACKEND", "sqs"),
        ("ORDER_QUEUE_URL", orders.url()),
        ("PROCESSED_QUEUE_URL", processed_url.as_str()),
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let mut serve = Serve::start(&name, &env);
    serve.wait_for_line("warning: the processed queue has no dead-letter queue");
    let base = serve.base.clone();

    let sent = [
        // utcnow().isoformat() with microseconds...
        (
            "2f6a1c3e-8d4b-4a5f-9e2c-1b3d5f7a9c0e",
            "prod-101",
            2,
            "2026-02-13T10:00:00.123456",
        ),
        // ...and without, when they are zero
        (
            "4b8c2d6e-0f1a-4b3c-8d5e-7f9a1b3c5d7e",
            "prod-105",
            99,
            "2026-02-13T10:00:01",
        ),
        // as the original's README documents it
        (
            "6d0e4f8a-2b3c-4d5e-9f1a-3b5c7d9e1f2a",
            "prod-999",
            1,
            "2026-02-13T10:00:02.000Z",
        ),
    ];
    for (id, product, quantity, at) in sent {
        let body = json!({"order_id": id, "customer_id": "cust-12345",
            "items": [{"product_id": product, "quantity": quantity}], "timestamp": at});
        orders.send(body.to_string()).await.expect("sent");
    }
    let mut outcomes = Vec::new();
    for (id, ..) in sent {
        outcomes.push(outcome(&base, id).await);
    }
    assert_eq!(
        outcomes,
        [
            (json!("PROCESSED"), Value::Null),
            (json!("FAILED"), json!("INSUFFICIENT_STOCK")),
            (json!("FAILED"), json!("UNKNOWN_PRODUCT")),
        ]
    );
    let (_, order) = get(&base, &format!("/api/orders/{}", sent[0].0)).await;
    assert_eq!(order["created_at"], "2026-02-13T10:00:00.123Z");
    let (_, headphones) = get(&base, "/api/inventory/prod-101").await;
    assert_eq!(headphones["quantity_available"], 47);
    let (_, chairs) = get(&base, "/api/inventory/prod-105").await;
    assert_eq!(chairs["quantity_available"], 5);

    // The DLQ tooling says plainly that the processed queue has none.
    let listed = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["dlq", "list", "--url", &base])
        .env("DATABASE_URL", "")
        .output()
        .expect("sim dlq runs");
    let said = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{said}");
    assert!(
        said.contains("orders: the dead-letter queue is empty"),
        "{said}"
    );
    assert!(
        said.contains(
            "processed: the processed queue has no dead-letter queue (no redrive policy)"
        ),
        "{said}"
    );

    // A stop leaves what SQS holds to the next consumer.
    serve.signal();
    let (status, stdout, stderr) = serve.exit();
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("wait in the SQS queues for the next consumer"),
        "{stdout}"
    );
    drop(conn);
    drop_database(&options).await;
    drop(moto);
}
