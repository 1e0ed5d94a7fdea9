//! What every subcommand says on the console: logs on stderr (so a report
//! on stdout stays clean), and its exit status with the error's causes.

use std::process::ExitCode;

/// Logs to stderr, filtered by `RUST_LOG` or `default`; colour only on a
/// terminal.
pub fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Logs go to stderr, so a report on stdout stays clean; colour only on a
    // terminal.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// A subcommand's exit: 0, or 1 with the error and its causes on one line
/// after `command`.
pub fn exit_status(command: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{command}: {}", engine::report::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
