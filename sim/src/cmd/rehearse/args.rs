//! What `sim rehearse` takes on its command line, and what it reads from
//! them before anything runs ([`Setup`]): the settings file, the profile,
//! the prices of the region, and every refusal of bad input (exit 2).

#[cfg(feature = "aws")]
use std::path::Path;
use std::path::PathBuf;

use clap::Args;

#[cfg(feature = "aws")]
use crate::aws::bill::{Prices, SHIPPED};
#[cfg(feature = "aws")]
use crate::aws::settings::DeploymentSettings;
#[cfg(feature = "aws")]
use crate::load::Profile;

/// What `sim rehearse --help` says before its examples.
pub const NOTES: &str = "\
Run it from the repository's root, in a sandbox account: it deploys a production stack of \
its own (Multi-AZ, the settings file's production class) with a token issuer (a Cognito \
user pool: pulumi config rehearsal true), sends the sale through API Gateway with a forced \
failover, rotates the database password, redeploys the migrate function alone, rolls the \
ingest alias back and forward, collects what AWS did, and destroys the stack, after a failed \
step too (unless --keep). Before it spends anything it prints every step (what it runs, what \
it checks, how long it is expected to take and what it costs) and the expected bill, and asks \
for yes. --dry-run prints the same and touches nothing.

It needs pulumi (logged in to a state backend, with PULUMI_CONFIG_PASSPHRASE set for one of your \
own), the aws CLI with credentials for the account, \
node and npm, python3, and cargo (scripts/build-lambdas.sh installs cargo-lambda) unless \
--zips names zips already built, and a Lambda concurrency quota of 1,000 in the region.";

#[derive(Args, Clone, Debug)]
#[command(
    after_help = super::super::help::short("rehearse"),
    after_long_help = super::super::help::long("rehearse", NOTES)
)]
pub struct RehearseArgs {
    /// The Pulumi stack to create, rehearse on and destroy: letters, digits
    /// and single hyphens (it names the AWS resources, and the Cognito
    /// domain's prefix).
    #[arg(long, default_value = "rehearsal")]
    pub stack: String,
    /// The AWS region to rehearse in (deploy/prices.json must price it).
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// The settings file the stack deploys and the zips are built for.
    #[arg(long, value_name = "PATH", default_value = "deploy/settings.json")]
    pub settings: PathBuf,
    /// The sale's load profile: a shipped one (flash-sale, even) or a
    /// profile file.
    #[arg(long, default_value = "flash-sale")]
    pub profile: String,
    /// Order requests in the sale.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub requests: usize,
    /// Seconds the sale's orders are spread over, as the profile shapes
    /// them.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds into the sale (after the visitors' browsing before it
    /// opens) at which the database is rebooted with a forced failover;
    /// default: a third of --duration.
    #[arg(long, value_name = "SECS")]
    pub failover_at: Option<f64>,
    /// Where the rehearsal's files go: load.json, outputs.json (it holds
    /// the token client's secret, void once the stack is destroyed),
    /// observed.json, window.json, the zips it deployed and rehearse.log;
    /// default: rehearsal/<stack>/.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Zips already built by scripts/build-lambdas.sh for the settings
    /// file (a directory holding ingest/, processor/, notifier/, migrate/
    /// and manifest.json): step 1 copies them instead of building.
    #[arg(long, value_name = "DIR")]
    pub zips: Option<PathBuf>,
    /// Do not ask: start at once (for a script that has read the plan).
    #[arg(long)]
    pub yes: bool,
    /// Leave the stack up at the end, and after a failed step (destroy it
    /// yourself: pulumi -C pulumi destroy --yes --stack <stack>).
    #[arg(long)]
    pub keep: bool,
    /// Print the plan, each step's checks and cost, and the expected bill;
    /// touch nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// What the arguments name, read and checked: everything the plan is made
/// of.
#[cfg(feature = "aws")]
pub struct Setup {
    pub args: RehearseArgs,
    pub settings: DeploymentSettings,
    pub profile: Profile,
    pub prices: Prices,
    /// The production class the stack runs (the settings file's
    /// `production_instance_class`, else its `instance_class`).
    pub class: String,
    /// Seconds into the sale the failover is forced.
    pub failover_at: f64,
    pub out: PathBuf,
}

#[cfg(feature = "aws")]
impl Setup {
    /// The arguments read and checked, or why not (exit 2).
    pub fn of(args: RehearseArgs) -> Result<Setup, String> {
        if !stack_name_ok(&args.stack) {
            return Err(format!(
                "--stack {:?}: use letters, digits and single hyphens, starting with a letter \
                 (the Pulumi program names an RDS snapshot after it)",
                args.stack
            ));
        }
        if args.requests == 0 {
            return Err("--requests must be at least 1".into());
        }
        if !(args.duration > 0.0 && args.duration.is_finite()) {
            return Err(format!(
                "--duration must be above 0 seconds, not {}",
                args.duration
            ));
        }
        // A third of the sale, to the tenth of a second.
        let failover_at = args
            .failover_at
            .unwrap_or((args.duration / 3.0 * 10.0).round() / 10.0);
        if !(0.0..args.duration).contains(&failover_at) {
            return Err(format!(
                "--failover-at {failover_at} is not within the sale: it lasts --duration {} s, \
                 so the failover must come at 0 s or later and before {} s",
                args.duration, args.duration
            ));
        }
        let settings = read_settings(&args.settings)?;
        let profile = Profile::from_arg(&args.profile).map_err(|e| format!("--profile: {e}"))?;
        let prices = Prices::of(SHIPPED, &args.region).map_err(|e| format!("--region: {e}"))?;
        let class = settings
            .production_instance_class
            .clone()
            .unwrap_or_else(|| settings.instance_class.clone());
        if !prices.rds_instance_hour.classes.contains_key(&class) {
            return Err(format!(
                "deploy/prices.json has no hourly price for {class}, the class the stack would run: \
                 add it before rehearsing"
            ));
        }
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| Path::new("rehearsal").join(&args.stack));
        Ok(Setup {
            args,
            settings,
            profile,
            prices,
            class,
            failover_at,
            out,
        })
    }

