//! What every subcommand says on the console: logs on stderr (so a report
//! on stdout stays clean), and its exit status with the error's causes.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// Logs to stderr, filtered by `RUST_LOG` or `default`; colour only on a
/// terminal.
pub fn init_tracing(default: &str) {
    let _ = tracing_subscriber::registry()
        .with(console(default))
        .try_init();
}

/// [`init_tracing`], and beside it every event the engine's code emits at
/// the level the deployed functions log at, formatted as they format it
/// and its bytes counted ([`function_log_bytes`]): the deployed shape's
/// CloudWatch Logs, for its bill. (Only there: formatting every
/// notification's line costs the local pipeline time its benchmarks would
/// count.)
pub fn init_tracing_counting_function_logs(default: &str) {
    let _ = tracing_subscriber::registry()
        .with(console(default))
        .with(function_logs())
        .try_init();
}

/// Logs go to stderr, so a report on stdout stays clean; colour only on a
/// terminal.
fn console<S>(default: &str) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour(&std::io::stderr()))
        .with_filter(filter)
}

/// Colour on a terminal only, and never when `NO_COLOR` is set
/// (<https://no-color.org>).
pub fn colour(stream: &impl std::io::IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// What the functions' logger (`lambda::init_logs`, with the `RUST_LOG=info`
/// and JSON log format the Pulumi program deploys) would write of the
/// engine's events, counted, not kept.
fn function_logs<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .without_time()
        .with_ansi(false)
        .with_writer(|| Counted)
        .with_filter(EnvFilter::new("off,engine=info,orderflow=info"))
}

static FUNCTION_LOG_BYTES: AtomicU64 = AtomicU64::new(0);

/// Bytes the engine's code has logged so far as the deployed functions
/// would log them (one JSON object a line), for the deployed shape's bill.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub fn function_log_bytes() -> u64 {
    FUNCTION_LOG_BYTES.load(Ordering::Relaxed)
}

/// A writer that counts what it is given.
struct Counted;

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        FUNCTION_LOG_BYTES.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A subcommand's exit: 0, or 2 (no verdict could be made) with the error
/// and its causes on one line after `command`.
pub fn exit_status(command: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{command}: {}", engine::report::error_chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

/// For `--json -`: the real standard output, kept for the JSON alone,
/// everything printed going to standard error instead; none for any other
/// `--json`.
pub fn keep_stdout_for(json: Option<&std::path::Path>) -> std::io::Result<Option<std::fs::File>> {
    match json == Some(std::path::Path::new("-")) {
        true => stdout_to_stderr().map(Some),
        false => Ok(None),
    }
}

static QUIET: AtomicBool = AtomicBool::new(false);

/// Whether `--quiet` asked for nothing but the verdict (no progress bar).
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// `--quiet`: everything printed from here on goes nowhere, the progress
/// bar is not drawn, and the answer (the real standard output) is kept for
/// the verdict. Errors and logs still reach standard error.
pub fn silence_stdout() -> std::io::Result<std::fs::File> {
    use std::os::fd::{AsRawFd as _, FromRawFd as _};
    QUIET.store(true, Ordering::Relaxed);
    std::io::stdout().flush()?;
    let nowhere = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    // SAFETY: dup and dup2 on the process's own standard output; the
    // duplicate is owned by the File from here on.
    unsafe {
        let saved = libc::dup(libc::STDOUT_FILENO);
        if saved < 0 || libc::dup2(nowhere.as_raw_fd(), libc::STDOUT_FILENO) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(std::fs::File::from_raw_fd(saved))
    }
}

/// Points this process's standard output at its standard
/// error, so the text report (and everything else printed) goes there and
/// the JSON alone reaches the real standard output, which the answer keeps.
pub fn stdout_to_stderr() -> std::io::Result<std::fs::File> {
    use std::os::fd::FromRawFd as _;
    std::io::stdout().flush()?;
    // SAFETY: dup and dup2 on the process's own standard descriptors; the
    // duplicate is owned by the File from here on.
    unsafe {
        let saved = libc::dup(libc::STDOUT_FILENO);
        if saved < 0 || libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(std::fs::File::from_raw_fd(saved))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_functions_log_lines_are_counted_as_the_deployed_logger_writes_them() {
        let subscriber = tracing_subscriber::registry().with(function_logs());
        tracing::subscriber::with_default(subscriber, || {
            let before = function_log_bytes();
            tracing::info!(target: "orderflow::notification", order_id = "o-1", "notification dispatched");
            let line = function_log_bytes() - before;
            // {"level":"INFO","message":"notification dispatched","order_id":"o-1","target":"orderflow::notification"}
            assert!((90..160).contains(&line), "{line} bytes");
            // The sim's own events and the engine's debug ones are not the functions' logs.
            tracing::warn!(target: "sim::aws::esm", "init failed");
            tracing::debug!(target: "engine::processor", "a batch");
            assert_eq!(function_log_bytes() - before, line);
        });
    }
}
