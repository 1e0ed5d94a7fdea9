//! The queue conformance suite: what every `QueueBackend` must do to behave
//! like an SQS standard queue. Each backend's test file calls these with a
//! factory that makes a fresh queue (visibility timeout, max receives) and
//! its DLQ. Durations are whole seconds, as SQS takes them.

#![allow(dead_code)]

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use engine::queue::{QueueBackend, MAX_BATCH};

/// Calls `$m!` with the name of every conformance test, so each backend's
/// file runs all of them: `for_each_conformance_test!(conformance);`.
#[macro_export]
macro_rules! for_each_conformance_test {
    ($m:ident) => {
        $m!(
            delivers_hides_and_redelivers_after_the_visibility_timeout,
            delete_removes_for_good,
            delete_batch_deletes_each_message_it_names,
            receives_at_most_ten_and_refuses_larger_batches,
            long_poll_waits_for_the_first_message,
            change_visibility_returns_or_extends,
            moves_to_the_dlq_after_max_receives,
            depth_counts_visible_and_in_flight,
            concurrent_consumers_see_every_message,
        );
    };
}

pub struct Pair {
    pub queue: Arc<dyn QueueBackend>,
    pub dlq: Arc<dyn QueueBackend>,
    /// Whether a message may be handed to two consumers at once. SQS
    /// standard queues promise at-least-once delivery and say a message is
    /// occasionally delivered twice; moto's server does it under concurrent
    /// receives (getmoto/moto#519). The channel queue never does.
    pub duplicates_possible: bool,
}

const VISIBILITY: Duration = Duration::from_secs(2);
/// Wait for a message known to be there (a short poll may miss it on SQS).
const SOON: Duration = Duration::from_secs(1);

async fn drain(q: &dyn QueueBackend) -> Vec<engine::queue::Message> {
    let mut all = Vec::new();
    loop {
        let got = q
            .receive(MAX_BATCH, Duration::from_millis(200))
            .await
            .unwrap();
        if got.is_empty() {
            return all;
        }
        all.extend(got);
    }
}

pub async fn delivers_hides_and_redelivers_after_the_visibility_timeout<F, Fut>(make: F)
where
    F: Fn(Duration, u32) -> Fut,
    Fut: Future<Output = Pair>,
{
    let Pair { queue, .. } = make(VISIBILITY, 5).await;
    queue.send("a".into()).await.unwrap();
    let first = queue.receive(1, SOON).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].body, "a");
    assert_eq!(first[0].receive_count, 1);
    // Invisible while in flight.
    assert!(queue
        .receive(1, Duration::from_millis(500))
        .await
        .unwrap()
        .is_empty());
    // Back after the timeout, counted again, with a new receipt handle.
    let again = queue.receive(1, VISIBILITY * 2).await.unwrap();
    assert_eq!(again.len(), 1, "redelivered after the visibility timeout");
    assert_eq!(again[0].message_id, first[0].message_id);
    assert_eq!(again[0].receive_count, 2);
    assert_ne!(again[0].receipt_handle, first[0].receipt_handle);
}

/// The newest delivery's receipt handle deletes the message for good. (What
/// a stale handle does differs: SQS documents that it succeeds and deletes
/// nothing, moto deletes, the channel backend refuses it. The engine relies
/// on none of these: a message deleted late is processed again, idempotently.)
pub async fn delete_removes_for_good<F, Fut>(make: F)
where
    F: Fn(Duration, u32) -> Fut,
    Fut: Future<Output = Pair>,
{
    let Pair { queue, .. } = make(VISIBILITY, 5).await;
    queue.send("a".into()).await.unwrap();
    let _first = queue.receive(1, SOON).await.unwrap().remove(0);
    let second = queue.receive(1, VISIBILITY * 2).await.unwrap().remove(0);
    queue.delete(&second.receipt_handle).await.unwrap();
    assert!(
        queue.receive(1, VISIBILITY * 2).await.unwrap().is_empty(),
        "deleted for good"
    );
    assert_eq!(queue.depth().await.unwrap().total(), 0);
}

/// `delete_batch` deletes every message it names in one call, answers for
/// each, leaves the others in flight, and refuses more than ten.
pub async fn delete_batch_deletes_each_message_it_names<F, Fut>(make: F)
where
    F: Fn(Duration, u32) -> Fut,
    Fut: Future<Output = Pair>,
{
    let Pair { queue, .. } = make(VISIBILITY * 5, 5).await;
    queue
        .send_batch((0..5).map(|i| format!("m{i}")).collect())
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 5 {
        let more = queue.receive(MAX_BATCH, SOON).await.unwrap();
        assert!(!more.is_empty(), "all five delivered");
        got.extend(more);
    }
    let handles: Vec<&str> = got[..3].iter().map(|m| m.receipt_handle.as_str()).collect();
    let results = queue.delete_batch(&handles).await;
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let depth = queue.depth().await.unwrap();
    assert_eq!(depth.total(), 2, "the two not named are still in flight");

    let eleven = vec![got[3].receipt_handle.as_str(); MAX_BATCH + 1];
    let refused = queue.delete_batch(&eleven).await;
    assert_eq!(refused.len(), MAX_BATCH + 1);
    assert!(refused
        .iter()
        .all(|r| matches!(r, Err(engine::queue::QueueError::BatchTooLarge(11)))));
    assert_eq!(queue.depth().await.unwrap().total(), 2, "nothing deleted");
    assert!(queue.delete_batch(&[]).await.is_empty());
}

