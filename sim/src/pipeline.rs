//! Starting the pipeline the way `sim run` and `sim serve` both do: the
//! store (through a modelled round trip if asked), the deployed shape if
//! `--topology lambda`, the harness's faults and bookkeeping, the app, and
//! the shape's functions attached to its queues.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use engine::app::{App, Hooks};
use engine::config::Config;
use engine::context::Books;
use engine::harness::faults::{FaultKind, FaultPlan, Faults};
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

/// The flags of every command that starts the pipeline (`run`, `serve`),
/// declared once: the faults to inject, the database's modelled round
/// trip, the deployed shape and the engine's configuration.
#[derive(Args, Clone)]
pub struct PipelineArgs {
    /// Faults to inject (see the long help for each kind).
    #[arg(
        long,
        default_value = "none",
        value_parser = |s: &str| s.parse::<FaultPlan>(),
        help_heading = "Faults",
        long_help = faults_help()
    )]
    pub faults: FaultPlan,
    /// Milliseconds added to every round trip to the database (MySQL only),
    /// by a proxy on loopback: what a network between the engine and the
    /// database costs. 0 connects directly. Default: 0; with `--topology
    /// lambda`, each zone's round trip from the model (given, it replaces
    /// both).
    #[arg(long, value_name = "MS", help_heading = "Faults")]
    pub db_rtt_ms: Option<f64>,
    #[command(flatten)]
    pub shape: ShapeArgs,
    #[command(flatten)]
    pub config: Config,
}

/// `--faults`'s long help, written from the list of fault kinds, so a new
/// kind is in it without anyone remembering to add it.
fn faults_help() -> String {
    let kinds: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
    format!(
        "Faults to inject: `none`, `all`, or a comma-separated list of `kind[=rate]` among {} \
         (kill-connection: MySQL only). With faults on, the visibility timeout is capped at 2 s \
         so crashed batches return quickly; `sim serve` shows what they did at /metrics and \
         /api/dlq.",
        kinds.join(", ")
    )
}

impl PipelineArgs {
    /// What the command line asks of the build ([`crate::needs`]).
    pub fn asks(&self) -> crate::needs::Asks<'_> {
        crate::needs::Asks::pipeline(self.shape.is_lambda(), &self.config)
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
    pub args: &'a mut PipelineArgs,
    pub faults: Arc<Faults>,
    /// A database outage is scheduled (`sim run --db-outage`).
    pub db_outage: bool,
    pub seed: u64,
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
        let PipelineArgs {
            shape: shape_args,
            config,
            db_rtt_ms,
            ..
        } = s.args;
        if shape_args.is_lambda() && !s.faults.plan().is_empty() {
            anyhow::bail!(
                "--faults run with --topology local only; the deployed shape's incident is \
                 --db-outage (or --failover)"
            );
        }
        let faulty = !s.faults.plan().is_empty() || s.db_outage;
        if faulty && !shape_args.is_lambda() {
            config.visibility_timeout_secs = config.visibility_timeout_secs.min(2);
        }
        let spec = shape_args.prepare(config, s.seed)?;
        // The deployed shape's functions reach the database through their
        // own proxies (see `aws::rds`); the pipeline's own reads go direct.
        let direct = match spec {
            Some(_) => 0.0,
            None => db_rtt_ms.unwrap_or(0.0),
        };
        let (store, proxy) = open_store_over(config, direct).await?;
        announce(&store);
        // The queues and books, opened first: the pipeline and the deployed
        // shape's functions share them.
        let wiring = Wiring {
            queues: Queues::open(config).await?,
            books: Books::default(),
            notifier: s.notifier.clone(),
        };
        let mut shape = shape_args
            .open(spec, config, (&store, wiring.clone()), *db_rtt_ms)
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
        let app = App::start_with_store(store.as_dyn(), config, s.addr, hooks).await?;
        if let Some(shape) = &mut shape {
            shape.start(shape_args.time_scale)?;
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
