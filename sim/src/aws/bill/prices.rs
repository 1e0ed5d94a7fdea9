//! The prices a bill is made at: `deploy/prices.json`, one region's prices
//! each with the page it was read from ([`Prices::of`] refuses a price with
//! none), and why a bill cannot be made ([`BillError`]). Apart from the
//! arithmetic (the parent): what AWS charges is read here, what a run used
//! is priced there.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `deploy/prices.json`, as shipped.
pub const SHIPPED: &str = include_str!("../../../../deploy/prices.json");

/// A price and where it was read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub usd: f64,
    pub source: String,
}

/// Lambda's price of a GB-second, by architecture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GbSecond {
    pub x86_64: f64,
    pub arm64: f64,
    pub source: String,
}

/// RDS's hourly price of each instance class.
#[derive(Debug, Clone, Deserialize)]
pub struct InstanceHour {
    pub source: String,
    #[serde(flatten)]
    pub classes: BTreeMap<String, f64>,
}

/// One region's prices.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// The day the prices were read.
    pub read: String,
    pub currency: String,
    pub api_gateway_http_per_million: Price,
    pub lambda_requests_per_million: Price,
    pub lambda_gb_second: GbSecond,
    pub sqs_requests_per_million: Price,
    pub rds_instance_hour: InstanceHour,
    pub rds_gp3_gb_month: Price,
    pub vpc_endpoint_az_hour: Price,
    pub vpc_endpoint_gb: Price,
    pub logs_ingested_gb: Price,
    pub alarm_month: Price,
    pub secret_month: Price,
    pub secrets_calls_per_10k: Price,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    #[serde(rename = "about")]
    _about: String,
    regions: BTreeMap<String, Prices>,
}

/// Why a bill cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum BillError {
    #[error("deploy/prices.json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("deploy/prices.json has no prices for {region} (it has {known})")]
    NoRegion { region: String, known: String },
    #[error("deploy/prices.json has no hourly price for the instance class {0}")]
    NoClass(String),
    #[error("deploy/prices.json: {region}'s {price} names no https:// source")]
    NoSource { region: String, price: &'static str },
}

impl Prices {
    /// The prices of `region` in `text` (a `deploy/prices.json`).
    pub fn of(text: &str, region: &str) -> Result<Prices, BillError> {
        let file: PriceFile = serde_json::from_str(text)?;
        let known = file.regions.keys().cloned().collect::<Vec<_>>().join(", ");
        let prices = file
            .regions
            .get(region)
            .cloned()
            .ok_or_else(|| BillError::NoRegion {
                region: region.to_owned(),
                known,
            })?;
        let unsourced = prices
            .sources()
            .find(|(_, source)| !source.starts_with("https://"))
            .map(|(price, _)| price);
        match unsourced {
            Some(price) => Err(BillError::NoSource {
                region: region.to_owned(),
                price,
            }),
            None => Ok(prices),
        }
    }

    /// Each price's name and source.
    fn sources(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            (
                "api_gateway_http_per_million",
                &self.api_gateway_http_per_million.source,
            ),
            (
                "lambda_requests_per_million",
                &self.lambda_requests_per_million.source,
            ),
            ("lambda_gb_second", &self.lambda_gb_second.source),
            (
                "sqs_requests_per_million",
                &self.sqs_requests_per_million.source,
            ),
            ("rds_instance_hour", &self.rds_instance_hour.source),
            ("rds_gp3_gb_month", &self.rds_gp3_gb_month.source),
            ("vpc_endpoint_az_hour", &self.vpc_endpoint_az_hour.source),
            ("vpc_endpoint_gb", &self.vpc_endpoint_gb.source),
            ("logs_ingested_gb", &self.logs_ingested_gb.source),
            ("alarm_month", &self.alarm_month.source),
            ("secret_month", &self.secret_month.source),
            ("secrets_calls_per_10k", &self.secrets_calls_per_10k.source),
        ]
        .into_iter()
        .map(|(name, source)| (name, source.as_str()))
    }
}
