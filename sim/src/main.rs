//! `sim`: the whole orderflow pipeline in one process.
//!
//! - `sim` (or `sim run`): start the pipeline, run the seed's four
//!   verification scenarios over HTTP, a generated load, then check every
//!   invariant and print a report. Exits non-zero if anything failed.
//! - `sim serve`: the API and all workers until Ctrl-C.
//! - `sim check`: print the inventory and recent orders.
//! - `sim migrate`: bring a database (the original system's, too) to
//!   orderflow's schema.
//! - `sim dlq list|redrive`: the dead-letter queues of a running `sim serve`.
//! - `sim bench`: the processor against MySQL, beside reference points.

mod bench;
mod chaos;
mod check;
mod deployment;
mod dlq;
mod gather;
mod html;
mod invariants;
mod lambda;
mod load;
mod migrate;
mod model;
mod netem;
mod report;
mod run;
mod scenarios;
mod timeline;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use engine::app::{App, Hooks, OpenedStore, Stopped};
use engine::config::Config;
use engine::harness::faults::{FaultPlan, Faults};
use engine::harness::Harness;

#[derive(Parser)]
#[command(
    name = "sim",
    version,
    about = "Runs the orderflow pipeline in one process: scenarios, load, invariants, report.",
    long_about = "Runs the orderflow pipeline (ingest -> order queue -> processor -> store -> \
processed queue -> notifier) in one process.\n\n\
With no subcommand, `sim` runs the main job: the seed's four verification scenarios over \
HTTP, a generated load, the invariant checks and a report; it exits non-zero if a scenario \
or an invariant fails.\n\n\
The store is in memory unless DATABASE_URL (or DB_HOST and the other DB_* variables) is \
set, in the environment or in a .env file; then it is MySQL/MariaDB, and the database is \
created, migrated and seeded as needed (a database made by someone else, such as the \
original system's, is left alone: see `sim migrate`).",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: run::RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// The main job (the default): scenarios, load, invariants, report.
    Run(run::RunArgs),
    /// Serve the API and run all workers until Ctrl-C or SIGTERM, then stop
    /// taking orders (503) and drain every accepted one before exiting; a
    /// second Ctrl-C stops at once, saying what was left.
    Serve(ServeArgs),
    /// Print the inventory and the most recent orders.
    Check(check::CheckArgs),
    /// Apply orderflow's migrations to the configured database: bring one
    /// created by the original system to this schema in place, keeping
    /// every row (back it up first), or apply what is pending.
    Migrate(migrate::MigrateArgs),
    /// List or redrive the dead-letter queues of a running `sim serve`.
    Dlq(dlq::DlqArgs),
    /// Show the deployed shape (deploy/settings.json) and whether its
    /// functions' database connections fit the instance's limit.
    Deployment(deployment::DeploymentArgs),
    /// Show the model of AWS that `--topology lambda` runs under
    /// (deploy/model.json): each constant, its range and its source.
    Model(model::ModelArgs),
    /// Measure the processor against MySQL beside reference points (autocommit
    /// UPDATEs, the bare SQL of batched transactions) in the same run.
    Bench(bench::BenchArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Faults to inject while serving, as for `sim run --faults` (e.g. `all`,
    /// or `publish-failure=0.2,kill-connection`), to watch the pipeline
    /// cope: see /metrics and /api/dlq.
    #[arg(long, default_value = "none", value_parser = |s: &str| s.parse::<FaultPlan>())]
    faults: FaultPlan,
    /// Seed of the fault decisions.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also stock the products the sim's load uses (sim-hot-1, sim-hot-2,
    /// sim-item-01 to sim-item-20), for `loadtest --hot-product sim-hot-1`.
    #[arg(long)]
    load_products: bool,
    /// Set the stock of every product this serve stocks (the seed's five,
    /// and the load's with --load-products) to QTY at start, e.g. 1000000
    /// for a long benchmark that should not sell out.
    #[arg(long, value_name = "QTY", value_parser = clap::value_parser!(i64).range(0..=1_000_000_000))]
    stock: Option<i64>,
    /// Milliseconds added to every round trip to the database (MySQL only),
    /// by a proxy on loopback: what a network between the engine and the
    /// database costs. 0 connects directly. Default: 0; with `--topology
    /// lambda`, each zone's round trip from the model (given, it replaces
    /// both).
    #[arg(long, value_name = "MS")]
    db_rtt_ms: Option<f64>,
    #[command(flatten)]
    shape: lambda::ShapeArgs,
    #[command(flatten)]
    config: Config,
}

// The pipeline allocates for every request, event and row; mimalloc makes
// that cheaper than glibc's allocator (BENCHMARKS.md has the A/B run).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `.env` fills in what the environment does not set; a missing file is fine.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    chaos::quiet_injected_crashes();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sim: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The processor and notifier loops get a thread of their own.
    let workers = match engine::app::worker_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sim: cannot start the workers' runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _ = WORKERS.set(workers.handle().clone());
    runtime.block_on(async {
        match cli.command {
            Some(Command::Serve(args)) => serve(args).await,
            Some(Command::Check(args)) => check::check(args).await,
            Some(Command::Migrate(args)) => migrate::migrate(args).await,
            Some(Command::Dlq(args)) => dlq::dlq(args).await,
            Some(Command::Deployment(args)) => deployment::deployment(args),
            Some(Command::Model(args)) => model::model(args),
            Some(Command::Bench(args)) => bench::bench(args).await,
            Some(Command::Run(args)) => run::run(args).await,
            None => run::run(cli.run).await,
        }
    })
}

