//! API Gateway in front of the ingest function: the stage's throttle (a
//! token bucket of `rate` requests a second holding up to `burst`; past it
//! a 429, as API Gateway answers), then the ingest function's execution
//! environments: each request is one invocation, in a warm environment or
//! after a cold start (which opens that environment's pool), within the
//! function's concurrency. A throttled, failed or timed-out invocation is
//! answered 500, as an HTTP API's Lambda proxy integration answers it (the
//! model's `gateway_throttled_function_status`).
//!
//! What it does not model: the request is served by the pipeline's router
//! (the same code the ingest function runs), not by a router of the
//! environment's own; the environment's pool is opened, counted and held,
//! as the deployed one would be.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use engine::app::Front;
use engine::deployment::Throttle;

use super::function::{Function, InvokeError};

pub struct Gateway {
    throttle: Throttle,
    /// Tokens left, and when they were last counted.
    bucket: Mutex<(f64, Instant)>,
    ingest: Arc<Function>,
    /// Requests answered 429 by the stage throttle.
    pub throttled: AtomicU64,
    /// Requests answered 500 because the ingest function was at its
    /// concurrency, its init failed or it timed out.
    pub refused: AtomicU64,
    /// Of those, the ones the function's concurrency refused.
    pub function_throttled: AtomicU64,
    /// What an HTTP API answers for them (the model's
    /// `gateway_throttled_function_status`).
    refusal: StatusCode,
}

impl Gateway {
    pub fn new(throttle: Throttle, ingest: Arc<Function>, refusal: StatusCode) -> Arc<Self> {
        Arc::new(Gateway {
            throttle,
            bucket: Mutex::new((f64::from(throttle.burst), Instant::now())),
            ingest,
            throttled: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            function_throttled: AtomicU64::new(0),
            refusal,
        })
    }

    /// Wraps the API's router in the gateway.
    pub fn front(self: &Arc<Self>) -> Front {
        let gateway = self.clone();
        Arc::new(move |router: Router| {
            router.layer(middleware::from_fn_with_state(gateway.clone(), gate))
        })
    }

    /// Takes a token if the bucket holds one.
    fn admit(&self) -> bool {
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = &mut *bucket;
        let now = Instant::now();
        let refill = now.duration_since(*last).as_secs_f64() * f64::from(self.throttle.rate);
        *tokens = (*tokens + refill).min(f64::from(self.throttle.burst));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(serde_json::json!({ "message": text }))).into_response()
}

async fn gate(State(gateway): State<Arc<Gateway>>, request: Request, next: Next) -> Response {
    if !gateway.admit() {
        gateway.throttled.fetch_add(1, Ordering::Relaxed);
        return message(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
    }
    match gateway.ingest.invoke(|_env| next.run(request)).await {
        Ok(response) => response,
        Err(e) => {
            gateway.refused.fetch_add(1, Ordering::Relaxed);
            if matches!(e, InvokeError::Throttled) {
                gateway.function_throttled.fetch_add(1, Ordering::Relaxed);
            }
            // An HTTP API answers a Lambda throttle, error or timeout with
            // a 500 (not the 429 of its own throttle).
            message(gateway.refusal, "Internal Server Error")
        }
    }
}
