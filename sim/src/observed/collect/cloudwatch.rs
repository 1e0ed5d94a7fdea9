//! The stack's CloudWatch metrics over the window: which to ask for (the
//! [`plan`], pure) and the `GetMetricData` calls that fetch them, batched
//! (up to 500 queries a call) and paged (`NextToken`).

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::primitives::DateTime as AwsTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use chrono::{DateTime, Utc};

use super::inputs::{queue_name, StackOutputs};
use crate::observed::names::*;
use crate::observed::{Metrics, Series};

/// A function's p99 duration, beside its average (`Duration`).
pub const DURATION_P99: &str = "Duration.p99";
/// A burstable instance's CPU credits left (`db.t4g.*`).
pub const CPU_CREDITS: &str = "CPUCreditBalance";

/// The most queries one `GetMetricData` call takes.
const QUERIES_PER_CALL: usize = 500;

/// Which part of the stack a series belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// By the settings' function name.
    Function(String),
    /// By the observed file's queue name.
    Queue(String),
    Database,
    Api,
}

/// One series to ask CloudWatch for.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub part: Part,
    /// The series' name in the observed file.
    pub key: &'static str,
    pub namespace: &'static str,
    pub metric: &'static str,
    pub dimensions: Vec<(&'static str, String)>,
    pub stat: &'static str,
    /// The unit CloudWatch gives the metric in (not asked: a unit in the
    /// query filters the datapoints by it).
    pub unit: &'static str,
}

/// (key, metric, statistic, unit) of each series of a part.
type Spec = (&'static str, &'static str, &'static str, &'static str);

const FUNCTION: [Spec; 6] = [
    (CONCURRENT, CONCURRENT, "Maximum", "Count"),
    (DURATION, DURATION, "Average", "Milliseconds"),
    (DURATION_P99, DURATION, "p99", "Milliseconds"),
    (INVOCATIONS, INVOCATIONS, "Sum", "Count"),
    (THROTTLES, THROTTLES, "Sum", "Count"),
    (ERRORS, ERRORS, "Sum", "Count"),
];
const QUEUE: [Spec; 4] = [
    (AGE_OF_OLDEST, AGE_OF_OLDEST, "Maximum", "Seconds"),
    (VISIBLE, VISIBLE, "Maximum", "Count"),
    (SENT, SENT, "Sum", "Count"),
    (RECEIVED, RECEIVED, "Sum", "Count"),
];
const DATABASE: [Spec; 4] = [
    (DB_CONNECTIONS, DB_CONNECTIONS, "Maximum", "Count"),
    (DB_CPU, DB_CPU, "Average", "Percent"),
    (WRITE_LATENCY, WRITE_LATENCY, "Average", "Seconds"),
    (CPU_CREDITS, CPU_CREDITS, "Minimum", "Count"),
];
const API: [Spec; 4] = [
    (API_COUNT, API_COUNT, "Sum", "Count"),
    (API_4XX, API_4XX, "Sum", "Count"),
    (API_5XX, API_5XX, "Sum", "Count"),
    (API_LATENCY, API_LATENCY, "p99", "Milliseconds"),
];

/// Every series the observed file holds for the stack in `outputs`.
pub fn plan(outputs: &StackOutputs) -> Vec<Query> {
    let mut queries = Vec::new();
    let mut add = |part: Part,
                   namespace: &'static str,
                   specs: &[Spec],
                   dimensions: Vec<(&'static str, String)>| {
        for &(key, metric, stat, unit) in specs {
            queries.push(Query {
                part: part.clone(),
                key,
                namespace,
                metric,
                dimensions: dimensions.clone(),
                stat,
                unit,
            });
        }
    };
    for (function, name) in &outputs.functions {
        let part = Part::Function(function.clone());
        add(
            part,
            "AWS/Lambda",
            &FUNCTION,
            vec![("FunctionName", name.clone())],
        );
    }
    for (queue, url) in &outputs.queues {
        let dimensions = vec![("QueueName", queue_name(url).to_owned())];
        add(Part::Queue(queue.clone()), "AWS/SQS", &QUEUE, dimensions);
    }
    let instance = vec![("DBInstanceIdentifier", outputs.db_instance_id.clone())];
    add(Part::Database, "AWS/RDS", &DATABASE, instance);
    let api = vec![
        ("ApiId", outputs.api_id.clone()),
        ("Stage", outputs.stage.clone()),
    ];
    add(Part::Api, "AWS/ApiGateway", &API, api);
    queries
}

/// The window and the period the series are read over.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub period_secs: u32,
}

/// The series of the stack's parts, each by its key, and what
/// CloudWatch refused.
#[derive(Debug, Default)]
pub struct Collected {
    pub by_part: BTreeMap<Part, Metrics>,
    /// The calls CloudWatch answered.
    pub answered: usize,
    /// Why it refused the others (their series are absent).
    pub refused: Vec<String>,
}

