//! The API as the verification reads it: through the project's client (not
//! Goose, so these reads stay out of the load's figures), with the bearer
//! token if one was given, paced under the read routes' throttle, and
//! retrying a throttled read (429 or 503) until it is answered or its
//! deadline passes.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use orderflow_client::{Answer, Client};
use serde::Deserialize;
use tokio::time::Instant;

use crate::throttle::{wait_before_retry, Pacer, Throttled};

#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    pub product_id: String,
    pub quantity_available: i64,
}

#[derive(Debug, Deserialize)]
pub struct Line {
    pub product_id: String,
    pub quantity: i64,
}

#[derive(Debug, Deserialize)]
pub struct Order {
    pub items: Vec<Line>,
    pub status: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub processed_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Deserialize)]
struct DeadLetter {
    body: String,
}

/// What a read of an order found.
pub enum Read {
    /// PROCESSED or FAILED.
    Finished(Order),
    /// Not recorded yet, or not finished yet.
    Pending,
    /// Still throttled when the read's deadline came.
    Throttled,
}

/// The answer to one GET, once not throttled.
enum Got<T> {
    Found(T),
    NotFound,
    Throttled,
}

pub struct Api {
    client: Client,
    /// Whether a token is sent, for the message of a 401 or 403.
    with_token: bool,
    /// None: unpaced.
    pacer: Option<Pacer>,
    /// How long one read outside the read-back (the inventory, the DLQs)
    /// keeps retrying while throttled.
    patience: Duration,
    /// Throttled answers the reads got (each was retried).
    pub throttled: Throttled,
}

impl Api {
    /// The API at `base`, sending `token` as a bearer token if given, read
    /// at most `rate` requests a second (unpaced if none); a read throttled
    /// for `patience` fails.
    pub fn new(
        base: &str,
        token: Option<&str>,
        rate: Option<u32>,
        patience: Duration,
    ) -> anyhow::Result<Api> {
        let client = Client::new(base).context("cannot build an HTTP client")?;
        let client = match token {
            Some(token) => client.with_bearer(token)?,
            None => client,
        };
        Ok(Api {
            client,
            with_token: token.is_some(),
            pacer: rate.filter(|r| *r > 0).map(Pacer::new),
            patience,
            throttled: Throttled::default(),
        })
    }

    /// GETs `path`, paced, retrying throttled answers until `give_up`.
    async fn get<T>(&self, path: &str, give_up: Instant) -> anyhow::Result<Got<T>>
    where
        T: for<'de> Deserialize<'de>,
    {
        let url = format!("{}{path}", self.client.base());
        let mut attempt = 0;
        let answer = loop {
            if let Some(pacer) = &self.pacer {
                pacer.turn().await;
            }
            let answer = self
                .client
                .get(path)
                .await
                .with_context(|| format!("GET {url}"))?;
            if !self.throttled.count(answer.status) {
                break answer;
            }
            // The last try goes at the deadline.
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Got::Throttled);
            }
            tokio::time::sleep(wait_before_retry(retry_after(&answer), attempt).min(left)).await;
            attempt += 1;
        };
        match answer.status {
            200 => serde_json::from_value(answer.body)
                .map(Got::Found)
                .with_context(|| format!("GET {url}: unexpected body")),
            404 => Ok(Got::NotFound),
            401 | 403 => Err(refused(&url, answer.status, self.with_token)),
            status => Err(anyhow::anyhow!("GET {url}: answered {status}")),
        }
    }

    /// GETs `path`, which must be answered within the patience.
    async fn get_patiently<T>(&self, path: &str) -> anyhow::Result<Option<T>>
    where
        T: for<'de> Deserialize<'de>,
    {
        match self.get(path, Instant::now() + self.patience).await? {
            Got::Found(value) => Ok(Some(value)),
            Got::NotFound => Ok(None),
            Got::Throttled => Err(anyhow::anyhow!(
                "GET {}{path}: still throttled (429 or 503) after {} s of retries; \
                 lower --verify-rate or raise the route's throttle",
                self.client.base(),
                self.patience.as_secs()
            )),
        }
    }

    /// How long `reads` take at the pace, at least.
    pub fn time_to_read(&self, reads: usize) -> Duration {
        self.pacer
            .as_ref()
            .map_or(Duration::ZERO, |p| p.time_for(reads))
    }

    pub async fn inventory(&self) -> anyhow::Result<Vec<Product>> {
        self.get_patiently("/api/inventory")
            .await?
            .with_context(|| format!("GET {}/api/inventory answered 404", self.client.base()))
    }

    /// The order `id` as it stands, retrying while throttled until
    /// `give_up`.
    pub async fn order(&self, id: &str, give_up: Instant) -> anyhow::Result<Read> {
        Ok(
            match self
                .get::<Order>(&format!("/api/orders/{id}"), give_up)
                .await?
            {
                Got::Found(o) if o.status == "PROCESSED" || o.status == "FAILED" => {
                    Read::Finished(o)
                }
                Got::Found(_) | Got::NotFound => Read::Pending,
                Got::Throttled => Read::Throttled,
            },
        )
    }

    /// The order ids in the dead-letter queues.
    pub async fn dead_lettered(&self) -> anyhow::Result<HashSet<String>> {
        let letters: Vec<DeadLetter> = self.get_patiently("/api/dlq").await?.unwrap_or_default();
        Ok(letters
            .iter()
            .filter_map(|l| orderflow_client::order_id_in(&l.body))
            .collect())
    }
}

fn retry_after(answer: &Answer) -> Option<&str> {
    answer.headers.get("retry-after")?.to_str().ok()
}

/// The error of a 401 or 403: the token is missing or not accepted. Never
/// quotes the token.
fn refused(url: &str, status: u16, with_token: bool) -> anyhow::Error {
    if with_token {
        anyhow::anyhow!(
            "GET {url}: answered {status}: the API refused the bearer token given \
             (--token or ORDERFLOW_TOKEN); check that it is current and meant for this API"
        )
    } else {
        anyhow::anyhow!(
            "GET {url}: answered {status}: the API wants a bearer token; give it with \
             --token TOKEN or the ORDERFLOW_TOKEN environment variable"
        )
    }
}
