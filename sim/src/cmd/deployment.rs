//! `sim deployment`: the deployed shape (`deploy/settings.json`) and whether
//! its functions' connections fit the database instance.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::aws::settings::{DeploymentSettings, FunctionName, INIT_EXTRA_CONNECTIONS};
use clap::Args;

#[derive(Args)]
#[command(
    after_help = super::help::short("deployment"),
    after_long_help = super::help::long("deployment", "")
)]
pub struct DeploymentArgs {
    /// A settings file to read instead of the `deploy/settings.json` this
    /// build carries.
    #[arg(long, value_name = "PATH")]
    settings: Option<PathBuf>,
    /// Print the settings' JSON Schema (the one `deploy/settings.schema.json`
    /// holds and Pulumi checks a settings file against) and exit.
    #[arg(long, conflicts_with = "settings")]
    schema: bool,
}

pub fn deployment(args: DeploymentArgs) -> ExitCode {
    if args.schema {
        print!("{}", DeploymentSettings::json_schema());
        return ExitCode::SUCCESS;
    }
    let (label, settings) = match &args.settings {
        Some(path) => (path.display().to_string(), DeploymentSettings::load(path)),
        None => (
            "deploy/settings.json".to_owned(),
            DeploymentSettings::shipped(),
        ),
    };
    let checked = settings.map(|s| {
        let b = s.connection_budget();
        (s, b)
    });
    let settings = match checked {
        Ok((s, budget)) => {
            print(&label, &s, &budget);
            s
        }
        Err(e) => {
            eprintln!("sim deployment: {e}");
            return ExitCode::from(2);
        }
    };
    match settings.deploy_refusal() {
        None => {
            println!("  pulumi up takes these settings");
            ExitCode::SUCCESS
        }
        Some(why) => {
            println!("  pulumi up refuses these settings: {why}");
            ExitCode::FAILURE
        }
    }
}

fn print(label: &str, s: &DeploymentSettings, budget: &crate::aws::settings::Budget) {
    println!(
        "{label}: {} (max_connections {}, set in the parameter group; {} kept free: {} for the functions)",
        s.instance_class,
        s.max_connections,
        s.reserved_connections,
        budget.available
    );
    for (&name, (envs, connections)) in &budget.functions {
        let pool = s.functions.get(name).map_or(0, |f| f.pool_size);
        let batches = s.event_sources.get(name).map_or(String::new(), |e| {
            format!(
                "; batches of {}, window {} s",
                e.batch_size, e.batching_window_secs
            )
        });
        let init = match (pool, INIT_EXTRA_CONNECTIONS) {
            (0, _) => ", no database".to_owned(),
            (_, 0) => String::new(),
            (_, n) => format!(" + {n} while starting"),
        };
        let batches = match (name, s.read_function()) {
            (FunctionName::Ingest, FunctionName::Read) => {
                format!("{batches}; POST /api/orders only")
            }
            (FunctionName::Read, _) => format!("{batches}; the read routes"),
            _ => batches,
        };
        let name = name.as_str();
        println!("  {name:<10} up to {envs:>4} environments x (pool {pool}{init}) = {connections:>5} connections{batches}");
    }
    let verdict = if budget.fits() {
        "fits"
    } else {
        "does NOT fit: connections past the limit are refused"
    };
    println!(
        "  total {} of {}: {verdict}",
        budget.needed(),
        budget.available
    );
    println!(
        "  connection alarm above {} (80% of max_connections); idle sessions closed after {} s (wait_timeout)",
        s.connection_alarm_threshold(),
        s.wait_timeout_secs
    );
    let routes: Vec<String> = s
        .route_throttles
        .iter()
        .map(|(route, t)| format!("{route} {}/s (burst {})", t.rate, t.burst))
        .collect();
    let routes = match routes.is_empty() {
        true => String::new(),
        false => format!("; {}", routes.join(", ")),
    };
    println!(
        "  throttles: the stage {}/s (burst {}){routes}",
        s.stage_throttle.rate, s.stage_throttle.burst
    );
}
