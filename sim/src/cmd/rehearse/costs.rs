//! What each step of a rehearsal is expected to cost: the stack standing
//! for the step's length (the Multi-AZ instance, its storage, the
//! interface endpoints, alarms, secrets, the token client), the traffic a
//! step sends (API Gateway, Lambda, SQS, CloudWatch Logs, Secrets Manager,
//! the endpoints' data), Cognito's tokens and what `sim collect` reads.
//! Prices are `deploy/prices.json`'s, each with its source; the few it has
//! not (Cognito, CloudWatch's GetMetricData, Cost Explorer) are here, each
//! with its source and the day it was read. What a step uses is an upper
//! bound where AWS's part is not known ahead, each such figure marked
//! assumed with why.

use crate::aws::bill::{self, Prices};
use crate::aws::settings::{Architecture, DeploymentSettings};
use crate::load::Profile;

/// One item of a step's cost: `quantity` of `unit` at `each_usd`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub item: String,
    pub quantity: f64,
    pub unit: &'static str,
    pub each_usd: f64,
}

impl Cost {
    pub fn usd(&self) -> f64 {
        self.quantity * self.each_usd
    }
}

/// The sum of `costs`.
pub fn sum(costs: &[Cost]) -> f64 {
    costs.iter().map(Cost::usd).sum()
}

fn cost(item: impl Into<String>, quantity: f64, unit: &'static str, each_usd: f64) -> Cost {
    Cost {
        item: item.into(),
        quantity,
        unit,
        each_usd,
    }
}

/// Cognito's machine-to-machine prices: an app client with the client
/// credentials grant, $6 a month prorated by the second, and each token
/// issued, $2.25 a 1,000. Source: https://aws.amazon.com/cognito/pricing/
/// as https://cur.vantage-api.com/aws/amazoncognito/user-pools-m2m/cupm2mtokenrequestsfull
/// quotes the tokens ($2.250 per 1,000 token requests) and
/// https://www.rhythmictech.com/blog/the-aws-cognito-m2m-bill-has-come-due-what-you-need-to-know/
/// the app client ($6 per month), read 2026-12-06. (The second page gives
/// the tokens as $0.00225 a 1,000; the higher figure is used.) The user
/// pool itself has no users, so no monthly active users are billed.
pub const COGNITO_APP_CLIENT_MONTH: f64 = 6.0;
pub const COGNITO_TOKEN: f64 = 2.25 / 1000.0;

/// CloudWatch's GetMetricData, $0.01 a 1,000 metrics requested. Source:
/// https://aws.amazon.com/cloudwatch/pricing/ as
/// https://support.site24x7.com/portal/en/kb/articles/aws-cloudwatch-metrics-cost-calculation
/// quotes it, read 2026-12-06.
pub const GET_METRIC_DATA_METRIC: f64 = 0.01 / 1000.0;

/// Cost Explorer's API, $0.01 a request ("Each request will incur a cost
/// of $0.01": https://aws.amazon.com/aws-cost-management/aws-cost-explorer/pricing/,
/// read 2026-12-06).
pub const COST_EXPLORER_REQUEST: f64 = 0.01;

/// The metrics `sim collect` reads: 5 a function (4), 4 a queue (4), 3 of
/// the database, 4 of the API (`observed::names`); assumed one metric
/// requested each (one GetMetricData query a metric over the window).
pub const COLLECTED_METRICS: f64 = 43.0;

/// Billed milliseconds of one invocation, upper bounds, *assumed*: ingest
/// sends one SQS message through the endpoint (tens of milliseconds at
/// most), a read is one indexed query, the processor's and notifier's
/// batched work per order is far below its batch's duration.
pub const INGEST_MS: f64 = 50.0;
pub const READ_MS: f64 = 30.0;
pub const PROCESSOR_MS_PER_ORDER: f64 = 20.0;
pub const NOTIFIER_MS_PER_ORDER: f64 = 10.0;
/// An execution environment's init, *assumed* 500 ms: above the model's
/// pessimistic cold start with its secret reads and connect
/// (deploy/model.json), as an upper bound. Every reserved environment of
/// every function is counted as started once in the sale.
pub const INIT_MS: f64 = 500.0;
/// How long a failover keeps the consumers' environments waiting,
/// *assumed* 120 s: the top of the 60-120 s RDS gives for a Multi-AZ
/// failover (the book's deploy risks, "Orders in flight"), every processor
/// and notifier environment billed busy through it.
pub const FAILOVER_SECS: f64 = 120.0;
/// SQS requests an order causes, *assumed* at most 8: sent by ingest,
/// received and deleted by the processor, its outcome sent, received and
/// deleted by the notifier (6, each at most one a message), and a
/// visibility change or a second receive for one in four.
pub const SQS_PER_ORDER: f64 = 8.0;
/// Idle long polls of the two event source mappings: *assumed* 5 pollers
/// each (AWS's starting concurrency for a mapping, deploy/model.json), one
/// 20 s long poll at a time ([`bill::IDLE_POLL_SECS`]).
pub const IDLE_POLLERS: f64 = 10.0;
/// Bytes through the SQS endpoint an order causes, *assumed* 8 KB: its two
/// messages (under 1 KB each) sent and received, with HTTP framing.
pub const ENDPOINT_BYTES_PER_ORDER: f64 = 8.0 * 1024.0;
/// Bytes of logs a request writes beyond Lambda's own lines
/// ([`bill::LOG_BYTES_PER_INVOCATION`]), *assumed*: the function's JSON
/// lines (300) and the API's access log line (400, nine fields).
pub const FUNCTION_LOG_BYTES: f64 = 300.0;
pub const ACCESS_LOG_BYTES: f64 = 400.0;

