//! `loadtest`: Goose against the orderflow API, then a verification step.
//!
//! The load is a weighted mix of scenarios (see [`scenarios`]): new orders on
//! one hot product and on spread-out products, multi-line orders, duplicate
//! resubmissions that must get the same id back, invalid requests that must
//! get 400, and order status polling. Every Goose option works as usual
//! (`--host`, `--users`, `--increase-rate`, `--run-time`,
//! `--throttle-requests`, `--report-file report.html`, ...).
//!
//! Against a deployed API, `--token` (or `ORDERFLOW_TOKEN`) is sent as a
//! bearer token with every request, and answers that mean "slow down" (429,
//! 503) are counted as throttled, not as failures (see [`throttle`]).
//!
//! After the load, [`verify`] reads the API back and fails the run if any
//! stock went negative, stock moved other than by the processed orders, a
//! duplicate got a new id, an invalid request was accepted, or an accepted
//! order did not reach `PROCESSED` or `FAILED` (or the DLQ) within the
//! deadline.

mod api;
mod scenarios;
mod throttle;
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
Against a deployed API that wants a bearer token, give it with --token or ORDERFLOW_TOKEN: \
every request sends it as `Authorization: Bearer TOKEN`. Answers 429 and 503 are counted as \
throttled, apart from failures: a throttled order was never placed. The verification's reads \
are paced to --verify-rate a second and retried when throttled.\n\n\
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
    /// A bearer token for the API (an API Gateway authorizer's, say): sent
    /// as `Authorization: Bearer TOKEN` with every request of the load and
    /// of the verification. Never printed.
    #[arg(long, env = "ORDERFLOW_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The verification's reads a second, at most (0: unpaced); a
    /// throttled read (429 or 503) waits (its Retry-After, else a backoff)
    /// and is tried again until the deadline, which grows by the time the
    /// pace needs to read every accepted order once. Default: 200 against a
    /// deployed API, well under the shipped 1,000/s throttle of its busiest
    /// route, GET /api/orders/{order_id} (deploy/settings.json's
    /// route_throttles), with room for anyone else reading through it;
    /// unpaced against a loopback host (a local sim serve has no throttle).
    #[arg(long, value_name = "N")]
    verify_rate: Option<u32>,
    /// Skip the verification step (the load and Goose's report only).
    #[arg(long)]
    no_verify: bool,
    /// Seed of the generated orders.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A load shape, instead of Goose's own --users/--run-time options:
    /// `flash-sale` holds an eighth of --peak-users for 15 s, surges to
    /// --peak-users for 20 s, and tails off for 15 s (as Goose's
    /// --test-plan; about 52 s in all).
    #[arg(long, value_enum)]
    profile: Option<Profile>,
    /// Users at the flash sale's peak.
    #[arg(long, default_value_t = 64)]
    peak_users: usize,
    #[command(flatten)]
    goose: GooseConfiguration,
}

/// Load shapes `--profile` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Profile {
    FlashSale,
}

/// The flash sale as a Goose test plan: an eighth of `peak` users for 15 s,
/// a surge to `peak` held for 15 s, back to an eighth for 15 s, then stop.
fn flash_sale(peak: usize) -> String {
    let peak = peak.max(8);
    let quiet = peak / 8;
    format!("{quiet},5s;{quiet},10s;{peak},5s;{peak},15s;{quiet},5s;{quiet},10s;0,2s")
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
    let deadline = Duration::from_secs(cli.verify_deadline);
    let token = cli.token.as_deref().filter(|t| !t.is_empty());
    let rate = cli
        .verify_rate
        .or_else(|| throttle::default_read_rate(&host));
    let api = api::Api::new(&host, token, rate, deadline)?;
    let before = if informational {
        Vec::new()
    } else {
        api.inventory().await?
    };
    let listed: Vec<String> = before.iter().map(|p| p.product_id.clone()).collect();
    let bearer = token.map(orderflow_client::bearer).transpose()?;
    let shared = Shared::new(&cli.hot_product, &listed, cli.seed, bearer, informational)
        .map_err(anyhow::Error::msg)?;
    let shared = scenarios::install(shared);

    let attack = GooseAttack::initialize_with_config(cli.goose)?;
    let attack = match cli.profile {
        Some(Profile::FlashSale) => {
            *attack.set_default(GooseDefault::TestPlan, flash_sale(cli.peak_users).as_str())?
        }
        None => attack,
    };
    let metrics = scenarios::register(attack)?.execute().await?;
    if !informational {
        println!(
            "throttled during the load: {}; not failures: a throttled order was never placed",
            shared.throttled.describe("answers")
        );
    }
    if !verify {
        return Ok(true);
    }
    let load_ok = metrics.requests.values().all(|r| r.fail_count == 0);
    let passed = verify::verify(&api, shared, &before, deadline).await?;
    if !load_ok {
        println!(
            "note: Goose counted failed requests (see its table above): wrong answers; \
             throttled ones (429, 503) are not among them"
        );
    }
    Ok(passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flash_sale_is_a_test_plan_goose_takes() {
        let plan = flash_sale(64);
        assert_eq!(plan, "8,5s;8,10s;64,5s;64,15s;8,5s;8,10s;0,2s");
        assert!(plan.parse::<goose::test_plan::TestPlan>().is_ok());
    }
}
