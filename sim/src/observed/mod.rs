//! What a deployed stack did during a sale, in one file (`observed.json`):
//! the CloudWatch metrics of its functions, queues, database and API, its
//! functions' `REPORT` lines and EMF records from CloudWatch Logs, the
//! sale's outcome (the figures `sim run` reports, by the same names) and the
//! bill. `sim collect` writes it from AWS after a rehearsal; `sim run
//! --topology lambda --observed FILE` writes the same file from the
//! simulated stack, so that a run with known constants can check the
//! fitting. `sim compare --observed` judges the model against it, `sim
//! calibrate` fits the model's constants to it.
//!
//! Times are seconds from the window's start; each series names the
//! CloudWatch statistic and period it holds.

pub mod calibrate;
pub mod collect;
pub mod from_run;
pub mod judge;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::aws::settings::DeploymentSettings;

/// The format's name and version: a reader refuses another major version.
pub const FORMAT: &str = "orderflow.observed/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observed {
    /// `orderflow.observed/1`.
    pub format: String,
    /// `aws` (collected from an account) or `sim` (written by a run of the
    /// simulated stack).
    pub source: String,
    /// The Pulumi stack (or, for the sim, the run's label).
    pub stack: String,
    pub region: String,
    /// When it was collected, RFC 3339 UTC.
    pub collected_at: String,
    /// The sale's window, RFC 3339 UTC: series times count from `start`.
    pub window: Window,
    pub sale: Sale,
    /// The sale's figures by the names `sim run --json` gives them
    /// (`throughput`, `p99_accept_to_processed`, `refused`, `dlq`, ...),
    /// in the same units.
    pub outcome: BTreeMap<String, f64>,
    /// By the settings' function name: `ingest`, `read`, `processor`,
    /// `notifier`.
    pub functions: BTreeMap<String, FunctionObserved>,
    /// `orders`, `orders-dlq`, `processed`, `processed-dlq`.
    pub queues: BTreeMap<String, Metrics>,
    pub database: DatabaseObserved,
    pub api: Metrics,
    /// What the account was billed for the window, if Cost Explorer had it.
    pub bill: Option<BillObserved>,
    /// What the collector could not get, and why.
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub start: String,
    pub end: String,
}

/// What the sale was: enough for the sim to run the same one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sale {
    /// The load profile (`flash-sale`, `steady`, ...).
    pub profile: String,
    /// Orders sent.
    pub requests: usize,
    /// Seconds the orders were spread over.
    pub duration_secs: f64,
    pub seed: u64,
    pub multi_az: bool,
    /// A forced failover: when (seconds into the sale) and how long the
    /// database was away, if there was one.
    pub failover: Option<Failover>,
    /// The settings the stack was deployed with.
    pub settings: DeploymentSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failover {
    pub at_secs: f64,
    pub lasted_secs: f64,
}

/// Metrics by their CloudWatch names.
pub type Metrics = BTreeMap<String, Series>;

/// One CloudWatch metric over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Series {
    /// The statistic: `Maximum`, `Average`, `Sum`, `p99`, ...
    pub stat: String,
    /// CloudWatch's unit (`Count`, `Milliseconds`, `Seconds`, `Percent`).
    pub unit: String,
    pub period_secs: u32,
    /// `[seconds from the window's start, value]`, in time order.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.points.iter().map(|&(_, v)| v)
    }

    pub fn max(&self) -> Option<f64> {
        self.values()
            .fold(None, |m, v| Some(m.map_or(v, |m: f64| m.max(v))))
    }

    pub fn sum(&self) -> f64 {
        self.values().sum()
    }

    /// The average of the points, or `None` without any.
    pub fn mean(&self) -> Option<f64> {
        let n = self.points.len();
        (n > 0).then(|| self.sum() / n as f64)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionObserved {
    /// The function's name on AWS (or in the sim).
    pub name: String,
    pub memory_mb: u32,
    pub metrics: Metrics,
    /// Its invocations' `REPORT` lines.
    pub reports: Vec<Report>,
    /// Its EMF records (namespace `orderflow`), each metric by name.
    pub emf: Vec<Emf>,
    /// The same work's CPU time on the model's reference host, ms, where
    /// the writer knows it (the sim does; on AWS `sim calibrate` takes
    /// the model file's CPU time per message instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_cpu_ms: Option<f64>,
}

/// One `REPORT` line of CloudWatch Logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Seconds from the window's start.
    pub t: f64,
    pub duration_ms: f64,
    pub billed_ms: f64,
    /// The cold start's `Init Duration`, on a cold start's line only.
    pub init_ms: Option<f64>,
    pub max_memory_mb: Option<f64>,
}

/// One EMF record a queue function wrote after a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Emf {
    pub t: f64,
    pub values: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseObserved {
    pub instance: String,
    pub class: String,
    pub multi_az: bool,
    pub metrics: Metrics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillObserved {
    pub usd: f64,
    /// Where the figure comes from (`Cost Explorer, UnblendedCost, ...`).
    pub source: String,
}

impl Observed {
    /// Reads and checks an observed file.
    pub fn read(path: &Path) -> anyhow::Result<Observed> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the observed file {}", path.display()))?;
        Observed::parse(&text)
            .with_context(|| format!("{} is not an observed file", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Observed> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
        anyhow::ensure!(
            format.split('.').next() == FORMAT.split('.').next()
                && format.rsplit('/').next() == FORMAT.rsplit('/').next(),
            "its format is {format:?}; this sim reads {FORMAT}"
        );
        Ok(serde_json::from_value(value)?)
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write the observed file {}", path.display()))
    }

    /// A function's metric, if collected.
    pub fn function_metric(&self, function: &str, metric: &str) -> Option<&Series> {
        self.functions.get(function)?.metrics.get(metric)
    }

    /// A queue's metric, if collected.
    pub fn queue_metric(&self, queue: &str, metric: &str) -> Option<&Series> {
        self.queues.get(queue)?.get(metric)
    }
}

/// The names the file uses for the stack's parts, as the CloudWatch
/// namespaces and metrics the collector reads.
pub mod names {
    pub const CONCURRENT: &str = "ConcurrentExecutions";
    pub const DURATION: &str = "Duration";
    pub const INVOCATIONS: &str = "Invocations";
    pub const THROTTLES: &str = "Throttles";
    pub const ERRORS: &str = "Errors";
    pub const AGE_OF_OLDEST: &str = "ApproximateAgeOfOldestMessage";
    pub const VISIBLE: &str = "ApproximateNumberOfMessagesVisible";
    pub const SENT: &str = "NumberOfMessagesSent";
    pub const RECEIVED: &str = "NumberOfMessagesReceived";
    pub const DB_CONNECTIONS: &str = "DatabaseConnections";
    pub const DB_CPU: &str = "CPUUtilization";
    pub const WRITE_LATENCY: &str = "WriteLatency";
    pub const API_COUNT: &str = "Count";
    pub const API_4XX: &str = "4xx";
    pub const API_5XX: &str = "5xx";
    pub const API_LATENCY: &str = "Latency";
    /// The EMF metrics `calibrate` reads besides the alarms' ones: the
    /// batch's messages and the handler's CPU time.
    pub const EMF_MESSAGES: &str = "Messages";
    pub const EMF_CPU: &str = "CpuMillis";
    /// The queue names the file uses.
    pub const QUEUES: [&str; 4] = ["orders", "orders-dlq", "processed", "processed-dlq"];
}
