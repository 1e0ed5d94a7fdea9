//! `loadtest`: Goose against the orderflow API, then a verification step.
//!
//! The load is a weighted mix of scenarios (see [`scenarios`]): new orders on
//! one hot product and on spread-out products, multi-line orders, duplicate
//! resubmissions that must get the same id back, invalid requests that must
//! get 400, and order status polling. Every Goose option works as usual
//! (`--host`, `--users`, `--increase-rate`, `--run-time`,
//! `--throttle-requests`, `--report-file report.html`, ...).
//!
//! After the load, [`verify`] reads the API back and fails the run if any
//! stock went negative, stock moved other than by the processed orders, a
//! duplicate got a new id, an invalid request was accepted, or an accepted
//! order did not reach `PROCESSED` or `FAILED` (or the DLQ) within the
//! deadline.

mod scenarios;
mod verify;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use goose::config::GooseConfiguration;
use goose::prelude::*;

use crate::scenarios::Shared;

#[derive(Parser)]
#[command(
    name = "loadtest",
    about = "Goose load test of the orderflow API, then a check that nothing was lost, \
             oversold or applied twice.",
    long_about = "Goose load test of the orderflow API (a local `sim serve` or a deployed \
API Gateway endpoint), then a verification step.\n\n\
The load mixes weighted scenarios: new orders on one hot product (--hot-product) and on \
the other products the API lists, multi-line orders, duplicate resubmissions that must \
get the same order id, invalid requests that must get 400, and order status polling.\n\n\
After the load, every accepted order is read back until it is PROCESSED or FAILED (or sits \
in a DLQ), and the inventory is compared with the stock before the load. The run exits \
non-zero if any stock went negative, stock moved other than by the processed orders (this \
assumes the load test is the only client ordering these products), a duplicate got a new \
id, an invalid request was accepted, or an accepted order did not finish within \
--verify-deadline.\n\n\
Example, against a local server (`cargo run -p sim -- serve --load-products`):\n  \
cargo run --release -p loadtest -- --host http://127.0.0.1:3000 --hot-product sim-hot-1 \\\n    \
--users 32 --increase-rate 32 --run-time 30s --report-file loadtest-report.html"
)]
struct Cli {
    /// The product most orders compete for. Must exist on the server (see
    /// GET /api/inventory); every other listed product is a spread-out one.
    #[arg(long, default_value = "prod-101")]
    hot_product: String,
    /// Seconds to wait after the load for every accepted order to finish.
    #[arg(long, default_value_t = 60)]
    verify_deadline: u64,
    /// Skip the verification step (the load and Goose's report only).
    #[arg(long)]
    no_verify: bool,
    /// Seed of the generated orders.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    goose: GooseConfiguration,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("loadtest: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    // Goose's informational modes need no server.
    let informational = cli.goose.version || cli.goose.list || cli.goose.scenarios_list;
    let host = match (&cli.goose.host, informational) {
        (Some(h), _) => h.trim_end_matches('/').to_owned(),
        (None, true) => String::new(),
        (None, false) => {
            anyhow::bail!("--host is required, e.g. --host http://127.0.0.1:3000");
        }
    };
    let verify = !cli.no_verify && !informational;
    let api = verify::Api::new(&host)?;
    let before = if informational {
        Vec::new()
    } else {
        api.inventory().await?
    };
    let shared = Shared::new(&cli.hot_product, &before, cli.seed, informational)
        .map_err(anyhow::Error::msg)?;
    let shared = scenarios::install(shared);

    let attack = GooseAttack::initialize_with_config(cli.goose)?;
    let metrics = scenarios::register(attack)?.execute().await?;
    if !verify {
        return Ok(true);
    }
    let load_ok = metrics.requests.values().all(|r| r.fail_count == 0);
    let passed = verify::verify(
        &api,
        shared,
        &before,
        Duration::from_secs(cli.verify_deadline),
    )
    .await?;
    if !load_ok {
        println!(
            "note: Goose counted failed requests (see its table above); a 503 is back-pressure \
             from a full queue, anything else is a wrong answer"
        );
    }
    Ok(passed)
}