const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The stack standing for `minutes`: what bills by the hour or month
/// whether orders come or not.
pub fn standing(p: &Prices, class: &str, minutes: f64) -> Vec<Cost> {
    let hours = minutes / 60.0;
    let months = minutes * 60.0 / bill::MONTH_SECS;
    // Setup::of refuses a class without a price.
    let hourly = p
        .rds_instance_hour
        .classes
        .get(class)
        .copied()
        .unwrap_or(0.0);
    vec![
        cost(
            format!("RDS {class} instance, Multi-AZ (twice)"),
            2.0 * hours,
            "instance-hours",
            hourly,
        ),
        cost(
            "RDS gp3 storage, Multi-AZ (twice)",
            2.0 * bill::STORAGE_GB * months,
            "GB-months",
            p.rds_gp3_gb_month.usd,
        ),
        cost(
            format!(
                "VPC interface endpoints ({} in {} zones)",
                bill::ENDPOINTS,
                bill::ZONES
            ),
            f64::from(bill::ENDPOINTS * bill::ZONES) * hours,
            "endpoint-hours",
            p.vpc_endpoint_az_hour.usd,
        ),
        cost(
            "CloudWatch alarms",
            f64::from(bill::ALARMS) * months,
            "alarm-months",
            p.alarm_month.usd,
        ),
        cost(
            "Secrets Manager secrets",
            f64::from(bill::SECRETS) * months,
            "secret-months",
            p.secret_month.usd,
        ),
        cost(
            "Cognito app client (client credentials)",
            months,
            "client-months",
            COGNITO_APP_CLIENT_MONTH,
        ),
        cost(
            "SQS: the mappings' idle long polls",
            IDLE_POLLERS * minutes * 60.0 / bill::IDLE_POLL_SECS,
            "requests",
            p.sqs_requests_per_million.usd / 1e6,
        ),
    ]
}

/// The interface endpoints' last hour, which is billed whole: what the
/// standing lines' `minutes` leave of it.
pub fn endpoint_rounding(p: &Prices, standing_minutes: f64) -> Cost {
    let hours = standing_minutes / 60.0;
    cost(
        "VPC interface endpoints: the last hour billed whole",
        f64::from(bill::ENDPOINTS * bill::ZONES) * (hours.ceil() - hours),
        "endpoint-hours",
        p.vpc_endpoint_az_hour.usd,
    )
}

/// What a step sends: orders and reads through the API, and whether it is
/// the sale (every environment started once, a failover waited through).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Traffic {
    pub orders: f64,
    pub reads: f64,
    pub cold_starts: bool,
    pub failover: bool,
}

/// Reads a sale of `orders` makes at most, as `profile` has its customers
/// read: each order's buyer polling until its 30 s (or the profile's) are
/// up, a share reading the stock, the visitors browsing before it opens.
pub fn reads_of(profile: &Profile, orders: f64) -> f64 {
    let reads = &profile.reads;
    let polls = reads.status_polls.map_or(0.0, |p| {
        let after = p.for_secs * 1000.0 - p.first_after_ms as f64;
        1.0 + (after / p.every_ms.max(1) as f64).floor().max(0.0)
    });
    let browse = reads.browse_before.map_or(0.0, |b| b.secs * b.per_sec);
    orders * (polls + reads.stock_readers) + browse
}

