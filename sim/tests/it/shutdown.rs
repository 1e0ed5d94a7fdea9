//! A 202 is a promise: `sim serve` on MySQL, stopped with SIGTERM right after
//! a burst that filled its order queue, refuses new orders (503), drains every
//! accepted one through the processor and the notifier, and exits 0; a second
//! SIGTERM stops it at once, non-zero, saying how many accepted orders it left.
//!
//! The processor is held back, deterministically, by a transaction of the
//! test's own that locks the hot product's row (`SELECT ... FOR UPDATE`), so
//! the signal always finds a full queue; releasing the lock lets it drain.

use crate::common;

use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use sqlx::{ConnectOptions, Executor};

use common::{database, drop_database, lock_row, Serve};
use orderflow_client::Client;

/// Posts `n` orders of one unit of prod-101, 64 at a time; answers the
/// status and body of each.
async fn burst(base: &str, n: usize) -> Vec<(u16, Value)> {
    let client = Client::new(base).expect("a client");
    stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            async move {
                let order = json!({"customer_id": format!("burst-{i}"),
                    "items": [{"product_id": "prod-101", "quantity": 1}]});
                let a = client
                    .post_order_json(&order)
                    .await
                    .expect("the server answers");
                (a.status, a.body)
            }
        })
        .buffer_unordered(64)
        .collect()
        .await
}

fn accepted_ids(answers: &[(u16, Value)]) -> Vec<String> {
    answers
        .iter()
        .filter(|(s, _)| *s == 202)
        .map(|(_, b)| b["order_id"].as_str().expect("an order id").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_after_a_burst_that_filled_the_queue_loses_no_accepted_order() {
    let (name, options) = database("graceful").await;
    let mut serve = Serve::start(&name, &[("QUEUE_CAPACITY", "500")]);
    let mut lock = lock_row(&options, "prod-101").await;

    let answers = burst(&serve.base, 1500).await;
    let accepted = accepted_ids(&answers);
    let full = answers.iter().filter(|(s, _)| *s == 503).count();
    assert!(full > 0, "the burst did not fill the queue");
    assert_eq!(
        accepted.len() + full,
        answers.len(),
        "only 202s and 503s expected"
    );

    serve.signal();
    serve.wait_for_line("draining:");
    // Stopping: no new orders, and a load balancer is told so.
    let client = Client::new(serve.base.clone()).expect("a client");
    let late = json!({"customer_id": "late", "items": [{"product_id": "prod-102", "quantity": 1}]});
    let refused = client
        .post_order_json(&late)
        .await
        .expect("answered while draining");
    assert_eq!(refused.status, 503);
    assert!(refused.headers.contains_key("retry-after"));
    let health = client.get("/health").await.unwrap();
    assert_eq!(health.status, 503);

    lock.execute("ROLLBACK").await.unwrap();
    let (status, stdout, stderr) = serve.exit();
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("stopped: every accepted order was processed and notified"),
        "{stdout}"
    );

    // Every 202 is a finished order, notified; nothing else was recorded.
    let mut conn = options.connect().await.unwrap();
    let (finished, processed, notified): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(status = 'PROCESSED'), 0) AS SIGNED), \
         (SELECT COUNT(*) FROM notifications WHERE state = 'SENT') \
         FROM orders WHERE status IN ('PROCESSED', 'FAILED')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(finished as usize, accepted.len());
    assert_eq!(notified as usize, accepted.len());
    assert_eq!(processed, 50, "prod-101's 50 units sold, the rest failed");
    let unknown: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM orders WHERE order_id NOT IN ('{}')",
        accepted.join("','")
    ))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(unknown, 0, "an order answered 503 was recorded");
    drop(conn);
    drop_database(&options).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_stops_at_once_and_says_how_many_accepted_orders_were_left() {
    let (name, options) = database("abandon").await;
    let mut serve = Serve::start(&name, &[]);
    let mut lock = lock_row(&options, "prod-101").await;

    let accepted = accepted_ids(&burst(&serve.base, 300).await);
    assert_eq!(accepted.len(), 300);
    serve.signal();
    serve.wait_for_line("draining:");
    serve.signal();
    let (status, stdout, stderr) = serve.exit();
    assert!(!status.success(), "exit status {status}\n{stdout}");
    // The held lock kept every order from the processor: all 300 were left.
    assert!(
        stderr.contains("stopped at once: 300 accepted orders were left unprocessed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("in-process queues and are lost"),
        "{stderr}"
    );
    lock.execute("ROLLBACK").await.unwrap();
    drop(lock);
    drop_database(&options).await;
}
