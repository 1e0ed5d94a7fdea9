//! `POST /api/orders` (ingest) and `GET /api/orders/{order_id}`.

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, AppState, ErrorBody};
use crate::domain::{OrderId, OrderRecord, ValidOrder};
use crate::ingest::Caller;

/// `POST /api/orders`: publishes, never touches the store.
pub(super) fn intake() -> Router<AppState> {
    Router::new().route("/api/orders", post(create))
}

/// `GET /api/orders/{order_id}`.
pub(super) fn reads() -> Router<AppState> {
    Router::new().route("/api/orders/{order_id}", get(show))
}

#[derive(Serialize, ToSchema)]
pub struct Accepted {
    #[schema(example = "Order accepted")]
    pub message: &'static str,
    #[schema(value_type = String, format = Uuid)]
    pub order_id: OrderId,
}

/// Validates an order, derives its idempotent id and publishes `OrderCreated`.
#[utoipa::path(
    post, path = "/api/orders", tag = "orders",
    request_body = ValidOrder,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$",
        description = "Lets a client place the same basket twice on purpose: the id derives from the customer and this key instead of the payload")),
    responses(
        (status = 202, description = "Accepted and enqueued", body = Accepted),
        (status = 400, description = "Invalid order; `message` names the field", body = ErrorBody),
        (status = 403, description = "Behind a JWT authorizer: `customer_id` is not the customer the token names, or the token names none; nothing was enqueued", body = ErrorBody),
        (status = 413, description = "Body larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "Content-Type is not JSON", body = ErrorBody),
        (status = 503, description = "Queue full or unavailable, or the server is shutting down; nothing was enqueued", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let body = super::read_body(body).await.inspect_err(|_| {
        state.metrics.rejected.inc();
    })?;
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let json = ct.to_str().is_ok_and(|ct| {
            let mime = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        });
        if !json {
            state.metrics.rejected.inc();
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    let key = headers.get("idempotency-key").map(|v| v.as_bytes());
    let caller = caller.as_ref().map(|Extension(c)| c);
    let order_id = state.ingest.accept(&body, key, caller).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            message: "Order accepted",
            order_id,
        }),
    ))
}

/// The order's recorded outcome. 404 until the processor has recorded it;
/// behind a JWT authorizer, 404 too for another customer's order (an id
/// travels in URLs and logs; knowing one is not owning it).
#[utoipa::path(
    get, path = "/api/orders/{order_id}", tag = "orders",
    params(("order_id" = String, Path, description = "The id `POST /api/orders` answered")),
    responses(
        (status = 200, description = "The order", body = OrderRecord),
        (status = 404, description = "Unknown, accepted and not processed yet, or (behind a JWT authorizer) another customer's", body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(order_id): Path<String>,
) -> Result<Json<OrderRecord>, ApiError> {
    let not_found = || ApiError::NotFound(format!("order {order_id} not found"));
    let id = OrderId::parse(&order_id).ok_or_else(not_found)?;
    let order = state.store.order(id).await?.ok_or_else(not_found)?;
    match caller {
        Some(Extension(Caller(customer))) if customer != order.customer_id.as_str() => {
            Err(not_found())
        }
        _ => Ok(Json(order)),
    }
}
