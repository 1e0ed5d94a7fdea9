//! `sim calibrate OBSERVED.json`: the model's constants fitted to what a
//! stack did ([`crate::observed::calibrate`]), written as a model file
//! that `--model-file` takes.

use std::path::PathBuf;

use clap::Args;

/// What `sim calibrate --help` says before its examples.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
const NOTES: &str = "\
Each fitted constant gets the fitted value as its central one, its tolerance either side as \
its range, and `observed <stack> <date>` with the method as its source; every other constant \
is kept from the base model (--model-file, or the shipped deploy/model.json). The fits: the \
SQS call's median and 99th percentile from the ingest function's warm durations; the \
runtime's start from its cold starts' Init Duration; Lambda's CPU against the reference host \
from the processor's EMF CpuMillis; the event source mapping's ramp from the processor's \
concurrency, rebuilt from its REPORT lines; the commit from RDS's WriteLatency. A constant \
the run cannot inform is listed with the reason, and kept.";

#[derive(Args, Clone, Debug)]
#[command(
    after_help = super::help::short("calibrate"),
    after_long_help = super::help::long("calibrate", NOTES)
)]
pub struct CalibrateArgs {
    /// The observed file (`sim collect`, or `sim run --observed`).
    pub observed: PathBuf,
    /// Where to write the calibrated model file.
    #[arg(long, value_name = "PATH", default_value = "model-observed.json")]
    pub out: PathBuf,
    /// The model the fits start from, and whose other constants the
    /// written file keeps (default: the shipped deploy/model.json).
    #[arg(long, value_name = "PATH")]
    pub model_file: Option<PathBuf>,
}

#[cfg(feature = "aws")]
pub fn calibrate(args: CalibrateArgs) -> std::process::ExitCode {
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sim calibrate: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

#[cfg(feature = "aws")]
fn run(args: &CalibrateArgs) -> anyhow::Result<std::process::ExitCode> {
    use crate::aws::model::{Model, SHIPPED};
    use crate::aws::End;
    use crate::observed::{calibrate, Observed};
    use anyhow::Context as _;

    let observed = Observed::read(&args.observed)?;
    let (text, origin) = match &args.model_file {
        Some(path) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the model {}", path.display()))?,
            path.display().to_string(),
        ),
        None => (SHIPPED.to_owned(), "deploy/model.json".to_owned()),
    };
    let base = Model::parse(&text, &origin, End::Central, 0)?;
    let found = calibrate::calibrate(&observed, &base);
    println!(
        "sim calibrate: {} ({} {}, window from {}) against {origin}\n",
        args.observed.display(),
        observed.source,
        observed.stack,
        observed.window.start
    );
    println!("fitted:");
    for f in &found.fits {
        let c = crate::aws::model::table(&text)?
            .remove(f.constant)
            .map(|c| c.values())
            .unwrap_or_default();
        println!(
            "  {:<22} {:>9.3} ±{:.0} %   (was {c}; {} observations)\n      {}",
            f.constant,
            f.value,
            f.tolerance * 100.0,
            f.n,
            f.method
        );
    }
    println!("\nnot informed by this run (kept as they were):");
    for (name, why) in &found.not_informed {
        println!("  {name:<22} {why}");
    }
    anyhow::ensure!(
        !found.fits.is_empty(),
        "the observed run informs no constant: nothing written"
    );
    let file = args.observed.display().to_string();
    let written = calibrate::calibrated_model(&text, &observed, &found, &file)?;
    for end in [End::Optimistic, End::Central, End::Pessimistic] {
        Model::parse(&written, "the calibrated model", end, 0)?;
    }
    std::fs::write(&args.out, &written)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "\nwrote {}: run the sale under it with --model-file {} (at --model central, or at either end of the fitted ranges)",
        args.out.display(),
        args.out.display()
    );
    Ok(std::process::ExitCode::SUCCESS)
}
