//! An SQS event source mapping, as AWS documents it for standard queues:
//! pollers long-poll the queue and gather a batch until it holds the batch
//! size or the batching window has passed; each batch is one invocation of
//! the function; what the response does not list in `batchItemFailures` is
//! deleted, and what it lists (or a whole batch whose invocation failed or
//! was throttled) stays on the queue, to come back after the visibility
//! timeout and reach the DLQ after `maxReceiveCount` receives.
//!
//! Scaling ([`next_concurrency`], [`after_error`]): the model's five
//! concurrent batches at first; while messages wait, up to 300 more a
//! minute (the model's rate, applied in its steps), up to 1,250 and up to the
//! mapping's `maximumConcurrency`; as many fewer a step while the queue is
//! empty (AWS does not document the scale-down), a step back after a
//! throttle, and a share of the concurrency given up at each failed
//! invocation (a failed init, a timeout), as AWS backs a mapping off when
//! function code fails. A throttled batch is invoked again after a back-off
//! that doubles, for as long as its messages stay invisible; a batch whose
//! invocation failed or timed out stays on the queue. A fleet of pollers,
//! as many as the concurrency, gathers batches apart from the invocation
//! slots, and a slot that frees takes the next ready batch, whichever
//! poller gathered it; or (the model's pessimistic end) each slot gathers
//! its batch and then invokes it, one after the other. `time_scale` runs the ramp faster (and the sim
//! shortens the visibility timeout by the same factor). Every receive and
//! delete is an SQS call with the model's latency (the queue given is
//! wrapped by [`super::sqs::Latent`]), and a receive from a shallow queue
//! returns fewer messages than asked.
//!
//! Here the running mapping: its settings, its counters, its tasks and the
//! concurrency they move; the scaling rules themselves in [`scaling`] (the
//! planner's screen applies them too), the gathering in [`poll`], the
//! invocation and its settling in [`invoke`].

mod invoke;
mod poll;
mod scaling;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use engine::queue::{Message, QueueBackend};
use futures::future::BoxFuture;
use orderflow_lambda::{BatchResponse, Environment, SqsEvent};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::function::Function;

pub use invoke::event;
pub use scaling::{after_error, next_concurrency, Scaling};
/// A gathered batch, and when its first messages were received (their
/// visibility timeout runs from then, however long the batch waits for its
/// slot).
pub struct Batch {
    messages: Vec<Message>,
    received: Instant,
}

impl Batch {
    fn none() -> Batch {
        Batch {
            messages: Vec::new(),
            received: Instant::now(),
        }
    }
}

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
    pub scaling: Scaling,
    /// Receive calls made at once while a batch gathers.
    pub parallel_receives: usize,
    /// Whether a slot gathers its next batch while its current one is
    /// invoked.
    pub overlap: bool,
    /// A throttled batch's first and longest wait before it is invoked again.
    pub backoff_first: Duration,
    pub backoff_max: Duration,
    /// The queue's visibility timeout (as the sim runs it): a throttled
    /// batch is retried only while its messages stay invisible.
    pub visibility: Duration,
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
    /// Invokes refused because the function was throttled (each retried
    /// after a back-off while the batch stays invisible).
    pub throttled_invokes: AtomicU64,
    /// Batches left on the queue because the function stayed throttled
    /// until their visibility timeout.
    pub throttled_batches: AtomicU64,
    /// Batches left on the queue because their invocation timed out.
    pub timed_out_batches: AtomicU64,
    /// Batches left on the queue because a cold start's init failed.
    pub init_failed_batches: AtomicU64,
    /// Messages whose delete failed (they come back, and are answered from
    /// the store).
    pub delete_failures: AtomicU64,
    /// Failed invocations the mapping backed off for.
    pub error_backoffs: AtomicU64,
}

pub struct Mapping {
    queue: Arc<dyn QueueBackend>,
    function: Arc<Function>,
    handler: Handler,
    settings: MappingSettings,
    pub stats: MappingStats,
    /// Wakes the inactive pollers when the concurrency goes up.
    raised: tokio::sync::Notify,
    /// A code update is rolling out: the concurrency may stand above the
    /// cap, and the scaler leaves it.
    overshooting: std::sync::atomic::AtomicBool,
}

impl Mapping {
    pub fn new(
        queue: Arc<dyn QueueBackend>,
        function: Arc<Function>,
        handler: Handler,
        settings: MappingSettings,
    ) -> Arc<Self> {
        let stats = MappingStats::default();
        stats.pollers.store(
            settings.scaling.initial.min(Self::cap(&settings)),
            Ordering::Relaxed,
        );
        Arc::new(Mapping {
            queue,
            function,
            handler,
            settings,
            stats,
            raised: tokio::sync::Notify::new(),
            overshooting: Default::default(),
        })
    }

