//! The pipeline's worker loops in one process: the processor and the
//! notifier (each a [`crate::consumer::Consumer`]) over the queues as the
//! hooks' [`super::Wrap`] decorates them, each loop supervised (started
//! again after a panic), on a runtime of their own if asked.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;

use super::{Hooks, QueueUse};
use crate::config::Config;
use crate::consumer::WorkerConfig;
use crate::context::Context;
use crate::notifier::NotificationWorker;
use crate::processor::Processor;
use crate::queue::QueueBackend;
use crate::queues::Queues;
use crate::shutdown;

/// A runtime for the processor and notifier loops alone (one thread), to
/// pass to [`Hooks::workers`]. A processor batch holds its products' row
/// locks across several round trips to MySQL, and on the HTTP server's
/// runtime each of its wake-ups waits behind every ready request: under
/// load the locks are held longer, batches queue behind them, and latency
/// climbs. On a runtime of their own the workers wake as soon as the
/// operating system runs their thread (BENCHMARKS.md has the A/B run).
pub fn worker_runtime() -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("orderflow-workers")
        .enable_all()
        .build()
}

/// The processor and notifier loops `hooks` and `config` ask for, each
/// supervised (restarted after a panic), on the hooks' runtime.
pub(super) fn spawn_workers(
    ctx: &Context,
    queues: &Queues,
    config: &Config,
    hooks: &Hooks,
    shutdown: &shutdown::Shutdown,
) -> Vec<JoinHandle<()>> {
    let wrap = |used, queue: &Arc<dyn QueueBackend>| hooks.wrap.queue(used, queue.clone());
    let spawner = hooks.workers.clone().unwrap_or_else(Handle::current);
    let mut workers = Vec::new();
    let processor = Processor::new(
        wrap(QueueUse::ProcessorIn, &queues.orders),
        wrap(QueueUse::ProcessorOut, &queues.processed),
        ctx.clone(),
        // An unfinished order is not held back longer than the queue's own
        // visibility timeout would hold it at its first receive.
        WorkerConfig::default().within(config.visibility_timeout()),
    );
    let (processors, notifiers) = match hooks.loops {
        true => (config.processor_workers.max(1), config.notifier_workers),
        false => (0, 0),
    };
    for _ in 0..processors {
        let (processor, shutdown) = (processor.clone(), shutdown.clone());
        workers.push(spawner.spawn(supervised("processor", move || {
            processor.clone().run(shutdown.clone())
        })));
    }
    let notification = NotificationWorker::new(
        wrap(QueueUse::NotifierIn, &queues.processed),
        ctx.clone(),
        hooks.notifier.clone(),
        WorkerConfig::notifier().within(config.visibility_timeout()),
        config.visibility_timeout(),
    );
    // None: another notifier (the original system's, while it is being
    // replaced) consumes the processed queue.
    for _ in 0..notifiers {
        let (notification, shutdown) = (notification.clone(), shutdown.clone());
        workers.push(spawner.spawn(supervised("notifier", move || {
            notification.clone().run(shutdown.clone())
        })));
    }
    workers
}

/// Runs a worker loop, and starts it again if it panics (a bug, or a crash
/// the sim injects), as a platform restarts a crashed process: what the dead
/// loop had received comes back after its visibility timeout. Aborting the
/// supervisor aborts the loop.
async fn supervised<F, Fut>(name: &'static str, start: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let task = tokio::spawn(start());
        let _abort_with_me = AbortOnDrop(task.abort_handle());
        match task.await {
            Err(e) if e.is_panic() => {
                tracing::error!(worker = name, "worker panicked; starting it again");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            _ => return,
        }
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