impl Collected {
    /// The series of `part`, or none collected.
    pub fn take(&mut self, part: &Part) -> Metrics {
        self.by_part.remove(part).unwrap_or_default()
    }
}

/// A percentile (`p99`, `p50`), which CloudWatch computes from its
/// samples, rather than a plain statistic.
fn is_percentile(stat: &str) -> bool {
    stat.strip_prefix('p')
        .is_some_and(|n| n.parse::<f64>().is_ok())
}

/// Fetches every query's series over `window`: a metric with no
/// datapoints is an empty series. The percentiles go in calls of their
/// own, so that a refusal of them (moto's server computes none) leaves
/// the plain statistics.
pub async fn fetch(
    client: &aws_sdk_cloudwatch::Client,
    queries: &[Query],
    window: Window,
) -> Collected {
    let mut collected = Collected::default();
    let (percentiles, plain): (Vec<usize>, Vec<usize>) =
        (0..queries.len()).partition(|&i| is_percentile(queries[i].stat));
    for (kind, group) in [("statistics", plain), ("percentiles", percentiles)] {
        for chunk in group.chunks(QUERIES_PER_CALL) {
            let got = match call(client, queries, chunk, window).await {
                Ok(got) => got,
                Err(e) => {
                    let mut keys: Vec<&str> = chunk.iter().map(|&i| queries[i].key).collect();
                    keys.dedup();
                    let keys = keys.join(", ");
                    collected
                        .refused
                        .push(format!("CloudWatch's {kind} ({keys}): {e:#}"));
                    continue;
                }
            };
            collected.answered += 1;
            for (i, mut points) in got {
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                let q = &queries[i];
                let series = Series {
                    stat: q.stat.to_owned(),
                    unit: q.unit.to_owned(),
                    period_secs: window.period_secs,
                    points,
                };
                let metrics = collected.by_part.entry(q.part.clone()).or_default();
                metrics.insert(q.key.to_owned(), series);
            }
        }
    }
    collected
}

/// One `GetMetricData` of the queries at `chunk`, every page: each
/// query's points by its index.
async fn call(
    client: &aws_sdk_cloudwatch::Client,
    queries: &[Query],
    chunk: &[usize],
    window: Window,
) -> anyhow::Result<BTreeMap<usize, Vec<(f64, f64)>>> {
    let asked: Vec<MetricDataQuery> = chunk
        .iter()
        .map(|&i| query(&id(i), &queries[i], window.period_secs))
        .collect();
    let mut points: BTreeMap<usize, Vec<(f64, f64)>> =
        chunk.iter().map(|&i| (i, Vec::new())).collect();
    let mut token: Option<String> = None;
    loop {
        let answer = client
            .get_metric_data()
            .set_metric_data_queries(Some(asked.clone()))
            .start_time(aws_time(window.start))
            .end_time(aws_time(window.end))
            .scan_by(ScanBy::TimestampAscending)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("GetMetricData: {}", DisplayErrorContext(&e)))?;
        for result in answer.metric_data_results() {
            let index = result.id().and_then(index_of);
            let Some(series) = index.and_then(|i| points.get_mut(&i)) else {
                continue;
            };
            let times = result.timestamps().iter();
            for (at, &value) in times.zip(result.values()) {
                series.push((seconds_since(window.start, at), value));
            }
        }
        token = answer.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(points);
        }
    }
}

/// A query's id: CloudWatch wants a lower-case letter first.
fn id(index: usize) -> String {
    format!("q{index}")
}

fn index_of(id: &str) -> Option<usize> {
    id.strip_prefix('q')?.parse().ok()
}

fn query(id: &str, q: &Query, period_secs: u32) -> MetricDataQuery {
    let mut metric = Metric::builder()
        .namespace(q.namespace)
        .metric_name(q.metric);
    for (name, value) in &q.dimensions {
        metric = metric.dimensions(Dimension::builder().name(*name).value(value).build());
    }
    let stat = MetricStat::builder()
        .metric(metric.build())
        .period(i32::try_from(period_secs).unwrap_or(i32::MAX))
        .stat(q.stat)
        .build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(stat)
        .return_data(true)
        .build()
}

fn aws_time(t: DateTime<Utc>) -> AwsTime {
    AwsTime::from_millis(t.timestamp_millis())
}

/// Seconds from `start` to `at`.
fn seconds_since(start: DateTime<Utc>, at: &AwsTime) -> f64 {
    let at = at.secs() as f64 + f64::from(at.subsec_nanos()) / 1e9;
    at - start.timestamp_millis() as f64 / 1000.0
}
