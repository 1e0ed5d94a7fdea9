//! The HTTP API: one axum `Router`, served by `sim serve` locally and by
//! `lambda_http` on AWS alike. One module per resource; errors map to HTTP in
//! one place ([`ApiError`]).

mod dlq;
mod inventory;
mod ops;
mod orders;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use tower_http::timeout::TimeoutLayer;
use utoipa::ToSchema;

use crate::context::Context;
use crate::dlq::{DeadLetterQueue, FailureLog};
use crate::ingest::{Ingest, IngestError};
use crate::metrics::Metrics;
use crate::queue::{QueueBackend, QueueError};
use crate::queues::Queues;
use crate::store::{OrderStore, StoreError};
use crate::validation::ValidationError;

pub use ops::ApiDoc;

/// The OpenAPI document of the whole API, as `GET /openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <ApiDoc as utoipa::OpenApi>::openapi()
}

/// Largest request body accepted; larger ones get 413. A 100-line order is
/// under 10 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Past [`MAX_BODY_BYTES`], how much more of a body is read and thrown
/// away, for how long in all, and how long a pause in it ends the wait, so
/// that the 413 reaches a client still sending: a server that closes a
/// connection with unread data in it makes the kernel answer with a reset,
/// and the client sees that instead of the answer (nginx's "lingering
/// close" does the same).
pub const LINGER_BYTES: usize = 16 * 1024 * 1024;
pub const LINGER: Duration = Duration::from_secs(5);
pub const LINGER_PAUSE: Duration = Duration::from_secs(1);

/// Longest a request may take, body upload included, before it is answered
/// 408 and dropped: a slow client cannot hold a connection and its memory.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub ingest: Ingest,
    pub store: Arc<dyn OrderStore>,
    pub metrics: Arc<Metrics>,
    /// Every queue whose depth `/metrics` reports.
    pub queues: Vec<Arc<dyn QueueBackend>>,
    /// The DLQs `/api/dlq` lists and redrives.
    pub dead_letters: Vec<DeadLetterQueue>,
    pub failures: Arc<FailureLog>,
}

impl AppState {
    /// The state for a pipeline's context and queues: ingest publishes to
    /// the order queue, `/metrics` reports every queue, `/api/dlq` both DLQs.
    pub fn new(ctx: &Context, queues: &Queues) -> AppState {
        let ingest = Ingest::new(
            queues.orders.clone(),
            ctx.metrics.clone(),
            ctx.order_ids.clone(),
        );
        AppState::with_ingest(ctx, queues, ingest)
    }

    /// The state over an `ingest` the caller built (the in-process app's,
    /// publishing through its wrapped queue).
    pub fn with_ingest(ctx: &Context, queues: &Queues, ingest: Ingest) -> AppState {
        AppState {
            ingest,
            store: ctx.store.clone(),
            metrics: ctx.metrics.clone(),
            failures: ctx.failures.clone(),
            queues: queues.all(),
            dead_letters: queues.dead_letters(),
        }
    }
}

/// Which of the API's routes a router serves: all of them (`sim serve`,
/// the local topology), or one deployed function's share: the ingest
/// function's `intake` (`POST /api/orders`, which only publishes, so the
/// function needs no database) or the read function's `reads` (an order,
/// the inventory, `/health`, `/metrics`, the OpenAPI document). The DLQ
/// routes are in `all` only: the deployed API does not expose them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Routes {
    #[default]
    All,
    Intake,
    Reads,
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    router_for(state, Routes::All)
}

/// The API's `routes`; any other path answers 404.
pub fn router_for(state: AppState, routes: Routes) -> Router {
    let reads = || {
        Router::new()
            .merge(orders::reads())
            .merge(inventory::router())
            .merge(ops::router())
    };
    let api = match routes {
        Routes::All => orders::intake().merge(reads()).merge(dlq::router()),
        Routes::Intake => orders::intake(),
        Routes::Reads => reads(),
    };
    api.fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(state)
}

/// A request's body, at most [`MAX_BODY_BYTES`]; a larger one is
/// [`ApiError::TooLarge`], after the rest of it was read and dropped
/// (within [`LINGER_BYTES`], [`LINGER`] and [`LINGER_PAUSE`]), so the
/// client reads the 413.
pub(crate) async fn read_body(body: axum::body::Body) -> Result<Bytes, ApiError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| unreadable(&e))?;
        if buf.len() + chunk.len() > MAX_BODY_BYTES {
            let mut dropped = buf.len() + chunk.len();
            let drain = async {
                while let Ok(Some(Ok(chunk))) =
                    tokio::time::timeout(LINGER_PAUSE, stream.next()).await
                {
                    dropped += chunk.len();
                    if dropped > LINGER_BYTES {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(LINGER, drain).await;
            return Err(ApiError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

fn unreadable(e: &axum::Error) -> ApiError {
    ApiError::Invalid(crate::validation::ValidationError {
        field: None,
        message: format!("could not read the body: {e}"),
    })
}

/// The body of every error answer. `message` is the seed's key.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, naming the field for bad input.
    pub message: String,
    /// The offending field, for validation errors (`items[2].quantity`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("request body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this (an order for another customer than the
    /// verified token names, or a write without a verified token where the
    /// deployment requires one).
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the server is shutting down and takes no new orders; nothing was enqueued, retry shortly"
    )]
    ShuttingDown,
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Invalid(v) => ApiError::Invalid(v),
            IngestError::Queue(q) => ApiError::Queue(q),
            IngestError::Closed => ApiError::ShuttingDown,
            e @ IngestError::NotTheCaller { .. } => ApiError::Forbidden(e.to_string()),
        }
    }
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Queue(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Store(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Queue(_) | ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (message, field) = match &self {
            ApiError::Invalid(v) => (v.message.clone(), v.field.clone()),
            ApiError::Queue(QueueError::Full(_)) => {
                ("too many orders in flight; retry shortly".to_owned(), None)
            }
            // Internal detail is logged, never sent.
            ApiError::Queue(_) | ApiError::Store(_) => {
                tracing::error!(error = %self, "request failed");
                let message = if status == StatusCode::SERVICE_UNAVAILABLE {
                    "temporarily unavailable; the order was not accepted, retry shortly"
                } else {
                    "internal error"
                };
                (message.to_owned(), None)
            }
            other => (other.to_string(), None),
        };
        let mut response = (status, Json(ErrorBody { message, field })).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
