//! The stack's worth of AWS the test puts in moto: its queues and dead
//! letters, CloudWatch datapoints for every series the collector reads,
//! and its functions' log lines. Plain HTTP in the JSON protocols moto
//! speaks, not the collector's SDK clients.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use super::{FUNCTIONS, STACK};

/// A call to moto in a service's JSON protocol (the service named by the
/// signature's scope, as moto routes it).
async fn call(moto: &str, service: &str, target: &str, content: &str, body: Value) {
    let answer = orderflow_client::http()
        .post(moto)
        .header(
            "Authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, \
                 SignedHeaders=host, Signature=0"
            ),
        )
        .header("X-Amz-Target", target)
        .header("Content-Type", content)
        .body(body.to_string())
        .send()
        .await
        .expect("moto answers");
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    assert!(status.is_success(), "{target}: {status} {text}");
}

/// Datapoints of `metric` in `namespace`, each at its time.
async fn put_metric(
    moto: &str,
    namespace: &str,
    metric: &str,
    dimensions: &[(&str, &str)],
    points: &[(DateTime<Utc>, f64)],
) {
    let dimensions: Vec<Value> = dimensions
        .iter()
        .map(|(n, v)| json!({"Name": n, "Value": v}))
        .collect();
    let data: Vec<Value> = points
        .iter()
        .map(|(at, v)| {
            json!({"MetricName": metric, "Dimensions": dimensions,
                "Timestamp": at.timestamp(), "Value": v})
        })
        .collect();
    let body = json!({"Namespace": namespace, "MetricData": data});
    let target = "GraniteServiceVersion20100801.PutMetricData";
    call(
        moto,
        "monitoring",
        target,
        "application/x-amz-json-1.0",
        body,
    )
    .await;
}

async fn logs_call(moto: &str, action: &str, body: Value) {
    let target = format!("Logs_20140328.{action}");
    call(moto, "logs", &target, "application/x-amz-json-1.1", body).await;
}

/// The log group of `function`, with one stream holding `lines` (each at
/// its time).
async fn put_logs(moto: &str, function: &str, lines: &[(DateTime<Utc>, String)]) {
    let group = format!("/aws/lambda/{STACK}-{function}");
    logs_call(moto, "CreateLogGroup", json!({"logGroupName": group})).await;
    let stream = "2026/12/06/[7]0123456789abcdef";
    let names = json!({"logGroupName": group, "logStreamName": stream});
    logs_call(moto, "CreateLogStream", names.clone()).await;
    let events: Vec<Value> = lines
        .iter()
        .map(|(at, m)| json!({"timestamp": at.timestamp_millis(), "message": m}))
        .collect();
    let mut put = names;
    put["logEvents"] = events.into();
    logs_call(moto, "PutLogEvents", put).await;
}

/// A `REPORT` line as Lambda writes it in plain text (a cold start's
/// with its `Init Duration`).
fn text_report(duration: f64, billed: u32, init: Option<f64>) -> String {
    let init = init.map_or(String::new(), |i| format!("Init Duration: {i:.2} ms\t"));
    format!(
        "REPORT RequestId: 9a1c\tDuration: {duration:.2} ms\tBilled Duration: {billed} ms\t\
         Memory Size: 256 MB\tMax Memory Used: 38 MB\t{init}\n"
    )
}

/// The same under `logFormat: JSON`: a `platform.report` record.
fn json_report(duration: f64, billed: u32, init: Option<f64>) -> String {
    let mut metrics = json!({"durationMs": duration, "billedDurationMs": billed,
        "memorySizeMB": 256, "maxMemoryUsedMB": 44});
    if let Some(i) = init {
        metrics["initDurationMs"] = i.into();
    }
    json!({"time": "2026-12-06T10:00:00.000Z", "type": "platform.report",
        "record": {"requestId": "5b2e", "metrics": metrics, "status": "success"}})
    .to_string()
}

/// An EMF record as lambda/src/emf.rs writes it, with `Messages`.
fn emf(function: &str, at: DateTime<Utc>, retries: u64, messages: u64) -> String {
    json!({
        "_aws": {"Timestamp": at.timestamp_millis(), "CloudWatchMetrics": [{
            "Namespace": "orderflow", "Dimensions": [["FunctionName"]],
            "Metrics": [{"Name": "StoreRetries", "Unit": "Count"},
                {"Name": "MessagesLeftForRedelivery", "Unit": "Count"},
                {"Name": "Messages", "Unit": "Count"}]}]},
        "FunctionName": format!("{STACK}-{function}"),
        "StoreRetries": retries, "MessagesLeftForRedelivery": 0, "Messages": messages,
    })
    .to_string()
}