    fn cap(settings: &MappingSettings) -> usize {
        settings.scaling.cap(settings.maximum_concurrency)
    }

    /// Starts the scaler, the pollers and the invocation slots; they stop
    /// when `stop` turns true. With `overlap`, as AWS runs a mapping: a
    /// fleet of pollers, as many as the mapping's concurrency, each
    /// gathering a batch and handing it to the first free slot, then the
    /// next; so a batch is ready whenever a slot frees, whichever slot.
    /// Without (the model's pessimistic end), each slot gathers its batch
    /// and then invokes it, one after the other.
    pub fn spawn(self: &Arc<Self>, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let mut tasks = vec![tokio::spawn(self.clone().scale(stop.clone()))];
        // Twice the cap: the slots past it run only while a code update
        // overshoots it ([`Mapping::overshoot`]).
        let slots = 2 * Self::cap(&self.settings);
        if !self.settings.overlap {
            for slot in 0..slots {
                tasks.push(tokio::spawn(self.clone().serial(slot, stop.clone())));
            }
            return tasks;
        }
        // One batch waits in the channel; each poller holds the next it
        // gathered until a slot takes it.
        let (ready, batches) = tokio::sync::mpsc::channel::<Batch>(1);
        let batches = Arc::new(tokio::sync::Mutex::new(batches));
        for n in 0..slots {
            tasks.push(tokio::spawn(self.clone().poller(
                n,
                ready.clone(),
                stop.clone(),
            )));
            tasks.push(tokio::spawn(self.clone().slot(
                n,
                batches.clone(),
                stop.clone(),
            )));
        }
        tasks
    }

    async fn scale(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let scaling = self.settings.scaling;
        let tick = scaling.tick().div_f64(self.settings.time_scale.max(1e-3));
        let cap = Self::cap(&self.settings);
        let mut n = 0;
        while !*stop.borrow() {
            tokio::time::sleep(tick).await;
            if self.overshooting.load(Ordering::Relaxed) {
                continue;
            }
            let waiting = self.queue.depth().await.map(|d| d.visible).unwrap_or(0);
            let now = self.stats.pollers.load(Ordering::Relaxed);
            let next = next_concurrency(&scaling, cap, now, waiting > 0, n);
            n += 1;
            self.stats.pollers.store(next, Ordering::Relaxed);
            if next > now {
                self.raised.notify_waiters();
            }
        }
    }

    /// Whether `n` is below the mapping's current concurrency; if not,
    /// waits until the scaler raises it, or 200 ms (so that a stop is seen).
    /// A thousand waiting cost nothing.
    async fn active(&self, n: usize) -> bool {
        let raised = self.raised.notified();
        tokio::pin!(raised);
        raised.as_mut().enable();
        if n < self.stats.pollers.load(Ordering::Relaxed) {
            return true;
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), raised).await;
        false
    }

    /// One concurrent batch fewer, not below the initial concurrency.
    fn step_back(&self) {
        let floor = self.settings.scaling.floor(Self::cap(&self.settings));
        let _ = self
            .stats
            .pollers
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some(p.saturating_sub(1).max(floor))
            });
    }

    /// A code update rolls out: for `lasting`, the mapping runs `share` of
    /// its cap more batches than it did (the old version's and the new
    /// one's at once, at most twice the cap), as AWS's did in measurements;
    /// the scaler holds meanwhile, then brings it back under the cap.
    pub fn overshoot(self: &Arc<Self>, share: f64, lasting: Duration) {
        let cap = Self::cap(&self.settings);
        let extra = (cap as f64 * share.clamp(0.0, 1.0)).ceil() as usize;
        if extra == 0 {
            return;
        }
        self.overshooting.store(true, Ordering::Relaxed);
        let _ = self
            .stats
            .pollers
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some((p + extra).min(2 * cap))
            });
        self.raised.notify_waiters();
        let mapping = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(lasting).await;
            mapping.overshooting.store(false, Ordering::Relaxed);
            let _ = mapping.stats.pollers.fetch_min(cap, Ordering::Relaxed);
        });
    }

    /// A failed invocation: the model's share of the concurrency given up.
    fn back_off(&self) {
        let (scaling, cap) = (self.settings.scaling, Self::cap(&self.settings));
        let u: f64 = rand::random();
        self.stats.error_backoffs.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .stats
            .pollers
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some(after_error(&scaling, cap, p, u))
            });
    }
}
