//! Operations endpoints: `/health`, `/metrics`, and the OpenAPI document.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::{dlq, inventory, orders, AppState, ErrorBody};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
}

/// The OpenAPI document of the whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "orderflow",
        description = "Event-driven order pipeline: ingest, process, notify."
    ),
    paths(
        orders::create,
        orders::show,
        inventory::list,
        inventory::show,
        dlq::list,
        dlq::redrive,
        health,
        metrics,
        openapi
    ),
    components(schemas(
        crate::domain::OrderRecord,
        crate::domain::OrderLine,
        crate::domain::OrderStatus,
        crate::domain::FailureReason,
        crate::domain::InventoryItem,
        crate::events::OrderCreated,
        crate::events::OrderProcessed,
    ))
)]
pub struct ApiDoc;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

/// Readiness: answers 200 when the store answers and orders are taken; 503
/// while the server drains on its way down.
#[utoipa::path(get, path = "/health", tag = "ops", responses(
    (status = 200, description = "Ready", body = Health),
    (status = 503, description = "The store does not answer, or the server is shutting down", body = ErrorBody),
))]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, super::ApiError> {
    if !state.ingest.is_open() {
        return Err(super::ApiError::ShuttingDown);
    }
    state.store.ping().await?;
    Ok(Json(Health { status: "ok" }))
}

/// Prometheus text exposition: order counters and queue depths.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text format (OpenMetrics)", body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    for q in &state.queues {
        if let Ok(d) = q.depth().await {
            state
                .metrics
                .set_queue_depth(q.name(), d.visible, d.in_flight);
        }
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
