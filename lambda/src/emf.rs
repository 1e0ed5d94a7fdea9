//! The queue functions' own metrics, in CloudWatch's embedded metric format
//! (EMF): one JSON object a line on stdout after each batch, which Lambda
//! ships to the function's log group and CloudWatch Logs turns into metrics
//! (no `PutMetricData` call, no extra permission, nothing on the batch's
//! path). Source: "Using the embedded metric format with Lambda" and
//! "Specification: Embedded metric format", CloudWatch User Guide,
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>,
//! read 2026-12-02.
//!
//! What CloudWatch cannot see from outside: how often the store was retried
//! (lock waits, deadlocks, a failover) and how many messages a batch handed
//! back for redelivery, which the Pulumi program alarms on (namespace
//! [`NAMESPACE`], dimension `FunctionName`); and the batch's size and the
//! CPU time the environment spent on it, from which `sim calibrate` fits
//! how fast Lambda's CPU is against the model's reference host. The record is a dozen lines of
//! JSON, so it is written here with serde_json rather than through a metrics
//! facade the engine does not otherwise use.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use engine::metrics::Metrics;

use crate::handlers::BatchResponse;

/// The CloudWatch namespace of the functions' metrics.
pub const NAMESPACE: &str = "orderflow";

/// The metrics' names, as the Pulumi program's alarms name them.
pub const STORE_RETRIES: &str = "StoreRetries";
pub const MESSAGES_LEFT: &str = "MessagesLeftForRedelivery";
pub const BATCHES_LEFT: &str = "BatchesLeftForRedelivery";
pub const MESSAGES: &str = "Messages";
pub const CPU_MILLIS: &str = "CpuMillis";

/// What one invocation of a queue function did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetrics {
    /// Store calls tried again after a transient failure.
    pub store_retries: u64,
    /// Messages the response listed as failed: they come back.
    pub left_for_redelivery: u64,
    /// Messages in the batch.
    pub messages: u64,
    /// The process's CPU time during the invocation, µs (an environment
    /// runs one invocation at a time, so it is the invocation's).
    pub cpu_micros: u64,
}

impl BatchMetrics {
    /// The EMF record of this batch for `function` at `timestamp_ms` (Unix
    /// milliseconds): every metric and the dimension are root members, as
    /// the specification requires.
    pub fn record(&self, function: &str, timestamp_ms: i64) -> Value {
        let metric = |name: &str| json!({ "Name": name, "Unit": "Count" });
        let millis = json!({ "Name": CPU_MILLIS, "Unit": "Milliseconds" });
        json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [
                        metric(STORE_RETRIES),
                        metric(MESSAGES_LEFT),
                        metric(BATCHES_LEFT),
                        metric(MESSAGES),
                        millis,
                    ],
                }],
            },
            "FunctionName": function,
            STORE_RETRIES: self.store_retries,
            MESSAGES_LEFT: self.left_for_redelivery,
            BATCHES_LEFT: u64::from(self.left_for_redelivery > 0),
            MESSAGES: self.messages,
            CPU_MILLIS: self.cpu_micros as f64 / 1000.0,
        })
    }

    /// Writes the record to stdout, named after the running function
    /// (`AWS_LAMBDA_FUNCTION_NAME`, which Lambda sets). A failed write is
    /// ignored: a metric is never worth failing a batch.
    pub fn publish(&self) {
        let function =
            std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "orderflow".into());
        let record = self.record(&function, chrono::Utc::now().timestamp_millis());
        let _ = writeln!(std::io::stdout().lock(), "{record}");
    }
}

/// Counts one invocation: started before the batch, finished with the
/// response. An execution environment runs one invocation at a time, so
/// the difference of its counters is that invocation's.
pub struct Meter {
    metrics: Arc<Metrics>,
    store_retries: u64,
    messages: u64,
    cpu: Duration,
}

impl Meter {
    /// Starts counting an invocation of `messages` messages.
    pub fn start(metrics: &Arc<Metrics>, messages: usize) -> Meter {
        Meter {
            metrics: metrics.clone(),
            store_retries: metrics.store_retries.get(),
            messages: messages as u64,
            cpu: process_cpu(),
        }
    }

    pub fn finish(self, response: &BatchResponse) -> BatchMetrics {
        BatchMetrics {
            store_retries: self.metrics.store_retries.get() - self.store_retries,
            left_for_redelivery: response.batch_item_failures.len() as u64,
            messages: self.messages,
            cpu_micros: u64::try_from(process_cpu().saturating_sub(self.cpu).as_micros())
                .unwrap_or(u64::MAX),
        }
    }
}

/// The process's CPU time so far (every thread's), or zero where the
/// clock cannot be read.
fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to write; the
    // clock id is a constant Linux defines.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0).min(999_999_999),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's rules: `_aws` with a Timestamp and one directive
    /// whose every metric name and dimension key is a root member holding
    /// a number (metrics) or a string (dimensions).
    #[test]
    fn a_record_is_valid_emf() {
        let record = BatchMetrics {
            store_retries: 3,
            left_for_redelivery: 2,
            messages: 10,
            cpu_micros: 1_500,
        }
        .record("orderflow-prod-processor", 1_770_976_800_000);
        assert_eq!(record["_aws"]["Timestamp"], 1_770_976_800_000_i64);
        let directive = &record["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        for dimension in directive["Dimensions"][0].as_array().unwrap() {
            let key = dimension.as_str().unwrap();
            assert!(record[key].is_string(), "{key} is a root string");
        }
        let metrics = directive["Metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), 5);
        for metric in metrics {
            let name = metric["Name"].as_str().unwrap();
            assert!(record[name].is_number(), "{name} is a root number");
        }
        assert_eq!(record[MESSAGES], 10);
        assert_eq!(record[CPU_MILLIS], 1.5);
        assert_eq!(record["FunctionName"], "orderflow-prod-processor");
        assert_eq!(record[STORE_RETRIES], 3);
        assert_eq!(record[MESSAGES_LEFT], 2);
        assert_eq!(record[BATCHES_LEFT], 1);
        let clean = BatchMetrics::default().record("f", 0);
        assert_eq!(clean[BATCHES_LEFT], 0, "a batch that left nothing");
    }
}
