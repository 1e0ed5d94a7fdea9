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

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use engine::queue::{Message, QueueBackend, MAX_BATCH};
use futures::future::BoxFuture;
use orderflow_lambda::{BatchResponse, Environment, SqsEvent};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::function::{Function, InvokeError};
use super::model::Model;

/// How a mapping scales, from the model: concurrent batches at first, added
/// a minute while messages wait (in steps of `step`), at most, and the
/// share given up at a failed invocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scaling {
    pub initial: usize,
    pub per_minute: u32,
    pub step: Duration,
    pub max: usize,
    pub error_backoff: f64,
}

impl Scaling {
    pub fn of(model: &Model) -> Scaling {
        let c = &model.c;
        Scaling {
            initial: model.v(&c.esm_initial_concurrency) as usize,
            per_minute: model.v(&c.esm_scale_per_minute) as u32,
            step: Duration::from_secs_f64(model.v(&c.esm_scale_step_secs).max(0.001)),
            max: model.v(&c.esm_max_concurrency) as usize,
            error_backoff: model.v(&c.esm_error_backoff),
        }
    }

    /// The most concurrent batches: AWS's ceiling, or `maximumConcurrency`.
    pub fn cap(&self, maximum_concurrency: Option<usize>) -> usize {
        maximum_concurrency.unwrap_or(self.max).min(self.max)
    }

    /// How often the concurrency moves.
    pub fn tick(&self) -> Duration {
        self.step
    }

    /// How many concurrent batches step `n` (from 0) adds or takes away:
    /// the rate's share of a minute, its fractions carried to later steps.
    pub fn per_step(&self, n: u64) -> usize {
        let rate = f64::from(self.per_minute) * self.step.as_secs_f64() / 60.0;
        let by = |n: u64| (n as f64 * rate).floor() as usize;
        by(n + 1) - by(n)
    }
}

/// The mapping's concurrency after step `n` from `now`: the step's worth
/// more while messages wait, as many fewer (not below the initial) while
/// none do; never above `cap`.
pub fn next_concurrency(scaling: &Scaling, cap: usize, now: usize, waiting: bool, n: u64) -> usize {
    let floor = scaling.initial.min(cap);
    let by = scaling.per_step(n);
    if waiting {
        (now + by).min(cap)
    } else {
        now.saturating_sub(by).max(floor)
    }
}