/// The four queues, by their output keys, with two messages in the
/// order queue's dead-letter queue.
pub async fn queues(moto: &str) -> Vec<(&'static str, String)> {
    let sqs = testkit::moto::client(moto);
    let mut urls = Vec::new();
    for (key, name) in [
        ("order_queue_url", "orders"),
        ("order_dlq_url", "orders-dlq"),
        ("processed_queue_url", "processed"),
        ("processed_dlq_url", "processed-dlq"),
    ] {
        let made = sqs
            .create_queue()
            .queue_name(format!("{STACK}-{name}"))
            .send()
            .await
            .unwrap();
        urls.push((key, made.queue_url.unwrap()));
    }
    for body in ["dead 1", "dead 2"] {
        sqs.send_message()
            .queue_url(&urls[1].1)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    urls
}

/// Datapoints for every series, a few a minute of the window's first
/// three (from `start`, on a minute), and some outside the window.
pub async fn metrics(moto: &str, start: DateTime<Utc>, end: DateTime<Utc>) {
    let at = |secs: i64| start + TimeDelta::seconds(secs);
    for (i, f) in FUNCTIONS.iter().enumerate() {
        let b = (i + 1) as f64;
        let name = format!("{STACK}-{f}");
        let dims = [("FunctionName", name.as_str())];
        // Outside the window, before and after: not collected.
        let concurrent = [
            (at(-300), 999.0),
            (at(30), 10.0 * b),
            (at(90), 40.0 * b),
            (at(150), 20.0 * b),
            (end + TimeDelta::minutes(2), 999.0),
        ];
        let duration = [(at(20), 100.0 * b), (at(40), 200.0 * b), (at(100), 50.0)];
        for (metric, points) in [
            ("ConcurrentExecutions", &concurrent[..]),
            ("Duration", &duration[..]),
            ("Invocations", &[(at(10), 5.0), (at(50), 7.0)][..]),
            ("Throttles", &[(at(70), 3.0 * b)][..]),
            ("Errors", &[(at(130), 1.0)][..]),
        ] {
            put_metric(moto, "AWS/Lambda", metric, &dims, points).await;
        }
    }
    let orders = format!("{STACK}-orders");
    let queue = [("QueueName", orders.as_str())];
    let db_id = format!("{STACK}-db");
    let db = [("DBInstanceIdentifier", db_id.as_str())];
    let api = [("ApiId", "it0api"), ("Stage", "$default")];
    let parts = [
        ("AWS/SQS", &queue[..], &SQS),
        ("AWS/RDS", &db[..], &RDS),
        ("AWS/ApiGateway", &api[..], &API),
    ];
    for (namespace, dims, series) in parts {
        for (metric, points) in series.iter() {
            let points: Vec<_> = points.iter().map(|&(secs, v)| (at(secs), v)).collect();
            put_metric(moto, namespace, metric, dims, &points).await;
        }
    }
}

/// Each metric's datapoints, `(seconds from the start, value)`.
type Points = (&'static str, &'static [(i64, f64)]);

const SQS: [Points; 4] = [
    (
        "ApproximateAgeOfOldestMessage",
        &[(30, 2.0), (90, 9.0), (150, 4.0)],
    ),
    ("ApproximateNumberOfMessagesVisible", &[(30, 100.0)]),
    ("NumberOfMessagesSent", &[(30, 500.0), (40, 300.0)]),
    ("NumberOfMessagesReceived", &[(90, 790.0)]),
];
const RDS: [Points; 4] = [
    ("DatabaseConnections", &[(30, 12.0), (90, 31.0)]),
    ("CPUUtilization", &[(30, 20.0), (40, 40.0)]),
    ("WriteLatency", &[(30, 0.002), (90, 0.004)]),
    ("CPUCreditBalance", &[(30, 140.0), (40, 120.0)]),
];
const API: [Points; 4] = [
    ("Count", &[(30, 1000.0), (50, 500.0)]),
    ("4xx", &[(30, 10.0)]),
    ("5xx", &[(90, 2.0)]),
    ("Latency", &[(30, 25.0)]),
];

/// The functions' log lines: ingest's in plain text, the processor's in
/// the JSON log format the Pulumi program sets, the notifier's in plain
/// text with EMF records; no log group for `read`.
pub async fn logs(moto: &str, start: DateTime<Utc>) {
    let at = |ms: i64| start + TimeDelta::milliseconds(ms);
    let ingest = [
        (at(-60_000), text_report(99.0, 99, Some(99.0))),
        (at(1_000), "START RequestId: 9a1c Version: 3\n".to_owned()),
        (at(2_000), text_report(12.34, 13, Some(55.10))),
        (at(3_000), text_report(3.0, 3, None)),
        (at(4_000), "END RequestId: 9a1c\n".to_owned()),
    ];
    put_logs(moto, "ingest", &ingest).await;
    let start_record = json!({"time": "2026-12-06T10:00:05.000Z", "type": "platform.start",
        "record": {"requestId": "5b2e", "version": "3"}});
    let processor = [
        (at(5_000), start_record.to_string()),
        (at(6_000), json_report(80.5, 81, Some(210.25))),
        (at(6_100), emf("processor", at(6_050), 2, 200)),
        (at(8_000), json_report(40.0, 40, None)),
        (at(8_000), emf("processor", at(8_000), 0, 150)),
    ];
    put_logs(moto, "processor", &processor).await;
    let notifier = [
        (at(9_000), text_report(5.5, 6, Some(60.0))),
        (at(10_000), emf("notifier", at(10_000), 1, 100)),
    ];
    put_logs(moto, "notifier", &notifier).await;
}
