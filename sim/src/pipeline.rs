//! Starting the pipeline the way `sim run` and `sim serve` both do: the
//! store (through a modelled round trip if asked), the deployed shape if
//! `--topology lambda`, the harness's faults and bookkeeping, the app, and
//! the shape's functions attached to its queues.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use engine::app::{App, Hooks};
use engine::config::Config;
use engine::context::Books;
use engine::harness::faults::Faults;
use engine::harness::Harness;
use engine::notifier::Notifier;
use engine::queues::Queues;
use engine::store::{OpenedStore, StoreOptions};

use crate::aws::{Shape, ShapeArgs, Wiring};
use crate::netem;

/// The workers' runtime, which `main` keeps running.
pub static WORKERS: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();

/// The hooks every pipeline the sim starts shares: the workers on their
/// own runtime.
pub fn hooks() -> Hooks {
    Hooks {
        workers: WORKERS.get().cloned(),
        ..Hooks::default()
    }
}

/// A started pipeline and what came with it.
pub struct Pipeline {
    pub store: OpenedStore,
    pub app: App,
    pub harness: Arc<Harness>,
    /// The deployed shape's functions, mappings and gateway (`--topology lambda`).
    pub shape: Option<Shape>,
    /// The proxy that adds the database round trip, if any; kept alive here.
    pub proxy: Option<netem::LatencyProxy>,
}

/// What a pipeline is started with.
pub struct Start<'a> {
    pub shape: &'a ShapeArgs,
    pub config: &'a mut Config,
    pub faults: Arc<Faults>,
    /// A database outage is scheduled (`sim run --db-outage`).
    pub db_outage: bool,
    pub seed: u64,
    pub db_rtt_ms: Option<f64>,
    pub addr: SocketAddr,
    pub notifier: Arc<dyn Notifier>,
}

impl Pipeline {
    /// Starts it (see the module doc). Faults shorten the visibility
    /// timeout to 2 s, so redeliveries come within the run; they run with
    /// the local topology only. `announce` is called with the opened store
    /// before the shape opens (the run prints its seed and store there).
    pub async fn start(
        s: Start<'_>,
        announce: impl FnOnce(&OpenedStore),
    ) -> anyhow::Result<Pipeline> {
        if s.shape.is_lambda() && !s.faults.plan().is_empty() {
            anyhow::bail!(
                "--faults run with --topology local only; the deployed shape's incident is \
                 --db-outage (or --failover)"
            );
        }
        let faulty = !s.faults.plan().is_empty() || s.db_outage;
        if faulty && !s.shape.is_lambda() {
            s.config.visibility_timeout_secs = s.config.visibility_timeout_secs.min(2);
        }
        let settings = s.shape.prepare(s.config)?;
        // The deployed shape's functions reach the database through their
        // own proxies (see `aws::rds`); the pipeline's own reads go direct.
        let direct = match settings {
            Some(_) => 0.0,
            None => s.db_rtt_ms.unwrap_or(0.0),
        };
        let (store, proxy) = open_store_over(s.config, direct).await?;
        announce(&store);
        // The queues and books, opened first: the pipeline and the deployed
        // shape's functions share them.
        let wiring = Wiring {
            queues: Queues::open(s.config).await?,
            books: Books::default(),
            notifier: s.notifier.clone(),
        };
        let mut shape = s
            .shape
            .open(
                settings,
                s.seed,
                s.config,
                (&store, wiring.clone()),
                s.db_rtt_ms,
            )
            .await?;
        let harness = Arc::new(Harness::new(s.faults));
        let hooks = Hooks {
            notifier: s.notifier.clone(),
            wrap: match &shape {
                Some(shape) => shape.wrap(harness.clone()),
                None => harness.clone(),
            },
            loops: shape.is_none(),
            front: shape.as_ref().map(|s| s.front()),
            queues: Some(wiring.queues),
            books: Some(wiring.books),
            ..hooks()
        };
        let app = App::start_with_store(store.as_dyn(), s.config, s.addr, hooks).await?;
        if let Some(shape) = &mut shape {
            shape.start(s.shape.time_scale)?;
        }
        Ok(Pipeline {
            store,
            app,
            harness,
            shape,
            proxy,
        })
    }
}

/// Opens the configured store; with `rtt_ms` above 0, through a
/// [`netem::LatencyProxy`] that adds that much to every round trip (the
/// proxy lives as long as the answer is kept).
pub async fn open_store_over(
    config: &Config,
    rtt_ms: f64,
) -> anyhow::Result<(OpenedStore, Option<netem::LatencyProxy>)> {
    let options = config.mysql()?;
    let (Some(options), true) = (&options, rtt_ms > 0.0) else {
        if rtt_ms > 0.0 {
            anyhow::bail!("--db-rtt-ms needs a MySQL store: set DATABASE_URL (or DB_HOST)");
        }
        return Ok((config.store_options()?.open().await?, None));
    };
    let (proxy, through) =
        netem::in_front_of(options, Duration::from_secs_f64(rtt_ms / 1000.0)).await?;
    println!(
        "  database round trip: +{rtt_ms} ms, through a proxy at {} to {}:{}",
        proxy.addr,
        options.get_host(),
        options.get_port()
    );
    let options = StoreOptions {
        mysql: Some(through),
        ..config.store_options()?
    };
    let store = options.open().await?;
    Ok((store, Some(proxy)))
}

/// Says, for each queue without a DLQ, what that means for a poison message.
pub fn warn_of_queues_without_dlq(app: &App) {
    for name in app.queues.without_dlq() {
        println!(
            "  warning: the {name} queue has no dead-letter queue (no redrive policy): {}",
            engine::queues::NO_DLQ
        );
    }
}
