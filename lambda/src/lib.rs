//! The Lambda functions of orderflow (ingest, which with `API_ROUTES=reads`
//! is also the read function; processor; notifier; migrate). Each binary builds its
//! [`engine::lambda::Environment`] once per execution environment and then
//! serves invocations; the handlers themselves live in `engine::lambda`.

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
