//! The whole pipeline in one process (HTTP, queues, processor, notifier,
//! store), against both stores: the seed's four scenarios, redelivery,
//! transient failures, poison messages and a rush on scarce stock.

use crate::common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use engine::app::App;
use engine::config::Config;
use engine::domain::{OrderId, OrderStatus};
use engine::store::{OrderStore, StoreAdmin};
use serde_json::{json, Value};

use common::{order, product, spawn_app, spawn_app_with, stock, Flaky, TestApp};

const WAIT: Duration = Duration::from_secs(20);

fn sent(app: &TestApp) -> u64 {
    app.enqueued()
}

async fn the_seed_scenarios_behave_as_documented(store: Arc<dyn StoreAdmin>) {
    let app = spawn_app(store).await;
    let api = &app;

    // 1. Happy path: 202, PROCESSED, stock down by one.
    let happy = json!({"customer_id": "test_user_001", "items": [{"product_id": "prod-101", "quantity": 1}]});
    let (status, body) = api.post_order(&happy).await;
    assert_eq!(status, 202);
    assert_eq!(body["message"], "Order accepted");
    let id = body["order_id"].as_str().unwrap().to_owned();
    let order = api.finished(&id).await;
    assert_eq!(order["status"], "PROCESSED");
    assert_eq!(order["failure_reason"], Value::Null);
    assert_eq!(api.stock("prod-101").await, 49);

    // 2. Duplicate: same id, stock does not move again.
    let (status, body) = api.post_order(&happy).await;
    assert_eq!(status, 202);
    assert_eq!(body["order_id"], id.as_str());
    assert!(app.wait_drained(WAIT).await);
    assert_eq!(api.stock("prod-101").await, 49);
    assert_eq!(app.metrics.duplicate_deliveries.get(), 1);

    // 3. Validation: 400 naming the field, nothing enqueued or written.
    let before = sent(&app);
    let bad =
        json!({"customer_id": "hacker_002", "items": [{"product_id": "prod-102", "quantity": -5}]});
    let (status, body) = api.post_order(&bad).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "items[0].quantity must be a positive integer"
    );
    assert_eq!(sent(&app), before);
    assert_eq!(api.stock("prod-102").await, 20);

    // 4. Insufficient stock: 202, then FAILED, stock unchanged.
    let greedy = json!({"customer_id": "greedy_user_003", "items": [{"product_id": "prod-102", "quantity": 9999}]});
    let (status, body) = api.post_order(&greedy).await;
    assert_eq!(status, 202);
    let order = api.finished(body["order_id"].as_str().unwrap()).await;
    assert_eq!(order["status"], "FAILED");
    assert_eq!(order["failure_reason"], "INSUFFICIENT_STOCK");
    assert_eq!(api.stock("prod-102").await, 20);

    assert!(app.wait_drained(WAIT).await);
    assert_eq!(
        app.metrics.notifications.get(),
        2,
        "each finished order notified once"
    );
    app.stop().await;
}
both_stores!(
    the_seed_scenarios_behave_as_documented,
    the_seed_scenarios_behave_as_documented
);

async fn a_redelivered_order_is_applied_and_notified_once(store: Arc<dyn StoreAdmin>) {
    let app = spawn_app(store.clone()).await;
    let o = order("redelivered", &[("prod-103", 4)]);
    let body = serde_json::to_string(&o).unwrap();
    // The same event three times, as an at-least-once queue may deliver it.
    for _ in 0..3 {
        app.queues.orders.send(body.clone()).await.unwrap();
    }
    assert!(app.wait_drained(WAIT).await);
    assert_eq!(stock(&*store, "prod-103").await, 31, "taken once");
    assert_eq!(app.metrics.processed.get(), 1);
    assert_eq!(app.metrics.duplicate_deliveries.get(), 2);
    assert_eq!(app.metrics.notifications.get(), 1, "notified once");
    assert_eq!(
        store.order(o.order_id).await.unwrap().unwrap().status,
        OrderStatus::Processed
    );
    app.stop().await;
}
both_stores!(
    a_redelivered_order_is_applied_and_notified_once,
    a_redelivered_order_is_applied_and_notified_once
);

