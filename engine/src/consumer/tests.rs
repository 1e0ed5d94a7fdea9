//! The consumer's own contract, over a channel queue and a handler that
//! answers what each test tells it to: poison set aside, fates carried out,
//! deletes only when asked, receive errors backed off. Time is tokio's
//! paused clock wherever it matters, so nothing depends on the machine.

use std::sync::{Arc, Mutex};

use super::*;
use crate::queue::{ChannelQueue, QueueConfig, QueueDecorator, QueueError};
use crate::store::MemoryStore;

#[derive(Debug, serde::Deserialize)]
struct Ping {
    #[allow(dead_code)] // decoded to tell a body from poison
    n: u32,
}

/// Answers `fate` for every message, and tells `seen` each batch's size.
struct Answer {
    fate: Fate,
    seen: tokio::sync::mpsc::UnboundedSender<usize>,
}

#[async_trait]
impl Handler for Answer {
    type Event = Ping;
    const EVENT: &'static str = "Ping";
    async fn handle(&self, batch: &[Delivery<Ping>], _: &Scope<'_>) -> Vec<Fate> {
        let _ = self.seen.send(batch.len());
        vec![self.fate.clone(); batch.len()]
    }
}

/// What the consumer asked of the queue beyond receiving: each
/// visibility change and each deleted handle; and the first `failing`
/// receives refused, each receive's time noted.
#[derive(Default)]
struct Calls {
    visibility: Vec<(String, Duration)>,
    deleted: Vec<String>,
    receives_at: Vec<Instant>,
    failing: usize,
}

struct Recorded {
    inner: Arc<ChannelQueue>,
    calls: Mutex<Calls>,
}

#[async_trait]
impl QueueDecorator for Recorded {
    fn inner(&self) -> &dyn QueueBackend {
        &*self.inner
    }
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, QueueError> {
        {
            let mut calls = self.calls.lock().unwrap();
            calls.receives_at.push(Instant::now());
            if calls.failing > 0 {
                calls.failing -= 1;
                return Err(QueueError::unavailable("orders", "refused"));
            }
        }
        self.inner.receive(max, wait).await
    }
    async fn change_visibility(&self, handle: &str, after: Duration) -> Result<(), QueueError> {
        let entry = (handle.to_owned(), after);
        self.calls.lock().unwrap().visibility.push(entry);
        self.inner.change_visibility(handle, after).await
    }
    async fn delete_batch(&self, handles: &[&str]) -> Vec<Result<(), QueueError>> {
        let deleted = handles.iter().map(|h| h.to_string());
        self.calls.lock().unwrap().deleted.extend(deleted);
        self.inner.delete_batch(handles).await
    }
}

struct Setup {
    queue: Arc<Recorded>,
    consumer: Consumer<Answer>,
    batches: tokio::sync::mpsc::UnboundedReceiver<usize>,
}

fn setup(fate: Fate, config: WorkerConfig) -> Setup {
    let queue = Arc::new(Recorded {
        inner: ChannelQueue::new(QueueConfig::new("orders")),
        calls: Mutex::default(),
    });
    let (seen, batches) = tokio::sync::mpsc::unbounded_channel();
    let ctx = Context::new(Arc::new(MemoryStore::new()));
    let consumer = Consumer::over(queue.clone(), ctx, config, Answer { fate, seen });
    Setup {
        queue,
        consumer,
        batches,
    }
}

impl Setup {
    async fn send(&self, bodies: &[&str]) {
        for body in bodies {
            self.q().send(body.to_string()).await.unwrap();
        }
    }

    async fn receive(&self) -> Vec<Message> {
        self.q().receive(MAX_BATCH, Duration::ZERO).await.unwrap()
    }

    /// The queue as the consumer sees it.
    fn q(&self) -> &dyn QueueBackend {
        &*self.queue
    }

    fn calls(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.queue.calls.lock().unwrap()
    }
}

