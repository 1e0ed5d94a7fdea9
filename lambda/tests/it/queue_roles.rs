//! The queue functions' AWS calls against their roles: moto checks every
//! request against IAM, the processor's and the notifier's code each run
//! under the policy the Pulumi program gives the function
//! (`deploy/iam-policies.json`), with the queue URLs the stack gives it.
//! The processor's init checks both queues and its batch publishes
//! `OrderProcessed`; the notifier's init checks its queue, the read
//! function's both. An action the
//! code calls and the role lacks fails here, not at the first sale. One
//! test in this file: it sets the process's environment (the SDK reads the
//! keys from it).

use crate::common;

use std::sync::Arc;

use common::moto::{deployed_policy, moto_with_iam, queue_arn, sqs_client_as};
use engine::config::{Config, QueueKind};
use engine::context::Context;
use engine::domain::seed_products;
use engine::queues::Queues;
use engine::store::{MemoryStore, OrderStore};
use orderflow_lambda::{handle_orders, handle_processed, Environment, SqsEvent, SqsMessage};

/// The messages on `url`, received (as the event source mapping would) by
/// the test's admin, as the SQS event the function is handed.
async fn received(sqs: &aws_sdk_sqs::Client, url: &str) -> SqsEvent {
    let got = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let mut event = SqsEvent::default();
    for m in got.messages.unwrap_or_default() {
        let mut record = SqsMessage::default();
        record.message_id = m.message_id;
        record.receipt_handle = m.receipt_handle;
        record.body = m.body;
        record
            .attributes
            .insert("ApproximateReceiveCount".into(), "1".into());
        event.records.push(record);
    }
    event
}

#[tokio::test]
async fn the_queue_functions_calls_are_allowed_by_their_roles() {
    let name = |q: &str| format!("roles-{q}");
    let arns = [
        ("orders", queue_arn(&name("orders"))),
        ("processed", queue_arn(&name("processed"))),
    ];
    let arns: Vec<(&str, &str)> = arns.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (moto, keys) = moto_with_iam(&[
        ("processor", deployed_policy("processor", &arns)),
        ("notifier", deployed_policy("notifier", &arns)),
        ("read", deployed_policy("read", &arns)),
    ])
    .await;
    let sqs = sqs_client_as(&moto.url, &keys["admin"]);
    let mut urls = std::collections::HashMap::new();
    for q in ["orders", "orders-dlq", "processed", "processed-dlq"] {
        let made = sqs.create_queue().queue_name(name(q)).send().await.unwrap();
        urls.insert(q, made.queue_url.unwrap());
    }
    std::env::set_var("AWS_ENDPOINT_URL", &moto.url);
    std::env::set_var("AWS_REGION", "us-east-1");
    let config = |check: &str| Config {
        queue: QueueKind::Sqs,
        order_queue_url: Some(urls["orders"].clone()),
        order_dlq_url: Some(urls["orders-dlq"].clone()),
        processed_queue_url: Some(urls["processed"].clone()),
        processed_dlq_url: Some(urls["processed-dlq"].clone()),
        sqs_check_queues: check.split(',').map(String::from).collect(),
        ..Config::default()
    };
    let store = Arc::new(MemoryStore::new());
    store.seed_if_empty(&seed_products()).await.unwrap();

    // An order on the queue, as ingest publishes it.
    let body = r#"{"customer_id":"cust-roles","items":[{"product_id":"prod-101","quantity":1}]}"#;
    let order = engine::validation::parse_order(body.as_bytes()).unwrap();
    let created = engine::ingest::order_created(
        &order,
        None,
        &engine::idempotency::OrderIdKey::development(),
        engine::events::now_millis(),
    );
    sqs.send_message()
        .queue_url(&urls["orders"])
        .message_body(serde_json::to_string(&created).unwrap())
        .send()
        .await
        .unwrap();

    // The processor, as its role allows: init checks both queues (as the
    // program configures it), the batch publishes OrderProcessed.
    keys["processor"].act_as();
    let cfg = config("orders,processed");
    let queues = Queues::open(&cfg)
        .await
        .expect("the processor's init may check its queues");
    let env = Environment::new(Context::new(store.clone()), queues, cfg);
    let response = handle_orders(
        &env.processor(),
        received(&sqs, &urls["orders"]).await,
        None,
    )
    .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "the batch went through: {:?}",
        response.batch_item_failures
    );
    let processed = received(&sqs, &urls["processed"]).await;
    assert_eq!(processed.records.len(), 1, "OrderProcessed was published");

    // The notifier, as its role allows.
    keys["notifier"].act_as();
    let cfg = config("processed");
    let queues = Queues::open(&cfg)
        .await
        .expect("the notifier's init may check its queue");
    let env = Environment::new(Context::new(store.clone()), queues, cfg);
    let response = handle_processed(&env.notification_worker(), processed).await;
    assert!(response.batch_item_failures.is_empty());

    // The read function's init, as its role allows: it checks both queues
    // (the health route reports their depth).
    keys["read"].act_as();
    let queues = Queues::open(&config("orders,processed"))
        .await
        .expect("the read function's init may check both queues");
    queues
        .orders
        .depth()
        .await
        .expect("the read function may read the order queue's depth");

    // And the roles are enforced: the notifier may not publish.
    let denied = sqs_client_as(&moto.url, &keys["notifier"])
        .send_message()
        .queue_url(&urls["processed"])
        .message_body("{}")
        .send()
        .await
        .unwrap_err();
    assert!(format!("{denied:?}").contains("AccessDenied"), "{denied:?}");
}