/// The mapping's concurrency after a failed invocation: the model's share
/// of `now` given up (a draw `u` in [0, 1) rounds it, so that on average it
/// is the share), not below the floor AWS keeps a mapping with
/// `maximumConcurrency` at (the initial, or the cap if lower).
pub fn after_error(scaling: &Scaling, cap: usize, now: usize, u: f64) -> usize {
    let floor = scaling.initial.min(cap);
    let cut = (now as f64 * scaling.error_backoff + u).floor() as usize;
    now.saturating_sub(cut).max(floor)
}

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

    /// Poller `n` of the fleet: while active, gathers a batch and hands it
    /// to a slot.
    async fn poller(
        self: Arc<Self>,
        n: usize,
        ready: tokio::sync::mpsc::Sender<Batch>,
        stop: watch::Receiver<bool>,
    ) {
        while !*stop.borrow() {
            if !self.active(n).await {
                continue;
            }
            let batch = self.gather().await;
            if !batch.messages.is_empty() && ready.send(batch).await.is_err() {
                return;
            }
        }
    }

    /// Invocation slot `n`: while active, invokes the next ready batch. Once
    /// the mapping stops, every slot invokes what the pollers still hold,
    /// until the last poller has stopped.
    async fn slot(
        self: Arc<Self>,
        n: usize,
        batches: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Batch>>>,
        stop: watch::Receiver<bool>,
    ) {
        loop {
            if !*stop.borrow() && !self.active(n).await {
                continue;
            }
            let next = batches.lock().await.recv().await;
            match next {
                Some(batch) => self.invoke(batch).await,
                None => return,
            }
        }
    }

    /// One concurrent batch, gathered and then invoked, while `slot` is
    /// below the mapping's current concurrency.
    async fn serial(self: Arc<Self>, slot: usize, stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            if !self.active(slot).await {
                continue;
            }
            let batch = self.gather().await;
            if !batch.messages.is_empty() {
                self.invoke(batch).await;
            }
        }
    }

    /// A batch: the first message by long poll, then more until the batch
    /// size or the end of the batching window.
    async fn gather(&self) -> Batch {
        let size = self.settings.batch_size.max(1);
        // SQS long polls up to 20 s; a shorter poll lets a stop be seen sooner
        // and changes nothing else (a poll returns as soon as messages come).
        let Ok(mut batch) = self
            .queue
            .receive(size.min(MAX_BATCH), Duration::from_millis(500))
            .await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Batch::none();
        };
        let received = Instant::now();
        if batch.is_empty() {
            return Batch::none();
        }
        let closes = received + self.settings.window;
        while batch.len() < size {
            let left = closes.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // Several reads at once, each of up to ten messages.
            let wanted = size - batch.len();
            let reads = wanted
                .div_ceil(MAX_BATCH)
                .min(self.settings.parallel_receives.max(1));
            let calls = (0..reads).map(|i| {
                let n = (wanted - i * MAX_BATCH).min(MAX_BATCH);
                self.queue.receive(n, left)
            });
            let mut got_any = false;
            for more in futures::future::join_all(calls).await.into_iter().flatten() {
                got_any |= !more.is_empty();
                batch.extend(more);
            }
            if !got_any {
                break;
            }
        }
        Batch {
            messages: batch,
            received,
        }
    }

    async fn invoke(
        &self,
        Batch {
            messages: batch,
            received,
        }: Batch,
    ) {
        let s = &self.stats;
        s.batches.fetch_add(1, Ordering::Relaxed);
        s.messages.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let event = event(self.queue.name(), &batch);
        // The batch's messages come back once their visibility timeout, from
        // their receive, ends; a throttled invoke is tried again until then
        // (less a back-off).
        let visible_again = received + self.settings.visibility;
        let mut backoff = self.settings.backoff_first;
        loop {
            let handler = self.handler.clone();
            let event = event.clone();
            let answer = self.function.invoke(move |env| handler(env, event)).await;
            match answer {
                Ok(response) => return self.settle(batch, response).await,
                Err(InvokeError::Throttled) => {
                    s.throttled_invokes.fetch_add(1, Ordering::Relaxed);
                    self.step_back();
                    if Instant::now() + backoff >= visible_again {
                        s.throttled_batches.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.settings.backoff_max);
                }
                Err(InvokeError::InitFailed(e)) => {
                    s.init_failed_batches.fetch_add(1, Ordering::Relaxed);
                    self.back_off();
                    tracing::warn!(function = %self.function.name, error = %engine::report::error_chain(&*e), "init failed; the batch stays on the queue");
                    return;
                }
                Err(InvokeError::TimedOut) => {
                    s.timed_out_batches.fetch_add(1, Ordering::Relaxed);
                    self.back_off();
                    tracing::warn!(
                        function = %self.function.name,
                        "invocation timed out; the batch comes back after its visibility timeout"
                    );
                    return;
                }
            }
        }
    }

    /// One concurrent batch fewer, not below the initial concurrency.
    fn step_back(&self) {
        let floor = self.settings.scaling.initial.min(Self::cap(&self.settings));
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
        // The chunks' DeleteMessageBatch calls go out at once.
        let deletes = done.chunks(MAX_BATCH).map(|c| self.queue.delete_batch(c));
        let failures = futures::future::join_all(deletes)
            .await
            .iter()
            .flatten()
            .filter(|r| r.is_err())
            .count();
        self.stats
            .delete_failures
            .fetch_add(failures as u64, Ordering::Relaxed);
    }
}

