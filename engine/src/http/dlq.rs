//! `GET /api/dlq` and `POST /api/dlq/redrive`: operator endpoints for the
//! dead-letter queues. (On AWS, API Gateway routes only the order and read
//! endpoints; these are for `sim serve`.)

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, AppState, ErrorBody};
use crate::dlq::{self, DeadLetter};
use crate::queues::NO_DLQ;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/dlq", get(list))
        .route("/api/dlq/redrive", post(redrive))
}

/// Most messages listed or redriven per call.
const MAX_LISTED: usize = 1_000;

#[derive(Deserialize, IntoParams)]
pub struct Which {
    /// `orders` or `processed`; both when absent.
    #[param(pattern = "^(orders|processed)$")]
    queue: Option<String>,
}

impl Which {
    fn select<'a>(&self, state: &'a AppState) -> Result<Vec<&'a dlq::DeadLetterQueue>, ApiError> {
        let chosen: Vec<_> = state
            .dead_letters
            .iter()
            .filter(|q| self.queue.as_deref().is_none_or(|name| name == q.name))
            .collect();
        if chosen.is_empty() {
            return Err(ApiError::Invalid(crate::validation::ValidationError {
                field: Some("queue".into()),
                message: "queue must be orders or processed".into(),
            }));
        }
        // Asked for by name, a queue without a DLQ is answered plainly.
        if let [q] = chosen[..] {
            if q.dlq.is_none() && self.queue.is_some() {
                return Err(ApiError::NotFound(format!(
                    "the {} queue has no dead-letter queue (no redrive policy): {NO_DLQ}",
                    q.name
                )));
            }
        }
        Ok(chosen)
    }
}

/// The messages in the dead-letter queues, with their receive counts and the
/// last error seen.
#[utoipa::path(get, path = "/api/dlq", tag = "dlq", params(Which), responses(
    (status = 200, description = "Dead letters, oldest first (without `queue`: of the queues that have a DLQ)", body = Vec<DeadLetter>),
    (status = 400, description = "Unknown queue", body = ErrorBody),
    (status = 404, description = "The queue named has no dead-letter queue (no redrive policy)", body = ErrorBody),
))]
pub async fn list(
    State(state): State<AppState>,
    Query(which): Query<Which>,
) -> Result<Json<Vec<DeadLetter>>, ApiError> {
    let mut out = Vec::new();
    for q in which.select(&state)? {
        out.extend(dlq::list(q, &state.failures, MAX_LISTED).await?);
    }
    Ok(Json(out))
}

#[derive(Serialize, ToSchema)]
pub struct Redriven {
    /// Messages sent back to their source queue.
    pub redriven: usize,
}

/// Sends dead letters back to the queue they came from, to be processed
/// again (once: the processor is idempotent).
#[utoipa::path(post, path = "/api/dlq/redrive", tag = "dlq", params(Which), responses(
    (status = 200, description = "How many were sent back", body = Redriven),
    (status = 400, description = "Unknown queue", body = ErrorBody),
    (status = 404, description = "The queue named has no dead-letter queue (no redrive policy)", body = ErrorBody),
))]
pub async fn redrive(
    State(state): State<AppState>,
    Query(which): Query<Which>,
) -> Result<Json<Redriven>, ApiError> {
    let mut redriven = 0;
    for q in which.select(&state)? {
        redriven += dlq::redrive(q, MAX_LISTED).await?;
    }
    Ok(Json(Redriven { redriven }))
}