pub async fn receives_at_most_ten_and_refuses_larger_batches<F, Fut>(make: F)
where
    F: Fn(Duration, u32) -> Fut,
    Fut: Future<Output = Pair>,
{
    let Pair { queue, .. } = make(VISIBILITY, 5).await;
    for chunk in 0..3 {
        let bodies: Vec<String> = (0..MAX_BATCH).map(|i| format!("{chunk}-{i}")).collect();
        queue.send_batch(bodies).await.unwrap();
    }
    assert!(queue
        .send_batch(vec![String::new(); MAX_BATCH + 1])
        .await
        .is_err());
    assert!(queue.receive(MAX_BATCH + 1, SOON).await.is_err());
    let batch = queue.receive(MAX_BATCH, SOON).await.unwrap();
    assert!(!batch.is_empty() && batch.len() <= MAX_BATCH);
    let rest = drain(queue.as_ref()).await;
    let bodies: HashSet<String> = batch.iter().chain(&rest).map(|m| m.body.clone()).collect();
    assert_eq!(bodies.len(), 3 * MAX_BATCH, "every message delivered");
}

pub async fn long_poll_waits_for_the_first_message<F, Fut>(make: F)
where
    F: Fn(Duration, u32) -> Fut,
    Fut: Future<Output = Pair>,
{
    let Pair { queue, .. } = make(VISIBILITY, 5).await;
    assert!(queue
        .receive(1, Duration::from_secs(1))
        .await
        .unwrap()
        .is_empty());
    let sender = queue.clone();
    let send = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sender.send("late".into()).await.unwrap();
    });
    let got = queue.receive(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        got.len(),
        1,
        "the long poll returns the message sent while it waited"
    );
    assert_eq!(got[0].body, "late");
    send.await.unwrap();
}

pub async fn change_visibility_returns_or_extends<F, Fut>(make: F)
where
    F: Fn(Duration, u32) -> Fut,
    Fut: Future<Output = Pair>,
{
    let Pair { queue, .. } = make(VISIBILITY, 5).await;
    queue.send("a".into()).await.unwrap();
    let m = queue.receive(1, SOON).await.unwrap().remove(0);
    queue
        .change_visibility(&m.receipt_handle, Duration::ZERO)
        .await
        .unwrap();
    let m = queue
        .receive(1, Duration::from_secs(1))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(m.receive_count, 2, "visible again at once");
    queue
        .change_visibility(&m.receipt_handle, VISIBILITY * 3)
        .await
        .unwrap();
    assert!(
        queue
            .receive(1, VISIBILITY + Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty(),
        "extended past the original timeout"
    );
    let m = queue.receive(1, VISIBILITY * 3).await.unwrap();
    assert_eq!(m.len(), 1, "back after the extended timeout");
}

pub async fn moves_to_the_dlq_after_max_receives<F, Fut>(make: F)
where
    F: Fn(Duration, u32) -> Fut,
    Fut: Future<Output = Pair>,
{
    let Pair { queue, dlq, .. } = make(VISIBILITY, 3).await;
    queue.send("poison".into()).await.unwrap();
    for n in 1..=3 {
        let m = queue.receive(1, VISIBILITY * 2).await.unwrap();
        assert_eq!(m.len(), 1, "receive {n}");
        assert_eq!(m[0].receive_count, n);
        queue
            .change_visibility(&m[0].receipt_handle, Duration::ZERO)
            .await
            .unwrap();
    }
    assert!(
        queue
            .receive(1, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty(),
        "a fourth receive moves it instead of delivering it"
    );
    let dead = dlq.receive(1, Duration::from_secs(2)).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
    assert_eq!(queue.depth().await.unwrap().total(), 0);
}

pub async fn depth_counts_visible_and_in_flight<F, Fut>(make: F)
where
    F: Fn(Duration, u32) -> Fut,
    Fut: Future<Output = Pair>,
{
    let Pair { queue, .. } = make(VISIBILITY, 5).await;
    queue
        .send_batch(vec!["a".into(), "b".into(), "c".into()])
        .await
        .unwrap();
    let m = queue.receive(1, SOON).await.unwrap();
    assert_eq!(m.len(), 1);
    let d = queue.depth().await.unwrap();
    assert_eq!((d.visible, d.in_flight), (2, 1));
}

pub async fn concurrent_consumers_see_every_message<F, Fut>(make: F)
where
    F: Fn(Duration, u32) -> Fut,
    Fut: Future<Output = Pair>,
{
    let Pair {
        queue,
        duplicates_possible,
        ..
    } = make(Duration::from_secs(30), 5).await;
    for chunk in 0..10 {
        queue
            .send_batch((0..10).map(|i| format!("{chunk}-{i}")).collect())
            .await
            .unwrap();
    }
    let mut consumers = Vec::new();
    for _ in 0..4 {
        let q = queue.clone();
        consumers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = q
                    .receive(MAX_BATCH, Duration::from_millis(300))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return got;
                }
                for m in batch {
                    q.delete(&m.receipt_handle).await.unwrap();
                    got.push(m.body);
                }
            }
        }));
    }
    let mut all = Vec::new();
    for c in consumers {
        all.extend(c.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(distinct.len(), 100, "every message delivered");
    if !duplicates_possible {
        assert_eq!(all.len(), 100, "none delivered twice while in flight");
    }
}
