//! The main job: start the pipeline, run the scenarios and the load, wait for
//! the queues to drain, check the invariants, print the report.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clap::Args;
use engine::app::App;
use engine::config::Config;
use engine::domain::seed_products;
use engine::events::{now_millis, OrderProcessed};
use engine::notifier::Notifier;

use crate::client::Client;
use crate::invariants::{self, Facts};
use crate::load::{self, Kind};
use crate::report::{self, Report};
use crate::scenarios;

#[derive(Args, Clone)]
pub struct RunArgs {
    /// Requests in the generated load (orders, duplicates and invalid ones).
    #[arg(long, default_value_t = 3000)]
    pub orders: usize,
    /// Seed of the generated load; a run prints its seed, and the same seed
    /// replays the same workload.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Seconds to wait for the queues to drain after the load.
    #[arg(long, default_value_t = 120)]
    pub drain_timeout: u64,
    #[command(flatten)]
    pub config: Config,
}

/// Counts notifications per order instead of logging them, so the run can
/// check that each finished order was notified exactly once.
#[derive(Default)]
struct CountingNotifier(Mutex<HashMap<String, u32>>);

#[async_trait]
impl Notifier for CountingNotifier {
    async fn dispatch(&self, event: &OrderProcessed) {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry(event.order_id.to_string()).or_default() += 1;
    }
}

pub async fn run(args: RunArgs) -> ExitCode {
    crate::init_tracing("warn");
    match run_inner(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("sim: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run_inner(args: RunArgs) -> Result<bool, String> {
    let seed = args.seed.unwrap_or_else(|| {
        now_millis().timestamp_subsec_nanos() as u64 ^ std::process::id() as u64
    });
    let tag = format!("{:x}", now_millis().timestamp_millis());
    let store_label = match args.config.mysql()? {
        Some(o) => format!(
            "MySQL at {}:{}/{}",
            o.get_host(),
            o.get_port(),
            o.get_database().unwrap_or("")
        ),
        None => "in-memory (set DATABASE_URL to use MySQL)".to_owned(),
    };
    println!("orderflow sim: seed {seed} (replay with --seed {seed}), store {store_label}");

    let notifier = Arc::new(CountingNotifier::default());
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let app = App::start(&args.config, addr, notifier.clone())
        .await
        .map_err(|e| e.to_string())?;

    // A run starts from known stock: the seed's products at their seed
    // levels, and the load's own products.
    let mut products = seed_products();
    products.extend(load::products());
    app.store
        .upsert_products(&products)
        .await
        .map_err(|e| e.to_string())?;
    let initial: BTreeMap<_, _> = app
        .store
        .inventory()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|i| (i.product_id, i.quantity_available))
        .collect();
    let run_start = now_millis();
    let client = Client::new(app.base_url())?;

    println!(
        "\nscenarios (the seed's verification tests, over HTTP at {}):",
        app.base_url()
    );
    let scenarios = scenarios::run_all(&app, &client, &tag).await;
    invariants::print(&scenarios);
    // Ids the scenarios got accepted (read back from the store: they finished).
    let scenario_ids: Vec<String> = app
        .store
        .orders_processed_since(run_start)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|o| o.order_id.to_string())
        .collect();
    let scenario_accepts = 3; // happy path, its duplicate, insufficient stock

    println!(
        "\nload: {} requests, {} in flight",
        args.orders, args.concurrency
    );
    let planned = load::plan(args.orders, seed, &tag);
    let load_started = Instant::now();
    let (sent, send_time) = load::send(&client, planned, args.concurrency).await;
    let drained = app
        .wait_drained(Duration::from_secs(args.drain_timeout))
        .await;
    let drain_time = load_started.elapsed();
    if !drained {
        println!("  queues did not drain within {} s", args.drain_timeout);
    }

    let facts = gather(
        &app,
        &notifier,
        &initial,
        run_start,
        &sent,
        &scenario_ids,
        scenario_accepts,
    )
    .await?;
    let checks = invariants::check(&facts);
    let report = Report {
        sent: &sent,
        send_time,
        drain_time,
        finished: &facts.finished,
        dead_lettered: facts.dead_lettered.len(),
        processed_dlq: app.queues.processed_dlq.peek_all().len(),
        metrics: &app.metrics,
        hot: load::HOT.iter().map(|(p, _)| p.to_string()).collect(),
        inventory: &facts.inventory,
        initial: &initial,
    };
    report::print(&report);

    println!("\ninvariants:");
    invariants::print(&checks);
    app.stop().await;

    let scenarios_ok = scenarios.iter().all(|s| s.passed);
    let invariants_ok = checks.iter().all(|c| c.passed);
    let unexpected = report::unexpected_answers(&sent);
    let ok = scenarios_ok && invariants_ok && drained && unexpected == 0;
    println!(
        "\nresult: {}",
        if ok {
            "every scenario passed and every invariant held".to_owned()
        } else {
            format!(
                "FAILED ({} scenarios failed, {} invariants failed, {unexpected} unexpected answers{})",
                scenarios.iter().filter(|s| !s.passed).count(),
                checks.iter().filter(|c| !c.passed).count(),
                if drained { "" } else { ", queues not drained" }
            )
        }
    );
    // A closing line in the common "N passed, N failed" shape, for CI logs.
    let checks_passed =
        scenarios.iter().filter(|s| s.passed).count() + checks.iter().filter(|c| c.passed).count();
    let checks_failed = scenarios.len() + checks.len() - checks_passed;
    println!("sim: {checks_passed} passed, {checks_failed} failed");
    Ok(ok)
}

