//! The consumer loops in place: the processor's deadline over MySQL, and
//! the notifier's input queue as the pipeline wraps it
//! (`QueueUse::NotifierIn`), so faults and outages reach it as they reach
//! the processor's.

use crate::common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use engine::app::{App, Hooks, QueueUse, Wrap};
use engine::config::Config;
use engine::domain::OrderStatus;
use engine::harness::faults::{FaultKind, FaultPlan, Faults};
use engine::harness::{Harness, Outage};
use engine::queue::{Call, ChannelQueue, QueueBackend, QueueConfig, QueueDecorator, QueueError};
use engine::store::{OrderStore, StoreAdmin};
use futures::future::BoxFuture;

use common::{order, product, stock};

/// Counts every call that reaches it, through the decorator's `around`.
struct Tally {
    inner: Arc<dyn QueueBackend>,
    calls: Arc<AtomicU64>,
}

impl QueueDecorator for Tally {
    fn inner(&self) -> &dyn QueueBackend {
        &*self.inner
    }
    fn around<'a, T: Send + 'a>(
        &'a self,
        call: Call<'a, T>,
    ) -> BoxFuture<'a, Result<T, QueueError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        call(self.inner())
    }
}

/// Takes the processed queue down for the notifier alone, and counts the
/// notifier's calls on it.
struct NotifierOutage {
    down: Arc<AtomicBool>,
    calls: Arc<AtomicU64>,
}

impl Wrap for NotifierOutage {
    fn queue(&self, used: QueueUse, queue: Arc<dyn QueueBackend>) -> Arc<dyn QueueBackend> {
        match used {
            QueueUse::NotifierIn => Arc::new(Tally {
                inner: Outage::new(queue, self.down.clone()),
                calls: self.calls.clone(),
            }),
            _ => queue,
        }
    }
}

/// Polls `done` every 10 ms for up to 20 s.
async fn eventually(mut done: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..2_000 {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn an_outage_of_the_notifiers_queue_holds_notifications_back_until_it_ends() {
    let store = common::memory_store().await;
    let (down, calls) = (Arc::new(AtomicBool::new(true)), Arc::default());
    let wrap = NotifierOutage {
        down: down.clone(),
        calls: Arc::clone(&calls),
    };
    let hooks = Hooks {
        wrap: Arc::new(wrap),
        ..Hooks::default()
    };
    let addr = ([127, 0, 0, 1], 0).into();
    let app = App::start_with_store(store.clone(), &Config::default(), addr, hooks)
        .await
        .unwrap();
    let o = order("outage", &[("prod-101", 1)]);
    let body = serde_json::to_string(&o).unwrap();
    app.queues.orders.send(body).await.unwrap();
    assert!(eventually(async || store.order(o.order_id).await.unwrap().is_some()).await);
    // The notifier has tried (and been refused) a few times: it backs off
    // and tries again rather than giving up.
    assert!(eventually(async || calls.load(Ordering::SeqCst) >= 3).await);
    assert_eq!(app.metrics.notifications.get(), 0, "nothing notified");
    assert_eq!(app.queues.processed.depth().await.unwrap().total(), 1);

    down.store(false, Ordering::SeqCst);
    assert!(app.wait_drained(Duration::from_secs(20)).await);
    assert_eq!(app.metrics.notifications.get(), 1);
    app.stop().await;
}

#[tokio::test]
async fn the_harness_faults_the_notifiers_queue_as_the_processors() {
    let plan = FaultPlan::none().with(FaultKind::VisibilityExpiry, 1.0);
    let faults = Faults::new(plan, 7);
    let harness = Harness::new(faults.clone());
    let processed = ChannelQueue::new(QueueConfig::new("processed"));
    let notifier_in = harness.queue(QueueUse::NotifierIn, processed.clone());
    processed.send("an event".into()).await.unwrap();
    let first = notifier_in
        .receive(10, Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    // Its visibility ran out as it was handed over: another notifier
    // receives it while the first works on it.
    let again = processed.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].receive_count, 2);
    assert_eq!(faults.injected(FaultKind::VisibilityExpiry), 1);
}

/// A batch given a deadline stops waiting on a locked row when the deadline
/// (less its margin) comes: every order reported unfinished, nothing
/// applied, each message back after `retry_after` (not the queue's 30 s
/// visibility timeout); once the lock is gone, processed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_stops_at_its_deadline_and_comes_back_soon() {
    use engine::consumer::WorkerConfig;
    use engine::context::Context;
    use engine::processor::Processor;
    use engine::queue::{ChannelQueue, QueueBackend, QueueConfig};

    let db = common::TestDb::new().await;
    let mysql = db.store().await;
    mysql.upsert_products(&[product("dl", 10)]).await.unwrap();
    let orders = ChannelQueue::new(QueueConfig::new("orders"));
    let processed = ChannelQueue::new(QueueConfig::new("processed"));
    let processor = Processor::new(
        orders.clone(),
        processed.clone(),
        Context::new(mysql.clone()),
        WorkerConfig {
            retry_after: Duration::from_secs(1),
            deadline_margin: Duration::from_millis(500),
            ..WorkerConfig::default()
        },
    );
    let o = order("late", &[("dl", 1)]);
    orders
        .send(serde_json::to_string(&o).unwrap())
        .await
        .unwrap();

    // The row is held: the batch would wait the server's lock wait (50 s).
    let mut outsider = mysql.pool().begin().await.unwrap();
    sqlx::query("SELECT quantity_available FROM inventory WHERE product_id = 'dl' FOR UPDATE")
        .fetch_one(&mut *outsider)
        .await
        .unwrap();
    let batch = orders.receive(10, Duration::ZERO).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let report = processor.process_by(batch, Some(deadline)).await;
    assert!(
        tokio::time::Instant::now() < deadline,
        "done before the deadline"
    );
    assert_eq!(report.failed_message_ids.len(), 1);
    let _ = outsider.rollback().await;
    assert!(
        mysql.order(o.order_id).await.unwrap().is_none(),
        "nothing applied"
    );
    assert_eq!(
        processed.depth().await.unwrap().total(),
        0,
        "nothing published"
    );

    // Back after retry_after, not the 30 s visibility timeout.
    let again = orders.receive(10, Duration::from_secs(5)).await.unwrap();
    assert_eq!(again.len(), 1, "the message came back");
    assert_eq!(again[0].receive_count, 2);
    let report = processor
        .process_by(
            again,
            Some(tokio::time::Instant::now() + Duration::from_secs(30)),
        )
        .await;
    assert!(report.failed_message_ids.is_empty());
    assert_eq!(
        mysql.order(o.order_id).await.unwrap().unwrap().status,
        OrderStatus::Processed
    );
    assert_eq!(stock(&*mysql, "dl").await, 9);
    db.drop_db().await;
}