/// The SQS event Lambda would deliver for `batch`.
pub fn event(queue: &str, batch: &[Message]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for m in batch {
        let mut record = orderflow_lambda::SqsMessage::default();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::model::End;

    /// The concurrency after `secs` of steps with messages waiting (or not).
    fn after(scaling: &Scaling, cap: usize, from: usize, secs: u64, waiting: bool) -> usize {
        let steps = secs * 1000 / scaling.tick().as_millis() as u64;
        (0..steps).fold(from, |now, n| {
            next_concurrency(scaling, cap, now, waiting, n)
        })
    }

    fn scaling(end: End) -> Scaling {
        Scaling::of(&Model::shipped(end, 1).unwrap())
    }

    #[test]
    fn a_mapping_starts_at_5_adds_up_to_300_a_minute_up_to_1250_or_its_maximum_concurrency() {
        // The optimistic end is AWS's documented bound, smoothly.
        let fast = scaling(End::Optimistic);
        assert_eq!((fast.initial, fast.per_minute, fast.max), (5, 300, 1250));
        assert_eq!(fast.tick(), Duration::from_millis(200));
        let uncapped = fast.cap(None);
        assert_eq!(uncapped, 1250);
        assert_eq!(after(&fast, uncapped, 5, 60, true), 305);
        assert_eq!(after(&fast, uncapped, 5, 120, true), 605);
        assert_eq!(after(&fast, uncapped, 5, 600, true), 1250);
        // maximumConcurrency caps it, and AWS's ceiling caps that.
        assert_eq!(after(&fast, fast.cap(Some(8)), 5, 60, true), 8);
        assert_eq!(fast.cap(Some(2000)), 1250);
        // maximumConcurrency below the start: the start is the cap.
        assert_eq!(after(&fast, fast.cap(Some(2)), 2, 60, true), 2);
        // An empty queue winds it back down, not below the start.
        assert_eq!(after(&fast, uncapped, 305, 10, false), 255);
        assert_eq!(after(&fast, uncapped, 305, 600, false), 5);
    }

    /// "Up to 300 a minute" is a bound: the central end ramps at a measured
    /// rate inside it, and the pessimistic end slower still, in coarse steps
    /// (nothing for a whole step after the surge starts).
    #[test]
    fn the_ramp_is_up_to_the_documented_rate_and_stepped_at_the_pessimistic_end() {
        let (o, c, p) = (
            scaling(End::Optimistic),
            scaling(End::Central),
            scaling(End::Pessimistic),
        );
        let minute = |s: &Scaling| after(s, 1250, 5, 60, true) - 5;
        assert_eq!(minute(&o), 300);
        assert!((157..=297).contains(&minute(&c)), "{}", minute(&c));
        assert!(minute(&p) < minute(&c), "{}", minute(&p));
        assert!(p.tick() > c.tick() && c.tick() > o.tick());
        // A step's worth at once, and nothing before the first step ends.
        assert_eq!(after(&p, 1250, 5, 9, true), 5);
        assert_eq!(after(&p, 1250, 5, 10, true), 5 + 25);
        for end in [o, c, p] {
            let whole = (0..600).map(|n| end.per_step(n)).sum::<usize>() as f64;
            let expected = f64::from(end.per_minute) * 600.0 * end.step.as_secs_f64() / 60.0;
            assert!((whole - expected).abs() <= 1.0, "fractions are carried");
        }
    }

    /// The error back-off against its measurement (rehanvdm.com, 50 ms
    /// handlers, an uncapped mapping at 60): 1 / 5 / 10 % of invocations
    /// failing held concurrency at 25 / 16 / 13. The rule, run as a fluid
    /// model of the same test at the central end, lands within a factor
    /// of two of each point, falls as errors rise, and cuts less than the
    /// errors' share would if every error stopped a slot for good.
    #[test]
    fn failed_invocations_back_a_mapping_off_as_the_measured_curve_does() {
        let s = scaling(End::Central);
        let held = |error_rate: f64| {
            let (cap, handler_secs) = (60usize, 0.05);
            let mut now = 60usize;
            let (mut errors, mut t, mut n) = (0.0, 0.0, 0u64);
            let mut next_step = s.tick().as_secs_f64();
            let mut sum = 0.0;
            let mut draws = 0.0;
            let dt = 0.001;
            while t < 300.0 {
                // Each slot finishes an invocation every 50 ms.
                errors += now as f64 * dt / handler_secs * error_rate;
                while errors >= 1.0 {
                    errors -= 1.0;
                    draws = (draws + 0.618_034) % 1.0;
                    now = after_error(&s, cap, now, draws);
                }
                if t >= next_step {
                    now = next_concurrency(&s, cap, now, true, n);
                    n += 1;
                    next_step += s.tick().as_secs_f64();
                }
                if t >= 60.0 {
                    sum += now as f64 * dt;
                }
                t += dt;
            }
            sum / 240.0
        };
        let measured = [(0.01, 25.0), (0.05, 16.0), (0.10, 13.0)];
        let mut last = f64::INFINITY;
        for (rate, aws) in measured {
            let modelled = held(rate);
            assert!(
                modelled > aws / 2.0 && modelled < aws * 2.0,
                "{}% errors: {modelled:.1} against {aws} measured",
                rate * 100.0
            );
            assert!(modelled < last, "more errors, less concurrency");
            last = modelled;
        }
        // A step back never goes below the floor.
        assert_eq!(after_error(&s, 15, 5, 0.99), 5);
        assert_eq!(after_error(&s, 3, 3, 0.99), 3);
        assert_eq!(after_error(&s, 60, 60, 0.0), 59, "3 % of 60 is 1.8");
        assert_eq!(after_error(&s, 60, 60, 0.5), 58);
    }

    /// A processor function over `queues` with `permits` environments and
    /// `timeout`, costing nothing but its own time.
    fn function(
        config: &engine::config::Config,
        queues: &engine::queues::Queues,
        permits: usize,
        timeout: Duration,
    ) -> Arc<Function> {
        use futures::FutureExt;
        use orderflow_lambda::Startup;

        use super::super::function::{Costs, Init};

        let init: Init = {
            let (config, queues) = (config.clone(), queues.clone());
            Box::new(move |_zone| {
                let (config, queues) = (config.clone(), queues.clone());
                let startup = Startup {
                    migrate: false,
                    secret: None,
                };
                async move { Environment::init(config, None, queues, startup).await }.boxed()
            })
        };
        let costs = Costs {
            start: Duration::ZERO,
            queue_checks: 0,
            connect_round_trips: 0.0,
            rtt_near: Duration::ZERO,
            rtt_far: Duration::ZERO,
            far_share: 0.0,
            cpu_stretch: 1.0,
            timeout,
            idle: Duration::from_secs(60),
            linger_share: 0.0,
            wait_timeout: Duration::from_secs(60),
        };
        let model = Arc::new(Model::shipped(End::Central, 1).unwrap());
        Function::new(
            crate::aws::settings::FunctionName::Processor,
            Arc::new(tokio::sync::Semaphore::new(permits)),
            costs,
            model,
            init,
        )
    }

    /// A mapping's settings at the central end: batches of `batch_size`, no
    /// window, at most `cap` at once.
    fn settings(
        batch_size: usize,
        cap: usize,
        overlap: bool,
        visibility: Duration,
    ) -> MappingSettings {
        MappingSettings {
            batch_size,
            window: Duration::ZERO,
            maximum_concurrency: Some(cap),
            time_scale: 1.0,
            scaling: scaling(End::Central),
            parallel_receives: 1,
            overlap,
            backoff_first: Duration::from_millis(10),
            backoff_max: Duration::from_millis(100),
            visibility,
        }
    }

    /// The poller fleet: a batch gathered while every slot was busy goes to
    /// the first slot that frees, not to the slot whose poller gathered it.
    /// With two slots and the first held by a batch that does not finish,
    /// the other two messages are both handled by the second slot.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_ready_batch_goes_to_the_first_free_slot() {
        use engine::config::Config;
        use engine::queues::Queues;
        use futures::FutureExt;

        let config = Config {
            visibility_timeout_secs: 60,
            ..Config::default()
        };
        let queues = Queues::channel(&config);
        let function = function(&config, &queues, 2, Duration::from_secs(60));
        let (release, released) = watch::channel(false);
        let handled: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let handler: Handler = {
            let handled = handled.clone();
            Arc::new(move |_env, event: SqsEvent| {
                let (handled, mut released) = (handled.clone(), released.clone());
                async move {
                    let body = event.records[0].body.clone().unwrap_or_default();
                    handled.lock().unwrap().push(body.clone());
                    if body == "held" {
                        let _ = released.wait_for(|r| *r).await;
                    }
                    BatchResponse::default()
                }
                .boxed()
            })
        };
        let mapping = Mapping::new(
            queues.orders.clone(),
            function,
            handler,
            settings(1, 2, true, config.visibility_timeout()),
        );
        let (stop, stopped) = watch::channel(false);
        let tasks = mapping.spawn(stopped);
        queues.orders.send("held".into()).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while handled.lock().unwrap().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for body in ["second", "third"] {
            queues.orders.send(body.into()).await.unwrap();
        }
        while handled.lock().unwrap().len() < 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let seen = handled.lock().unwrap().clone();
        release.send(true).unwrap();
        stop.send(true).unwrap();
        for t in tasks {
            let _ = t.await;
        }
        assert_eq!(
            seen,
            ["held", "second", "third"],
            "handled while the first slot was held"
        );
        assert_eq!(
            queues.orders.depth().await.unwrap().total(),
            0,
            "all deleted"
        );
    }

    /// A batch whose invocation runs past the function's timeout stays on
    /// the queue, comes back once its visibility timeout ends (a second
    /// receive), and is then processed: nothing lost, nothing in the DLQ.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_over_the_function_timeout_comes_back_after_the_visibility_timeout() {
        use engine::config::Config;
        use engine::queues::Queues;
        use futures::FutureExt;

        let config = Config {
            visibility_timeout_secs: 1,
            max_receive_count: 5,
            ..Config::default()
        };
        let queues = Queues::channel(&config);
        let function = function(&config, &queues, 1, Duration::from_millis(200));
        // The first invocation hangs past the timeout; later ones succeed,
        // noting each receive count they were handed.
        let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let handler: Handler = {
            let seen = seen.clone();
            Arc::new(move |_env, event: SqsEvent| {
                let seen = seen.clone();
                async move {
                    let count = event.records[0]
                        .attributes
                        .get("ApproximateReceiveCount")
                        .cloned()
                        .unwrap_or_default();
                    let first = {
                        let mut seen = seen.lock().unwrap();
                        seen.push(count);
                        seen.len() == 1
                    };
                    if first {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                    }
                    BatchResponse::default()
                }
                .boxed()
            })
        };
        let mapping = Mapping::new(
            queues.orders.clone(),
            function.clone(),
            handler,
            settings(10, 1, false, config.visibility_timeout()),
        );
        queues.orders.send("an order".into()).await.unwrap();
        let (stop, stopped) = watch::channel(false);
        let tasks = mapping.spawn(stopped);
        let deadline = Instant::now() + Duration::from_secs(10);
        while queues.orders.depth().await.unwrap().total() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.send(true).unwrap();
        for t in tasks {
            let _ = t.await;
        }

        assert_eq!(queues.orders.depth().await.unwrap().total(), 0, "deleted");
        assert_eq!(*seen.lock().unwrap(), ["1", "2"], "received twice");
        assert_eq!(function.stats.timeouts.load(Ordering::Relaxed), 1);
        assert_eq!(mapping.stats.timed_out_batches.load(Ordering::Relaxed), 1);
        let dlq = queues.order_dlq.as_ref().unwrap();
        assert_eq!(dlq.depth().await.unwrap().total(), 0, "nothing in the DLQ");
    }
}
