//! The main job: start the pipeline, run the scenarios and the load (with
//! faults, if asked), wait for the queues to drain, check the invariants,
//! print the report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Args;
use engine::app::{App, Stopped};
use engine::config::{Config, QueueKind};
use engine::dlq;
use engine::domain::{seed_products, OrderRecord, ProductId};
use engine::events::now_millis;
use engine::harness::faults::{FaultPlan, Faults};
use engine::harness::Harness;
use engine::store::OpenedStore;

use crate::chaos;
use crate::gather::{self, CountingNotifier, RunRecord};
use crate::invariants::{self, Check};
use crate::lambda::bill::BillError;
use crate::lambda::{self, Shape};
use crate::load::{self, Sent};
use crate::pipeline::{Pipeline, Start};
use crate::report::bill::Summary;
use crate::report::outcome::Outcome;
use crate::report::shape::DlqCauses;
use crate::report::{self, html, Report, RunReport};
use crate::scenarios;
use crate::timeline;
use orderflow_client::Client;

#[derive(Args, Clone)]
pub struct RunArgs {
    /// Requests in the generated load (orders, duplicates and invalid ones).
    #[arg(long, default_value_t = 5000)]
    pub orders: usize,
    /// Seconds the load is spread over, shaped as a flash sale (a quiet
    /// start, a surge to about 8 times the quiet rate, a tail), so the
    /// report shows the surge and the hot products selling out. 0 sends as
    /// fast as the server answers.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub duration: f64,
    /// Seed of the generated load and of the fault decisions; a run prints
    /// its seed, and the same seed replays the same workload and faults.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Seconds to wait for the queues to drain after the load.
    #[arg(long, default_value_t = 120)]
    pub drain_timeout: u64,
    /// Faults to inject: `none`, `all`, or a comma-separated list of
    /// `kind[=rate]` among duplicate-delivery, crash-before-commit,
    /// crash-after-commit, publish-failure, visibility-expiry,
    /// poison-message, kill-connection (MySQL only). With faults on, the
    /// visibility timeout is capped at 2 s so crashed batches return quickly.
    #[arg(long, default_value = "none", value_parser = |s: &str| s.parse::<FaultPlan>())]
    pub faults: FaultPlan,
    /// Milliseconds added to every round trip to the database (MySQL only),
    /// by a proxy on loopback: what a network between the engine and the
    /// database costs. 0 connects directly. Default: 0; with `--topology
    /// lambda`, each zone's round trip from the model (given, it replaces
    /// both).
    #[arg(long, value_name = "MS")]
    pub db_rtt_ms: Option<f64>,
    /// The load's shape over `--duration`: `flash-sale` (a quiet start, a
    /// ramp to a peak of about 8 times the quiet rate on the hot products,
    /// a tail) or `even` (the same rate throughout).
    #[arg(long, value_enum, default_value = "flash-sale")]
    pub profile: load::Profile,
    #[command(flatten)]
    pub shape: lambda::ShapeArgs,
    /// Stop the database server for this many seconds while the load runs
    /// (MySQL only), then start it again: the pool reconnects and the work
    /// resumes without a restart of the sim. Stops and starts your server!
    #[arg(long, value_name = "SECS")]
    pub db_outage: Option<u64>,
    /// Shell command that stops the database server, for --db-outage.
    #[arg(long, default_value = chaos::DEFAULT_DB_STOP)]
    pub db_stop_cmd: String,
    /// Shell command that starts the database server, for --db-outage.
    #[arg(long, default_value = chaos::DEFAULT_DB_START)]
    pub db_start_cmd: String,
    /// Where to write the report as a self-contained HTML page (charts of
    /// throughput, latency, queue depths and hot stock over time, and the
    /// verdicts).
    #[arg(long, value_name = "PATH", default_value = "reports/sim-report.html")]
    pub html: PathBuf,
    /// Do not write the HTML report.
    #[arg(long)]
    pub no_html: bool,
    /// Also write the run's outcome as JSON to this file: the verdict,
    /// refused customers, p99 accept-to-processed, the DLQs, the deployed
    /// shape's throttles and connections, the bill (what `sim plan` reads).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub config: Config,
}

