//! `sim serve`: the API for curl, Goose or any client, until Ctrl-C or
//! SIGTERM, then a graceful stop that keeps every accepted order.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use engine::app::{App, Stopped};
use engine::harness::faults::Faults;
use engine::store::OpenedStore;

use crate::console::init_tracing;
use crate::pipeline::{warn_of_queues_without_dlq, Pipeline, PipelineArgs, Start};
use crate::{chaos, load};

#[derive(Args)]
#[command(
    after_help = super::help::short("serve"),
    after_long_help = super::help::long("serve", "")
)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Seed of the fault decisions.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also stock the products the sim's load uses (sim-hot-1, sim-hot-2,
    /// sim-item-01 to sim-item-20), for `loadtest --hot-product sim-hot-1`.
    #[arg(long)]
    load_products: bool,
    /// Set the stock of every product this serve stocks (the original
    /// system's five, prod-101 to prod-105, and the load's with --load-products) to QTY at start, e.g. 1000000
    /// for a long benchmark that should not sell out.
    #[arg(long, value_name = "QTY", value_parser = clap::value_parser!(i64).range(0..=1_000_000_000))]
    stock: Option<i64>,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

pub async fn serve(mut args: ServeArgs) -> ExitCode {
    init_tracing("info,sqlx=warn");
    let faults = Faults::new(args.pipeline.faults.clone(), args.seed);
    let started = Pipeline::start(
        Start {
            args: &mut args.pipeline,
            faults: faults.clone(),
            db_outage: false,
            seed: args.seed,
            addr: args.addr,
            notifier: Arc::new(engine::notifier::LogNotifier),
        },
        |_| {},
    )
    .await;
    let Pipeline {
        store, app, shape, ..
    } = match started {
        Ok(started) => started,
        Err(e) => {
            eprintln!("sim serve: {}", engine::report::error_chain(e.as_ref()));
            return ExitCode::from(2);
        }
    };
    if let Err(e) = stock_products(&*store.admin(), args.load_products, args.stock).await {
        eprintln!("sim serve: cannot stock the products: {e}");
        app.stop().await;
        return ExitCode::from(2);
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
    if !args.pipeline.faults.is_empty() {
        println!(
            "  injecting faults (seed {}): watch {base}/metrics and {base}/api/dlq",
            args.seed
        );
    }
    println!("  curl -X POST {base}/api/orders -H 'Content-Type: application/json' \\");
    println!(
        r#"    -d '{{"customer_id": "test_user_001", "items": [{{"product_id": "prod-101", "quantity": 1}}]}}'"#
    );
    #[cfg(feature = "aws")]
    if let Some(shape) = &shape {
        println!(
            "  deployed shape: {} (stage throttle {} requests/s, burst {}) under the {}",
            args.pipeline
                .shape
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
        #[cfg(feature = "aws")]
        crate::report::shape::print(&crate::report::shape::ShapeReport::of(&shape, &[], None));
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
