//! `sim model`: the model of AWS the deployed shape runs under
//! (deploy/model.json), as a table: each constant's range and source.

use std::path::PathBuf;
#[cfg(feature = "aws")]
use std::process::ExitCode;

use clap::Args;

#[cfg(feature = "aws")]
use crate::aws::model::{self, End, Model};

// Read by `model` alone, which a build without `aws` leaves out.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
#[derive(Args)]
#[command(
    after_help = super::help::short("model"),
    after_long_help = super::help::long("model", "")
)]
pub struct ModelArgs {
    /// A model file to read instead of the deploy/model.json this build
    /// carries.
    #[arg(long, value_name = "PATH")]
    model_file: Option<PathBuf>,
    /// Print the table as Markdown (as the book's reference page shows it).
    #[arg(long)]
    markdown: bool,
    /// Time the reference work on this machine and build instead: what the
    /// CPU charge scales this host's CPU time by (the book's "The model of AWS").
    #[arg(long)]
    host: bool,
}

#[cfg(feature = "aws")]
pub fn model(args: ModelArgs) -> ExitCode {
    if args.host {
        let micros = crate::aws::cpu::reference_micros(9);
        println!(
            "reference work: {micros:.0} µs of CPU on this machine ({} build), {:.0} µs on the reference host: this host runs at {:.2}x its speed",
            if crate::aws::cpu::is_debug_build() { "a debug" } else { "a release" },
            crate::aws::cpu::REFERENCE_WORK_MICROS,
            crate::aws::cpu::REFERENCE_WORK_MICROS / micros,
        );
        return ExitCode::SUCCESS;
    }
    let text = match &args.model_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("sim model: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => model::SHIPPED.to_owned(),
    };
    let origin = args
        .model_file
        .as_ref()
        .map_or("deploy/model.json".into(), |p| p.display().to_string());
    let checked = Model::parse(&text, &origin, End::Central, 0).and_then(|_| {
        if args.markdown {
            model::markdown(&text)
        } else {
            plain(&text)
        }
    });
    match checked {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sim model: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// One block a constant: name, values, what it is, source.
#[cfg(feature = "aws")]
fn plain(text: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    for (name, c) in model::table(text)? {
        let values = match c.is_fixed() {
            true => c.values(),
            false => format!("{} (optimistic / central / pessimistic)", c.values()),
        };
        out.push_str(&format!(
            "{name}: {values}\n  {}\n  source: {} <{}>, read {}\n  if AWS differs: {}\n",
            c.what, c.source, c.url, c.read, c.if_aws_differs
        ));
    }
    Ok(out)
}