/// The traffic's cost: API Gateway's requests, the functions' requests
/// and GB-seconds, SQS, the endpoints' data, logs and secret reads.
pub fn traffic(p: &Prices, s: &DeploymentSettings, t: Traffic) -> Vec<Cost> {
    let f = &s.functions;
    let gb = |mb: u32| f64::from(mb) / 1024.0;
    let read_mb = f.read.as_ref().map_or(f.ingest.memory_mb, |r| r.memory_mb);
    let consumers = [&f.processor, &f.notifier];
    let reserved: f64 = f
        .iter()
        .map(|(_, x)| f64::from(x.reserved_concurrency.unwrap_or(0)))
        .sum();
    let mut gb_s = t.orders * INGEST_MS / 1000.0 * gb(f.ingest.memory_mb)
        + t.reads * READ_MS / 1000.0 * gb(read_mb)
        + t.orders * PROCESSOR_MS_PER_ORDER / 1000.0 * gb(f.processor.memory_mb)
        + t.orders * NOTIFIER_MS_PER_ORDER / 1000.0 * gb(f.notifier.memory_mb);
    if t.cold_starts {
        gb_s += f
            .iter()
            .map(|(_, x)| {
                f64::from(x.reserved_concurrency.unwrap_or(0)) * INIT_MS / 1000.0 * gb(x.memory_mb)
            })
            .sum::<f64>();
    }
    if t.failover {
        gb_s += consumers
            .iter()
            .map(|x| {
                f64::from(x.reserved_concurrency.unwrap_or(0)) * FAILOVER_SECS * gb(x.memory_mb)
            })
            .sum::<f64>();
    }
    let requests = t.orders + t.reads;
    let invocations = 3.0 * t.orders + t.reads;
    let log_bytes = invocations * (bill::LOG_BYTES_PER_INVOCATION as f64 + FUNCTION_LOG_BYTES)
        + requests * ACCESS_LOG_BYTES;
    let secret_reads = if t.cold_starts { reserved } else { 0.0 };
    vec![
        cost(
            "API Gateway HTTP API requests",
            requests,
            "requests",
            p.api_gateway_http_per_million.usd / 1e6,
        ),
        cost(
            "Lambda requests (a consumer's: one an order at most)",
            invocations,
            "requests",
            p.lambda_requests_per_million.usd / 1e6,
        ),
        cost(
            format!("Lambda duration ({})", s.architecture.as_str()),
            gb_s,
            "GB-s",
            gb_second(p, s),
        ),
        cost(
            "SQS requests",
            t.orders * SQS_PER_ORDER,
            "requests",
            p.sqs_requests_per_million.usd / 1e6,
        ),
        cost(
            "VPC endpoint data",
            t.orders * ENDPOINT_BYTES_PER_ORDER / GB,
            "GB",
            p.vpc_endpoint_gb.usd,
        ),
        cost(
            "CloudWatch Logs ingested",
            log_bytes / GB,
            "GB",
            p.logs_ingested_gb.usd,
        ),
        cost(
            "Secrets Manager calls (one a cold start)",
            secret_reads,
            "calls",
            p.secrets_calls_per_10k.usd / 1e4,
        ),
    ]
}

/// `n` access tokens from the pool's token endpoint.
pub fn tokens(n: f64) -> Cost {
    cost(
        "Cognito tokens (client credentials)",
        n,
        "tokens",
        COGNITO_TOKEN,
    )
}

/// One invocation of the migrate function by hand (a rotation, a stock):
/// its request and, *assumed*, 10 s at 256 MB (its pulumi/src/rules.ts
/// size) for the connect and the statements.
pub fn migrate_invocation(p: &Prices, s: &DeploymentSettings) -> Vec<Cost> {
    vec![
        cost(
            "Lambda request (migrate)",
            1.0,
            "requests",
            p.lambda_requests_per_million.usd / 1e6,
        ),
        cost(
            "Lambda duration (migrate, 10 s at 256 MB)",
            10.0 * 0.25,
            "GB-s",
            gb_second(p, s),
        ),
    ]
}

/// Lambda's price of a GB-second for the settings' architecture.
fn gb_second(p: &Prices, s: &DeploymentSettings) -> f64 {
    match s.architecture {
        Architecture::X86_64 => p.lambda_gb_second.x86_64,
        Architecture::Arm64 => p.lambda_gb_second.arm64,
    }
}

/// What `sim collect` reads: the metrics, and the bill from Cost Explorer
/// (one request, a day later, when the bill has the window).
pub fn collect() -> Vec<Cost> {
    vec![
        cost(
            "CloudWatch GetMetricData",
            COLLECTED_METRICS,
            "metrics",
            GET_METRIC_DATA_METRIC,
        ),
        cost(
            "Cost Explorer GetCostAndUsage (a day later, for --bill)",
            1.0,
            "requests",
            COST_EXPLORER_REQUEST,
        ),
    ]
}

#[cfg(test)]
mod tests;
