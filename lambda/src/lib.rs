//! The three Lambda functions of orderflow. Each binary builds its
//! [`engine::lambda::Environment`] once per execution environment and then
//! serves invocations; the handlers themselves live in `engine::lambda`.

/// Plain structured logs for CloudWatch: no colours, no timestamps (Lambda
/// adds its own), `RUST_LOG` as the filter (default `info`).
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time()
        .try_init();
}
