//! The ingest function: the orderflow API behind API Gateway (HTTP API,
//! payload format 2.0), the same axum router `sim serve` runs, limited to
//! the routes `API_ROUTES` names: `intake` (POST /api/orders, deployed
//! with no database), `reads` (the read function, the same zip) or `all`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    orderflow_lambda::init_logs();
    let env = orderflow_lambda::Environment::from_env().await?;
    lambda_http::run(env.router()).await
}
