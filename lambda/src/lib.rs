//! The Lambda functions of orderflow: the same engine as `sim`, wired to SQS,
//! RDS and Secrets Manager. The binaries (`src/bin/`) are thin `main`s over
//! this library: ingest (with `API_ROUTES=reads` also the read function),
//! processor, notifier and the migration step. `sim --topology lambda` runs
//! the same handlers behind its emulated event source mappings.
//!
//! - [`environment`]: what an execution environment builds once
//!   ([`Environment::from_env`]) and every invocation borrows; the ingest
//!   function serves [`Environment::router`] through `lambda_http` (API
//!   Gateway HTTP API, payload format 2.0), exactly as `sim serve` serves it.
//! - [`handlers`]: the processor's and notifier's SQS batches in,
//!   [`BatchResponse`] out, listing only the messages that failed.
//! - [`migrate`]: the migration step, run once per deploy.
//! - [`secrets`] and [`RotatingStore`]: credentials from Secrets Manager,
//!   read again when the database refuses them.
//! - [`BatchMetrics`]: the queue functions' metrics in CloudWatch's embedded
//!   metric format.
//!
//! **Architecture invariant:** the engine knows nothing of this crate; what
//! is Lambda's (its events, Secrets Manager, the init's own errors) lives
//! here.

use engine::app::StartError;
use engine::config::ConfigError;
use engine::queue::QueueError;
use engine::store::StoreError;

mod credentials;
mod emf;
pub mod environment;
pub mod handlers;
mod identity;
pub mod migrate;
pub mod secrets;

pub use credentials::RotatingStore;
pub use emf::{BatchMetrics, Meter};
pub use environment::{environment_command, Environment, Startup};
pub use handlers::{
    handle_orders, handle_processed, invocation_deadline, messages, BatchResponse, SqsEvent,
    SqsMessage,
};
pub use identity::caller_from_claim;
pub use migrate::{migrate_from_env, MigrateRequest, APP_USER};
pub use secrets::{Credentials, Malformed, Secret, SecretError};

/// Why an execution environment (or the migration step) could not start:
/// what the in-process app can meet too ([`StartError`]), and what only a
/// function can.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Start(#[from] StartError),
    /// The function's environment variables do not parse.
    #[error("environment: {0}")]
    Environment(#[from] clap::Error),
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The migration function was built from other migrations than the
    /// deploy expects.
    #[error(
        "this migration function carries migrations {carried}, the deploy expects {expected}: \
         rebuild the zips (scripts/build-lambdas.sh) from the commit you deploy"
    )]
    StaleMigrations { carried: String, expected: String },
    /// The migration function has no database to migrate.
    #[error("the migration function needs DB_HOST")]
    NoDatabase,
}

impl InitError {
    /// Whether starting again may succeed: the store, the queues or Secrets
    /// Manager were unavailable, not misconfigured.
    pub fn is_transient(&self) -> bool {
        match self {
            InitError::Start(e) => e.is_transient(),
            InitError::Secret(e) => e.is_transient(),
            _ => false,
        }
    }
}

impl From<StoreError> for InitError {
    fn from(e: StoreError) -> Self {
        InitError::Start(e.into())
    }
}

impl From<QueueError> for InitError {
    fn from(e: QueueError) -> Self {
        InitError::Start(e.into())
    }
}

impl From<ConfigError> for InitError {
    fn from(e: ConfigError) -> Self {
        InitError::Start(e.into())
    }
}

/// Structured logs for CloudWatch: one JSON object a line when the function's
/// log format is JSON (Lambda sets `AWS_LAMBDA_LOG_FORMAT`; the Pulumi program
/// deploys it so, for CloudWatch Logs Insights to query fields), plain text
/// otherwise; no colours, no timestamps (Lambda adds its own), `RUST_LOG` as
/// the filter (default `info`).
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time();
    let _ = if json {
        logs.json().flatten_event(true).try_init()
    } else {
        logs.try_init()
    };
}
