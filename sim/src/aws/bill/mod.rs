//! What a run of the deployed shape would have cost on AWS, item by item,
//! from what the run did ([`Usage`]) and the prices of `deploy/prices.json`
//! ([`Prices`]): API Gateway's requests, each function's requests and
//! GB-seconds (each invocation rounded up to the millisecond, as Lambda
//! bills it, by architecture), SQS's requests in 64 KB units, the RDS
//! instance and its storage pro rata (Multi-AZ twice), the VPC endpoints'
//! hours and data, CloudWatch Logs' ingestion and alarms, Secrets Manager's
//! secrets and calls. The arithmetic is here and nowhere else; its
//! hand-worked cases are the tests below.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// `deploy/prices.json`, as shipped.
pub const SHIPPED: &str = include_str!("../../../../deploy/prices.json");

/// What the stack deploys beside the functions, which a run's bill charges
/// for the time it covers: the Pulumi program's database storage
/// (`dbAllocatedStorage`, 20 GB by default), its interface endpoints
/// (`ENDPOINT_SERVICES`: SQS and Secrets Manager) in its two zones, its
/// secrets (the master user's, the application user's, the order id key),
/// and its alarms on a `dev` stack (a test of the Pulumi program counts
/// them: `deploys the alarms the bill charges for`).
pub const STORAGE_GB: f64 = 20.0;
pub const ENDPOINTS: u32 = 2;
pub const ZONES: u32 = 2;
pub const SECRETS: u32 = 3;
pub const ALARMS: u32 = 29;

/// Bytes an invocation writes to CloudWatch Logs: Lambda's START, END and
/// REPORT lines. *Assumed* (about 350 bytes, from the lines' documented
/// form: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html);
/// the functions' own lines (the EMF records, warnings) are counted apart.
pub const LOG_BYTES_PER_INVOCATION: u64 = 350;

/// How long an idle mapping's poller waits in one ReceiveMessage: SQS's
/// longest long poll, 20 s. *Assumed* for the event source mapping's
/// pollers (AWS says they long-poll, not for how long).
pub const IDLE_POLL_SECS: f64 = 20.0;

/// Seconds in the month AWS's monthly prices mean (730 hours).
pub const MONTH_SECS: f64 = 730.0 * 3600.0;

/// Bytes in the gigabyte AWS bills by.
const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A payload is billed by SQS as one request per 64 KB started.
const SQS_UNIT_BYTES: usize = 64 * 1024;

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

/// A function's use: its requests, and the durations Lambda would bill.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunctionUsage {
    pub name: String,
    pub memory_mb: u32,
    pub arm64: bool,
    pub requests: u64,
    /// Every invocation's and init's duration, each rounded up to the
    /// millisecond ([`billed_ms`]), summed.
    pub billed_ms: u64,
}

/// What a run used, in AWS's units.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// How long the stack ran: the run's wall clock (a `--time-scale`
    /// run's compressed seconds are not scaled back).
    pub seconds: f64,
    pub api_requests: u64,
    pub functions: Vec<FunctionUsage>,
    /// SQS requests, each 64 KB of a payload counted ([`sqs_requests`]).
    pub sqs_requests: u64,
    pub instance_class: String,
    pub multi_az: bool,
    pub storage_gb: f64,
    /// Interface endpoints, each in `zones` zones, and the bytes through them.
    pub endpoints: u32,
    pub zones: u32,
    pub endpoint_bytes: u64,
    /// Bytes the functions wrote to CloudWatch Logs.
    pub log_bytes: u64,
    pub alarms: u32,
    pub secrets: u32,
    pub secret_calls: u64,
}

/// One item of a bill.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub service: &'static str,
    pub item: String,
    pub quantity: f64,
    pub unit: &'static str,
    pub usd: f64,
    /// Charged by the hour whether or not orders come (the instance, the
    /// endpoints, alarms, secrets), not by what the run did.
    pub fixed: bool,
}

impl Line {
    fn fixed(self) -> Line {
        Line {
            fixed: true,
            ..self
        }
    }
}

