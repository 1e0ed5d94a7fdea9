//! The original system's four verification scenarios, run over HTTP against the running
//! pipeline: happy path, duplicate, validation, insufficient stock.

use anyhow::Context;
use std::time::Duration;

use engine::app::App;
use engine::harness::Harness;
use serde_json::{json, Value};

use orderflow_client::Client;

pub use crate::invariants::Check as Outcome;

const WAIT: Duration = Duration::from_secs(15);

/// Runs the four scenarios in order. `tag` makes this run's customer ids
/// unique, so a run against a database that kept earlier runs' orders
/// still places new ones.
pub async fn run_all(app: &App, harness: &Harness, client: &Client, tag: &str) -> Vec<Outcome> {
    let happy_customer = format!("test_user_001-{tag}");
    let happy = json!({"customer_id": happy_customer, "items": [{"product_id": "prod-101", "quantity": 1}]});
    let mut out = Vec::new();

    let (first, happy_id) = happy_path(client, &happy).await;
    out.push(first);
    out.push(duplicate(app, client, &happy, happy_id.as_deref()).await);
    out.push(validation(harness, client).await);
    out.push(insufficient_stock(client, tag).await);
    out
}

fn outcome(name: &'static str, result: anyhow::Result<String>) -> Outcome {
    match result {
        Ok(detail) => Outcome {
            name,
            passed: true,
            detail,
        },
        Err(e) => Outcome {
            name,
            passed: false,
            detail: format!("{e:#}"),
        },
    }
}

async fn happy_path(client: &Client, body: &Value) -> (Outcome, Option<String>) {
    let mut id = None;
    let result = async {
        let before = client.stock("prod-101").await?;
        let order_id = client.place(body).await?;
        id = Some(order_id.clone());
        let order = client
            .wait_for_order(&order_id, WAIT)
            .await
            .context("order never processed")?;
        if order["status"] != "PROCESSED" {
            anyhow::bail!("order ended {}", order["status"]);
        }
        let after = client.stock("prod-101").await?;
        if after != before - 1 {
            anyhow::bail!("prod-101 went {before} -> {after}, expected -1");
        }
        Ok(format!(
            "202, order {order_id} PROCESSED, prod-101 {before} -> {after}"
        ))
    }
    .await;
    (outcome("1. happy path", result), id)
}

async fn duplicate(app: &App, client: &Client, body: &Value, first: Option<&str>) -> Outcome {
    let result = async {
        let first = first.context("no order from the happy path to repeat")?;
        let before = client.stock("prod-101").await?;
        let again = client.place(body).await?;
        if again != first {
            anyhow::bail!("same payload got a new id {again} (first {first})");
        }
        if !app.wait_drained(WAIT).await {
            anyhow::bail!("queues did not drain");
        }
        let after = client.stock("prod-101").await?;
        if after != before {
            anyhow::bail!("prod-101 moved again: {before} -> {after}");
        }
        Ok(format!(
            "202 with the same id {again}; prod-101 stays {after}"
        ))
    }
    .await;
    outcome("2. idempotency (duplicate)", result)
}

async fn validation(harness: &Harness, client: &Client) -> Outcome {
    let result = async {
        let sent_before = harness.enqueued();
        let before = client.stock("prod-102").await?;
        let body = json!({"customer_id": "hacker_002", "items": [{"product_id": "prod-102", "quantity": -5}]});
        let a = client.post_order(body.to_string()).await?;
        if a.status != 400 {
            anyhow::bail!("expected 400, got {} {}", a.status, a.body);
        }
        let sent_after = harness.enqueued();
        if sent_after != sent_before {
            anyhow::bail!("a message was enqueued for a rejected order");
        }
        let after = client.stock("prod-102").await?;
        if after != before {
            anyhow::bail!("prod-102 moved: {before} -> {after}");
        }
        Ok(format!("400 \"{}\"; nothing enqueued, prod-102 stays {after}", a.message()))
    }
    .await;
    outcome("3. validation (bad request)", result)
}

async fn insufficient_stock(client: &Client, tag: &str) -> Outcome {
    let result = async {
        let before = client.stock("prod-102").await?;
        let body = json!({"customer_id": format!("greedy_user_003-{tag}"), "items": [{"product_id": "prod-102", "quantity": 9999}]});
        let order_id = client.place(&body).await?;
        let order = client.wait_for_order(&order_id, WAIT).await.context("order never processed")?;
        if order["status"] != "FAILED" || order["failure_reason"] != "INSUFFICIENT_STOCK" {
            anyhow::bail!("order ended {} {}", order["status"], order["failure_reason"]);
        }
        let after = client.stock("prod-102").await?;
        if after != before {
            anyhow::bail!("prod-102 moved: {before} -> {after}");
        }
        Ok(format!("202, order {order_id} FAILED (INSUFFICIENT_STOCK), prod-102 stays {after}"))
    }
    .await;
    outcome("4. insufficient stock (rollback)", result)
}