async fn transient_store_errors_are_retried_never_failed(store: Arc<dyn StoreAdmin>) {
    // A short outage: the processor's own retries ride it out.
    let flaky = Flaky::new(store.clone(), 3);
    let config = Config {
        processor_workers: 1,
        visibility_timeout_secs: 1,
        ..Config::default()
    };
    let app = spawn_app_with(flaky.clone(), config).await;
    let o = order("patient", &[("prod-101", 2)]);
    app.queues
        .orders
        .send(serde_json::to_string(&o).unwrap())
        .await
        .unwrap();
    assert!(app.wait_drained(WAIT).await);
    assert_eq!(
        store.order(o.order_id).await.unwrap().unwrap().status,
        OrderStatus::Processed
    );
    assert_eq!(app.metrics.store_retries.get(), 3);

    // A longer one: the batch is left on the queue, not marked FAILED, and
    // is processed once the database is back.
    flaky.failures_left.store(7, Ordering::SeqCst);
    let o = order("very-patient", &[("prod-101", 3)]);
    app.queues
        .orders
        .send(serde_json::to_string(&o).unwrap())
        .await
        .unwrap();
    // The processor's first round (five attempts) has failed: the message
    // waits out its retry delay before the next.
    common::wait_until("the first round of attempts", || {
        flaky.failures_left.load(Ordering::SeqCst) <= 2
    })
    .await;
    assert!(
        store.order(o.order_id).await.unwrap().is_none(),
        "not recorded during the outage"
    );
    assert_eq!(
        app.queues.orders.depth().await.unwrap().total(),
        1,
        "still on the queue"
    );
    assert!(app.wait_drained(WAIT).await);
    let r = store.order(o.order_id).await.unwrap().unwrap();
    assert_eq!(r.status, OrderStatus::Processed);
    assert_eq!(stock(&*store, "prod-101").await, 45);
    assert_eq!(order_dlq_depth(&app).await, 0);
    app.stop().await;
}
both_stores!(
    transient_store_errors_are_retried_never_failed,
    transient_store_errors_are_retried_never_failed
);

async fn a_poison_message_lands_in_the_dlq(store: Arc<dyn StoreAdmin>) {
    let app = spawn_app(store.clone()).await;
    app.queues
        .orders
        .send("{\"not\": \"an order\"}".into())
        .await
        .unwrap();
    let good = order("after-poison", &[("prod-101", 1)]);
    app.queues
        .orders
        .send(serde_json::to_string(&good).unwrap())
        .await
        .unwrap();
    assert!(app.wait_drained(WAIT).await);
    let dead = app
        .queues
        .order_dlq
        .as_ref()
        .unwrap()
        .peek(usize::MAX)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "{\"not\": \"an order\"}");
    assert_eq!(dead[0].receive_count, 3, "moved after three receives");
    assert_eq!(app.metrics.poison_messages.get(), 3);
    assert_eq!(
        store.order(good.order_id).await.unwrap().unwrap().status,
        OrderStatus::Processed
    );
    app.stop().await;
}
both_stores!(
    a_poison_message_lands_in_the_dlq,
    a_poison_message_lands_in_the_dlq
);

async fn a_rush_on_scarce_stock_sells_exactly_the_stock(store: Arc<dyn StoreAdmin>) {
    let app = spawn_app(store.clone()).await;
    // 300 customers at once for the five Ergonomic Chairs.
    let mut tasks = Vec::new();
    for i in 0..300 {
        let client = app.client.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"customer_id": format!("rush-{i}"), "items": [{"product_id": "prod-105", "quantity": 1}]});
            let a = client.post_order_json(&body).await.unwrap();
            assert_eq!(a.status, 202);
            a.body["order_id"].as_str().unwrap().to_owned()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    assert!(app.wait_drained(WAIT).await);
    let mut processed = 0;
    for id in &ids {
        let r = store
            .order(OrderId::parse(id).unwrap())
            .await
            .unwrap()
            .expect("every accepted order finished");
        if r.status == OrderStatus::Processed {
            processed += 1;
        }
    }
    assert_eq!(processed, 5);
    assert_eq!(stock(&*store, "prod-105").await, 0);
    assert_eq!(app.metrics.processed.get() + app.metrics.failed.get(), 300);
    app.stop().await;
}
both_stores!(
    a_rush_on_scarce_stock_sells_exactly_the_stock,
    a_rush_on_scarce_stock_sells_exactly_the_stock
);