/// The bytes of the EMF record a queue function named `function` prints
/// after each batch (`orderflow_lambda::BatchMetrics::record`), with its
/// newline.
pub fn emf_line_bytes(function: &str) -> u64 {
    orderflow_lambda::BatchMetrics::default()
        .record(function, engine::events::now_millis().timestamp_millis())
        .to_string()
        .len() as u64
        + 1
}

/// A month of `usage`'s stack with no orders: the fixed items, and the
/// mappings' `pollers` idle pollers long-polling ([`IDLE_POLL_SECS`]).
pub fn idle_month(usage: &Usage, pollers: f64) -> Usage {
    Usage {
        seconds: MONTH_SECS,
        sqs_requests: (pollers * MONTH_SECS / IDLE_POLL_SECS) as u64,
        functions: Vec::new(),
        api_requests: 0,
        endpoint_bytes: 0,
        log_bytes: 0,
        secret_calls: 0,
        ..usage.clone()
    }
}

/// A duration as Lambda bills it: rounded up to the millisecond.
pub fn billed_ms(d: Duration) -> u64 {
    let micros = d.as_micros();
    u64::try_from(micros.div_ceil(1000)).unwrap_or(u64::MAX)
}

/// The requests SQS bills for one call carrying `bytes` of payload: one per
/// 64 KB started, and one for a call with none (an empty receive, a delete).
pub fn sqs_requests(bytes: usize) -> u64 {
    bytes.div_ceil(SQS_UNIT_BYTES).max(1) as u64
}

/// An item: `quantity` of `unit` at `each` dollars a unit.
fn item(service: &'static str, item: String, quantity: f64, unit: &'static str, each: f64) -> Line {
    Line {
        service,
        item,
        quantity,
        unit,
        usd: quantity * each,
        fixed: false,
    }
}

/// The bill of `u` at `p`, an item per line; items of no use are left out.
pub fn bill(u: &Usage, p: &Prices) -> Result<Vec<Line>, BillError> {
    let mut lines = vec![item(
        "API Gateway",
        "HTTP API requests".into(),
        u.api_requests as f64,
        "requests",
        p.api_gateway_http_per_million.usd / 1e6,
    )];
    lines.extend(u.functions.iter().flat_map(|f| function_items(f, p)));
    lines.push(item(
        "SQS",
        "requests (64 KB units)".into(),
        u.sqs_requests as f64,
        "requests",
        p.sqs_requests_per_million.usd / 1e6,
    ));
    lines.extend(stack_items(u, p)?);
    lines.retain(|l| l.quantity > 0.0);
    Ok(lines)
}

/// A function's requests and GB-seconds.
fn function_items(f: &FunctionUsage, p: &Prices) -> [Line; 2] {
    let gb_seconds = f64::from(f.memory_mb) / 1024.0 * f.billed_ms as f64 / 1000.0;
    let (arch, per) = match f.arm64 {
        true => ("arm64", p.lambda_gb_second.arm64),
        false => ("x86_64", p.lambda_gb_second.x86_64),
    };
    [
        item(
            "Lambda",
            format!("{} requests", f.name),
            f.requests as f64,
            "requests",
            p.lambda_requests_per_million.usd / 1e6,
        ),
        item(
            "Lambda",
            format!("{} duration ({} MB, {arch})", f.name, f.memory_mb),
            gb_seconds,
            "GB-s",
            per,
        ),
    ]
}

