//! `sim`: the whole orderflow pipeline in one process.
//!
//! - `sim` (or `sim run`): start the pipeline, run the seed's four
//!   verification scenarios over HTTP, a generated load, then check every
//!   invariant and print a report. Exits non-zero if anything failed.
//! - `sim serve`: the API and all workers until Ctrl-C.
//! - `sim check`: print the inventory and recent orders.
//! - `sim migrate`: bring a database (the original system's, too) to
//!   orderflow's schema.
//! - `sim dlq list|redrive`: the dead-letter queues of a running `sim serve`.
//! - `sim bench`: the processor against MySQL, beside reference points.
//! - `sim deployment`, `sim model`: the deployed shape and the model of AWS.
//! - `sim plan`: the cheapest deployed shape that survives a load, and its bill.
//! - `sim load --url URL`: the sim's open-loop customers against any API.
//! - `sim compare`: two results' metrics side by side, failing on a regression.
//!
//! Each subcommand is a module of [`cmd`]; ARCHITECTURE.md maps the rest.

mod aws;
mod chaos;
mod cmd;
mod console;
mod gather;
mod invariants;
mod load;
mod netem;
mod pipeline;
mod plan;
mod report;
mod scenarios;
mod targets;
mod timeline;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cmd::{
    bench, check, compare, deployment, dlq, load as load_cmd, migrate, model, plan as plan_cmd,
    run, serve,
};

#[derive(Parser)]
#[command(
    name = "sim",
    version,
    about = "Runs the orderflow pipeline in one process: scenarios, load, invariants, report.",
    long_about = "Runs the orderflow pipeline (ingest -> order queue -> processor -> store -> \
processed queue -> notifier) in one process.\n\n\
With no subcommand, `sim` runs the main job: the seed's four verification scenarios over \
HTTP, a generated load, the invariant checks and a report; it exits non-zero if a scenario, \
an invariant or a target fails, or the client could not keep its schedule.\n\n\
The store is in memory unless DATABASE_URL (or DB_HOST and the other DB_* variables) is \
set, in the environment or in a .env file; then it is MySQL/MariaDB, and the database is \
created, migrated and seeded as needed (a database made by someone else, such as the \
original system's, is left alone: see `sim migrate`).",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: run::RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// The main job (the default): scenarios, load, invariants, report.
    Run(Box<run::RunArgs>),
    /// Serve the API and run all workers until Ctrl-C or SIGTERM, then stop
    /// taking orders (503) and drain every accepted one before exiting; a
    /// second Ctrl-C stops at once, saying what was left.
    Serve(serve::ServeArgs),
    /// Print the inventory and the most recent orders.
    Check(check::CheckArgs),
    /// Apply orderflow's migrations to the configured database: bring one
    /// created by the original system to this schema in place, keeping
    /// every row (back it up first), or apply what is pending.
    Migrate(migrate::MigrateArgs),
    /// List or redrive the dead-letter queues of a running `sim serve`.
    Dlq(dlq::DlqArgs),
    /// Show the deployed shape (deploy/settings.json) and whether its
    /// functions' database connections fit the instance's limit.
    Deployment(deployment::DeploymentArgs),
    /// Show the model of AWS that `--topology lambda` runs under
    /// (deploy/model.json): each constant, its range and its source.
    Model(model::ModelArgs),
    /// Find the cheapest deployed shape that survives a load (the flash
    /// sale by default): screen every combination of the settings by
    /// arithmetic, run the cheapest in the sim, write the chosen settings
    /// file, its headroom, its bill and a page of the frontier (MySQL).
    Plan(plan_cmd::PlanArgs),
    /// Measure the processor against MySQL beside reference points (autocommit
    /// UPDATEs, the bare SQL of batched transactions) in the same run.
    Bench(bench::BenchArgs),
    /// Send the sim's open-loop customers (a profile's orders and reads) to
    /// an API it does not host: a `sim serve`, or a deployed stage.
    Load(load_cmd::LoadArgs),
    /// Compare two results (`--json` of run, bench or plan) metric by
    /// metric; exit 1 on a regression beyond the tolerance (a CI gate).
    Compare(compare::CompareArgs),
}

// The pipeline allocates for every request, event and row; mimalloc makes
// that cheaper than glibc's allocator (BENCHMARKS.md has the A/B run).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `.env` fills in what the environment does not set; a missing file is fine.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    chaos::quiet_injected_crashes();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sim: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The processor and notifier loops get a thread of their own.
    let workers = match engine::app::worker_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sim: cannot start the workers' runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _ = pipeline::WORKERS.set(workers.handle().clone());
    runtime.block_on(async {
        match cli.command {
            Some(Command::Serve(args)) => serve::serve(args).await,
            Some(Command::Check(args)) => check::check(args).await,
            Some(Command::Migrate(args)) => migrate::migrate(args).await,
            Some(Command::Dlq(args)) => dlq::dlq(args).await,
            Some(Command::Deployment(args)) => deployment::deployment(args),
            Some(Command::Model(args)) => model::model(args),
            Some(Command::Bench(args)) => bench::bench(args).await,
            Some(Command::Plan(args)) => plan_cmd::plan(args).await,
            Some(Command::Compare(args)) => compare::compare(args),
            Some(Command::Load(args)) => load_cmd::load(args).await,
            Some(Command::Run(args)) => run::run(*args).await,
            None => run::run(cli.run).await,
        }
    })
}
