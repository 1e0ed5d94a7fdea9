//! `sim plan`: search the deployed shape's settings for the cheapest that
//! survives a load, confirm it in the sim, write its settings file and
//! its page (the plan module does the work).
//!
//! The arguments are the same in every build; the search ([`search`]) is
//! the `aws` feature's, as it runs the deployed shape.

#[cfg(feature = "aws")]
mod search;

use std::path::PathBuf;

use clap::Args;

use crate::aws::End;
use crate::load::Profile;
use crate::targets::Target;

#[cfg(feature = "aws")]
pub use search::plan;

// Read by the search alone, which a build without `aws` leaves out.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
#[derive(Args, Clone, Debug)]
#[command(
    after_help = super::help::short("plan"),
    after_long_help = super::help::long("plan", "")
)]
pub struct PlanArgs {
    /// The load's profile, as `sim run --profile` takes it: `flash-sale`
    /// (an opening burst, a quiet start, a surge to about 8 times the quiet
    /// rate, a tail, with the buyers' reads), `even` (a steady rate), or a
    /// profile file of your own.
    #[arg(long, default_value = "flash-sale", value_parser = |s: &str| Profile::from_arg(s))]
    pub profile: Profile,
    /// Requests in the load (orders, duplicates and invalid ones, as `sim
    /// run` sends them); default: the profile's (the shipped flash sale:
    /// 5,000 over 10 s, a peak of about 1,290 a second).
    #[arg(long = "requests", value_name = "N")]
    pub orders: Option<usize>,
    /// The load's peak, requests a second, instead of --requests: the
    /// requests are worked out from the profile and --duration.
    #[arg(long, value_name = "RATE")]
    pub peak: Option<f64>,
    /// Seconds the load lasts; default: the profile's (10 for the shipped
    /// ones).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// A target each confirming run must meet, as `sim run --target` takes
    /// it; repeat for more. Default: the sale's defaults (`sim run --help`).
    /// The screen estimates `p99_accept_to_processed` alone (2 s if no
    /// target names it); every shape must also fit its connection budget.
    #[arg(long = "target", value_name = "EXPR", value_parser = |s: &str| s.parse::<Target>())]
    pub targets: Vec<Target>,
    /// The end of the model's ranges to plan under (the book's "The model of AWS").
    /// Pessimistic by default: the settings a team ships should hold
    /// wherever AWS falls in the model's ranges. The chosen shape is run
    /// once more at the other end (central, or pessimistic if planned at
    /// another), to say whether it holds there too.
    #[arg(long, value_enum, default_value = "pessimistic")]
    pub model: End,
    #[command(flatten)]
    pub aws: crate::aws::AwsArgs,
    /// The settings the plan starts from (what it does not search is kept):
    /// default deploy/settings.json as shipped.
    #[arg(long, value_name = "PATH")]
    pub settings: Option<PathBuf>,
    /// How many of the cheapest screened shapes to run in the sim. If none
    /// meets the targets, as many more are tried before the plan gives up.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub confirm: usize,
    /// Screen everything, confirm only the cheapest, on one seed (for CI).
    #[arg(long)]
    pub quick: bool,
    /// Seeds a shape must meet the targets on to be chosen (its first run,
    /// then as many more, each with the next seed): one run's p99 moves by
    /// a fifth between seeds, and the plan reports the spread.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub seeds: u64,
    /// Search one architecture only: `x86_64` (what this machine's
    /// toolchain builds) or `arm64` (Graviton: about 20 % less a GB-second;
    /// its CPU is *assumed* as fast as x86_64's, inside the model's
    /// `lambda_cpu_slowdown` range). Default: both.
    #[arg(long, value_name = "ARCH", value_parser = ["x86_64", "arm64"])]
    pub architecture: Option<String>,
    /// Sales a month, for the cost a month: the stack idle plus this many
    /// sales' traffic.
    #[arg(long, value_name = "N", default_value_t = 30.0)]
    pub sales_per_month: f64,
    /// Where the plan writes its files: each confirmed candidate's settings,
    /// result (`.result.json`) and log, candidates.csv (every candidate screened and why it
    /// was kept or dropped), plan.html, and the chosen settings.json.
    #[arg(long, value_name = "DIR", default_value = "reports/plan")]
    pub dir: PathBuf,
    /// The confirming runs' time scale (as `sim run --time-scale`).
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0)]
    pub time_scale: f64,
    /// Also write the plan's result as JSON (schema results.schema.json):
    /// the chosen settings, each confirming run's metrics and verdict.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Also write a Markdown summary of the plan's result to this file.
    #[arg(long, value_name = "PATH")]
    pub summary: Option<PathBuf>,
    /// Seed of the model's draws and the confirming runs' loads.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}