/// The workers' runtime, which `main` keeps running.
static WORKERS: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();

/// The hooks every pipeline the sim starts shares: the workers on their
/// own runtime.
fn hooks() -> Hooks {
    Hooks {
        workers: WORKERS.get().cloned(),
        ..Hooks::default()
    }
}

fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Logs go to stderr, so a report on stdout stays clean; colour only on a
    // terminal.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

async fn serve(mut args: ServeArgs) -> ExitCode {
    init_tracing("info,sqlx=warn");
    let faults = Faults::new(args.faults.clone(), args.seed);
    if !args.faults.is_empty() {
        args.config.visibility_timeout_secs = args.config.visibility_timeout_secs.min(2);
    }
    let started = async {
        if args.shape.is_lambda() && !args.faults.is_empty() {
            anyhow::bail!("--faults runs with --topology local only");
        }
        let settings = args.shape.prepare(&mut args.config)?;
        // The deployed shape's functions reach the database through their
        // own proxies (see `lambda::rds`); the server's own reads go direct.
        let direct = match settings {
            Some(_) => 0.0,
            None => args.db_rtt_ms.unwrap_or(0.0),
        };
        let (store, proxy) = open_store_over(&args.config, direct).await?;
        let mut shape = args
            .shape
            .open(settings, args.seed, &args.config, &store, args.db_rtt_ms)
            .await?;
        let harness = Arc::new(Harness::new(faults.clone()));
        let hooks = Hooks {
            wrap: match &shape {
                Some(shape) => shape.wrap(harness),
                None => harness,
            },
            loops: shape.is_none(),
            front: shape.as_ref().map(|s| s.gateway.front()),
            ..hooks()
        };
        let app = App::start_with_store(store.as_dyn(), &args.config, args.addr, hooks).await?;
        if let Some(shape) = &mut shape {
            let notifier = Arc::new(engine::notifier::LogNotifier);
            shape.attach(&app, notifier, args.shape.time_scale)?;
        }
        Ok::<_, anyhow::Error>((store, app, proxy, shape))
    };
    let (store, app, _proxy, shape) = match started.await {
        Ok(started) => started,
        Err(e) => {
            eprintln!("sim serve: {}", engine::report::error_chain(e.as_ref()));
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = stock_products(&*store.admin(), args.load_products, args.stock).await {
        eprintln!("sim serve: cannot stock the products: {e}");
        app.stop().await;
        return ExitCode::FAILURE;
    }
    let (stop_killer, killer_stop) = tokio::sync::watch::channel(false);
    let label = match &store {
        OpenedStore::MySql(s) => {
            chaos::spawn_connection_killer(s.clone(), faults.clone(), killer_stop);
            "MySQL"
        }
        OpenedStore::Memory(_) => "in-memory",
    };
    let mut signals = Signals::new();
    let base = app.base_url();
    println!("orderflow listening on {base} ({label} store); Ctrl-C stops");
    warn_of_queues_without_dlq(&app);
    if !args.faults.is_empty() {
        println!(
            "  injecting faults (seed {}): watch {base}/metrics and {base}/api/dlq",
            args.seed
        );
    }
    println!("  curl -X POST {base}/api/orders -H 'Content-Type: application/json' \\");
    println!(
        r#"    -d '{{"customer_id": "test_user_001", "items": [{{"product_id": "prod-101", "quantity": 1}}]}}'"#
    );
    if let Some(shape) = &shape {
        println!(
            "  deployed shape: {} (stage throttle {} requests/s, burst {}) under the {}",
            args.shape
                .settings
                .as_ref()
                .map_or("deploy/settings.json as shipped".into(), |p| p
                    .display()
                    .to_string()),
            shape.settings.stage_throttle.rate,
            shape.settings.stage_throttle.burst,
            shape.model.describe()
        );
    }
    signals.next().await;
    let _ = stop_killer.send(true);
    let status = graceful_stop(app, &mut signals).await;
    if let Some(shape) = shape {
        shape.stop().await;
        lambda::report::print(&shape, &[], None);
    }
    status
}

/// The graceful stop after a first Ctrl-C or SIGTERM: no new orders (503),
/// every accepted order drained through the processor and the notifier, a
/// progress line each second; a second signal stops at once, says what was
/// left, and exits non-zero.
async fn graceful_stop(app: App, signals: &mut Signals) -> ExitCode {
    let in_process = app.queues.channel.is_some();
    if in_process {
        println!(
            "stopping: new orders are refused (503); draining the accepted ones \
             (Ctrl-C again stops at once, losing what is left)"
        );
    } else {
        println!("stopping: new orders are refused (503); finishing the batches in hand");
    }
    let progress = |b: engine::app::Backlog| {
        println!(
            "  draining: {} accepted orders to process, {} notifications to send",
            b.orders, b.notifications
        );
    };
    match app.shutdown(progress, signals.next()).await {
        Stopped::Drained => {
            println!("stopped: every accepted order was processed and notified");
            ExitCode::SUCCESS
        }
        Stopped::LeftInQueues(b) => {
            println!(
                "stopped: {} orders and {} notifications wait in the SQS queues for the next consumer",
                b.orders, b.notifications
            );
            ExitCode::SUCCESS
        }
        Stopped::Abandoned(b) => {
            eprintln!(
                "stopped at once: {} accepted orders were left unprocessed and {} notifications unsent{}",
                b.orders,
                b.notifications,
                if in_process {
                    "; they were in the in-process queues and are lost"
                } else {
                    "; they stay in the SQS queues"
                }
            );
            ExitCode::FAILURE
        }
    }
}

/// Opens the configured store; with `rtt_ms` above 0, through a
/// [`netem::LatencyProxy`] that adds that much to every round trip (the
/// proxy lives as long as the answer is kept).
async fn open_store_over(
    config: &engine::config::Config,
    rtt_ms: f64,
) -> anyhow::Result<(OpenedStore, Option<netem::LatencyProxy>)> {
    let options = config.mysql().map_err(anyhow::Error::msg)?;
    let (Some(options), true) = (&options, rtt_ms > 0.0) else {
        if rtt_ms > 0.0 {
            anyhow::bail!("--db-rtt-ms needs a MySQL store: set DATABASE_URL (or DB_HOST)");
        }
        return Ok((engine::app::open_store_with(options, config).await?, None));
    };
    let (proxy, through) =
        netem::in_front_of(options, Duration::from_secs_f64(rtt_ms / 1000.0)).await?;
    println!(
        "  database round trip: +{rtt_ms} ms, through a proxy at {} to {}:{}",
        proxy.addr,
        options.get_host(),
        options.get_port()
    );
    let store = engine::app::open_store_with(Some(through), config).await?;
    Ok((store, Some(proxy)))
}

/// A subcommand's exit: 0, or 1 with the error and its causes on one line
/// after `command`.
fn exit_status(command: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{command}: {}", engine::report::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// Says, for each queue without a DLQ, what that means for a poison message.
fn warn_of_queues_without_dlq(app: &App) {
    for name in app.queues.without_dlq() {
        println!(
            "  warning: the {name} queue has no dead-letter queue (no redrive policy): {}",
            engine::queues::NO_DLQ
        );
    }
}

/// Upserts the products `--load-products` and `--stock` ask for.
async fn stock_products(
    store: &dyn engine::store::StoreAdmin,
    load_products: bool,
    stock: Option<i64>,
) -> Result<(), engine::store::StoreError> {
    let mut products = Vec::new();
    if stock.is_some() {
        products.extend(engine::domain::seed_products());
    }
    if load_products {
        products.extend(load::products());
    }
    if let Some(qty) = stock {
        for p in &mut products {
            p.quantity_available = qty;
        }
    }
    if products.is_empty() {
        return Ok(());
    }
    store.upsert_products(&products).await
}

/// Ctrl-C and SIGTERM, each delivery seen once, in order: the streams are
/// registered once, so a second signal is not missed while the first is
/// being handled.
struct Signals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                streams: signal(SignalKind::interrupt())
                    .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                    .ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next Ctrl-C or SIGTERM.
    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.streams {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