async fn gather(
    app: &App,
    notifier: &CountingNotifier,
    initial: &BTreeMap<engine::domain::ProductId, i64>,
    run_start: chrono::DateTime<chrono::Utc>,
    sent: &[load::Sent],
    scenario_ids: &[String],
    scenario_accepts: u64,
) -> Result<Facts, String> {
    let finished = app
        .store
        .orders_processed_since(run_start)
        .await
        .map_err(|e| e.to_string())?;
    let inventory = app.store.inventory().await.map_err(|e| e.to_string())?;
    let mut accepted: HashSet<String> = scenario_ids.iter().cloned().collect();
    accepted.extend(
        sent.iter()
            .filter(|s| s.status == 202)
            .filter_map(|s| s.order_id.clone()),
    );
    let accepted_answers =
        scenario_accepts + sent.iter().filter(|s| s.status == 202).count() as u64;
    let dead_lettered: HashSet<String> = app
        .queues
        .order_dlq
        .peek_all()
        .into_iter()
        .filter_map(|(body, _)| {
            serde_json::from_str::<serde_json::Value>(&body)
                .ok()?
                .get("order_id")?
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let duplicate_mismatches = sent
        .iter()
        .filter(|s| s.kind == Kind::Duplicate && s.status == 202)
        .filter_map(|s| {
            let original = s
                .repeats
                .and_then(|i| sent.get(i))
                .and_then(|o| o.order_id.clone());
            (original != s.order_id)
                .then(|| format!("duplicate got {:?}, original {:?}", s.order_id, original))
        })
        .collect();
    let notified = notifier.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let invalid_sent = sent.iter().filter(|s| s.kind == Kind::Invalid).count() as u64 + 1;
    let invalid_refused = sent
        .iter()
        .filter(|s| s.kind == Kind::Invalid && (400..500).contains(&s.status))
        .count() as u64
        + 1; // the validation scenario, checked there
    let enqueued = app
        .queues
        .orders
        .stats()
        .sent
        .load(std::sync::atomic::Ordering::SeqCst);
    Ok(Facts {
        initial: initial.clone(),
        inventory,
        finished,
        accepted,
        accepted_answers,
        dead_lettered,
        duplicate_mismatches,
        notified,
        enqueued,
        invalid_sent,
        invalid_refused,
    })
}
