//! `sim deployment`: the deployed shape (`deploy/settings.json`) and whether
//! its functions' connections fit the database instance.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use engine::deployment::{max_connections, DeploymentSettings};

#[derive(Args)]
pub struct DeploymentArgs {
    /// A settings file to read instead of the `deploy/settings.json` this
    /// build carries.
    #[arg(long, value_name = "PATH")]
    settings: Option<PathBuf>,
}

pub fn deployment(args: DeploymentArgs) -> ExitCode {
    let (label, settings) = match &args.settings {
        Some(path) => (path.display().to_string(), DeploymentSettings::load(path)),
        None => (
            "deploy/settings.json".to_owned(),
            DeploymentSettings::shipped(),
        ),
    };
    let checked = settings.and_then(|s| s.connection_budget().map(|b| (s, b)));
    let budget = match checked {
        Ok((s, budget)) => {
            print(&label, &s, &budget);
            budget
        }
        Err(e) => {
            eprintln!("sim deployment: {e}");
            return ExitCode::from(2);
        }
    };
    if budget.fits() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print(label: &str, s: &DeploymentSettings, budget: &engine::deployment::Budget) {
    println!(
        "{label}: {} (max_connections {}, {} kept free: {} for the functions)",
        s.instance_class,
        max_connections(&s.instance_class).unwrap_or(0),
        s.reserved_connections,
        budget.available
    );
    for (name, (envs, connections)) in &budget.functions {
        let pool = s.functions.get(name).map_or(0, |f| f.pool_size);
        let batches = s.event_sources.get(name).map_or(String::new(), |e| {
            format!(
                "; batches of {}, window {} s",
                e.batch_size, e.batching_window_secs
            )
        });
        println!("  {name:<10} up to {envs:>4} environments x pool {pool} = {connections:>5} connections{batches}");
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
}
