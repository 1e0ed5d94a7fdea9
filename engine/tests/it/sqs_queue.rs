//! The queue conformance suite against the SQS backend, talking to a local
//! SQS-compatible server: moto's, started per test on a free port. The
//! server comes from `pip install "moto[server]"`; `scripts/test.sh` installs
//! it into the project's virtualenv. Without it these tests fail and say so.

#![cfg(feature = "sqs")]

use crate::conformance;
use std::sync::Arc;
use std::time::Duration;

use engine::queue::sqs::SqsQueue;
use testkit::moto::{client, moto};

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let moto = moto().await;
            let client = client(&moto.url);
            conformance::$name(|visibility: Duration, max_receives: u32| {
                let client = client.clone();
                async move {
                    let (queue, dlq) = SqsQueue::create_with_dlq(&client, stringify!($name), visibility, max_receives)
                        .await
                        .expect("queues created");
                    conformance::Pair { queue: Arc::new(queue), dlq: Arc::new(dlq), duplicates_possible: true }
                }
            })
            .await;
            drop(moto);
        }
    )*};
}

for_each_conformance_test!(conformance);

/// A queue that does not exist fails for good, with its name, and so does
/// starting the engine on it: a clear failure, not endless 503s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_queue_is_a_permanent_error_and_a_failed_start() {
    use engine::config::{Config, QueueKind};
    use engine::queue::{QueueBackend, QueueError};
    use engine::queues::Queues;

    let moto = moto().await;
    let client = client(&moto.url);
    let missing = SqsQueue::new(
        client.clone(),
        format!("{}/123456789012/no-such-queue", moto.url),
    );
    for result in [
        missing.check().await,
        missing.send("{}".into()).await.map(drop),
    ] {
        match result {
            Err(e @ QueueError::Permanent { .. }) => {
                assert!(!e.is_transient());
                assert!(e.to_string().contains("no-such-queue"), "{e}");
            }
            other => panic!("expected a permanent error, got {other:?}"),
        }
    }
    // The engine's own client reads the standard variables; no other test
    // here does.
    std::env::set_var("AWS_ENDPOINT_URL_SQS", &moto.url);
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    let (real, real_dlq) =
        SqsQueue::create_with_dlq(&client, "present", Duration::from_secs(30), 3)
            .await
            .unwrap();
    let config = Config {
        queue: QueueKind::Sqs,
        order_queue_url: Some(real.url().to_owned()),
        order_dlq_url: Some(real_dlq.url().to_owned()),
        processed_queue_url: Some(missing.url().to_owned()),
        ..Config::default()
    };
    match Queues::open(&config).await {
        Err(e @ QueueError::Permanent { .. }) => {
            assert!(e.to_string().contains("no-such-queue"), "{e}")
        }
        Err(e) => panic!("expected a permanent error, got {e}"),
        Ok(_) => panic!("started on a queue that does not exist"),
    }
    // With both URLs given, only the queues named in SQS_CHECK_QUEUES are
    // checked: the ingest function's role may read the order queue alone.
    let only_orders = Config {
        processed_dlq_url: Some(missing.url().to_owned()),
        sqs_check_queues: vec!["orders".into()],
        ..config.clone()
    };
    assert!(
        Queues::open(&only_orders).await.is_ok(),
        "the processed queues are not checked"
    );
    let both = Config {
        sqs_check_queues: vec!["orders".into(), "processed".into()],
        ..only_orders
    };
    assert!(
        matches!(Queues::open(&both).await, Err(QueueError::Permanent { .. })),
        "a checked queue that does not exist fails the start"
    );
    drop(moto);
}

/// A server that does not answer is a transient error: ingest answers 503
/// and the processor tries again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_does_not_answer_is_a_transient_error() {
    use engine::queue::QueueBackend;

    let moto = moto().await;
    let client = client(&moto.url);
    let (queue, _) = SqsQueue::create_with_dlq(&client, "soon-gone", Duration::from_secs(30), 3)
        .await
        .unwrap();
    drop(moto);
    let e = queue
        .send("{}".into())
        .await
        .expect_err("the server is gone");
    assert!(e.is_transient(), "{e:?}");
}