pub async fn run(args: RunArgs) -> ExitCode {
    // The engine's own logs stay quiet: the report counts what they would
    // say, and in the deployed shape the bill counts their bytes.
    let quiet = "warn,engine=off,sqlx=off";
    match args.shape.is_lambda() {
        true => crate::console::init_tracing_counting_function_logs(quiet),
        false => crate::console::init_tracing(quiet),
    }
    match run_inner(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("sim: {}", engine::report::error_chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

/// The main job, phase by phase: start the pipeline, run the scenarios,
/// send the load and drain, then check and report.
async fn run_inner(mut args: RunArgs) -> anyhow::Result<bool> {
    let run = Started::start(&mut args).await?;
    let (scenarios, scenario_ids) = run.scenarios().await?;
    let load = run.load(&args).await?;
    run.conclude(&args, scenarios, &scenario_ids, load).await
}

/// A started run: its seed, the pipeline, and what it was started with.
struct Started {
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
struct Loaded {
    sent: Vec<Sent>,
    send_time: Duration,
    drain_time: Duration,
    drained: bool,
    load_start: DateTime<Utc>,
    samples: Vec<timeline::Sample>,
    shape_samples: Vec<lambda::ShapeSample>,
}

impl Started {
    /// Opens the store, starts the pipeline with the run's faults and
    /// bookkeeping, and stocks the products from known levels.
    async fn start(args: &mut RunArgs) -> anyhow::Result<Started> {
        let seed = args.seed.unwrap_or_else(|| {
            u64::from(now_millis().timestamp_subsec_nanos()) ^ u64::from(std::process::id())
        });
        let faults = Faults::new(args.faults.clone(), seed);
        let notifier = Arc::new(CountingNotifier::default());
        let mysql = args.config.mysql()?;
        let mut store_label = String::new();
        let pipeline = Pipeline::start(
            Start {
                shape: &args.shape,
                config: &mut args.config,
                faults: faults.clone(),
                db_outage: args.db_outage.is_some(),
                seed,
                db_rtt_ms: args.db_rtt_ms,
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

    /// The seed's four scenarios; answers their verdicts and the ids of the
    /// orders they placed.
    async fn scenarios(&self) -> anyhow::Result<(Vec<Check>, Vec<String>)> {
        println!(
            "\nscenarios (the seed's verification tests, over HTTP at {}):",
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
        let due = (args.duration > 0.0).then(|| {
            args.profile
                .due(args.orders, Duration::from_secs_f64(args.duration))
        });
        match due {
            Some(_) => println!(
                "\nload: {} requests over {} s shaped as {}, up to {} in flight",
                args.orders,
                args.duration,
                args.profile.describe(),
                args.concurrency
            ),
            None => println!(
                "\nload: {} requests as fast as answered, {} in flight",
                args.orders, args.concurrency
            ),
        }
        let (stop_killer, killer_stop) = tokio::sync::watch::channel(false);
        let killer = match &self.store {
            OpenedStore::MySql(s) => Some(chaos::spawn_connection_killer(
                s.clone(),
                self.faults.clone(),
                killer_stop,
            )),
            OpenedStore::Memory(_) => None,
        };
        let planned = load::plan(args.orders, self.seed, &self.tag);
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
        let ((sent, send_time), outage) = tokio::join!(
            load::send(&self.client, planned, due, args.concurrency),
            self.outage(args)
        );
        outage?;
        let drained = self
            .app
            .wait_drained(Duration::from_secs(args.drain_timeout))
            .await;
        let drain_time = load_started.elapsed();
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
            sent,
            send_time,
            drain_time,
            drained,
            load_start,
            samples: sampler.finish().await,
            shape_samples: match shape_sampler {
                Some(s) => s.finish().await,
                None => Vec::new(),
            },
        })
    }

    /// The database outage `--db-outage` asks for, if any.
    async fn outage(&self, args: &RunArgs) -> anyhow::Result<Option<Duration>> {
        match (args.db_outage, &self.store) {
            (Some(secs), OpenedStore::MySql(_)) => chaos::db_outage(
                &*self.app.store,
                &args.db_stop_cmd,
                &args.db_start_cmd,
                secs,
            )
            .await
            .map(Some),
            (Some(_), OpenedStore::Memory(_)) => {
                Err(anyhow::anyhow!("--db-outage needs a MySQL store"))
            }
            (None, _) => Ok(None),
        }
    }

    /// Gathers the facts, checks the invariants, prints the report and
    /// writes its page, stops the pipeline, and answers whether the run
    /// passed.
    async fn conclude(
        self,
        args: &RunArgs,
        scenarios: Vec<Check>,
        scenario_ids: &[String],
        load: Loaded,
    ) -> anyhow::Result<bool> {
        let order_dlq = peek_all(self.app.queues.order_dlq.as_ref()).await?;
        let processed_dlq = peek_all(self.app.queues.processed_dlq.as_ref()).await?;
        let record = RunRecord {
            initial: &self.initial,
            run_start: self.run_start,
            sent: &load.sent,
            scenario_ids,
            scenario_accepts: 3,
            scenario_refusals: 1,
            faults: &self.faults,
            db_outage: args.db_outage.is_some(),
            order_dlq: &order_dlq,
            processed_dlq: &processed_dlq,
        };
        let admin = self.store.admin();
        let facts = gather::gather(&*admin, &self.harness, &self.notifier, record).await?;
        let checks = invariants::check(&facts);
        let (causes, bill) = self.shape_report(&load).await?;
        let whole = RunReport {
            main: Report {
                sent: &load.sent,
                send_time: load.send_time,
                drain_time: load.drain_time,
                finished: &facts.finished,
                dead_lettered: order_dlq.len(),
                processed_dlq: processed_dlq.len(),
                metrics: &self.app.metrics,
                hot: load::HOT.iter().map(|(p, _)| p.to_string()).collect(),
                inventory: &facts.inventory,
                initial: &self.initial,
            },
            shape: self
                .shape
                .as_ref()
                .map(|shape| (&**shape, load.shape_samples.as_slice(), causes.as_ref())),
            faults: &self.faults,
            undecodable: gather::undecodable_in(&order_dlq),
            mysql: matches!(self.store, OpenedStore::MySql(_)),
            invariants: &checks,
            bill: bill.as_ref(),
        };
        whole.print();
        if !args.no_html {
            let bill = bill.as_ref().and_then(|b| b.as_ref().ok());
            self.write_page(args, (&load, bill), &facts.finished, &scenarios, &checks);
        }
        let outcome = args.json.is_some().then(|| {
            let dlqs = (order_dlq.len(), processed_dlq.len());
            let bill = bill.as_ref().and_then(|b| b.as_ref().ok());
            self.outcome((&load, &facts.finished), dlqs, bill)
        });
        // The queues drained above (or the run failed for it); the graceful
        // stop drains once more, for as long as a drain may take.
        let limit = tokio::time::sleep(Duration::from_secs(args.drain_timeout));
        if let Stopped::Abandoned(left) = self.app.shutdown(|_| {}, limit).await {
            println!(
                "  stopped with {} orders unprocessed and {} notifications unsent",
                left.orders, left.notifications
            );
        }
        if let Some(shape) = &self.shape {
            shape.stop().await;
        }
        let unexpected = report::unexpected_answers(&load.sent);
        let passed = report::verdict(&scenarios, &checks, load.drained, unexpected);
        if let (Some(path), Some(mut outcome)) = (&args.json, outcome) {
            outcome.passed = passed;
            outcome
                .write(path)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(passed)
    }

    /// The run's outcome, for `--json`.
    fn outcome(
        &self,
        (load, finished): (&Loaded, &[OrderRecord]),
        (order_dlq, processed_dlq): (usize, usize),
        bill: Option<&Summary>,
    ) -> Outcome {
        let latencies = orderflow_client::Latencies::of(
            finished.iter().map(|o| (o.created_at, o.processed_at)),
        );
        let counted = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let mut outcome = Outcome {
            seed: self.seed,
            accepted: load.sent.iter().filter(|s| s.status == 202).count() as u64,
            refused: report::unexpected_answers(&load.sent),
            p50_ms: latencies.percentile(0.50),
            p99_ms: latencies.percentile(0.99),
            order_dlq,
            processed_dlq,
            drained: load.drained,
            bill: bill.map(report::outcome::Bill::of),
            ..Outcome::default()
        };
        if let Some(shape) = &self.shape {
            outcome.throttled_429 = counted(&shape.gateway.throttled);
            outcome.answered_500 = counted(&shape.gateway.refused);
            outcome.connections_refused = counted(&shape.rds.connections.refused);
            outcome.connections_peak = load
                .shape_samples
                .iter()
                .map(|s| s.connections)
                .max()
                .unwrap_or(0);
        }
        outcome
    }

    /// With the deployed shape: what its DLQs hold by cause, and its bill.
    async fn shape_report(
        &self,
        load: &Loaded,
    ) -> anyhow::Result<(Option<DlqCauses>, Option<Result<Summary, BillError>>)> {
        let Some(shape) = &self.shape else {
            return Ok((None, None));
        };
        let accepted = load.sent.iter().filter(|s| s.status == 202).count() as u64;
        let bill = report::bill::summary(shape, accepted);
        Ok((Some(dlq_causes(&self.app).await?), Some(bill)))
    }

    /// The report as one HTML page, at `--html`.
    fn write_page(
        &self,
        args: &RunArgs,
        (load, bill): (&Loaded, Option<&report::bill::Summary>),
        finished: &[OrderRecord],
        scenarios: &[Check],
        checks: &[Check],
    ) {
        let hot: Vec<String> = hot_products()
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        let page = html::Page {
            title: format!("orderflow sim, seed {}", self.seed),
            seed: self.seed,
            store: &self.store_label,
            queue: match (args.config.queue, &self.shape) {
                (_, Some(_)) => {
                    "in-process channels behind emulated SQS event source mappings, invoking the \
                     Lambda handlers (--topology lambda)"
                }
                (QueueKind::Channel, None) => "in-process channels",
                (QueueKind::Sqs, None) => "SQS",
            },
            faults: &self.faults,
            sent: &load.sent,
            send_secs: load.send_time.as_secs_f64(),
            drain_secs: load.drain_time.as_secs_f64(),
            load_start: load.load_start,
            finished,
            samples: &load.samples,
            hot: &hot,
            scenarios,
            invariants: checks,
            shape: &load.shape_samples,
            bill,
        };
        match html::write(&args.html, &page) {
            Ok(()) => println!("\nreport: {} (open it in a browser)", args.html.display()),
            Err(e) => println!("\nreport: could not write the HTML page: {e:#}"),
        }
    }
}

/// What the DLQs hold, by the last error of each message.
async fn dlq_causes(app: &App) -> anyhow::Result<DlqCauses> {
    let mut why = DlqCauses::new();
    for q in app.queues.dead_letters() {
        for l in dlq::list(&q, &app.failures, usize::MAX).await? {
            let cause = l.last_error.unwrap_or_else(|| "unknown".into());
            *why.entry(format!("{}: {cause}", q.name)).or_default() += 1;
        }
    }
    Ok(why)
}

/// The load's hot products, whose stock the report follows.
fn hot_products() -> Vec<ProductId> {
    load::products()
        .into_iter()
        .map(|p| p.product_id)
        .filter(|p| load::HOT.iter().any(|(h, _)| *h == p.as_str()))
        .collect()
}

/// Every message in a DLQ (none where there is no DLQ).
async fn peek_all(
    dlq: Option<&Arc<dyn engine::queue::QueueBackend>>,
) -> anyhow::Result<Vec<engine::queue::Message>> {
    match dlq {
        Some(q) => Ok(q.peek(usize::MAX).await?),
        None => Ok(Vec::new()),
    }
}

/// After a faulty run: stops the faults (the outage is over), prints what
/// the DLQs hold and why, redrives them, and waits for the queues to drain
/// again. Poison goes back to the DLQ; everything else is processed once.
async fn redrive(app: &App, faults: &Faults, args: &RunArgs) -> anyhow::Result<()> {
    faults.stop();
    println!("  after the load (faults, if any, stopped):");
    let mut moved = 0;
    for q in app.queues.dead_letters() {
        let letters = dlq::list(&q, &app.failures, usize::MAX).await?;
        if letters.is_empty() {
            continue;
        }
        let mut why: BTreeMap<String, usize> = BTreeMap::new();
        for l in &letters {
            *why.entry(l.last_error.clone().unwrap_or_else(|| "unknown".into()))
                .or_default() += 1;
        }
        println!(
            "    {} DLQ: {} messages; last errors:",
            q.name,
            letters.len()
        );
        for (error, n) in why {
            println!("      {n:>5}  {error}");
        }
        let n = dlq::redrive(&q, usize::MAX).await?;
        moved += n;
    }
    if moved > 0 {
        println!("    redrove {moved} dead letters to their queues");
        if !app
            .wait_drained(Duration::from_secs(args.drain_timeout))
            .await
        {
            anyhow::bail!("queues did not drain after the redrive");
        }
    }
    Ok(())
}
