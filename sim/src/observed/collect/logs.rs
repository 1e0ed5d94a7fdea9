//! The functions' log lines the observed file keeps: Lambda's `REPORT`
//! line of each invocation (plain text, or under `logFormat: JSON`, which
//! the Pulumi program sets, a `platform.report` record) and the functions'
//! EMF records (lambda/src/emf.rs; a custom runtime's output is
//! logged as written under either format, so a record is a line of its
//! own). The parsers are pure; [`fetch`] reads a function's log group with
//! `FilterLogEvents`.

use std::collections::BTreeMap;

use aws_sdk_cloudwatchlogs::error::DisplayErrorContext;
use serde_json::Value;

use crate::observed::{Emf, Report};

/// The namespace of the functions' EMF records (`NAMESPACE` of
/// lambda/src/emf.rs; the tests parse a record that module writes).
pub const EMF_NAMESPACE: &str = "orderflow";

/// One log line the observed file keeps.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Report(Report),
    Emf(Emf),
}

/// The line `message`, logged at `event_ms` (Unix milliseconds), as the
/// observed file keeps it, times in seconds from `start_ms`; `None` for
/// any other line.
pub fn line(message: &str, event_ms: i64, start_ms: i64) -> Option<Line> {
    let t = |ms: i64| (ms - start_ms) as f64 / 1000.0;
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("REPORT ") {
        return text_report(rest, t(event_ms)).map(Line::Report);
    }
    if !message.starts_with('{') {
        return None;
    }
    let record: Value = serde_json::from_str(message).ok()?;
    if record.get("type").and_then(Value::as_str) == Some("platform.report") {
        return json_report(&record, t(event_ms)).map(Line::Report);
    }
    let values = emf_values(&record);
    if values.is_empty() {
        return None;
    }
    let at = record.pointer("/_aws/Timestamp").and_then(Value::as_i64);
    Some(Line::Emf(Emf {
        t: t(at.unwrap_or(event_ms)),
        values,
    }))
}

/// `REPORT RequestId: ... Duration: 12.34 ms Billed Duration: 13 ms
/// Memory Size: 256 MB Max Memory Used: 40 MB Init Duration: 55.10 ms`
/// (the fields tab-separated, as Lambda writes them, or by spaces).
fn text_report(fields: &str, t: f64) -> Option<Report> {
    let mut values: BTreeMap<String, f64> = BTreeMap::new();
    let mut words: Vec<&str> = Vec::new();
    let mut tokens = fields.split_whitespace().peekable();
    while let Some(token) = tokens.next() {
        let Some(word) = token.strip_suffix(':') else {
            words.push(token);
            continue;
        };
        words.push(word);
        let label = words.join(" ");
        words.clear();
        let Some(value) = tokens.next() else { break };
        if let Ok(v) = value.parse::<f64>() {
            values.insert(label, v);
            // The unit after a number (`ms`, `MB`) is not the next label's.
            tokens.next_if(|unit| matches!(*unit, "ms" | "MB"));
        }
    }
    Some(Report {
        t,
        duration_ms: *values.get("Duration")?,
        billed_ms: *values.get("Billed Duration")?,
        init_ms: values.get("Init Duration").copied(),
        max_memory_mb: values.get("Max Memory Used").copied(),
    })
}

/// `{"type": "platform.report", "record": {"metrics": {"durationMs": ..,
/// "billedDurationMs": .., "maxMemoryUsedMB": .., "initDurationMs": ..}}}`.
fn json_report(record: &Value, t: f64) -> Option<Report> {
    let metrics = record.pointer("/record/metrics")?;
    let number = |key: &str| metrics.get(key).and_then(Value::as_f64);
    Some(Report {
        t,
        duration_ms: number("durationMs")?,
        billed_ms: number("billedDurationMs")?,
        init_ms: number("initDurationMs"),
        max_memory_mb: number("maxMemoryUsedMB"),
    })
}

/// Every metric the record's directives of namespace `orderflow` name, by
/// its root member (a list of values is summed, as CloudWatch's `Sum`).
fn emf_values(record: &Value) -> BTreeMap<String, f64> {
    let mut values = BTreeMap::new();
    let directives = record
        .pointer("/_aws/CloudWatchMetrics")
        .and_then(Value::as_array);
    for directive in directives.into_iter().flatten() {
        if directive.get("Namespace").and_then(Value::as_str) != Some(EMF_NAMESPACE) {
            continue;
        }
        let metrics = directive.get("Metrics").and_then(Value::as_array);
        for name in metrics
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("Name")?.as_str())
        {
            let value = match record.get(name) {
                Some(Value::Array(list)) => list.iter().filter_map(Value::as_f64).sum(),
                Some(v) => match v.as_f64() {
                    Some(v) => v,
                    None => continue,
                },
                None => continue,
            };
            values.insert(name.to_owned(), value);
        }
    }
    values
}

/// What a function's log group held over the window.
#[derive(Debug, Default)]
pub struct FunctionLogs {
    pub reports: Vec<Report>,
    pub emf: Vec<Emf>,
}

/// Why a log group could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("no log group {0}")]
    NoGroup(String),
    #[error("FilterLogEvents on {group}: {message}")]
    Refused { group: String, message: String },
}

/// Reads the `REPORT` lines and EMF records of `group` logged between
/// `start_ms` and `end_ms` (Unix milliseconds), every page.
pub async fn fetch(
    client: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    start_ms: i64,
    end_ms: i64,
) -> Result<FunctionLogs, LogsError> {
    let mut logs = FunctionLogs::default();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .filter_log_events()
            .log_group_name(group)
            .start_time(start_ms)
            .end_time(end_ms)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                let missing = e
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception());
                match missing {
                    true => LogsError::NoGroup(group.to_owned()),
                    false => LogsError::Refused {
                        group: group.to_owned(),
                        message: DisplayErrorContext(&e).to_string(),
                    },
                }
            })?;
        for event in page.events() {
            let (Some(at), Some(message)) = (event.timestamp(), event.message()) else {
                continue;
            };
            match line(message, at, start_ms) {
                Some(Line::Report(r)) => logs.reports.push(r),
                Some(Line::Emf(e)) => logs.emf.push(e),
                None => {}
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    logs.reports.sort_by(|a, b| a.t.total_cmp(&b.t));
    logs.emf.sort_by(|a, b| a.t.total_cmp(&b.t));
    Ok(logs)
}
