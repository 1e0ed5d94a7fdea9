//! An SQS event source mapping, as AWS documents it for standard queues:
//! pollers long-poll the queue and gather a batch until it holds the batch
//! size or the batching window has passed; each batch is one invocation of
//! the function; what the response does not list in `batchItemFailures` is
//! deleted, and what it lists (or a whole batch whose invocation failed or
//! was throttled) stays on the queue, to come back after the visibility
//! timeout and reach the DLQ after `maxReceiveCount` receives.
//!
//! Scaling: five concurrent batches at first; while messages wait, one more
//! every 200 ms (300 a minute), up to 1,000 and up to the mapping's
//! `maximumConcurrency`; one fewer a tick while the queue is empty, and a
//! step back after a throttle. `time_scale` runs that ramp faster (and the
//! sim shortens the visibility timeout by the same factor).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use engine::lambda::{BatchResponse, Environment, SqsEvent};
use engine::queue::{Message, QueueBackend, MAX_BATCH};
use futures::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::function::{Function, InvokeError};

/// Concurrent batches a mapping starts with, adds a minute, and never
/// exceeds (AWS Lambda developer guide, "Scaling and processing" for SQS).
pub const INITIAL_BATCHES: usize = 5;
pub const BATCHES_ADDED_PER_MINUTE: u32 = 300;
pub const MAX_BATCHES: usize = 1000;

/// Calls the function's handler on one batch.
pub type Handler =
    Arc<dyn Fn(Environment, SqsEvent) -> BoxFuture<'static, BatchResponse> + Send + Sync>;

#[derive(Debug, Clone, Copy)]
pub struct MappingSettings {
    pub batch_size: usize,
    pub window: Duration,
    /// `maximumConcurrency`, if set.
    pub maximum_concurrency: Option<usize>,
    /// How much faster than real time the scaling ramp runs (1: real time).
    pub time_scale: f64,
}

/// What a mapping did, for the report.
#[derive(Debug, Default)]
pub struct MappingStats {
    /// Concurrent batches the mapping allows itself now.
    pub pollers: AtomicUsize,
    pub batches: AtomicU64,
    pub messages: AtomicU64,
    /// Messages a handler listed in `batchItemFailures`.
    pub item_failures: AtomicU64,
    /// Batches left on the queue because the function was throttled.
    pub throttled_batches: AtomicU64,
    /// Batches left on the queue because a cold start's init failed.
    pub init_failed_batches: AtomicU64,
    /// Messages whose delete failed (they come back, and are answered from
    /// the store).
    pub delete_failures: AtomicU64,
}

pub struct Mapping {
    queue: Arc<dyn QueueBackend>,
    function: Arc<Function>,
    handler: Handler,
    settings: MappingSettings,
    pub stats: MappingStats,
    /// Wakes the inactive pollers when the concurrency goes up.
    raised: tokio::sync::Notify,
}

impl Mapping {
    pub fn new(
        queue: Arc<dyn QueueBackend>,
        function: Arc<Function>,
        handler: Handler,
        settings: MappingSettings,
    ) -> Arc<Self> {
        let stats = MappingStats::default();
        stats
            .pollers
            .store(INITIAL_BATCHES.min(Self::cap(&settings)), Ordering::Relaxed);
        Arc::new(Mapping {
            queue,
            function,
            handler,
            settings,
            stats,
            raised: tokio::sync::Notify::new(),
        })
    }

    fn cap(settings: &MappingSettings) -> usize {
        settings
            .maximum_concurrency
            .unwrap_or(MAX_BATCHES)
            .min(MAX_BATCHES)
    }

    /// Starts the scaler and the pollers; they stop when `stop` turns true.
    pub fn spawn(self: &Arc<Self>, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let mut tasks = vec![tokio::spawn(self.clone().scale(stop.clone()))];
        for slot in 0..Self::cap(&self.settings) {
            tasks.push(tokio::spawn(self.clone().poll(slot, stop.clone())));
        }
        tasks
    }

