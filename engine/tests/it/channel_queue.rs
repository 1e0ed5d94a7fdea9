//! The queue conformance suite against the in-process channel backend, on a
//! paused clock (visibility timeouts pass instantly), plus what only the
//! channel backend does: a bounded capacity and injected outages.

use crate::conformance;
use std::sync::Arc;
use std::time::Duration;

use engine::queue::{ChannelQueue, QueueBackend, QueueConfig, QueueError};

async fn channel(visibility: Duration, max_receives: u32) -> conformance::Pair {
    let dlq = ChannelQueue::new(QueueConfig::new("test-dlq"));
    let queue = ChannelQueue::new(QueueConfig {
        visibility_timeout: visibility,
        dead_letter: Some((max_receives, dlq.clone())),
        ..QueueConfig::new("test")
    });
    conformance::Pair {
        queue,
        dlq,
        duplicates_possible: false,
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(start_paused = true)]
        async fn $name() {
            conformance::$name(channel).await;
        }
    )*};
}

for_each_conformance_test!(conformance);

#[tokio::test]
async fn a_full_queue_refuses_with_a_transient_error() {
    let q = ChannelQueue::new(QueueConfig {
        capacity: 2,
        ..QueueConfig::new("small")
    });
    q.send("a".into()).await.unwrap();
    q.send("b".into()).await.unwrap();
    let err = q.send("c".into()).await.unwrap_err();
    assert!(matches!(err, QueueError::Full(_)));
    assert!(err.is_transient());
    assert_eq!(
        q.depth().await.unwrap().total(),
        2,
        "the refused message was not kept"
    );
}

#[tokio::test]
async fn an_outage_fails_every_call_until_it_ends() {
    let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let q =
        engine::harness::Outage::new(ChannelQueue::new(QueueConfig::new("flaky")), down.clone());
    q.send("a".into()).await.unwrap();
    let handle = q.receive(1, Duration::ZERO).await.unwrap()[0]
        .receipt_handle
        .clone();
    down.store(true, std::sync::atomic::Ordering::SeqCst);
    let refused = |r: Result<(), QueueError>| matches!(r, Err(QueueError::Unavailable { .. }));
    assert!(refused(q.send("b".into()).await.map(drop)));
    assert!(refused(q.send_batch(vec!["b".into()]).await));
    assert!(refused(q.receive(1, Duration::ZERO).await.map(drop)));
    assert!(refused(q.delete(&handle).await));
    let each = q.delete_batch(&[&handle, &handle]).await;
    assert!(each.len() == 2 && each.into_iter().all(refused));
    assert!(refused(q.change_visibility(&handle, Duration::ZERO).await));
    assert!(refused(q.peek(1).await.map(drop)));
    assert!(refused(q.depth().await.map(drop)));
    down.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        q.depth().await.unwrap().total(),
        1,
        "nothing reached the queue"
    );
    q.delete(&handle).await.unwrap();
    q.send("a".into()).await.unwrap();
    assert_eq!(q.receive(1, Duration::ZERO).await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_stale_receipt_handle_is_refused_and_deletes_nothing() {
    let q = ChannelQueue::new(QueueConfig {
        visibility_timeout: Duration::from_secs(2),
        ..QueueConfig::new("stale")
    });
    q.send("a".into()).await.unwrap();
    let first = q.receive(1, Duration::ZERO).await.unwrap().remove(0);
    let second = q
        .receive(1, Duration::from_secs(5))
        .await
        .unwrap()
        .remove(0);
    assert!(matches!(
        q.delete(&first.receipt_handle).await,
        Err(QueueError::InvalidReceipt(_))
    ));
    assert_eq!(q.depth().await.unwrap().total(), 1, "still there");
    q.delete(&second.receipt_handle).await.unwrap();
    assert_eq!(q.depth().await.unwrap().total(), 0);
}
