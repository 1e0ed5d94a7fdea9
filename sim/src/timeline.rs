//! What the pipeline looked like over time, sampled while the load runs:
//! queue and DLQ depths, and the stock of the hot products, for the HTML
//! report's charts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::domain::ProductId;
use engine::queue::QueueBackend;
use engine::queues::Queues;
use engine::store::OrderStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the sampler looks.
pub const EVERY: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Seconds since the load started.
    pub t: f64,
    /// Messages in each queue, visible and in flight: orders, processed,
    /// order DLQ, processed DLQ. `None` where the read failed (a database
    /// or queue outage shows as a gap).
    pub queues: [Option<u64>; 4],
    /// Stock of each hot product, in the order given to [`spawn`].
    pub stock: Vec<Option<i64>>,
}

pub const QUEUE_NAMES: [&str; 4] = ["orders", "processed", "order DLQ", "processed DLQ"];

pub struct Sampler {
    stop: watch::Sender<bool>,
    task: JoinHandle<Vec<Sample>>,
}

/// Starts sampling now; `started` is the load's start, time zero.
pub fn spawn(
    queues: Queues,
    store: Arc<dyn OrderStore>,
    hot: Vec<ProductId>,
    started: Instant,
) -> Sampler {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let orders: Arc<dyn QueueBackend> = queues.orders.clone();
        let all: [Option<Arc<dyn QueueBackend>>; 4] = [
            Some(orders),
            Some(queues.processed.clone()),
            queues.order_dlq.clone(),
            queues.processed_dlq.clone(),
        ];
        let mut samples = Vec::new();
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => break,
            }
            let mut sample = Sample {
                t: started.elapsed().as_secs_f64(),
                ..Sample::default()
            };
            for (slot, q) in sample.queues.iter_mut().zip(&all) {
                if let Some(q) = q {
                    *slot = q.depth().await.ok().map(|d| d.total());
                }
            }
            for p in &hot {
                let stock = store.product(p).await.ok().flatten();
                sample.stock.push(stock.map(|i| i.quantity_available));
            }
            samples.push(sample);
        }
        samples
    });
    Sampler { stop, task }
}

impl Sampler {
    /// Stops sampling and answers the samples.
    pub async fn finish(self) -> Vec<Sample> {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}
