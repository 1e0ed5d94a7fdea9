//! What a run of the deployed shape would have cost on AWS, item by item,
//! from what the run did ([`Usage`]) and the prices of `deploy/prices.json`
//! ([`Prices`]): API Gateway's requests, each function's requests and
//! GB-seconds (each invocation rounded up to the millisecond, as Lambda
//! bills it, by architecture), SQS's requests in 64 KB units, the RDS
//! instance and its storage pro rata (Multi-AZ twice), the VPC endpoints'
//! hours and data, CloudWatch Logs' ingestion and alarms, Secrets Manager's
//! secrets and calls. The arithmetic is here and nowhere else; the prices
//! it reads in [`prices`], its hand-worked cases in the tests (`tests.rs`).

mod prices;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use prices::{BillError, GbSecond, InstanceHour, Price, Prices, SHIPPED};

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
