//! The main job: start the pipeline, run the scenarios and the load (with
//! faults, if asked), wait for the queues to drain, check the invariants,
//! print the report.

mod conclude;
mod incidents;

use conclude::hot_products;
use incidents::{redrive, resolve_outage};

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Args;
use engine::app::App;
use engine::dlq;
use engine::domain::{seed_products, ProductId};
use engine::events::now_millis;
use engine::harness::faults::Faults;
use engine::harness::Harness;
use engine::store::OpenedStore;

use crate::aws::{self, Shape};
use crate::chaos;
use crate::gather::CountingNotifier;
use crate::invariants::{self, Check};
use crate::load::{self, send, SaleArgs, Sends};
use crate::pipeline::{Pipeline, PipelineArgs, Start};
use crate::report::result::RunResult;
use crate::scenarios;
use crate::timeline;
use orderflow_client::Client;

/// What `sim run --help` says about targets, before its examples.
const TARGETS: &str = "\
Targets (--target, repeatable; the run fails if any is missed):
  METRIC<VALUE, <=, >, >= or ==, with the metric's unit: 'p99_accept_to_processed<2s',
  'first_try_5xx<0.1%', 'refused==0', 'dlq==0', 'offered>=95%'. Without --target, a
  --topology lambda run is held to the sale's defaults:
    p99_accept_to_processed<2s first_try_5xx<0.1% first_try_429<1% read_first_try_5xx<1%
    refused==0 dlq==0 connections_refused==0 offered>=95%
  and a local run to its checks alone. Every metric, its unit and meaning: the book's
  Load testing chapter, \"Targets\".";

#[derive(Args, Clone)]
#[command(
    after_help = super::help::short("run"),
    after_long_help = super::help::long("run", TARGETS)
)]
pub struct RunArgs {
    #[command(flatten)]
    pub sale: SaleArgs,
    /// Seed of the generated load and of the fault decisions; a run prints
    /// its seed, and the same seed replays the same workload and faults.
    #[arg(long, help_heading = "Load")]
    pub seed: Option<u64>,
    /// With --duration 0: requests in flight at once.
    #[arg(long, default_value_t = 32, help_heading = "Load")]
    pub concurrency: usize,
    /// Seconds to wait for the queues to drain after the load.
    #[arg(long, default_value_t = 120, help_heading = "Load")]
    pub drain_timeout: u64,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// A database outage of this many seconds while the load runs (MySQL
    /// only). In the local topology the server is stopped and started again
    /// (stops and starts your server!): the pool reconnects and the work
    /// resumes without a restart of the sim. With `--topology lambda` the
    /// functions' path to the database is cut instead (a failover: open
    /// connections dropped, new ones refused), and your server keeps
    /// running.
    #[arg(long, value_name = "SECS", help_heading = "Faults")]
    pub db_outage: Option<u64>,
    /// Seconds after the load starts that --db-outage begins.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 0.0,
        help_heading = "Faults"
    )]
    pub db_outage_at: f64,
    /// A Multi-AZ failover in the sale (`--topology lambda`): the database
    /// unreachable for the model's `rds_failover_secs` (60-120 s, the RDS
    /// User Guide) from --db-outage-at (default here: 5 s), every open
    /// connection dropped; with --multi-az. In the deployed shape an outage
    /// cuts the functions' network path to the database (your server keeps
    /// running); in the local topology --db-outage stops the server.
    #[arg(long, help_heading = "Faults")]
    pub failover: bool,
    /// A code update this many seconds after the load starts
    /// (`--topology lambda`): every function's warm environments replaced,
    /// and each event source mapping above its `maximumConcurrency` for a
    /// while (the model's `esm_deploy_overshoot`, as measured on AWS): a
    /// function reserved at the cap throttles the excess.
    #[arg(long, value_name = "SECS", help_heading = "Faults")]
    pub deploy_at: Option<f64>,
    /// Shell command that stops the database server, for --db-outage.
    #[arg(long, default_value = chaos::DEFAULT_DB_STOP, help_heading = "Faults")]
    pub db_stop_cmd: String,
    /// Shell command that starts the database server, for --db-outage.
    #[arg(long, default_value = chaos::DEFAULT_DB_START, help_heading = "Faults")]
    pub db_start_cmd: String,
    /// Where to write the report as a self-contained HTML page (charts of
    /// throughput, latency, queue depths and hot stock over time, what the
    /// customers saw, the targets and verdicts).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "reports/sim-report.html",
        help_heading = "Output"
    )]
    pub html: PathBuf,
    /// Do not write the HTML report.
    #[arg(long, help_heading = "Output")]
    pub no_html: bool,
    /// Also write the run's result as JSON (schema results.schema.json) to
    /// this file, or to standard output for `-` (the text report then goes
    /// to standard error): the setup, every metric, each target's and
    /// check's verdict, the bill. `sim compare` and `sim plan` read it.
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub json: Option<PathBuf>,
    /// Also write a Markdown summary of the result to this file (for a CI
    /// job's page, e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub summary: Option<PathBuf>,
    /// With --topology lambda: also write what CloudWatch would have held,
    /// had the run been on AWS, as an observed file (`sim collect`'s
    /// format), for `sim calibrate` and `sim compare --observed`.
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub observed: Option<PathBuf>,
    /// Print only the verdict (each check failed, each target missed, the
    /// result line) and errors: no report, no progress bar. The files asked
    /// for (--html, --json, --summary) are still written.
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,
}

