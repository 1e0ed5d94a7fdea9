//! The command line: what `sim` accepts ([`Cli`], one subcommand a module
//! of [`crate::cmd`]), what it asks of the build ([`crate::needs`]), and the
//! dispatch [`run`] that `main` calls with what it parsed.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cmd::{
    bench, calibrate, check, collect, compare, deployment, dlq, docs, load as load_cmd, migrate,
    model, plan as plan_cmd, rehearse, run as run_cmd, serve,
};
use crate::{chaos, needs, pipeline};

#[derive(Parser)]
#[command(
    name = "sim",
    version,
    about = "Runs the orderflow pipeline in one process: scenarios, load, invariants, report.",
    long_about = "Runs the orderflow pipeline (ingest -> order queue -> processor -> store -> \
processed queue -> notifier) in one process.\n\n\
With no subcommand, `sim` runs the main job: the original system's four verification scenarios over \
HTTP, a generated load, the invariant checks and a report; it exits non-zero if a scenario, \
an invariant or a target fails, or the client could not keep its schedule.\n\n\
The store is in memory unless DATABASE_URL (or DB_HOST and the other DB_* variables) is \
set, in the environment or in a .env file; then it is MySQL/MariaDB, and the database is \
created, migrated and seeded as needed (a database made by someone else, such as the \
original system's, is left alone: see `sim migrate`).",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: run_cmd::RunArgs,
}

#[derive(Subcommand)]
pub enum Command {
    /// The main job (the default): scenarios, load, invariants, report.
    Run(Box<run_cmd::RunArgs>),
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
    /// Rehearse the sale on AWS in a sandbox account: deploy a production
    /// stack with a token issuer, the sale through API Gateway with a
    /// failover, a password rotation, a migrate-only redeploy and an alias
    /// rollback, collect what AWS did, destroy the stack (--dry-run: the
    /// plan and its bill only).
    Rehearse(rehearse::RehearseArgs),
    /// Collect what a deployed stack did during a sale into one observed
    /// file: CloudWatch metrics, REPORT lines and EMF records, the outcome,
    /// the bill.
    Collect(collect::CollectArgs),
    /// Fit the model's assumed constants to an observed file and write a
    /// model file with them.
    Calibrate(calibrate::CalibrateArgs),
    /// Write the book's reference pages (docs/src/reference/) from this
    /// build: the command line, exit codes, environment variables, HTTP
    /// API, settings, model, prices and result schema.
    Docs(docs::DocsArgs),
}

/// Runs the command line `cli` parsed: refuses what this build cannot
/// do, starts the runtimes and dispatches to the subcommand's module.
pub fn run(cli: Cli) -> ExitCode {
    let line: Vec<String> = std::env::args().skip(1).collect();
    let asked = asks(&cli);
    if let Some(refusal) = needs::refusal(&asked, needs::Built::THIS, &line) {
        eprintln!("sim: {refusal}");
        return ExitCode::from(2);
    }
    if let Some(note) = needs::plaintext_note(&asked, needs::Built::THIS) {
        eprintln!("sim: note: {note}");
    }
    chaos::quiet_injected_crashes();
    // reqwest over rustls takes the process's provider (an https:// API):
    // aws-lc-rs, as the database's TLS and the AWS SDK use. Already
    // installed is fine.
    #[cfg(feature = "tls")]
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sim: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // The processor and notifier loops get a thread of their own.
    let workers = match engine::app::worker_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sim: cannot start the workers' runtime: {e}");
            return ExitCode::from(2);
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
            #[cfg(feature = "aws")]
            Some(Command::Model(args)) => model::model(args),
            Some(Command::Bench(args)) => bench::bench(args).await,
            #[cfg(feature = "aws")]
            Some(Command::Plan(args)) => plan_cmd::plan(args).await,
            Some(Command::Compare(args)) => compare::compare(args).await,
            #[cfg(feature = "aws")]
            Some(Command::Docs(args)) => docs::docs(args, <Cli as clap::CommandFactory>::command()),
            #[cfg(feature = "aws")]
            Some(Command::Rehearse(args)) => rehearse::rehearse(args).await,
            #[cfg(feature = "aws")]
            Some(Command::Collect(args)) => collect::collect(args).await,
            #[cfg(feature = "aws")]
            Some(Command::Calibrate(args)) => calibrate::calibrate(args),
            // Refused above, with the command that builds them.
            #[cfg(not(feature = "aws"))]
            Some(
                Command::Model(_)
                | Command::Plan(_)
                | Command::Docs(_)
                | Command::Rehearse(_)
                | Command::Collect(_)
                | Command::Calibrate(_),
            ) => ExitCode::from(2),
            Some(Command::Load(args)) => load_cmd::load(args).await,
            Some(Command::Run(args)) => run_cmd::run(*args).await,
            None => run_cmd::run(cli.run).await,
        }
    })
}