/// What the stack around the functions costs for the run: the database,
/// the endpoints, logs and alarms, secrets.
fn stack_items(u: &Usage, p: &Prices) -> Result<Vec<Line>, BillError> {
    let month = u.seconds / MONTH_SECS;
    let hours = u.seconds / 3600.0;
    let copies = if u.multi_az { 2.0 } else { 1.0 };
    let hourly = *p
        .rds_instance_hour
        .classes
        .get(&u.instance_class)
        .ok_or_else(|| BillError::NoClass(u.instance_class.clone()))?;
    let multi_az = if u.multi_az { ", Multi-AZ" } else { "" };
    let endpoint_hours = f64::from(u.endpoints * u.zones) * hours;
    Ok(vec![
        item(
            "RDS",
            format!("{} instance{multi_az}", u.instance_class),
            hours * copies,
            "instance-hours",
            hourly,
        )
        .fixed(),
        item(
            "RDS",
            "gp3 storage".into(),
            u.storage_gb * copies * month,
            "GB-months",
            p.rds_gp3_gb_month.usd,
        )
        .fixed(),
        item(
            "VPC",
            format!("interface endpoints ({} in {} zones)", u.endpoints, u.zones),
            endpoint_hours,
            "endpoint-hours",
            p.vpc_endpoint_az_hour.usd,
        )
        .fixed(),
        item(
            "VPC",
            "data through the endpoints".into(),
            u.endpoint_bytes as f64 / GB,
            "GB",
            p.vpc_endpoint_gb.usd,
        ),
        item(
            "CloudWatch",
            "Logs ingested".into(),
            u.log_bytes as f64 / GB,
            "GB",
            p.logs_ingested_gb.usd,
        ),
        item(
            "CloudWatch",
            "alarms".into(),
            f64::from(u.alarms) * month,
            "alarm-months",
            p.alarm_month.usd,
        )
        .fixed(),
        item(
            "Secrets Manager",
            "secrets".into(),
            f64::from(u.secrets) * month,
            "secret-months",
            p.secret_month.usd,
        )
        .fixed(),
        item(
            "Secrets Manager",
            "API calls".into(),
            u.secret_calls as f64,
            "calls",
            p.secrets_calls_per_10k.usd / 1e4,
        ),
    ])
}

