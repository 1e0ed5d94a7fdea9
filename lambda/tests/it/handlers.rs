//! The Lambda handlers, invoked with the JSON of real AWS sample events
//! (SQS and API Gateway HTTP API payload 2.0, bodies made ours), over the
//! in-memory store and channel queues.

use std::sync::Arc;

use engine::config::Config;
use engine::context::Context;
use engine::domain::{seed_products, OrderId, OrderStatus, ProductId};
use engine::queues::Queues;
use engine::store::{MemoryStore, OrderStore};
use lambda_http::tower::ServiceExt;
use orderflow_lambda::{
    handle_orders, handle_processed, BatchMetrics, Environment, Meter, SqsEvent,
};

async fn environment() -> (Environment, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    store.seed_if_empty(&seed_products()).await.unwrap();
    let config = Config::default();
    let env = Environment::new(
        Context::new(store.clone()),
        Queues::channel(&config),
        config,
    );
    (env, store)
}

async fn queued(env: &Environment) -> u64 {
    env.queues.orders.depth().await.unwrap().total()
}

fn event(name: &str) -> SqsEvent {
    let path = format!("{}/tests/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn failures(response: &orderflow_lambda::BatchResponse) -> Vec<String> {
    let json = serde_json::to_value(response).unwrap();
    json["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_processor_reports_only_the_poison_message_as_failed() {
    let (env, store) = environment().await;
    let processor = env.processor();
    let orders = event("sqs-order-created.json");
    let meter = Meter::start(&env.ctx.metrics, orders.records.len());
    let response = handle_orders(&processor, orders, None).await;
    assert_eq!(
        failures(&response),
        ["2e1424d4-f796-459a-8184-9c92662be6da"]
    );
    let metrics = meter.finish(&response);
    assert_eq!(
        BatchMetrics {
            cpu_micros: 0,
            ..metrics
        },
        BatchMetrics {
            store_retries: 0,
            left_for_redelivery: 1,
            messages: 2,
            cpu_micros: 0,
        },
        "the batch's metrics line counts the message it handed back, of the batch's"
    );
    assert!(metrics.cpu_micros > 0, "the batch took some CPU time");

    let id = OrderId::parse("3b1f16d4-37da-80c2-a24a-92dfc3636d4b").unwrap();
    assert_eq!(
        store.order(id).await.unwrap().unwrap().status,
        OrderStatus::Processed
    );
    let stock = store
        .product(&ProductId::parse("prod-101").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stock.quantity_available, 48);
    assert_eq!(
        env.queues.processed.depth().await.unwrap().visible,
        1,
        "OrderProcessed published"
    );

    // The same batch again, as a retried invocation: nothing applied twice.
    let response = handle_orders(&processor, event("sqs-order-created.json"), None).await;
    assert_eq!(
        failures(&response),
        ["2e1424d4-f796-459a-8184-9c92662be6da"]
    );
    let stock = store
        .product(&ProductId::parse("prod-101").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stock.quantity_available, 48);
}

#[tokio::test]
async fn the_notifier_notifies_once_and_reports_the_undecodable_message() {
    let (env, _store) = environment().await;
    let worker = env.notification_worker();
    let response = handle_processed(&worker, event("sqs-order-processed.json")).await;
    assert_eq!(
        failures(&response),
        ["d9f1c4e2-0000-4bbb-9ccc-2f4b0e7a1234"]
    );
    assert_eq!(env.ctx.metrics.notifications.get(), 1);
    let again = handle_processed(&worker, event("sqs-order-processed.json")).await;
    assert_eq!(failures(&again).len(), 1);
    assert_eq!(
        env.ctx.metrics.notifications.get(),
        1,
        "a redelivery does not notify again"
    );
}

#[tokio::test]
async fn ingest_answers_an_api_gateway_request_through_the_router() {
    let (env, _store) = environment().await;
    let raw = std::fs::read_to_string(format!(
        "{}/tests/events/apigw-v2-post-order.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let request = lambda_http::request::from_str(&raw).unwrap();
    let response = env.router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 202);
    // Nothing consumes the queue here: its depth is what ingest enqueued.
    assert_eq!(queued(&env).await, 1, "OrderCreated on the order queue");

    // The same event with a bad quantity: 400, nothing enqueued.
    let bad = raw.replace(r#"\"quantity\": 1"#, r#"\"quantity\": -5"#);
    let request = lambda_http::request::from_str(&bad).unwrap();
    let response = env.router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(queued(&env).await, 1);
}

/// The deployed ingest function (`API_ROUTES=intake`, `DB_MAX_CONNECTIONS=0`)
/// starts without a database, even one that cannot be reached, takes an
/// order, and routes nothing else; the read function serves the reads.
#[tokio::test]
async fn the_intake_function_has_no_database_and_serves_orders_only() {
    use engine::http::Routes;
    use orderflow_lambda::Startup;

    let config = Config {
        db_max_connections: 0,
        ..Config::default()
    };
    // Nothing listens on port 9: a connect would fail the start.
    let nowhere: sqlx::mysql::MySqlConnectOptions = "mysql://orderflow_app@127.0.0.1:9/orderflow"
        .parse()
        .unwrap();
    let queues = Queues::channel(&config);
    let env = Environment::init(config, Some(nowhere), queues, Startup::default())
        .await
        .expect("no database is opened");
    let env = Environment {
        routes: Routes::Intake,
        ..env
    };
    let raw = std::fs::read_to_string(format!(
        "{}/tests/events/apigw-v2-post-order.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let request = lambda_http::request::from_str(&raw).unwrap();
    assert_eq!(env.router().oneshot(request).await.unwrap().status(), 202);
    assert_eq!(queued(&env).await, 1);
    for path in ["/health", "/api/inventory", "/api/dlq"] {
        let request = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let status = env.router().oneshot(request).await.unwrap().status();
        assert_eq!(status, 404, "{path}: not the intake function's route");
    }

    let (reads, _store) = environment().await;
    let reads = Environment {
        routes: Routes::Reads,
        ..reads
    };
    let get = |path: &str| {
        axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    assert_eq!(
        reads
            .router()
            .oneshot(get("/health"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reads
            .router()
            .oneshot(get("/api/inventory/prod-101"))
            .await
            .unwrap()
            .status(),
        200
    );
    let post = lambda_http::request::from_str(&raw).unwrap();
    assert_eq!(
        reads.router().oneshot(post).await.unwrap().status(),
        404,
        "orders go to ingest"
    );
}

/// Behind the JWT authorizer an order is the caller's own: the customer is
/// the verified token's `sub` (or the claim the deployment names), a body
/// naming another customer is refused 403 with nothing enqueued, and so is
/// an order without a token; reads need none.
#[tokio::test]
async fn behind_a_jwt_authorizer_an_order_is_the_callers_own() {
    let (env, _store) = environment().await;
    let read = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/tests/events/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let signed = read("apigw-v2-post-order-jwt.json"); // sub: test_user_001
    let anonymous = read("apigw-v2-post-order.json");
    let call = |env: &Environment, raw: &str| {
        let request = lambda_http::request::from_str(raw).unwrap();
        let router = env.router();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };

    // Without a claim configured, the API is anonymous: both are taken.
    assert_eq!(call(&env, &anonymous).await.0, 202);
    assert_eq!(call(&env, &signed).await.0, 202);
    assert_eq!(queued(&env).await, 2);

    let env = Environment {
        customer_claim: Some("sub".into()),
        ..env
    };
    assert_eq!(call(&env, &signed).await.0, 202, "the token's own order");
    assert_eq!(queued(&env).await, 3);
    let someone_else = signed.replace(
        r#"\"customer_id\": \"test_user_001\""#,
        r#"\"customer_id\": \"someone_else\""#,
    );
    assert_ne!(someone_else, signed);
    let (status, body) = call(&env, &someone_else).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("someone_else") && body.contains("test_user_001"),
        "the refusal names both customers: {body}"
    );
    let (status, body) = call(&env, &anonymous).await;
    assert_eq!(status, 403, "no token, no order: {body}");
    assert!(body.contains("`sub`"), "{body}");
    assert_eq!(queued(&env).await, 3, "nothing refused was enqueued");

    // Another claim names the customer: the body must match that one.
    let env = Environment {
        customer_claim: Some("custom:customer_id".into()),
        ..env
    };
    assert_eq!(call(&env, &signed).await.0, 403, "sub is not the claim now");
    let theirs = signed.replace("test_user_001", "cust-777");
    assert_eq!(call(&env, &theirs).await.0, 202);
    assert_eq!(queued(&env).await, 4);

    let health = axum::http::Request::get("/health")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(env.router().oneshot(health).await.unwrap().status(), 200);
}

/// Behind the authorizer, an order is read by its own customer only: the
/// same signed GET for another customer's order is a 404, as an unknown
/// order is (its id may travel in URLs and logs).
#[tokio::test]
async fn behind_a_jwt_authorizer_a_customer_reads_only_their_own_orders() {
    let (env, store) = environment().await;
    let order = |customer: &str| {
        let body = format!(
            r#"{{"customer_id":"{customer}","items":[{{"product_id":"prod-103","quantity":1}}]}}"#
        );
        let valid = engine::validation::parse_order(body.as_bytes()).unwrap();
        engine::ingest::order_created(
            &valid,
            None,
            &engine::idempotency::OrderIdKey::development(),
            engine::events::now_millis(),
        )
    };
    let (mine, theirs) = (order("test_user_001"), order("someone_else"));
    store.apply(&[mine.clone(), theirs.clone()]).await.unwrap();
    // The signed POST sample, made a GET of one order (sub: test_user_001).
    let signed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/events/apigw-v2-post-order-jwt.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let get = |env: &Environment, id: &OrderId, token: bool| {
        let mut raw = signed.clone();
        let path = format!("/api/orders/{id}");
        raw["routeKey"] = "GET /api/orders/{order_id}".into();
        raw["rawPath"] = path.clone().into();
        raw["requestContext"]["http"]["method"] = "GET".into();
        raw["requestContext"]["http"]["path"] = path.into();
        raw["pathParameters"] = serde_json::json!({ "order_id": id.to_string() });
        raw.as_object_mut().unwrap().remove("body");
        if !token {
            raw["requestContext"]
                .as_object_mut()
                .unwrap()
                .remove("authorizer");
        }
        let request = lambda_http::request::from_str(&raw.to_string()).unwrap();
        let router = env.router();
        async move { router.oneshot(request).await.unwrap().status().as_u16() }
    };
    let env = Environment {
        customer_claim: Some("sub".into()),
        ..env
    };
    assert_eq!(get(&env, &mine.order_id, true).await, 200, "their own");
    assert_eq!(get(&env, &theirs.order_id, true).await, 404, "another's");
}
