//! API Gateway in front of the ingest and read functions: each route's
//! throttle (a token bucket of `rate` requests a second holding up to
//! `burst`, the route's own from `route_throttles` or the stage's; past it
//! a 429, as API Gateway answers), then the function the route integrates:
//! `POST /api/orders` the ingest function, every other route the read
//! function (ingest, in settings without one). Each request is one
//! invocation, in a warm environment or after a cold start (which opens
//! that environment's pool, if it has one), within the function's
//! concurrency. A throttled, failed or timed-out invocation is
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

use std::collections::HashMap;

use crate::aws::settings::{DeploymentSettings, Throttle, API_ROUTES};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use engine::app::Front;

use super::function::{Function, InvokeError};

pub struct Gateway {
    /// Each route's bucket (API_ROUTES' keys; `None`: a path the API does
    /// not route, throttled as the stage).
    buckets: Mutex<HashMap<Option<&'static str>, Bucket>>,
    throttles: HashMap<Option<&'static str>, Throttle>,
    ingest: Arc<Function>,
    read: Arc<Function>,
    /// Requests past the throttles, each billed as an HTTP API request
    /// (the throttled ones are assumed not billed: AWS's page bills "the
    /// API calls you receive" and does not say).
    pub requests: AtomicU64,
    /// Requests answered 429 by a route's throttle (its own or the stage's).
    pub throttled: AtomicU64,
    /// Requests answered 500 because the route's function was at its
    /// concurrency, its init failed or it timed out.
    pub refused: AtomicU64,
    /// Of those, the ones the function's concurrency refused.
    pub function_throttled: AtomicU64,
    /// What an HTTP API answers for them (the model's
    /// `gateway_throttled_function_status`).
    refusal: StatusCode,
}

impl Gateway {
    /// The gateway of `settings`, integrating `POST /api/orders` with
    /// `ingest` and every other route with `read`.
    pub fn new(
        settings: &DeploymentSettings,
        (ingest, read): (Arc<Function>, Arc<Function>),
        refusal: StatusCode,
    ) -> Arc<Self> {
        let mut throttles: HashMap<Option<&'static str>, Throttle> = API_ROUTES
            .iter()
            .map(|&route| (Some(route), settings.throttle_of(route)))
            .collect();
        throttles.insert(None, settings.stage_throttle);
        Arc::new(Gateway {
            buckets: Mutex::new(HashMap::new()),
            throttles,
            ingest,
            read,
            requests: AtomicU64::new(0),
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

    fn admit(&self, route: Option<&'static str>) -> bool {
        let now = Instant::now();
        let throttle = self.throttles[&route];
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets
            .entry(route)
            .or_insert_with(|| Bucket::new(throttle, now))
            .admit(now)
    }
}

/// The API Gateway route key a request matches (one of [`API_ROUTES`]),
/// if any.
pub fn route_key(method: &Method, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let key = match (method, segments.as_slice()) {
        (&Method::POST, ["api", "orders"]) => "POST /api/orders",
        (&Method::GET, ["api", "orders", _]) => "GET /api/orders/{order_id}",
        (&Method::GET, ["api", "inventory"]) => "GET /api/inventory",
        (&Method::GET, ["api", "inventory", _]) => "GET /api/inventory/{product_id}",
        (&Method::GET, ["health"]) => "GET /health",
        _ => return None,
    };
    Some(key)
}

/// The stage throttle's token bucket: `burst` tokens at first, `rate` more
/// a second up to `burst`; a request takes one or is refused.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    throttle: Throttle,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(throttle: Throttle, now: Instant) -> Self {
        Bucket {
            throttle,
            tokens: f64::from(throttle.burst),
            last: now,
        }
    }

    /// Takes a token at `now` if the bucket holds one.
    pub fn admit(&mut self, now: Instant) -> bool {
        let refill =
            now.saturating_duration_since(self.last).as_secs_f64() * f64::from(self.throttle.rate);
        self.tokens = (self.tokens + refill).min(f64::from(self.throttle.burst));
        self.last = self.last.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Why a request did not reach its handler.
#[derive(Debug)]
pub enum Refused {
    /// The stage's throttle.
    Stage,
    /// The function's invocation (throttled, its init failed, or timed out).
    Function,
}

/// What an HTTP API answers a refused request: its own throttle a 429; a
/// throttled, failed or timed-out Lambda integration `function_refusal`
/// (the model's `gateway_throttled_function_status`, 500).
pub fn answer(refused: Refused, function_refusal: StatusCode) -> StatusCode {
    match refused {
        Refused::Stage => StatusCode::TOO_MANY_REQUESTS,
        Refused::Function => function_refusal,
    }
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(serde_json::json!({ "message": text }))).into_response()
}

async fn gate(State(gateway): State<Arc<Gateway>>, request: Request, next: Next) -> Response {
    let route = route_key(request.method(), request.uri().path());
    if !gateway.admit(route) {
        gateway.throttled.fetch_add(1, Ordering::Relaxed);
        return message(answer(Refused::Stage, gateway.refusal), "Too Many Requests");
    }
    gateway.requests.fetch_add(1, Ordering::Relaxed);
    let function = match route {
        Some("POST /api/orders") => &gateway.ingest,
        _ => &gateway.read,
    };
    match function.invoke(|_env| next.run(request)).await {
        Ok(response) => response,
        Err(e) => {
            gateway.refused.fetch_add(1, Ordering::Relaxed);
            if matches!(e, InvokeError::Throttled) {
                gateway.function_throttled.fetch_add(1, Ordering::Relaxed);
            }
            message(
                answer(Refused::Function, gateway.refusal),
                "Internal Server Error",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::aws::model::{End, Model};

    #[test]
    fn the_stage_throttle_admits_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(
            Throttle {
                rate: 100,
                burst: 200,
            },
            t0,
        );
        let admitted = (0..250).filter(|_| bucket.admit(t0)).count();
        assert_eq!(admitted, 200, "the burst at once");
        // A second later, `rate` more (and never above the burst).
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!((0..250).filter(|_| bucket.admit(t1)).count(), 100);
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..250).filter(|_| bucket.admit(t2)).count(), 200);
    }

    #[test]
    fn an_http_api_answers_its_own_throttle_429_and_a_refused_function_500() {
        let model = Model::shipped(End::Central, 1).unwrap();
        let status = model.v(&model.c.gateway_throttled_function_status) as u16;
        assert_eq!(status, 500, "the documented answer");
        let refusal = StatusCode::from_u16(status).unwrap();
        assert_eq!(
            answer(Refused::Stage, refusal),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            answer(Refused::Function, refusal),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn requests_match_the_deployed_routes() {
        let cases = [
            (Method::POST, "/api/orders", Some("POST /api/orders")),
            (
                Method::GET,
                "/api/orders/abc",
                Some("GET /api/orders/{order_id}"),
            ),
            (Method::GET, "/api/inventory", Some("GET /api/inventory")),
            (
                Method::GET,
                "/api/inventory/prod-101",
                Some("GET /api/inventory/{product_id}"),
            ),
            (Method::GET, "/health", Some("GET /health")),
            (Method::GET, "/api/orders", None),
            (Method::GET, "/api/dlq", None),
            (Method::POST, "/api/dlq/redrive", None),
        ];
        for (method, path, key) in cases {
            assert_eq!(route_key(&method, path), key, "{method} {path}");
        }
    }
}