#[tokio::test(start_paused = true)]
async fn poison_is_set_aside_visible_at_once_and_reported() {
    let s = setup(Fate::Finished, WorkerConfig::default());
    s.send(&["not json", r#"{"n": 1}"#]).await;
    let batch = s.receive().await;
    let poison = batch[0].clone();
    let report = s.consumer.process(batch).await;
    assert_eq!(report.failed_message_ids, [poison.message_id.as_str()]);
    assert_eq!(s.consumer.ctx.metrics.poison_messages.get(), 1);
    let why = s.consumer.ctx.failures.last(&poison.message_id);
    assert!(why.is_some_and(|w| w.contains("undecodable Ping")));
    assert_eq!(
        s.calls().visibility,
        [(poison.receipt_handle.clone(), Duration::ZERO)]
    );
    let again = s.receive().await;
    assert_eq!(
        again.len(),
        1,
        "the poison is back at once, the good one deleted"
    );
    assert_eq!(
        (&again[0].message_id, again[0].receive_count),
        (&poison.message_id, 2)
    );
}

#[tokio::test(start_paused = true)]
async fn a_hand_back_waits_longer_at_each_receive() {
    let config = WorkerConfig {
        retry_after: Duration::from_secs(5),
        ..WorkerConfig::default()
    };
    let s = setup(Fate::hand_back("store down"), config);
    s.send(&[r#"{"n": 1}"#]).await;
    let report = s.consumer.process(s.receive().await).await;
    assert_eq!(report.failed_message_ids.len(), 1);
    tokio::time::advance(Duration::from_millis(4_900)).await;
    assert!(s.receive().await.is_empty(), "not back before 5 s");
    tokio::time::advance(Duration::from_millis(100)).await;
    let second = s.receive().await;
    assert_eq!(second[0].receive_count, 2);
    s.consumer.process(second).await;
    let waits: Vec<Duration> = s.calls().visibility.iter().map(|(_, d)| *d).collect();
    assert_eq!(waits, [Duration::from_secs(5), Duration::from_secs(15)]);
    assert!(s.calls().deleted.is_empty(), "nothing finished");
}

#[tokio::test(start_paused = true)]
async fn a_message_left_for_a_while_or_as_is_keeps_that_visibility() {
    let held = Fate::Left {
        why: "held elsewhere".into(),
        then: Then::After(Duration::from_secs(1)),
    };
    let s = setup(held, WorkerConfig::default());
    s.send(&[r#"{"n": 1}"#]).await;
    s.consumer.process(s.receive().await).await;
    let waits: Vec<Duration> = s.calls().visibility.iter().map(|(_, d)| *d).collect();
    assert_eq!(waits, [Duration::from_secs(1)]);

    let s = setup(Fate::left("publish failed"), WorkerConfig::default());
    s.send(&[r#"{"n": 1}"#]).await;
    let report = s.consumer.process(s.receive().await).await;
    assert_eq!(report.failed_message_ids.len(), 1);
    assert!(
        s.calls().visibility.is_empty(),
        "its visibility timeout runs"
    );
}

#[tokio::test(start_paused = true)]
async fn finished_messages_are_deleted_only_when_the_worker_deletes() {
    let s = setup(Fate::Finished, WorkerConfig::default());
    let bodies: Vec<String> = (0..25).map(|n| format!(r#"{{"n": {n}}}"#)).collect();
    s.send(&bodies.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    let mut batch = s.receive().await;
    top_up(s.q(), &mut batch, 200).await;
    let report = s.consumer.process(batch).await;
    assert!(report.failed_message_ids.is_empty());
    assert_eq!(s.calls().deleted.len(), 25, "in three calls of ten at most");
    assert_eq!(s.q().depth().await.unwrap().total(), 0);

    let s = setup(Fate::Finished, WorkerConfig::default().without_deletes());
    s.send(&[r#"{"n": 1}"#]).await;
    let report = s.consumer.process(s.receive().await).await;
    assert!(report.failed_message_ids.is_empty(), "finished");
    assert!(s.calls().deleted.is_empty(), "the caller deletes");
    assert_eq!(s.q().depth().await.unwrap().in_flight, 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_receive_backs_off_doubling_and_the_loop_goes_on() {
    let mut s = setup(Fate::Finished, WorkerConfig::default());
    s.calls().failing = 3;
    s.send(&[r#"{"n": 1}"#]).await;
    let (stop, shutdown) = crate::shutdown::channel();
    let worker = tokio::spawn(s.consumer.clone().run(shutdown));
    assert_eq!(s.batches.recv().await, Some(1), "handled after the errors");
    stop.fire();
    worker.await.unwrap();
    let at = s.calls().receives_at.clone();
    let gaps: Vec<Duration> = at.windows(2).take(3).map(|w| w[1] - w[0]).collect();
    let ms = Duration::from_millis;
    assert_eq!(gaps, [ms(50), ms(100), ms(200)]);
    assert_eq!(s.calls().deleted.len(), 1);
}