    async fn scale(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let minute = Duration::from_secs(60).div_f64(self.settings.time_scale.max(1e-3));
        let tick = minute / BATCHES_ADDED_PER_MINUTE;
        let cap = Self::cap(&self.settings);
        let floor = INITIAL_BATCHES.min(cap);
        while !*stop.borrow() {
            tokio::time::sleep(tick).await;
            let waiting = self.queue.depth().await.map(|d| d.visible).unwrap_or(0);
            let now = self.stats.pollers.load(Ordering::Relaxed);
            let next = if waiting > 0 {
                (now + 1).min(cap)
            } else {
                now.saturating_sub(1).max(floor)
            };
            self.stats.pollers.store(next, Ordering::Relaxed);
            if next > now {
                self.raised.notify_waiters();
            }
        }
    }

    /// One concurrent batch: active while `slot` is below the mapping's
    /// current concurrency.
    async fn poll(self: Arc<Self>, slot: usize, stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            // An inactive slot sleeps until the scaler raises the mapping's
            // concurrency (a thousand of them cost nothing while they wait);
            // it looks at `stop` again at least every 200 ms.
            let raised = self.raised.notified();
            tokio::pin!(raised);
            raised.as_mut().enable();
            if slot >= self.stats.pollers.load(Ordering::Relaxed) {
                let _ = tokio::time::timeout(Duration::from_millis(200), raised).await;
                continue;
            }
            let batch = self.gather().await;
            if batch.is_empty() {
                continue;
            }
            self.invoke(batch).await;
        }
    }

    /// A batch: the first message by long poll, then more until the batch
    /// size or the end of the batching window.
    async fn gather(&self) -> Vec<Message> {
        let size = self.settings.batch_size.max(1);
        // SQS long polls up to 20 s; a shorter poll lets a stop be seen sooner
        // and changes nothing else (a poll returns as soon as messages come).
        let Ok(mut batch) = self
            .queue
            .receive(size.min(MAX_BATCH), Duration::from_millis(500))
            .await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Vec::new();
        };
        if batch.is_empty() {
            return batch;
        }
        let closes = Instant::now() + self.settings.window;
        while batch.len() < size {
            let left = closes.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self
                .queue
                .receive((size - batch.len()).min(MAX_BATCH), left)
                .await
            {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        batch
    }

    async fn invoke(&self, batch: Vec<Message>) {
        let s = &self.stats;
        s.batches.fetch_add(1, Ordering::Relaxed);
        s.messages.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let event = event(self.queue.name(), &batch);
        let handler = self.handler.clone();
        let answer = self.function.invoke(move |env| handler(env, event)).await;
        match answer {
            Ok(response) => self.settle(batch, response).await,
            Err(InvokeError::Throttled) => {
                // The batch stays on the queue; the mapping backs off.
                s.throttled_batches.fetch_add(1, Ordering::Relaxed);
                let floor = INITIAL_BATCHES.min(Self::cap(&self.settings));
                let _ = s
                    .pollers
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                        Some(p.saturating_sub(1).max(floor))
                    });
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(InvokeError::InitFailed(e)) => {
                s.init_failed_batches.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(function = self.function.name, error = %e, "init failed; the batch stays on the queue");
            }
        }
    }

    /// Deletes what the response does not list as failed.
    async fn settle(&self, batch: Vec<Message>, response: BatchResponse) {
        let failed: HashSet<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        self.stats
            .item_failures
            .fetch_add(failed.len() as u64, Ordering::Relaxed);
        let done: Vec<&str> = batch
            .iter()
            .filter(|m| !failed.contains(&m.message_id))
            .map(|m| m.receipt_handle.as_str())
            .collect();
        for chunk in done.chunks(MAX_BATCH) {
            let results = self.queue.delete_batch(chunk).await;
            let failures = results.iter().filter(|r| r.is_err()).count();
            self.stats
                .delete_failures
                .fetch_add(failures as u64, Ordering::Relaxed);
        }
    }
}

/// The SQS event Lambda would deliver for `batch`.
pub fn event(queue: &str, batch: &[Message]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for m in batch {
        let mut record = engine::lambda::SqsMessage::default();
        record.message_id = Some(m.message_id.clone());
        record.receipt_handle = Some(m.receipt_handle.clone());
        record.body = Some(m.body.clone());
        record.attributes.insert(
            "ApproximateReceiveCount".into(),
            m.receive_count.to_string(),
        );
        record.event_source = Some("aws:sqs".into());
        record.event_source_arn = Some(format!("arn:aws:sqs:local:000000000000:{queue}"));
        event.records.push(record);
    }
    event
}
