//! `sim calibrate OBSERVED.json`: the model's constants fitted to what a
//! stack did ([`crate::observed::calibrate`]), written as a model file.

use std::path::PathBuf;

use clap::Args;

#[derive(Args, Clone, Debug)]
#[command(
    after_help = super::help::short("calibrate"),
    after_long_help = super::help::long("calibrate", "")
)]
pub struct CalibrateArgs {
    /// The observed file (`sim collect`, or `sim run --observed`).
    pub observed: PathBuf,
    /// Where to write the calibrated model file.
    #[arg(long, value_name = "PATH", default_value = "model-observed.json")]
    pub out: PathBuf,
}

#[cfg(feature = "aws")]
pub fn calibrate(_args: CalibrateArgs) -> std::process::ExitCode {
    eprintln!("sim calibrate: not built yet");
    std::process::ExitCode::from(2)
}