/// The sum of a bill.
pub fn total(lines: &[Line]) -> f64 {
    lines.iter().map(|l| l.usd).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices() -> Prices {
        Prices::of(SHIPPED, "us-east-1").unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1e-6)
    }

    #[test]
    fn durations_round_up_to_the_millisecond_and_payloads_to_64_kb() {
        assert_eq!(billed_ms(Duration::from_micros(1)), 1);
        assert_eq!(billed_ms(Duration::from_micros(1000)), 1);
        assert_eq!(billed_ms(Duration::from_micros(1001)), 2);
        assert_eq!(billed_ms(Duration::ZERO), 0);
        assert_eq!(sqs_requests(0), 1, "an empty receive is a request");
        assert_eq!(sqs_requests(65_536), 1);
        assert_eq!(sqs_requests(65_537), 2);
        assert_eq!(sqs_requests(256 * 1024), 4);
    }

    #[test]
    fn a_hand_worked_hour_of_the_shipped_shape() {
        // One hour; 1,000,000 API requests; ingest 1,000,000 requests of
        // 3 ms at 256 MB on arm64; the processor 5,000 batches of 250 ms at
        // 256 MB on x86_64; 2,100,000 SQS requests; a db.t4g.micro
        // Multi-AZ with 20 GB; 2 endpoints in 2 zones, 1 GiB through them;
        // 2 GiB of logs; 15 alarms; 3 secrets and 10,000 calls.
        let u = Usage {
            seconds: 3600.0,
            api_requests: 1_000_000,
            functions: vec![
                FunctionUsage {
                    name: "ingest".into(),
                    memory_mb: 256,
                    arm64: true,
                    requests: 1_000_000,
                    billed_ms: 3_000_000,
                },
                FunctionUsage {
                    name: "processor".into(),
                    memory_mb: 256,
                    arm64: false,
                    requests: 5_000,
                    billed_ms: 1_250_000,
                },
            ],
            sqs_requests: 2_100_000,
            instance_class: "db.t4g.micro".into(),
            multi_az: true,
            storage_gb: 20.0,
            endpoints: 2,
            zones: 2,
            endpoint_bytes: 1 << 30,
            log_bytes: 2 << 30,
            alarms: 15,
            secrets: 3,
            secret_calls: 10_000,
        };
        let lines = bill(&u, &prices()).unwrap();
        let usd = |item: &str| {
            lines
                .iter()
                .find(|l| l.item.starts_with(item))
                .unwrap_or_else(|| panic!("no {item} in {lines:?}"))
                .usd
        };
        // By hand, at the prices of deploy/prices.json:
        assert!(close(usd("HTTP API"), 1.00)); // 1 M x $1.00/M
        assert!(close(usd("ingest requests"), 0.20)); // 1 M x $0.20/M
                                                      // 0.25 GB x 3,000 s = 750 GB-s x $0.0000133334
        assert!(close(usd("ingest duration"), 750.0 * 0.000_013_333_4));
        assert!(close(usd("processor requests"), 0.001)); // 5,000 x $0.20/M
                                                          // 0.25 GB x 1,250 s = 312.5 GB-s x $0.0000166667
        assert!(close(usd("processor duration"), 312.5 * 0.000_016_666_7));
        assert!(close(usd("requests (64 KB"), 0.84)); // 2.1 M x $0.40/M
        assert!(close(usd("db.t4g.micro"), 2.0 * 0.016)); // 2 instance-hours
                                                          // 20 GB x 2 copies x 1/730 month x $0.115
        assert!(close(usd("gp3"), 40.0 / 730.0 * 0.115));
        assert!(close(usd("interface endpoints"), 4.0 * 0.01)); // 4 endpoint-hours
        assert!(close(usd("data through"), 0.01)); // 1 GB
        assert!(close(usd("Logs ingested"), 1.00)); // 2 GB x $0.50
        assert!(close(usd("alarms"), 15.0 / 730.0 * 0.10));
        assert!(close(usd("secrets"), 3.0 / 730.0 * 0.40));
        assert!(close(usd("API calls"), 0.05)); // 10,000 calls
        let sum = 1.00
            + 0.20
            + 750.0 * 0.000_013_333_4
            + 0.001
            + 312.5 * 0.000_016_666_7
            + 0.84
            + 0.032
            + 40.0 / 730.0 * 0.115
            + 0.04
            + 0.01
            + 1.00
            + 1.5 / 730.0
            + 1.2 / 730.0
            + 0.05;
        assert!(close(total(&lines), sum), "{} against {sum}", total(&lines));
        let fixed: Vec<&str> = lines.iter().filter(|l| l.fixed).map(|l| l.unit).collect();
        assert_eq!(
            fixed,
            [
                "instance-hours",
                "GB-months",
                "endpoint-hours",
                "alarm-months",
                "secret-months"
            ]
        );
    }

    #[test]
    fn an_idle_month_is_the_instance_storage_endpoints_alarms_and_secrets() {
        let u = Usage {
            seconds: MONTH_SECS,
            instance_class: "db.t4g.micro".into(),
            storage_gb: 20.0,
            endpoints: 2,
            zones: 2,
            alarms: 10,
            secrets: 3,
            ..Usage::default()
        };
        let lines = bill(&u, &prices()).unwrap();
        // 730 h x $0.016 + 20 x $0.115 + 4 x 730 h x $0.01 + 10 x $0.10 + 3 x $0.40
        let by_hand = 730.0 * 0.016 + 20.0 * 0.115 + 4.0 * 730.0 * 0.01 + 1.0 + 1.2;
        assert!(close(total(&lines), by_hand), "{lines:?}");
        assert!(lines.iter().all(|l| l.fixed), "{lines:?}");
    }

    #[test]
    fn an_unknown_region_or_class_is_refused_by_name() {
        let e = Prices::of(SHIPPED, "eu-west-9").unwrap_err().to_string();
        assert!(e.contains("eu-west-9") && e.contains("us-east-1"), "{e}");
        let u = Usage {
            instance_class: "db.x9.huge".into(),
            ..Usage::default()
        };
        let e = bill(&u, &prices()).unwrap_err().to_string();
        assert!(e.contains("db.x9.huge"), "{e}");
        let unsourced = SHIPPED.replacen(
            "\"source\": \"https://aws.amazon.com/sqs/pricing/",
            "\"source\": \"a colleague said",
            1,
        );
        assert_ne!(unsourced, SHIPPED);
        let e = Prices::of(&unsourced, "us-east-1").unwrap_err().to_string();
        assert!(e.contains("sqs_requests_per_million"), "{e}");
    }
}
