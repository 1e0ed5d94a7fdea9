//! The ingest function: the orderflow API behind API Gateway (HTTP API,
//! payload format 2.0), the same axum router `sim serve` runs.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    orderflow_lambda::init_logs();
    let env = engine::lambda::Environment::from_env().await?;
    lambda_http::run(env.router()).await
}
