//! `sim load --url URL`: the sim's open-loop customers against an API it
//! does not host (a `sim serve`, or a deployed stage): the same profiles,
//! schedule and first-try accounting as `sim run`, and the targets that a
//! client can measure. What became of the orders is the server's to say
//! (`loadtest` verifies it through the API).

mod follow;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use orderflow_client::Client;

use crate::load::measure::{LoadReport, ReadsReport};
use crate::load::{self, send, SaleArgs};
use crate::report::result::{CheckRow, ProfileSetup, RunResult, Setup};

/// What `sim load --help` says before its examples.
const NOTES: &str = "\
The load's products must exist on the server: `sim serve --load-products` stocks them \
(sim-hot-1, sim-hot-2, sim-item-01 to sim-item-20); on a deployed stack, insert them first.

Without --target, the sale's defaults that a client can measure apply: first_try_5xx<0.1% \
first_try_429<1% read_first_try_5xx<1% refused==0 offered>=95%.";

#[derive(Args, Clone)]
#[command(
    after_help = super::help::short("load"),
    after_long_help = super::help::long("load", NOTES)
)]
pub struct LoadArgs {
    /// The API's base URL: `http://127.0.0.1:3000`, or a deployed stage's.
    #[arg(long)]
    pub url: String,
    #[command(flatten)]
    pub sale: SaleArgs,
    /// Seed of the generated orders.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A bearer token sent with every request (an API Gateway authorizer's).
    #[arg(long, env = "ORDERFLOW_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Every order placed by this customer: the token's subject (a client
    /// credentials token's is its client id). Behind a JWT authorizer an
    /// order for another customer is refused 403, so with one token every
    /// order must be its subject's; each then carries an Idempotency-Key
    /// of its own (a duplicate its original's), or one customer's orders of
    /// the same items would be taken for one order. Without it each order
    /// has a customer of its own.
    #[arg(long, value_name = "ID")]
    pub customer: Option<String>,
    /// Also write the result as JSON to this file (`-`: standard output,
    /// the report then going to standard error).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Also write a Markdown summary of the result to this file.
    #[arg(long, value_name = "PATH")]
    pub summary: Option<PathBuf>,
    /// After the load, read every accepted order back through the API
    /// until each is PROCESSED or FAILED, waiting at most SECS: the result
    /// then holds the orders finished, accept-to-processed (each order's
    /// created_at to its processed_at) and the throughput, as `sim run`
    /// measures them, and fails if an accepted order did not finish.
    #[arg(long, value_name = "SECS")]
    pub follow: Option<u64>,
    /// Print only the verdict (each target missed, the result line) and
    /// errors: no report, no progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

pub async fn load(args: LoadArgs) -> ExitCode {
    crate::console::init_tracing("warn");
    let stdout = match crate::console::keep_stdout_for(args.json.as_deref()) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("sim load: cannot keep standard output for the JSON: {e}");
            return ExitCode::from(2);
        }
    };
    let mut verdict_to = match args.quiet.then(crate::console::silence_stdout).transpose() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("sim load: cannot keep standard output for the verdict: {e}");
            return ExitCode::from(2);
        }
    };
    let (json, summary) = (args.json.clone(), args.summary.clone());
    let done = match load_inner(args).await {
        Ok(result) => {
            if let Some(out) = &mut verdict_to {
                let _ = out.write_all(crate::report::quiet_verdict(&result).as_bytes());
            }
            result
                .emit(json.as_deref(), stdout, summary.as_deref())
                .map(|()| result.passed)
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("sim load: {}", engine::report::error_chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

async fn load_inner(args: LoadArgs) -> anyhow::Result<RunResult> {
    let mut client = Client::new(args.url.clone())?;
    if let Some(token) = &args.token {
        client = client.with_bearer(token)?;
    }
    let sale = &args.sale;
    let (orders, duration) = (sale.orders(), sale.duration());
    let Some(due) = sale.due().filter(|_| orders > 0) else {
        anyhow::bail!(
            "sim load sends an open-loop load: --duration and --requests must be above 0"
        );
    };
    println!(
        "sim load: {orders} requests over {duration} s to {}, open loop: {}",
        args.url,
        sale.profile.describe()
    );
    if let Some(customer) = &args.customer {
        let probe = serde_json::json!({"customer_id": customer, "items": [{"product_id": "sim-item-01", "quantity": 1}]});
        if let Err(e) = engine::validation::parse_order(probe.to_string().as_bytes()) {
            anyhow::bail!("--customer {customer:?} cannot name an order's customer: {e}");
        }
    }
    let started = engine::events::now_millis();
    let tag = format!("{:x}", started.timestamp_millis());
    let options = sale.send_options(Some(due), sale.max_in_flight, args.seed);
    let planned = load::plan_for(orders, args.seed, &tag, args.customer.as_deref());
    let sends = send::send(&client, planned, options).await;
    let mut result = RunResult::new("load", Some(args.seed));
    result.setup = Setup {
        topology: "remote".into(),
        store: args.url.clone(),
        queues: "the server's".into(),
        profile: Some(ProfileSetup {
            name: sale.profile.name.clone(),
            requests: orders,
            duration_secs: duration,
            description: sale.profile.describe(),
        }),
        faults: "none".into(),
        ..Setup::default()
    };
    let report = LoadReport::of(&sends);
    result.checks.push(CheckRow {
        group: "run".into(),
        name: "the client kept its schedule".into(),
        passed: report.kept_up,
        detail: format!(
            "requests went out late by p99 {:.1} ms",
            report.send_lag_ms.p99
        ),
    });
    result.load = Some(report);
    result.reads = Some(ReadsReport::of(&sends));
    if let Some(secs) = args.follow {
        follow(&client, &sends, started, secs, &mut result).await;
    }
    result.derive_metrics();
    // A client does not see the DLQs: their depth is the stack's to say
    // (`sim collect` reads it).
    result.metrics.remove("dlq");
    result.judge(&sale.targets, true);
    crate::report::print(&result);
    crate::report::print_verdict(&result);
    Ok(result)
}

/// `--follow SECS`: every accepted order read back until it is final, as
/// the result's pipeline part, and a check that each finished.
async fn follow(
    client: &Client,
    sends: &load::Sends,
    started: chrono::DateTime<chrono::Utc>,
    secs: u64,
    result: &mut RunResult,
) {
    println!("reading every accepted order back until it is final (at most {secs} s)...");
    let pipeline = follow::follow(client, sends, started, Duration::from_secs(secs)).await;
    let accepted = sends
        .orders
        .iter()
        .filter(|s| s.status == 202)
        .filter_map(|s| s.order_id.as_ref())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    result.checks.push(CheckRow {
        group: "invariant".into(),
        name: "every accepted order finished (PROCESSED or FAILED)".into(),
        passed: pipeline.drained,
        detail: format!(
            "{} of {accepted} accepted orders finished within {secs} s",
            pipeline.finished
        ),
    });
    result.pipeline = Some(pipeline);
}
