//! A small HTTP client for the orderflow API: `sim`'s scenarios and load,
//! `loadtest`'s verification and the tests speak to a running server
//! through it. An [`Answer`] is a status, headers and a JSON body, whatever
//! the status: callers decide what they expected. A deployed API behind a
//! gateway that wants a bearer token gets it on every request from
//! [`Client::with_bearer`].

mod latencies;

pub use latencies::Latencies;

use anyhow::Context;
use std::time::Duration;

use reqwest::header::{HeaderMap, AUTHORIZATION};
use serde_json::Value;

/// The type of a header's value, as [`bearer`] answers it: the `http`
/// crate's, which every reqwest of the workspace (Goose's too) takes.
pub use reqwest::header::HeaderValue;

/// The order id a queue message's body names (an `OrderCreated` or an
/// `OrderProcessed`, as a DLQ listing shows it); none for a body that is not
/// such JSON, a poison message.
pub fn order_id_in(body: &str) -> Option<String> {
    serde_json::from_str::<Value>(body)
        .ok()?
        .get("order_id")?
        .as_str()
        .map(str::to_owned)
}

/// The `Authorization: Bearer TOKEN` value, marked sensitive so that no
/// `Debug` print or request log shows the token. The error never quotes the
/// token either.
pub fn bearer(token: &str) -> anyhow::Result<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        anyhow::anyhow!(
            "the token is not a valid HTTP header value (printable ASCII only, no line breaks)"
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

/// An answer: status, headers and JSON body (`Value::Null` if the body was
/// not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    /// The body as text (for `/metrics`, say).
    pub text: String,
}

impl Answer {
    pub fn order_id(&self) -> Option<String> {
        self.body
            .get("order_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
    pub fn message(&self) -> String {
        self.body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    }
}

impl Client {
    /// A client of the server at `base` (`http://127.0.0.1:3000`, no
    /// trailing slash needed).
    pub fn new(base: impl Into<String>) -> anyhow::Result<Self> {
        let base = base.into().trim_end_matches('/').to_owned();
        let http = http_client(HeaderMap::new())?;
        Ok(Client { http, base })
    }

    /// The same client, sending `Authorization: Bearer TOKEN` with every
    /// request (an API Gateway authorizer's token, say).
    pub fn with_bearer(self, token: &str) -> anyhow::Result<Self> {
        let headers = HeaderMap::from_iter([(AUTHORIZATION, bearer(token)?)]);
        Ok(Client {
            http: http_client(headers)?,
            base: self.base,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `POST /api/orders` with `body` as JSON.
    pub async fn post_order(&self, body: String) -> anyhow::Result<Answer> {
        self.post_raw("/api/orders", body, Some("application/json"))
            .await
    }

    /// `POST /api/orders` with `body` as JSON and, if given, an
    /// `Idempotency-Key` header: the order's id then derives from the
    /// customer and the key rather than its content, so one customer's two
    /// orders of the same items stay two orders.
    pub async fn post_order_keyed(
        &self,
        body: String,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Answer> {
        let mut request = self
            .http
            .post(format!("{}/api/orders", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        answer(request.send().await?).await
    }

    /// `POST /api/orders` with `order`.
    pub async fn post_order_json(&self, order: &Value) -> anyhow::Result<Answer> {
        self.post_order(order.to_string()).await
    }

    /// A POST of `body` as it is, with the `Content-Type` given (or none).
    pub async fn post_raw(
        &self,
        path: &str,
        body: String,
        content_type: Option<&str>,
    ) -> anyhow::Result<Answer> {
        let mut request = self.http.post(format!("{}{path}", self.base)).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        answer(request.send().await?).await
    }

    pub async fn post(&self, path: &str) -> anyhow::Result<Answer> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .send()
            .await?;
        answer(r).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        let r = self.http.get(format!("{}{path}", self.base)).send().await?;
        answer(r).await
    }

    /// Polls an order until it is recorded (`GET` answers 200) or `timeout`
    /// passes.
    pub async fn wait_for_order(&self, order_id: &str, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if let Ok(a) = self.get(&format!("/api/orders/{order_id}")).await {
                if a.status == 200 {
                    return Some(a.body);
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    pub async fn stock(&self, product_id: &str) -> anyhow::Result<i64> {
        let a = self.get(&format!("/api/inventory/{product_id}")).await?;
        a.body
            .get("quantity_available")
            .and_then(Value::as_i64)
            .with_context(|| {
                format!(
                    "cannot read the stock of {product_id}: {} {}",
                    a.status, a.body
                )
            })
    }

    /// Posts an order that must be accepted; answers its id.
    pub async fn place(&self, body: &Value) -> anyhow::Result<String> {
        let a = self.post_order(body.to_string()).await?;
        match (a.status, a.order_id()) {
            (202, Some(id)) => Ok(id),
            _ => Err(anyhow::anyhow!(
                "expected 202 with an order_id, got {} {}",
                a.status,
                a.body
            )),
        }
    }
}

/// The HTTP client every [`Client`] uses, sending `headers` on every request.
/// A plain reqwest client, for what this client does not cover (a test's
/// own requests, a token endpoint). With the `tls` feature, reqwest's rustls
/// needs a process-wide crypto provider before any client is built, so
/// every reqwest client of the workspace is made here.
pub fn http() -> reqwest::Client {
    install_tls_provider();
    reqwest::Client::new()
}

/// aws-lc-rs as the process's rustls provider (already installed is fine).
fn install_tls_provider() {
    #[cfg(feature = "tls")]
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn http_client(headers: HeaderMap) -> anyhow::Result<reqwest::Client> {
    install_tls_provider();
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .default_headers(headers)
        .build()?)
}

async fn answer(r: reqwest::Response) -> anyhow::Result<Answer> {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Answer {
        status,
        headers,
        body,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::{bearer, order_id_in};

    #[test]
    fn a_bearer_token_is_sent_but_never_shown() {
        let value = bearer("s3cret-token").unwrap();
        assert_eq!(value.to_str().unwrap(), "Bearer s3cret-token");
        assert!(!format!("{value:?}").contains("s3cret"));
        let refused = bearer("s3cret\ntoken").unwrap_err().to_string();
        assert!(!refused.contains("s3cret"), "{refused}");
    }

    #[test]
    fn a_message_body_names_its_order_unless_it_is_poison() {
        let body = r#"{"order_id":"0b8e4f0e-8d3c-5f7a-9a51-3c2a1e0f6d41","status":"PROCESSED"}"#;
        assert_eq!(
            order_id_in(body).as_deref(),
            Some("0b8e4f0e-8d3c-5f7a-9a51-3c2a1e0f6d41")
        );
        assert_eq!(order_id_in("not json"), None);
        assert_eq!(order_id_in(r#"{"order_id": 7}"#), None);
    }
}
