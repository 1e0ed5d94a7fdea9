//! Starting and stopping the whole pipeline in one process: the store, the
//! four channel queues, the processor and notifier workers, and the HTTP
//! server. `sim` and the integration tests start it the same way.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::domain::seed_products;
use crate::http::{self, AppState};
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::notifier::{NotificationWorker, Notifier};
use crate::processor::{Processor, ProcessorConfig};
use crate::queue::{ChannelQueue, QueueBackend, QueueConfig};
use crate::shutdown::{self, Trigger};
use crate::store::{MemoryStore, MySqlStore, OrderStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Opens the configured store (MySQL if configured, else in memory), applies
/// migrations, and seeds the five products into an empty inventory.
pub async fn open_store(config: &Config) -> Result<Arc<dyn OrderStore>, StartError> {
    let store: Arc<dyn OrderStore> = match config.mysql().map_err(StartError::Config)? {
        Some(options) => Arc::new(MySqlStore::connect(options, config.db_max_connections).await?),
        None => Arc::new(MemoryStore::new()),
    };
    store.seed_if_empty(&seed_products()).await?;
    Ok(store)
}

/// The in-process queues: orders and processed, each with its DLQ.
#[derive(Clone)]
pub struct ChannelQueues {
    pub orders: Arc<ChannelQueue>,
    pub order_dlq: Arc<ChannelQueue>,
    pub processed: Arc<ChannelQueue>,
    pub processed_dlq: Arc<ChannelQueue>,
}

impl ChannelQueues {
    pub fn new(config: &Config) -> Self {
        let dlq = |name: &str| {
            ChannelQueue::new(QueueConfig {
                capacity: usize::MAX,
                ..QueueConfig::new(name)
            })
        };
        let order_dlq = dlq("order-dlq");
        let processed_dlq = dlq("processed-dlq");
        let queue = |name: &str, capacity, dlq: &Arc<ChannelQueue>| {
            ChannelQueue::new(QueueConfig {
                name: name.into(),
                visibility_timeout: config.visibility_timeout(),
                capacity,
                dead_letter: Some((config.max_receive_count, dlq.clone())),
            })
        };
        ChannelQueues {
            orders: queue("orders", config.queue_capacity, &order_dlq),
            // Processed events are never refused: the processor has already
            // committed them.
            processed: queue("processed", usize::MAX, &processed_dlq),
            order_dlq,
            processed_dlq,
        }
    }

    fn all(&self) -> Vec<Arc<dyn QueueBackend>> {
        vec![
            self.orders.clone(),
            self.order_dlq.clone(),
            self.processed.clone(),
            self.processed_dlq.clone(),
        ]
    }
}

/// A running pipeline and HTTP server.
pub struct App {
    pub store: Arc<dyn OrderStore>,
    pub metrics: Arc<Metrics>,
    pub queues: ChannelQueues,
    addr: SocketAddr,
    trigger: Trigger,
    workers: Vec<JoinHandle<()>>,
    server: JoinHandle<()>,
}

impl App {
    /// Opens the store and starts everything, serving HTTP on `addr`
    /// (port 0 picks a free port; see [`App::addr`]).
    pub async fn start(
        config: &Config,
        addr: SocketAddr,
        notifier: Arc<dyn Notifier>,
    ) -> Result<App, StartError> {
        let store = open_store(config).await?;
        Self::start_with_store(store, config, addr, notifier).await
    }

    /// Starts everything over a store the caller opened.
    pub async fn start_with_store(
        store: Arc<dyn OrderStore>,
        config: &Config,
        addr: SocketAddr,
        notifier: Arc<dyn Notifier>,
    ) -> Result<App, StartError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let metrics = Arc::new(Metrics::new());
        let queues = ChannelQueues::new(config);
        let (trigger, shutdown) = shutdown::channel();

        let mut workers = Vec::new();
        let processor = Processor::new(
            queues.orders.clone(),
            queues.processed.clone(),
            store.clone(),
            metrics.clone(),
            ProcessorConfig::default(),
        );
        for _ in 0..config.processor_workers.max(1) {
            workers.push(tokio::spawn(processor.clone().run(shutdown.clone())));
        }
        let notification = NotificationWorker::new(
            queues.processed.clone(),
            store.clone(),
            notifier,
            metrics.clone(),
            Duration::from_millis(200),
        );
        for _ in 0..config.notifier_workers.max(1) {
            workers.push(tokio::spawn(notification.clone().run(shutdown.clone())));
        }

        let router = http::router(AppState {
            ingest: Ingest::new(queues.orders.clone(), metrics.clone()),
            store: store.clone(),
            metrics: metrics.clone(),
            queues: queues.all(),
        });
        let server = tokio::spawn(serve(listener, router, shutdown.clone()));
        Ok(App {
            store,
            metrics,
            queues,
            addr,
            trigger,
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
        for q in [&self.queues.orders, &self.queues.processed] {
            match q.depth().await {
                Ok(d) if d.total() == 0 => {}
                _ => return false,
            }
        }
        true
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
    /// waits for all of them.
    pub async fn stop(self) {
        self.trigger.fire();
        let _ = self.server.await;
        for w in self.workers {
            let _ = w.await;
        }
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