async fn a_redriven_dead_letter_is_processed_once(store: Arc<dyn StoreAdmin>) {
    // The database is down for good: the order's message fails its three
    // receives, handed back 1 s and then 3 s (the queue's 1 s visibility
    // timeout is the hand-back's first wait, tripled each receive).
    let flaky = Flaky::new(store.clone(), u32::MAX);
    let config = Config {
        processor_workers: 1,
        visibility_timeout_secs: 1,
        ..Config::default()
    };
    let app = spawn_app_with(flaky.clone(), config).await;
    let api = &app;
    let o = order("dead-letter", &[("prod-101", 2)]);
    app.queues
        .orders
        .send(serde_json::to_string(&o).unwrap())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while order_dlq_depth(&app).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never dead-lettered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, letters) = api.get("/api/dlq").await;
    assert_eq!(status, 200);
    let letters = letters.as_array().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["queue"], "orders");
    assert_eq!(letters[0]["receive_count"], 3);
    assert!(
        letters[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("connection lost"),
        "{}",
        letters[0]
    );
    assert!(store.order(o.order_id).await.unwrap().is_none());

    // The database is back; the redrive sends it through once.
    flaky.failures_left.store(0, Ordering::SeqCst);
    let r = app
        .client
        .post("/api/dlq/redrive?queue=orders")
        .await
        .unwrap()
        .body;
    assert_eq!(r["redriven"], 1);
    assert!(app.wait_drained(WAIT).await);
    assert_eq!(
        store.order(o.order_id).await.unwrap().unwrap().status,
        OrderStatus::Processed
    );
    assert_eq!(stock(&*store, "prod-101").await, 48);
    assert_eq!(api.get("/api/dlq").await.1, json!([]));
    // A second redrive finds nothing, and nothing moves.
    let r = app.client.post("/api/dlq/redrive").await.unwrap().body;
    assert_eq!(r["redriven"], 0);
    assert_eq!(stock(&*store, "prod-101").await, 48);
    assert_eq!(app.metrics.notifications.get(), 1);
    app.stop().await;
}
both_stores!(
    a_redriven_dead_letter_is_processed_once,
    a_redriven_dead_letter_is_processed_once
);

/// A deadlock made on purpose: an outside transaction holds one row and asks
/// for the other while a batch holds the first. The server breaks the cycle;
/// whichever side it picks, the order is applied once and stock is conserved.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deadlock_the_server_reports_is_retried_and_keeps_every_invariant() {
    let db = common::TestDb::new().await;
    let mysql = db.store().await;
    mysql
        .upsert_products(&[product("da", 100), product("db", 100)])
        .await
        .unwrap();
    let before = common::server_deadlocks(mysql.pool()).await;

    let mut outsider = mysql.pool().begin().await.unwrap();
    // Weight, so the server prefers to roll back the processor's batch.
    sqlx::query("INSERT INTO notifications (order_id, status, state, claimed_by, claimed_at) VALUES ('00000000-0000-8000-8000-0000000000dd', 'PROCESSED', 'CLAIMED', 'outsider', NOW(3))")
        .execute(&mut *outsider).await.unwrap();
    sqlx::query("SELECT quantity_available FROM inventory WHERE product_id = 'db' FOR UPDATE")
        .fetch_one(&mut *outsider)
        .await
        .unwrap();

    let app = spawn_app(mysql.clone()).await;
    let o = order("deadlocked", &[("da", 1), ("db", 1)]);
    app.queues
        .orders
        .send(serde_json::to_string(&o).unwrap())
        .await
        .unwrap();
    // Wait until the batch holds `da` and waits for `db`: the server lists
    // its transaction as waiting for a lock.
    common::wait_for_lock_wait(mysql.pool(), &db.name).await;
    let outsider_won =
        sqlx::query("SELECT quantity_available FROM inventory WHERE product_id = 'da' FOR UPDATE")
            .fetch_one(&mut *outsider)
            .await
            .is_ok();
    let _ = outsider.rollback().await;

    assert!(app.wait_drained(WAIT).await);
    assert!(
        common::server_deadlocks(mysql.pool()).await > before,
        "the server saw the deadlock"
    );
    if outsider_won {
        assert!(
            app.metrics.store_retries.get() >= 1,
            "the batch was the victim and was retried"
        );
    }
    assert_eq!(
        mysql.order(o.order_id).await.unwrap().unwrap().status,
        OrderStatus::Processed
    );
    assert_eq!(app.metrics.processed.get(), 1);
    assert_eq!(stock(&*mysql, "da").await, 99);
    assert_eq!(stock(&*mysql, "db").await, 99);
    app.stop().await;
    db.drop_db().await;
}

/// Messages in the order DLQ, in flight or not (the channel queues always
/// have one).
async fn order_dlq_depth(app: &App) -> u64 {
    let dlq = app.queues.order_dlq.as_ref().expect("an order DLQ");
    dlq.depth().await.unwrap().total()
}
