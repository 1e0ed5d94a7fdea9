//! `sim collect`: what a deployed stack did during a sale, read from AWS
//! into one observed file ([`crate::observed`]).

use std::path::PathBuf;

use clap::Args;

#[derive(Args, Clone, Debug)]
#[command(
    after_help = super::help::short("collect"),
    after_long_help = super::help::long("collect", "")
)]
pub struct CollectArgs {
    /// Where to write the observed file.
    #[arg(long, value_name = "PATH", default_value = "observed.json")]
    pub out: PathBuf,
}

#[cfg(feature = "aws")]
pub async fn collect(_args: CollectArgs) -> std::process::ExitCode {
    eprintln!("sim collect: not built yet");
    std::process::ExitCode::from(2)
}
