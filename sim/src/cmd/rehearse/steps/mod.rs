//! The ten steps of a rehearsal, in order, from what the arguments name
//! ([`Setup`]) and where its files go ([`Paths`]): each step's programs,
//! the sim's own doings and checks between them, its expected length (each
//! assumed, with why) and its costs ([`costs`]). Standing the stack up is
//! [`stack`]'s, what is rehearsed on it [`exercise`]'s, the collecting and
//! the destroy here.

mod exercise;
mod stack;

use std::path::PathBuf;

use super::actions::Action;
use super::args::Setup;
use super::costs;
use super::plan::{Cmd, Stdout, Step};

/// Where the rehearsal's files are, as absolute paths (the Pulumi program
/// runs in pulumi/, so relative ones would name other files).
pub struct Paths {
    /// The Pulumi program's directory, as `pulumi -C` takes it.
    pub pulumi: String,
    pub settings: String,
    pub out: PathBuf,
    /// Where scripts/build-lambdas.sh leaves the zips, or --zips.
    pub built: String,
}

impl Paths {
    /// A file of the out directory.
    pub fn file(&self, name: &str) -> String {
        self.out.join(name).display().to_string()
    }

    fn zips(&self) -> String {
        self.file("zips")
    }
}

/// The rehearsal's steps, in order: the plan printed and the plan run.
pub fn steps(s: &Setup, paths: &Paths) -> Vec<Step> {
    vec![
        stack::preflight(),
        stack::build(s, paths),
        stack::deploy(s, paths),
        stack::token(s),
        exercise::sale(s, paths),
        exercise::rotation(s, paths),
        exercise::redeploy(s, paths),
        exercise::alias(s),
        collect(s, paths),
        destroy(s, paths),
    ]
}

/// Minutes each step is expected to take while the stack stands, from the
/// deploy's start to the destroy's end, summed for the endpoints' last
/// hour.
const DEPLOY_MINS: f64 = 25.0;
const TOKEN_MINS: f64 = 1.0;
const DRAIN_MINS: f64 = 5.0;
const ROTATION_MINS: f64 = 3.0;
const REDEPLOY_MINS: f64 = 5.0;
const ALIAS_MINS: f64 = 2.0;
const COLLECT_MINS: f64 = 5.0;
const DESTROY_MINS: f64 = 20.0;

fn sale_mins(s: &Setup) -> f64 {
    (s.browse_secs() + s.args.duration) / 60.0 + DRAIN_MINS
}

/// Every minute the stack stands.
fn standing_mins(s: &Setup) -> f64 {
    DEPLOY_MINS
        + TOKEN_MINS
        + sale_mins(s)
        + ROTATION_MINS
        + REDEPLOY_MINS
        + ALIAS_MINS
        + COLLECT_MINS
        + DESTROY_MINS
}

fn pulumi<'a>(paths: &Paths, stack: &str, args: impl IntoIterator<Item = &'a str>) -> Cmd {
    let mut argv = vec!["pulumi".to_owned(), "-C".to_owned(), paths.pulumi.clone()];
    argv.extend(args.into_iter().map(str::to_owned));
    argv.extend(["--stack".to_owned(), stack.to_owned()]);
    Cmd::new(argv)
}

fn aws<'a>(region: &str, args: impl IntoIterator<Item = &'a str>) -> Cmd {
    let mut argv = vec!["aws".to_owned()];
    argv.extend(args.into_iter().map(str::to_owned));
    argv.extend(["--region".to_owned(), region.to_owned()]);
    Cmd::new(argv)
}

/// The migrate function invoked by hand with `payload`, its answer written
/// to `answer`, what `aws` says of the invocation (a FunctionError) to
/// `said`.
fn invoke(region: &str, payload: &str, answer: &str, said: &'static str) -> Cmd {
    aws(
        region,
        [
            "lambda",
            "invoke",
            "--function-name",
            "{migrate_function}",
            "--cli-binary-format",
            "raw-in-base64-out",
            "--payload",
            payload,
            answer,
        ],
    )
    .to(Stdout::File(said))
}

