//! Starting and stopping the whole pipeline in one process: the store, the
//! four channel queues, the processor and notifier workers, and the HTTP
//! server. `sim` and the integration tests start it the same way. The
//! worker loops are started in `workers.rs`.

mod workers;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::context::{Books, Context};
use crate::dlq::FailureLog;
use crate::http::{self, AppState};
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::notifier::{LogNotifier, Notifier};
use crate::queue::{QueueBackend, QueueError};
use crate::queues::Queues;
use crate::shutdown::{self, Trigger};
use crate::store::{OrderStore, StoreError};

use workers::spawn_workers;
pub use workers::worker_runtime;

/// Why the pipeline could not start. A Lambda function's init can fail in
/// more ways (its environment variables, Secrets Manager, a stale migration
/// step): the `orderflow-lambda` crate's `InitError` wraps this one.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Configuration(#[from] crate::config::ConfigError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("queues: {0}")]
    Queues(#[from] QueueError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl StartError {
    /// Whether starting again may succeed: the store or the queues were
    /// unavailable, not misconfigured.
    pub fn is_transient(&self) -> bool {
        match self {
            StartError::Store(e) => e.is_transient(),
            StartError::Queues(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// Where a queue is used; a [`Wrap`] may decorate each use differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueUse {
    /// The order queue, as ingest publishes to it.
    Ingest,
    /// The order queue, as the processor receives and deletes.
    ProcessorIn,
    /// The processed queue, as the processor publishes to it.
    ProcessorOut,
    /// The processed queue, as the notifier receives and deletes.
    NotifierIn,
}

/// Decorators for the parts a pipeline is built from. The sim's fault
/// injection and bookkeeping, and the tests' doubles, wrap the real store
/// and queues from outside, so the pipeline's own code holds none of them.
/// The defaults wrap nothing.
pub trait Wrap: Send + Sync {
    fn store(&self, store: Arc<dyn OrderStore>) -> Arc<dyn OrderStore> {
        store
    }

    fn queue(&self, used: QueueUse, queue: Arc<dyn QueueBackend>) -> Arc<dyn QueueBackend> {
        let _ = used;
        queue
    }
}

/// Wraps nothing.
pub struct Plain;

impl Wrap for Plain {}

/// What a caller plugs into the pipeline: where notifications go, what
/// wraps its parts, and where the workers run.
#[derive(Clone)]
pub struct Hooks {
    pub notifier: Arc<dyn Notifier>,
    pub wrap: Arc<dyn Wrap>,
    /// The runtime the processor and notifier loops run on; `None`: the
    /// caller's, beside the HTTP server. See [`worker_runtime`].
    pub workers: Option<Handle>,
    /// Run the in-process processor and notifier loops. Off when something
    /// else consumes the queues: `sim --topology lambda` runs the Lambda
    /// handlers behind emulated event source mappings instead.
    pub loops: bool,
    /// What stands in front of the API (`sim --topology lambda`: the API
    /// Gateway stage's throttle and the ingest function's environments).
    pub front: Option<Front>,
    /// The queues to run over, opened by a caller that hands them to
    /// something else too (`sim --topology lambda`'s event source
    /// mappings); `None`: opened from the configuration.
    pub queues: Option<Queues>,
    /// The books to record into, shared with the caller; `None`: fresh.
    pub books: Option<Books>,
}

/// Wraps the API's router in what fronts it.
pub type Front = Arc<dyn Fn(Router) -> Router + Send + Sync>;

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            notifier: Arc::new(LogNotifier),
            wrap: Arc::new(Plain),
            workers: None,
            loops: true,
            front: None,
            queues: None,
            books: None,
        }
    }
}

/// A running pipeline and HTTP server.
pub struct App {
    pub store: Arc<dyn OrderStore>,
    pub metrics: Arc<Metrics>,
    pub failures: Arc<FailureLog>,
    pub queues: Queues,
    addr: SocketAddr,
    /// The router's ingest: closing it refuses new orders.
    ingest: Ingest,
    /// Whether this pipeline runs notifiers (and so drains the processed
    /// queue).
    notifies: bool,
    stop_server: Trigger,
    stop_workers: Trigger,
    workers: Vec<JoinHandle<()>>,
    server: JoinHandle<()>,
}

/// What a pipeline still holds: accepted orders not yet processed, and
/// processed orders not yet notified (queued or in flight; not what sits in
/// a DLQ).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    pub orders: u64,
    pub notifications: u64,
}

impl Backlog {
    pub fn is_empty(&self) -> bool {
        self.orders == 0 && self.notifications == 0
    }
}

/// How a graceful stop ([`App::shutdown`]) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every accepted order was processed and notified.
    Drained,
    /// The queues are durable (SQS): what they hold stays there for the next
    /// consumer; the workers finished their batches.
    LeftInQueues(Backlog),
    /// Stopped at once on request: this was left in the in-process queues,
    /// and is lost with them.
    Abandoned(Backlog),
}

impl App {
    /// Starts everything over a store the caller opened ([`crate::store::StoreOptions::open`]),
    /// serving HTTP on `addr` (port 0 picks a free port; see [`App::addr`]).
    pub async fn start_with_store(
        store: Arc<dyn OrderStore>,
        config: &Config,
        addr: SocketAddr,
        hooks: Hooks,
    ) -> Result<App, StartError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let order_ids = config.order_id_key()?;
        if order_ids.is_development() {
            tracing::info!(
                "order ids are derived under the public development key: set ORDER_ID_KEY \
                 (16+ characters) before real customers use this server"
            );
        }
        let books = hooks.books.clone().unwrap_or_default();
        let ctx =
            Context::keeping(hooks.wrap.store(store.clone()), books).with_order_ids(order_ids);
        let queues = match hooks.queues.clone() {
            Some(queues) => queues,
            None => Queues::open(config).await?,
        };
        let (stop_server, server_shutdown) = shutdown::channel();
        let (stop_workers, shutdown) = shutdown::channel();