pub async fn run(args: RunArgs) -> ExitCode {
    // The engine's own logs stay quiet: the report counts what they would
    // say, and in the deployed shape the bill counts their bytes.
    let quiet = "warn,engine=off,sqlx=off";
    match args.pipeline.shape.is_lambda() {
        true => crate::console::init_tracing_counting_function_logs(quiet),
        false => crate::console::init_tracing(quiet),
    }
    let json_to_stdout = match crate::console::keep_stdout_for(args.json.as_deref()) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("sim: cannot keep standard output for the JSON: {e}");
            return ExitCode::from(2);
        }
    };
    let mut verdict_to = match args.quiet.then(crate::console::silence_stdout).transpose() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("sim: cannot keep standard output for the verdict: {e}");
            return ExitCode::from(2);
        }
    };
    let (json, summary) = (args.json.clone(), args.summary.clone());
    let written = match run_inner(args).await {
        Ok(result) => {
            if let Some(out) = &mut verdict_to {
                let _ = out.write_all(crate::report::quiet_verdict(&result).as_bytes());
            }
            result
                .emit(json.as_deref(), json_to_stdout, summary.as_deref())
                .map(|()| result.exit_status())
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            eprintln!("sim: {}", engine::report::error_chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

/// The main job, phase by phase: start the pipeline, run the scenarios,
/// send the load and drain, then check and report.
async fn run_inner(mut args: RunArgs) -> anyhow::Result<RunResult> {
    let run = Started::start(&mut args).await?;
    let (scenarios, scenario_ids) = run.scenarios().await?;
    let load = run.load(&args).await?;
    run.conclude(&args, scenarios, &scenario_ids, load).await
}

/// A started run: its seed, the pipeline, and what it was started with.
pub(crate) struct Started {
    seed: u64,
    /// Makes this run's customer ids unique.
    tag: String,
    faults: Arc<Faults>,
    store: OpenedStore,
    store_label: String,
    notifier: Arc<CountingNotifier>,
    harness: Arc<Harness>,
    app: App,
    client: Client,
    /// Every product's stock when the run began.
    initial: BTreeMap<ProductId, i64>,
    run_start: DateTime<Utc>,
    /// The database's round-trip proxy, if any; kept as long as the run.
    _proxy: Option<crate::netem::LatencyProxy>,
    /// The deployed shape, with `--topology lambda`.
    shape: Option<Arc<Shape>>,
}

/// What the load did.
pub(crate) struct Loaded {
    pub sends: Sends,
    pub drain_time: Duration,
    pub drained: bool,
    pub load_start: DateTime<Utc>,
    // Read by the observed file alone, which only `aws` writes.
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    pub load_started: Instant,
    pub samples: Vec<timeline::Sample>,
    pub shape_samples: Vec<aws::ShapeSample>,
}

impl Started {
    /// Opens the store, starts the pipeline with the run's faults and
    /// bookkeeping, and stocks the products from known levels.
    async fn start(args: &mut RunArgs) -> anyhow::Result<Started> {
        let seed = args.seed.unwrap_or_else(|| {
            u64::from(now_millis().timestamp_subsec_nanos()) ^ u64::from(std::process::id())
        });
        resolve_outage(args)?;
        let faults = Faults::new(args.pipeline.faults.clone(), seed);
        let notifier = Arc::new(CountingNotifier::default());
        let mysql = args.pipeline.config.mysql()?;
        let mut store_label = String::new();
        let pipeline = Pipeline::start(
            Start {
                args: &mut args.pipeline,
                faults: faults.clone(),
                db_outage: args.db_outage.is_some(),
                seed,
                addr: ([127, 0, 0, 1], 0).into(),
                notifier: notifier.clone(),
            },
            |store| {
                store_label = match (store, &mysql) {
                    (OpenedStore::MySql(_), Some(o)) => format!(
                        "MySQL at {}:{}/{}",
                        o.get_host(),
                        o.get_port(),
                        o.get_database().unwrap_or("")
                    ),
                    _ => "in-memory (set DATABASE_URL to use MySQL)".to_owned(),
                };
                println!(
                    "orderflow sim: seed {seed} (replay with --seed {seed}), store {store_label}"
                );
            },
        )
        .await?;
        let Pipeline {
            store,
            app,
            harness,
            shape,
            proxy,
        } = pipeline;
        crate::pipeline::warn_of_queues_without_dlq(&app);

        // A run starts from known stock: the seed's products at their seed
        // levels, and the load's own products.
        let mut products = seed_products();
        products.extend(load::products());
        store.admin().upsert_products(&products).await?;
        let initial = app
            .store
            .inventory()
            .await?
            .into_iter()
            .map(|i| (i.product_id, i.quantity_available))
            .collect();
        let client = Client::new(app.base_url())?;
        Ok(Started {
            seed,
            tag: format!("{:x}", now_millis().timestamp_millis()),
            faults,
            store,
            store_label,
            notifier,
            harness,
            client,
            initial,
            run_start: now_millis(),
            _proxy: proxy,
            shape: shape.map(Arc::new),
            app,
        })
    }

    /// The original system's four scenarios; answers their verdicts and the ids of the
    /// orders they placed.
    async fn scenarios(&self) -> anyhow::Result<(Vec<Check>, Vec<String>)> {
        println!(
            "\nscenarios (the original system's verification tests, over HTTP at {}):",
            self.app.base_url()
        );
        let checks = scenarios::run_all(&self.app, &self.harness, &self.client, &self.tag).await;
        invariants::print(&checks);
        // The scenarios' orders have all finished: read their ids back.
        let ids = self
            .store
            .admin()
            .orders_processed_since(self.run_start)
            .await?
            .into_iter()
            .map(|o| o.order_id.to_string())
            .collect();
        Ok((checks, ids))
    }

    /// Sends the load (with the connection killer, the sampler and the
    /// database outage beside it, as asked), waits for the queues to drain,
    /// and redrives the DLQs after a faulty run.
    async fn load(&self, args: &RunArgs) -> anyhow::Result<Loaded> {
        let options = self.send_options(args);
        let (stop_killer, killer_stop) = tokio::sync::watch::channel(false);
        let killer = match &self.store {
            OpenedStore::MySql(s) => Some(chaos::spawn_connection_killer(
                s.clone(),
                self.faults.clone(),
                killer_stop,
            )),
            OpenedStore::Memory(_) => None,
        };
        let planned = load::plan(args.sale.orders(), self.seed, &self.tag);
        if let (Some(shape), Some(_)) = (&self.shape, &args.observed) {
            shape.record_invocations();
        }
        let load_started = Instant::now();
        let load_start = now_millis();
        let sampler = timeline::spawn(
            self.app.queues.clone(),
            self.app.store.clone(),
            hot_products(),
            load_started,
        );
        let shape_sampler = self
            .shape
            .as_ref()
            .map(|s| s.sampler(load_started, Duration::from_millis(250)));
        let (sends, outage, ()) = tokio::join!(
            send::send(&self.client, planned, options),
            self.outage(args),
            self.deploy(args)
        );
        outage?;
        let drained = self
            .app
            .wait_drained(Duration::from_secs(args.drain_timeout))
            .await;
        // From the sale's opening: the visitors who browse before it are
        // not its orders' time.
        let browsing = args
            .sale
            .profile
            .reads
            .browse_before
            .map_or(Duration::ZERO, |b| Duration::from_secs_f64(b.secs.max(0.0)));
        let drain_time = load_started.elapsed().saturating_sub(browsing);
        let _ = stop_killer.send(true);
        if let Some(k) = killer {
            let _ = k.await;
        }
        if !drained {
            println!("  queues did not drain within {} s", args.drain_timeout);
        }
        if !self.faults.plan().is_empty() {
            redrive(&self.app, &self.faults, args).await?;
        }
        Ok(Loaded {
            sends,
            drain_time,
            drained,
            load_start,
            load_started,
            samples: sampler.finish().await,
            shape_samples: match shape_sampler {
                Some(s) => s.finish().await,
                None => Vec::new(),
            },
        })
    }

    /// How the load is sent (open loop on the profile's schedule, or closed
    /// with `--duration 0`), said as it starts.
    fn send_options(&self, args: &RunArgs) -> send::Options {
        let sale = &args.sale;
        let due = sale.due();
        match due {
            Some(_) => println!(
                "\nload: {} requests over {} s, open loop (each sent when due, at most {} in flight): {}",
                sale.orders(),
                sale.duration(),
                sale.max_in_flight,
                sale.profile.describe()
            ),
            None => println!(
                "\nload: {} requests as fast as answered, {} in flight (closed loop)",
                sale.orders(),
                args.concurrency
            ),
        }
        sale.send_options(due, args.concurrency, self.seed)
    }
}
