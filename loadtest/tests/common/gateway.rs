//! A stub API gateway in front of a real `sim serve`: it answers 401 to a
//! request without `Authorization: Bearer <token>`, 429 to requests beyond
//! a token bucket per kind (reads, writes), as an API Gateway's throttles
//! do, and forwards the rest. It counts what it saw.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// A token bucket: `rate` a second, up to `burst` at once.
pub struct Bucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    pub fn new(rate: f64, burst: f64) -> Bucket {
        Bucket {
            rate,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    fn take(&self) -> bool {
        let mut state = self.state.lock().unwrap();
        let (tokens, at) = &mut *state;
        *tokens = (*tokens + at.elapsed().as_secs_f64() * self.rate).min(self.burst);
        *at = Instant::now();
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What the gateway saw.
#[derive(Default)]
pub struct Counts {
    /// Requests without the right bearer token (answered 401).
    pub without_token: AtomicU64,
    /// Requests answered 429.
    pub throttled: AtomicU64,
    /// Requests passed on to the server.
    pub forwarded: AtomicU64,
}

struct Gateway {
    upstream: String,
    authorization: String,
    reads: Bucket,
    writes: Bucket,
    http: reqwest::Client,
    counts: Arc<Counts>,
}

/// Starts the gateway on a free port in front of `upstream`, wanting
/// `token`; answers its base URL and its counts.
pub async fn start(
    upstream: &str,
    token: &str,
    reads: Bucket,
    writes: Bucket,
) -> (String, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let gateway = Arc::new(Gateway {
        upstream: upstream.trim_end_matches('/').to_owned(),
        authorization: format!("Bearer {token}"),
        reads,
        writes,
        http: orderflow_client::http(),
        counts: counts.clone(),
    });
    let app = Router::new().fallback(handle).with_state(gateway);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, counts)
}

async fn handle(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let counts = &gateway.counts;
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == gateway.authorization.as_bytes());
    if !authorized {
        counts.without_token.fetch_add(1, Ordering::Relaxed);
        let body = r#"{"message":"Unauthorized"}"#;
        return (StatusCode::UNAUTHORIZED, body).into_response();
    }
    let bucket = match *request.method() {
        Method::GET => &gateway.reads,
        _ => &gateway.writes,
    };
    if !bucket.take() {
        let n = counts.throttled.fetch_add(1, Ordering::Relaxed);
        let mut answer = (
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"message":"Too Many Requests"}"#,
        )
            .into_response();
        // Every other one says when to come back (API Gateway's do not):
        // the load test must cope both ways.
        if n % 2 == 1 {
            answer
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        return answer;
    }
    counts.forwarded.fetch_add(1, Ordering::Relaxed);
    forward(&gateway, request).await
}

async fn forward(gateway: &Gateway, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let body = to_bytes(body, 1 << 20).await.unwrap();
    let mut upstream = gateway
        .http
        .request(parts.method, format!("{}{path}", gateway.upstream))
        .body(body);
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
        upstream = upstream.header(header::CONTENT_TYPE, ct);
    }
    let answer = match upstream.send().await {
        Ok(answer) => answer,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let mut response = Response::builder().status(answer.status());
    for name in [header::CONTENT_TYPE, header::RETRY_AFTER] {
        if let Some(value) = answer.headers().get(&name) {
            response = response.header(name, value);
        }
    }
    let body = answer.bytes().await.unwrap_or_default();
    response.body(Body::from(body)).unwrap()
}