/// What the command line asks of the build: the `aws` feature for SQS and
/// the deployed shape, the `tls` feature for an encrypted database
/// connection ([`needs`]).
fn asks(cli: &Cli) -> needs::Asks<'_> {
    use needs::Asks;
    match &cli.command {
        None => cli.run.pipeline.asks(),
        Some(Command::Run(args)) => args.pipeline.asks(),
        Some(Command::Serve(args)) => args.pipeline.asks(),
        Some(Command::Bench(args)) => Asks::pipeline(args.shape.is_lambda(), &args.config),
        Some(Command::Check(args)) => Asks::database(&args.config),
        Some(Command::Migrate(args)) => Asks::database(&args.config),
        Some(Command::Plan(_)) => Asks::aws("sim plan"),
        Some(Command::Model(_)) => Asks::aws("sim model"),
        Some(Command::Docs(_)) => Asks::aws("sim docs"),
        Some(Command::Rehearse(_)) => Asks::aws("sim rehearse"),
        Some(Command::Collect(_)) => Asks::aws("sim collect"),
        Some(Command::Calibrate(_)) => Asks::aws("sim calibrate"),
        Some(Command::Compare(args)) if args.observed.is_some() => {
            Asks::aws("sim compare --observed")
        }
        Some(Command::Load(args)) if args.url.starts_with("https://") => {
            Asks::https("sim load --url https://...")
        }
        Some(Command::Dlq(_) | Command::Deployment(_) | Command::Load(_) | Command::Compare(_)) => {
            Asks::default()
        }
    }
}

#[cfg(test)]
mod refusals {
    use super::*;

    /// What a build without the features says to each command line that
    /// needs one, whichever features this build has.
    fn refused(line: &str) -> Option<String> {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        let cli = Cli::try_parse_from(std::iter::once("sim".to_owned()).chain(args.clone()))
            .expect("the command line parses");
        let plain = needs::Built {
            aws: false,
            tls: false,
        };
        needs::refusal(&asks(&cli), plain, &args)
    }

    #[test]
    fn a_build_without_aws_refuses_sqs_and_the_deployed_shape_by_name() {
        for (line, what) in [
            ("--topology lambda --requests 10", "--topology lambda"),
            ("run --topology lambda", "--topology lambda"),
            ("serve --topology lambda", "--topology lambda"),
            ("bench --topology lambda", "--topology lambda"),
            ("--queue sqs", "--queue sqs (QUEUE_BACKEND=sqs)"),
            ("serve --queue sqs", "--queue sqs (QUEUE_BACKEND=sqs)"),
            ("plan --quick", "sim plan"),
            ("model --markdown", "sim model"),
            ("docs --check", "sim docs"),
        ] {
            let said = refused(line).unwrap_or_else(|| panic!("{line}: not refused"));
            assert_eq!(
                said,
                format!(
                    "{what} needs the sim built with the aws feature: \
                     cargo run -p sim --features aws -- {line}"
                ),
            );
        }
    }

    #[test]
    fn a_build_without_tls_refuses_an_https_api() {
        let line = "load --url https://abc123.execute-api.us-east-1.amazonaws.com";
        assert_eq!(
            refused(line).as_deref(),
            Some(
                "sim load --url https://... needs TLS to the API, and this sim is built without it: \
                 build it with the tls feature: cargo run -p sim --features tls -- \
                 load --url https://abc123.execute-api.us-east-1.amazonaws.com"
            )
        );
    }

    #[test]
    fn a_build_without_aws_runs_what_needs_none_of_it() {
        for line in [
            "--seed 1 --requests 10",
            "run --faults all",
            "serve --addr 127.0.0.1:0",
            "check",
            "migrate",
            "deployment",
            "dlq list",
            "compare a.json b.json",
            "load --url http://127.0.0.1:3000",
        ] {
            assert_eq!(refused(line), None, "{line}");
        }
    }

    #[test]
    fn a_build_without_tls_refuses_a_connection_that_must_be_encrypted() {
        let said = refused(
            "check --database-url mysql://db.example.com/shop --db-ssl-mode verify-identity",
        );
        assert!(
            said.as_deref().is_some_and(|s| s.starts_with(
                "DB_SSL_MODE=verify-identity needs TLS to the database, and this sim is built \
                 without it: build it with the tls feature: cargo run -p sim --features tls -- check"
            )),
            "{said:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command line as a shell splits it: quotes kept together, leading
    /// `NAME=value` assignments and a trailing ` # comment` dropped.
    fn words(line: &str) -> Vec<String> {
        let line = line.split(" #").next().unwrap_or(line);
        let (mut words, mut word, mut quote) = (vec![], String::new(), None);
        for c in line.chars() {
            match (quote, c) {
                (None, '\'' | '"') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, ' ') => {
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                }
                _ => word.push(c),
            }
        }
        words.push(word);
        words.retain(|w| !w.is_empty());
        let first = words.iter().position(|w| !w.contains('=')).unwrap_or(0);
        words.split_off(first)
    }

    #[test]
    fn every_example_in_the_help_parses() {
        for (command, examples) in crate::cmd::help::EXAMPLES {
            for line in examples.lines() {
                let words = words(line.trim());
                assert_eq!(words.first().map(String::as_str), Some("sim"), "{line}");
                if let Err(e) = Cli::try_parse_from(&words) {
                    panic!(
                        "sim {command}'s example `{}` does not parse: {e}",
                        line.trim()
                    );
                }
            }
        }
    }
}

#[cfg(all(test, feature = "tls"))]
mod tls {
    use tokio::io::AsyncReadExt;

    /// `sim load --url https://...` (a deployed stage) speaks TLS: the first
    /// bytes the client sends an https:// address are a TLS handshake record
    /// (a plain client would send `GET`, or fail before connecting).
    #[tokio::test]
    async fn an_https_api_is_spoken_to_over_tls() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = orderflow_client::Client::new(format!("https://localhost:{port}")).unwrap();
        let request = tokio::spawn(async move { client.get("/health").await });
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut first = [0u8; 3];
        socket.read_exact(&mut first).await.unwrap();
        assert_eq!(first, [0x16, 0x03, 0x01], "a TLS handshake record");
        drop(socket);
        assert!(
            request.await.unwrap().is_err(),
            "no server finished the handshake"
        );
    }
}
