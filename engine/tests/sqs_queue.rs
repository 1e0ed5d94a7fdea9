//! The queue conformance suite against the SQS backend, talking to a local
//! SQS-compatible server: moto's, started per test on a free port. The
//! server comes from `pip install "moto[server]"`; `scripts/test.sh` installs
//! it into the project's virtualenv. Without it these tests fail and say so.

#![cfg(feature = "sqs")]

mod conformance;
#[path = "common/moto.rs"]
mod moto;

use std::sync::Arc;
use std::time::Duration;

use engine::queue::sqs::SqsQueue;
use moto::{client, moto};

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
