//! The HTTP contract: every malformed request is refused with a 4xx that
//! names the problem and leaves no trace; the read endpoints, health,
//! metrics and the OpenAPI document.

use crate::common;

use std::sync::atomic::Ordering;

use serde_json::Value;

use common::{memory_store, spawn_app, TestApp, TestDb};
use engine::store::StoreAdmin;
use std::sync::Arc;

async fn post_raw(
    app: &TestApp,
    body: &str,
    content_type: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let a = app
        .client
        .post_raw("/api/orders", body.to_owned(), content_type)
        .await
        .unwrap();
    (a.status, a.body, a.headers)
}

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let a = app.client.get(path).await.unwrap();
    (a.status, a.text)
}

const JSON: Option<&str> = Some("application/json");

/// Body, expected status, and the start of the expected message.
fn malformed() -> Vec<(String, u16, &'static str)> {
    let line = |q: &str| {
        format!(r#"{{"customer_id":"c","items":[{{"product_id":"prod-101","quantity":{q}}}]}}"#)
    };
    let mut cases: Vec<(String, u16, &'static str)> = vec![
        ("".into(), 400, "body is not valid JSON"),
        ("{".into(), 400, "body is not valid JSON"),
        ("not json".into(), 400, "body is not valid JSON"),
        ("[]".into(), 400, "body must be a JSON object"),
        ("null".into(), 400, "body must be a JSON object"),
        ("42".into(), 400, "body must be a JSON object"),
        (r#"{"items":[{"product_id":"prod-101","quantity":1}]}"#.into(), 400, "customer_id is required"),
        (r#"{"customer_id":null,"items":[{"product_id":"prod-101","quantity":1}]}"#.into(), 400, "customer_id must be a string"),
        (r#"{"customer_id":["c"],"items":[{"product_id":"prod-101","quantity":1}]}"#.into(), 400, "customer_id must be a string"),
        (r#"{"customer_id":"","items":[{"product_id":"prod-101","quantity":1}]}"#.into(), 400, "customer_id must not be empty or blank"),
        (r#"{"customer_id":" \t ","items":[{"product_id":"prod-101","quantity":1}]}"#.into(), 400, "customer_id must not be empty or blank"),
        (r#"{"customer_id":"c"}"#.into(), 400, "items is required"),
        (r#"{"customer_id":"c","items":"prod-101"}"#.into(), 400, "items must be an array"),
        (r#"{"customer_id":"c","items":[]}"#.into(), 400, "items must not be empty"),
        (r#"{"customer_id":"c","items":[null]}"#.into(), 400, "items[0] must be an object"),
        (r#"{"customer_id":"c","items":[{"quantity":1}]}"#.into(), 400, "items[0].product_id is required"),
        (r#"{"customer_id":"c","items":[{"product_id":"  ","quantity":1}]}"#.into(), 400, "items[0].product_id must not be empty or blank"),
        (r#"{"customer_id":"c","items":[{"product_id":101,"quantity":1}]}"#.into(), 400, "items[0].product_id must be a string"),
        (r#"{"customer_id":"c","items":[{"product_id":"prod-101"}]}"#.into(), 400, "items[0].quantity is required"),
        (r#"{"customer_id":"c","items":[{"product_id":"prod-101","quantity":1},{"product_id":"prod-101","quantity":1}]}"#.into(), 400, "items[1].product_id repeats"),
        (r#"{"customer_id":"c","items":[{"product_id":"prod-101","quantity":1}],"total":5}"#.into(), 400, "total is not a known field"),
    ];
    for q in ["true", "1.5", "\"2\"", "0", "-5", "null", "2.0"] {
        cases.push((line(q), 400, "items[0].quantity must be a positive integer"));
    }
    cases.push((
        line("1000001"),
        400,
        "items[0].quantity must be at most 1000000",
    ));
    cases.push((
        line("99999999999999999999999"),
        400,
        "items[0].quantity must be a positive integer",
    ));
    let many: Vec<String> = (0..101)
        .map(|i| format!(r#"{{"product_id":"p{i}","quantity":1}}"#))
        .collect();
    cases.push((
        format!(r#"{{"customer_id":"c","items":[{}]}}"#, many.join(",")),
        400,
        "items must have at most 100 lines",
    ));
    let huge = format!(r#"{{"customer_id":"{}","items":[]}}"#, "x".repeat(70_000));
    cases.push((huge, 413, "request body is larger than"));
    cases
}

async fn every_malformed_request_is_refused_without_trace(store: Arc<dyn StoreAdmin>) {
    let app = spawn_app(store.clone()).await;
    let inventory_before = get(&app, "/api/inventory").await.1;
    for (body, want_status, want_message) in malformed() {
        let (status, json, _) = post_raw(&app, &body, JSON).await;
        let shown: String = body.chars().take(80).collect();
        assert_eq!(status, want_status, "{shown}: {json}");
        let message = json["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(want_message),
            "{shown}: got {message:?}, want {want_message:?}"
        );
    }
    let (status, json, _) = post_raw(
        &app,
        r#"{"customer_id":"c","items":[{"product_id":"prod-101","quantity":1}]}"#,
        Some("text/plain"),
    )
    .await;
    assert_eq!(status, 415, "{json}");

    let bad_key = orderflow_client::http()
        .post(format!("{}/api/orders", app.base_url()))
        .header("idempotency-key", "has a space")
        .json(&serde_json::json!({"customer_id":"c","items":[{"product_id":"prod-101","quantity":1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status().as_u16(), 400);

    assert_eq!(app.enqueued(), 0, "nothing enqueued");
    assert!(app.wait_drained(std::time::Duration::from_secs(5)).await);
    assert_eq!(
        get(&app, "/api/inventory").await.1,
        inventory_before,
        "no stock moved"
    );
    assert!(
        store.recent_orders(10).await.unwrap().is_empty(),
        "no order row"
    );
    assert_eq!(app.metrics.accepted.get(), 0);
    assert!(app.metrics.rejected.get() >= malformed().len() as u64);
    app.stop().await;
}

#[tokio::test]
async fn every_malformed_request_is_refused_without_trace_memory() {
    every_malformed_request_is_refused_without_trace(memory_store().await).await;
}

#[tokio::test]
async fn every_malformed_request_is_refused_without_trace_mysql() {
    let db = TestDb::new().await;
    every_malformed_request_is_refused_without_trace(db.store().await).await;
    db.drop_db().await;
}

/// A client that sends a 2 MB body before it reads the answer gets the
/// 413, not a reset: the server reads and drops what is past the limit
/// before it closes the connection.
#[tokio::test]
async fn an_oversized_body_is_answered_413_not_reset() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(memory_store().await).await;
    let addr = app.base_url().trim_start_matches("http://").to_owned();
    let body = format!(
        r#"{{"customer_id":"{}","items":[]}}"#,
        "x".repeat(2_000_000)
    );
    for attempt in 0..3 {
        let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /api/orders HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        // A client on a network sends its body over time, so the server
        // answers while the rest is still on its way.
        let mut sent = Ok(());
        for chunk in body.as_bytes().chunks(64 * 1024) {
            sent = conn.write_all(chunk).await;
            if sent.is_err() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let mut answer = Vec::new();
        let read = conn.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            sent.is_ok() && read.is_ok(),
            "attempt {attempt}: {sent:?} {read:?}"
        );
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "attempt {attempt}: {answer}"
        );
        assert!(answer.contains("request body is larger than"), "{answer}");
    }
    assert_eq!(app.enqueued(), 0);
}

#[tokio::test]
async fn an_idempotency_key_lets_a_client_place_the_same_basket_twice() {
    let app = spawn_app(memory_store().await).await;
    let client = orderflow_client::http();
    let body =
        serde_json::json!({"customer_id":"c","items":[{"product_id":"prod-101","quantity":1}]});
    let mut ids = Vec::new();
    for key in [None, Some("basket-1"), Some("basket-2"), Some("basket-1")] {
        let mut req = client
            .post(format!("{}/api/orders", app.base_url()))
            .json(&body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        ids.push(r["order_id"].as_str().unwrap().to_owned());
    }
    assert_ne!(ids[0], ids[1]);
    assert_ne!(ids[1], ids[2]);
    assert_eq!(ids[1], ids[3], "the same key is the same order");
    assert!(app.wait_drained(std::time::Duration::from_secs(10)).await);
    assert_eq!(
        common::stock(&*app.store, "prod-101").await,
        47,
        "three distinct orders taken"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_queue_outage_answers_503_and_enqueues_nothing() {
    let app = spawn_app(memory_store().await).await;
    app.harness.set_ingest_outage(true);
    let body = r#"{"customer_id":"c","items":[{"product_id":"prod-101","quantity":1}]}"#;
    let (status, json, headers) = post_raw(&app, body, JSON).await;
    assert_eq!(status, 503, "{json}");
    assert_eq!(
        headers.get("retry-after").map(|v| v.to_str().unwrap()),
        Some("1")
    );
    assert!(json["message"].as_str().unwrap().contains("not accepted"));
    app.harness.set_ingest_outage(false);
    assert_eq!(app.enqueued(), 0);
    let (status, _, _) = post_raw(&app, body, JSON).await;
    assert_eq!(status, 202);
    app.stop().await;
}

#[tokio::test]
async fn read_endpoints_answer_rows_and_404s() {
    let app = spawn_app(memory_store().await).await;
    let (status, body) = get(&app, "/api/inventory").await;
    assert_eq!(status, 200);
    let items: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(items[0]["product_id"], "prod-101");
    assert_eq!(items[0]["product_name"], "Wireless Headphones");
    assert_eq!(items[0]["quantity_available"], 50);

    let (status, body) = get(&app, "/api/inventory/prod-104").await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["quantity_available"],
        10
    );
    assert_eq!(get(&app, "/api/inventory/prod-999").await.0, 404);

    let (status, body) = get(&app, "/api/orders/3b1f16d4-37da-40c2-a24a-92dfc3636d4b").await;
    assert_eq!(status, 404);
    assert!(body.contains("not found"));
    assert_eq!(get(&app, "/api/orders/not-a-uuid").await.0, 404);
    assert_eq!(get(&app, "/no/such/route").await.0, 404);
    app.stop().await;
}

#[tokio::test]
async fn health_and_metrics_report_the_pipeline() {
    let app = spawn_app(memory_store().await).await;
    let (status, body) = get(&app, "/health").await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "ok"
    );

    post_raw(
        &app,
        r#"{"customer_id":"m","items":[{"product_id":"prod-101","quantity":1}]}"#,
        JSON,
    )
    .await;
    post_raw(&app, "{", JSON).await;
    assert!(app.wait_drained(std::time::Duration::from_secs(10)).await);
    let (status, text) = get(&app, "/metrics").await;
    assert_eq!(status, 200);
    for needle in [
        "orderflow_orders_accepted_total 1",
        "orderflow_orders_rejected_total 1",
        "orderflow_orders_processed_total 1",
        "orderflow_orders_failed_total 0",
        "orderflow_queue_messages_visible{queue=\"orders\"} 0",
        "orderflow_queue_messages_visible{queue=\"order-dlq\"} 0",
        "orderflow_queue_messages_in_flight{queue=\"processed\"} 0",
    ] {
        assert!(text.contains(needle), "/metrics lacks {needle:?}:\n{text}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_matches_the_router() {
    let app = spawn_app(memory_store().await).await;
    let (status, body) = get(&app, "/openapi.json").await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut documented: Vec<String> = Vec::new();
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    documented.sort();
    let routed = [
        "GET /api/dlq",
        "GET /api/inventory",
        "GET /api/inventory/{product_id}",
        "GET /api/orders/{order_id}",
        "GET /health",
        "GET /metrics",
        "GET /openapi.json",
        "POST /api/dlq/redrive",
        "POST /api/orders",
    ];
    assert_eq!(documented, routed, "every route documented, nothing else");

    // And every documented route is really served (not the 404 fallback).
    let client = orderflow_client::http();
    for route in routed {
        let (method, path) = route.split_once(' ').unwrap();
        let path = path
            .replace("{product_id}", "prod-101")
            .replace("{order_id}", "00000000-0000-8000-8000-000000000000");
        let url = format!("{}{path}", app.base_url());
        let r = match method {
            "POST" => client
                .post(url)
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap(),
            _ => client.get(url).send().await.unwrap(),
        };
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert!(
            status != 405 && !text.contains("no such route"),
            "{route} is not served: {status} {text}"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in [
        "OrderCreated",
        "OrderProcessed",
        "OrderRecord",
        "InventoryItem",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(s), "schema {s} missing");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_flood_is_answered_503_and_the_queue_stays_bounded() {
    // The store is down, so nothing drains; the order queue holds 20.
    let store = memory_store().await;
    let flaky = common::Flaky::new(store.clone(), u32::MAX);
    let config = engine::config::Config {
        queue_capacity: 20,
        processor_workers: 1,
        visibility_timeout_secs: 1,
        ..Default::default()
    };
    let app = common::spawn_app_with(flaky.clone(), config).await;
    let client = orderflow_client::http();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (client, url) = (client.clone(), format!("{}/api/orders", app.base_url()));
        tasks.push(tokio::spawn(async move {
            let body = serde_json::json!({"customer_id": format!("flood-{i}"), "items": [{"product_id": "prod-101", "quantity": 1}]});
            let r = client.post(url).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.headers().get("retry-after").is_some())
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        match t.await.unwrap() {
            (202, _) => accepted += 1,
            (503, true) => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(accepted, 20, "exactly the capacity is accepted");
    assert!(app.queues.orders.depth().await.unwrap().total() <= 20);

    // The store comes back: every accepted order is processed.
    flaky.failures_left.store(0, Ordering::SeqCst);
    assert!(app.wait_drained(std::time::Duration::from_secs(20)).await);
    assert_eq!(app.metrics.processed.get(), 20);
    assert_eq!(common::stock(&*store, "prod-101").await, 30);
    app.stop().await;
}