/// `sim load` as a step runs it: the token in the environment, every order
/// the client's, each accepted one read back until final (`--follow`, for
/// the throughput and accept-to-processed `sim compare --observed` judges),
/// held to nothing refused and every order finished (a failover is
/// expected to show in the other figures, which load.json keeps for
/// collect).
fn load(profile: &str, requests: usize, duration: f64, seed: u64, json: &str) -> Cmd {
    Cmd::new([
        "sim",
        "load",
        "--url",
        "{api_endpoint}",
        "--customer",
        "{rehearsal_client_id}",
        "--profile",
        profile,
        "--requests",
        &requests.to_string(),
        "--duration",
        &duration.to_string(),
        "--seed",
        &seed.to_string(),
        "--follow",
        &FOLLOW_SECS.to_string(),
        "--target",
        "refused==0",
        "--json",
        json,
    ])
    .env("ORDERFLOW_TOKEN", "{token}")
}

/// How long a step's `sim load` waits for its accepted orders to finish:
/// the longest the sim's failover at the pessimistic end keeps an order
/// (a 120 s outage and the backlog after it), with room.
const FOLLOW_SECS: u64 = 600;

/// What a step's `sim load` exiting 0 means.
const LOAD_CHECK: &str = "sim load exits 0: nothing refused (refused==0: every order answered 202, or 400 for an \
                          invalid one, after the client's retries), every accepted order read back PROCESSED or \
                          FAILED within 600 s (--follow), and the client kept its schedule; the other figures \
                          (5xx and 429 shares, the reads during the failover) are kept in its JSON for collect, not held to";

fn collect(s: &Setup, paths: &Paths) -> Step {
    let a = &s.args;
    let mut costs = costs::standing(&s.prices, &s.class, COLLECT_MINS);
    costs.extend(costs::collect());
    let observed = paths.file("observed.json");
    Step {
        name: "collect",
        does: "collects what AWS did during the sale into observed.json, and judges the model against it",
        runs: vec![
            Cmd::new([
                "sim",
                "collect",
                "--outputs",
                &paths.file("outputs.json"),
                "--load",
                &paths.file("load.json"),
                "--settings",
                &paths.settings,
                "--start",
                "{sale_start}",
                "--end",
                "{sale_end}",
                "--stack",
                &a.stack,
                "--region",
                &a.region,
                "--failover-at",
                &s.failover_at.to_string(),
                "--out",
                &observed,
            ])
            .not_fatal()
            .into(),
            Cmd::new(["sim", "compare", "--observed", &observed]).not_fatal().into(),
            Cmd::new(["sim", "calibrate", &observed, "--out", &paths.file("model-observed.json")]).not_fatal().into(),
            Action::BillLater.into(),
        ],
        also_checks: vec![
            "none of these fails the rehearsal: a figure of AWS's outside the model's range is what it is there \
             to find, and compare says so"
                .into(),
        ],
        minutes: COLLECT_MINS,
        minutes_why: "assumed: reading CloudWatch's metrics and the functions' logs for the window".into(),
        costs,
    }
}

/// The delete of one log group RDS made for the instance's exported logs.
fn rds_logs(region: &str, log: &str) -> Cmd {
    aws(
        region,
        [
            "logs",
            "delete-log-group",
            "--log-group-name",
            &format!("/aws/rds/instance/{{db_instance_id}}/{log}"),
        ],
    )
}

fn destroy(s: &Setup, paths: &Paths) -> Step {
    let mut costs = costs::standing(&s.prices, &s.class, DESTROY_MINS);
    costs.push(costs::endpoint_rounding(&s.prices, standing_mins(s)));
    Step {
        name: "destroy",
        does: "destroys the stack and removes it, after a failed step too (unless --keep)",
        runs: vec![
            pulumi(paths, &s.args.stack, ["destroy", "--yes"]).into(),
            pulumi(paths, &s.args.stack, ["stack", "rm", "--yes"]).into(),
            // RDS makes the log groups it exports to itself, so the stack
            // cannot remove them (the book's deploy risks): kept forever
            // otherwise. Skipped if the deploy never named the instance.
            rds_logs(&s.args.region, "error").not_fatal().into(),
            rds_logs(&s.args.region, "slowquery").not_fatal().into(),
        ],
        also_checks: vec![
            "it runs after a failed step too, once the deploy has begun (not with --keep); if it fails, the stack may \
             still be up and billing, and the command to destroy it is printed"
                .into(),
        ],
        minutes: DESTROY_MINS,
        minutes_why: "assumed: deleting a Multi-AZ RDS instance, 10 to 15 minutes, and the functions' network \
                      interfaces, which Lambda releases in its own time before the subnets can go"
            .into(),
        costs,
    }
}
