//! `sim rehearse`: the sale rehearsed on AWS in a sandbox account.

use clap::Args;

#[derive(Args, Clone, Debug)]
#[command(
    after_help = super::help::short("rehearse"),
    after_long_help = super::help::long("rehearse", "")
)]
pub struct RehearseArgs {
    /// Print the plan, each step's check and cost, and the expected bill;
    /// touch nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[cfg(feature = "aws")]
pub async fn rehearse(_args: RehearseArgs) -> std::process::ExitCode {
    eprintln!("sim rehearse: not built yet");
    std::process::ExitCode::from(2)
}