    /// Seconds of browsing before the sale opens (the profile's), which the
    /// load spends before its first order.
    pub fn browse_secs(&self) -> f64 {
        self.profile
            .reads
            .browse_before
            .map_or(0.0, |b| b.secs.max(0.0))
    }
}

/// The settings file, refused as `sim deployment` refuses it, and refused
/// too when `pulumi up` would refuse it.
#[cfg(feature = "aws")]
fn read_settings(path: &Path) -> Result<DeploymentSettings, String> {
    if !path.is_file() {
        return Err(format!(
            "--settings {}: no such file (run from the repository's root, or name a settings file)",
            path.display()
        ));
    }
    let settings = DeploymentSettings::load(path).map_err(|e| format!("--settings: {e}"))?;
    if let Some(why) = settings.deploy_refusal() {
        return Err(format!(
            "--settings {}: pulumi up would refuse it: {why}",
            path.display()
        ));
    }
    Ok(settings)
}

/// What the Pulumi program takes as a stack name (settings.ts).
#[cfg(feature = "aws")]
fn stack_name_ok(stack: &str) -> bool {
    let mut chars = stack.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && !stack.ends_with('-')
        && !stack.contains("--")
        && stack.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    use super::*;

    #[test]
    fn a_stack_name_is_what_the_pulumi_program_takes() {
        for ok in ["rehearsal", "shop-prod-2", "R"] {
            assert!(stack_name_ok(ok), "{ok}");
        }
        for bad in ["", "2shop", "shop--prod", "shop-", "shop_prod", "shop prod"] {
            assert!(!stack_name_ok(bad), "{bad}");
        }
    }
}
