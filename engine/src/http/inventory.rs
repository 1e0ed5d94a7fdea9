//! `GET /api/inventory` and `GET /api/inventory/{product_id}`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};

use super::{ApiError, AppState, ErrorBody};
use crate::domain::{InventoryItem, ProductId};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/inventory", get(list))
        .route("/api/inventory/{product_id}", get(show))
}

/// Every product and its stock.
#[utoipa::path(get, path = "/api/inventory", tag = "inventory",
    responses((status = 200, description = "All products, by product_id", body = Vec<InventoryItem>)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<InventoryItem>>, ApiError> {
    Ok(Json(state.store.inventory().await?))
}

/// One product and its stock.
#[utoipa::path(get, path = "/api/inventory/{product_id}", tag = "inventory",
    params(("product_id" = String, Path, description = "e.g. prod-101")),
    responses(
        (status = 200, description = "The product", body = InventoryItem),
        (status = 404, description = "No such product", body = ErrorBody),
    ))]
pub async fn show(
    State(state): State<AppState>,
    Path(product_id): Path<String>,
) -> Result<Json<InventoryItem>, ApiError> {
    let not_found = || ApiError::NotFound(format!("product {product_id} not found"));
    let id = ProductId::parse(&product_id).map_err(|_| not_found())?;
    state
        .store
        .product(&id)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}