        let workers = spawn_workers(&ctx, &queues, config, &hooks, &shutdown);

        let ingest = Ingest::new(
            hooks.wrap.queue(QueueUse::Ingest, queues.orders.clone()),
            ctx.metrics.clone(),
            ctx.order_ids.clone(),
        );
        let router = http::router(AppState::with_ingest(&ctx, &queues, ingest.clone()));
        let router = match &hooks.front {
            Some(front) => front(router),
            None => router,
        };
        let server = tokio::spawn(serve(listener, router, server_shutdown));
        Ok(App {
            store,
            metrics: ctx.metrics,
            failures: ctx.failures,
            queues,
            addr,
            ingest,
            notifies: config.notifier_workers > 0,
            stop_server,
            stop_workers,
            workers,
            server,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, for clients.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether the order and processed queues hold nothing, in flight or not.
    pub async fn drained(&self) -> bool {
        self.backlog().await.is_ok_and(|b| b.is_empty())
    }

    /// What the order queue holds, in flight or not, and the processed
    /// queue if this pipeline notifies.
    pub async fn backlog(&self) -> Result<Backlog, QueueError> {
        Ok(Backlog {
            orders: self.queues.orders.depth().await?.total(),
            notifications: if self.notifies {
                self.queues.processed.depth().await?.total()
            } else {
                0
            },
        })
    }

    /// Stops taking orders: from now on `POST /api/orders` answers 503 with
    /// `Retry-After` and enqueues nothing, and `/health` answers 503.
    pub fn stop_intake(&self) {
        self.ingest.close();
    }

    /// Waits until [`App::drained`] or the timeout; answers whether drained.
    pub async fn wait_drained(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.drained().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.drained().await
    }

    /// Stops accepting requests, lets every worker finish its batch, and
    /// waits for all of them. What the queues still hold stays there (and,
    /// with the in-process queues, is gone with them): see
    /// [`App::shutdown`] for a stop that keeps every 202's promise.
    pub async fn stop(self) {
        self.stop_server.fire();
        let _ = self.server.await;
        self.stop_workers.fire();
        for w in self.workers {
            let _ = w.await;
        }
    }

    /// The graceful stop: takes no new orders (503), drains every accepted
    /// order through the processor and the notifier, then stops the server
    /// and the workers. `progress` is told the backlog about once a second
    /// while it drains. If `abort` resolves first, everything stops at once
    /// and the answer says what was left behind.
    ///
    /// Over SQS nothing is drained: the queues keep what they hold for the
    /// next consumer, so the server and the workers stop after their current
    /// requests and batches.
    pub async fn shutdown(
        mut self,
        mut progress: impl FnMut(Backlog),
        abort: impl Future<Output = ()>,
    ) -> Stopped {
        self.stop_intake();
        let durable = self.queues.channel.is_none();
        let mut abort = std::pin::pin!(abort);
        if !durable {
            if let Err(left) = self.drain(&mut progress, abort.as_mut()).await {
                return self.abandon(left).await;
            }
        }
        // No request gets past the closed intake now, but one may have
        // passed it before and be publishing: the server's graceful stop
        // waits for it, and a second drain takes what it published.
        self.stop_server.fire();
        let server = &mut self.server;
        tokio::select! {
            _ = server => {}
            _ = abort.as_mut() => {
                let left = self.backlog().await.unwrap_or_default();
                return self.abandon(left).await;
            }
        }
        if !durable {
            if let Err(left) = self.drain(&mut progress, abort.as_mut()).await {
                return self.abandon(left).await;
            }
        }
        let left = self.backlog().await.unwrap_or_default();
        self.stop_workers.fire();
        for w in self.workers {
            let _ = w.await;
        }
        if durable {
            Stopped::LeftInQueues(left)
        } else {
            Stopped::Drained
        }
    }

    /// Waits until the queues are empty, telling `progress` about once a
    /// second; answers the backlog left if `abort` resolves first.
    async fn drain(
        &self,
        progress: &mut impl FnMut(Backlog),
        mut abort: std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Result<(), Backlog> {
        let mut last_told: Option<tokio::time::Instant> = None;
        let mut last = Backlog::default();
        loop {
            // A queue that does not answer counts as not drained.
            match self.backlog().await {
                Ok(b) if b.is_empty() => return Ok(()),
                Ok(b) => last = b,
                Err(e) => tracing::warn!(error = %e, "draining: the queues do not answer"),
            }
            if last_told.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                progress(last);
                last_told = Some(tokio::time::Instant::now());
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                _ = abort.as_mut() => return Err(last),
            }
        }
    }

    /// Stops everything at once, workers mid-batch included, and answers
    /// what was left.
    async fn abandon(self, left: Backlog) -> Stopped {
        self.stop_server.fire();
        self.stop_workers.fire();
        self.server.abort();
        for w in &self.workers {
            w.abort();
        }
        let left = self.backlog().await.unwrap_or(left);
        Stopped::Abandoned(left)
    }
}

async fn serve(listener: TcpListener, router: Router, mut shutdown: shutdown::Shutdown) {
    let stop = async move { shutdown.fired().await };
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!(error = %e, "HTTP server failed");
    }
}
