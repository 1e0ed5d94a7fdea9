//! The whole pipeline in one process (HTTP, queues, processor, notifier,
//! store), against both stores: the seed's four scenarios, redelivery,
//! transient failures, poison messages and a rush on scarce stock.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use engine::app::App;
use engine::config::Config;
use engine::domain::{InventoryItem, OrderId, OrderRecord, OrderStatus, ProductId};
use engine::events::OrderCreated;
use engine::queue::QueueBackend;
use engine::store::{Applied, OrderStore, StoreError};
use serde_json::{json, Value};

use common::{order, spawn_app, spawn_app_with, stock};

const WAIT: Duration = Duration::from_secs(20);

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(app: &App) -> Self {
        Api {
            http: reqwest::Client::new(),
            base: app.base_url(),
        }
    }
    async fn post_order(&self, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/api/orders", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
    async fn stock(&self, product: &str) -> i64 {
        self.get(&format!("/api/inventory/{product}")).await.1["quantity_available"]
            .as_i64()
            .unwrap()
    }
    async fn finished(&self, order_id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (status, body) = self.get(&format!("/api/orders/{order_id}")).await;
            if status == 200 {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order {order_id} never finished"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn sent(app: &App) -> u64 {
    app.queues.orders.stats().sent.load(Ordering::SeqCst)
}

async fn the_seed_scenarios_behave_as_documented(store: Arc<dyn OrderStore>) {
    let app = spawn_app(store).await;
    let api = Api::new(&app);

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

async fn a_redelivered_order_is_applied_and_notified_once(store: Arc<dyn OrderStore>) {
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

/// Wraps a real store and fails `apply` with a transient error while its
/// budget of failures lasts: a database that drops out and comes back.
struct Flaky {
    inner: Arc<dyn OrderStore>,
    failures_left: AtomicU32,
}

#[async_trait]
impl OrderStore for Flaky {
    async fn apply(&self, orders: &[OrderCreated]) -> Result<Vec<Applied>, StoreError> {
        let left = self.failures_left.load(Ordering::SeqCst);
        if left > 0 {
            self.failures_left.store(left - 1, Ordering::SeqCst);
            return Err(StoreError::Unavailable("injected: connection lost".into()));
        }
        self.inner.apply(orders).await
    }
    async fn order(&self, id: OrderId) -> Result<Option<OrderRecord>, StoreError> {
        self.inner.order(id).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn orders_processed_since(
        &self,
        t: DateTime<Utc>,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        self.inner.orders_processed_since(t).await
    }
    async fn recent_orders(&self, limit: u32) -> Result<Vec<OrderRecord>, StoreError> {
        self.inner.recent_orders(limit).await
    }
    async fn inventory(&self) -> Result<Vec<InventoryItem>, StoreError> {
        self.inner.inventory().await
    }
    async fn product(&self, id: &ProductId) -> Result<Option<InventoryItem>, StoreError> {
        self.inner.product(id).await
    }
    async fn seed_if_empty(&self, p: &[InventoryItem]) -> Result<bool, StoreError> {
        self.inner.seed_if_empty(p).await
    }
    async fn upsert_products(&self, p: &[InventoryItem]) -> Result<(), StoreError> {
        self.inner.upsert_products(p).await
    }
    async fn record_notification(&self, id: OrderId, s: OrderStatus) -> Result<bool, StoreError> {
        self.inner.record_notification(id, s).await
    }
}

async fn transient_store_errors_are_retried_never_failed(store: Arc<dyn OrderStore>) {
    // A short outage: the processor's own retries ride it out.
    let flaky = Arc::new(Flaky {
        inner: store.clone(),
        failures_left: AtomicU32::new(3),
    });
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
    tokio::time::sleep(Duration::from_millis(700)).await;
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
    assert_eq!(app.queues.order_dlq.depth().await.unwrap().total(), 0);
    app.stop().await;
}
both_stores!(
    transient_store_errors_are_retried_never_failed,
    transient_store_errors_are_retried_never_failed
);

async fn a_poison_message_lands_in_the_dlq(store: Arc<dyn OrderStore>) {
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
    let dead = app.queues.order_dlq.peek_all();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, "{\"not\": \"an order\"}");
    assert_eq!(dead[0].1, 3, "moved after three receives");
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

async fn a_rush_on_scarce_stock_sells_exactly_the_stock(store: Arc<dyn OrderStore>) {
    let app = spawn_app(store.clone()).await;
    let api = Arc::new(Api::new(&app));
    // 300 customers at once for the five Ergonomic Chairs.
    let mut tasks = Vec::new();
    for i in 0..300 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"customer_id": format!("rush-{i}"), "items": [{"product_id": "prod-105", "quantity": 1}]});
            let (status, body) = api.post_order(&body).await;
            assert_eq!(status, 202);
            body["order_id"].as_str().unwrap().to_owned()
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
