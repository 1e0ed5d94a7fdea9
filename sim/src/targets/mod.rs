//! Targets that set a run's exit status, in one vocabulary for `sim run`,
//! `sim plan` and `sim bench` (in the style of k6's thresholds):
//! `--target 'p99_accept_to_processed<2s'`. A target names a metric of the
//! run's result ([`METRICS`]), a comparison and a value with its unit.
//! `sim compare` judges two results' metrics with the same table.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a metric measures, so a value can carry a unit and a change a
/// direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds; a target may say `2s` or `2000ms`.
    Ms,
    /// A share, 0 to 1; a target says `0.1%` or `0.001`.
    Share,
    Count,
    /// Per second.
    Rate,
    Usd,
}

/// Whether more of a metric is better or worse (for `sim compare`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
    /// Describes the run rather than judges it.
    Neither,
}

/// Every metric a result may carry: name, unit, which way is better, what
/// it is.
pub const METRICS: &[(&str, Unit, Better, &str)] = &[
    (
        "requests",
        Unit::Count,
        Better::Neither,
        "order requests sent",
    ),
    (
        "accepted",
        Unit::Count,
        Better::Neither,
        "order requests answered 202",
    ),
    (
        "planned_peak_rps",
        Unit::Rate,
        Better::Neither,
        "the busiest second's requests, as planned",
    ),
    (
        "achieved_peak_rps",
        Unit::Rate,
        Better::Higher,
        "the busiest second's requests, as sent",
    ),
    (
        "offered",
        Unit::Share,
        Better::Higher,
        "the achieved peak over the planned peak (open loop)",
    ),
    (
        "p99_send_lag",
        Unit::Ms,
        Better::Lower,
        "how late the client sent, 99th percentile",
    ),
    (
        "max_send_lag",
        Unit::Ms,
        Better::Lower,
        "how late the client sent, at most",
    ),
    (
        "first_try_5xx",
        Unit::Share,
        Better::Lower,
        "order requests whose first try got a 5xx",
    ),
    (
        "first_try_429",
        Unit::Share,
        Better::Lower,
        "order requests whose first try got a 429",
    ),
    (
        "first_try_timeout",
        Unit::Share,
        Better::Lower,
        "order requests whose first try got no answer in time or no connection",
    ),
    (
        "first_try_errors",
        Unit::Share,
        Better::Lower,
        "order requests whose first try got anything but what it should",
    ),
    (
        "refused",
        Unit::Count,
        Better::Lower,
        "order requests that never got what they should, after the retries",
    ),
    (
        "p50_submit_to_202",
        Unit::Ms,
        Better::Lower,
        "due to 202, retries included, median",
    ),
    (
        "p90_submit_to_202",
        Unit::Ms,
        Better::Lower,
        "due to 202, 90th percentile",
    ),
    (
        "p95_submit_to_202",
        Unit::Ms,
        Better::Lower,
        "due to 202, 95th percentile",
    ),
    (
        "p99_submit_to_202",
        Unit::Ms,
        Better::Lower,
        "due to 202, 99th percentile",
    ),
    (
        "max_submit_to_202",
        Unit::Ms,
        Better::Lower,
        "due to 202, at most",
    ),
    (
        "p50_accept_to_processed",
        Unit::Ms,
        Better::Lower,
        "202 to PROCESSED or FAILED, median",
    ),
    (
        "p90_accept_to_processed",
        Unit::Ms,
        Better::Lower,
        "202 to final, 90th percentile",
    ),
    (
        "p95_accept_to_processed",
        Unit::Ms,
        Better::Lower,
        "202 to final, 95th percentile",
    ),
    (
        "p99_accept_to_processed",
        Unit::Ms,
        Better::Lower,
        "202 to final, 99th percentile",
    ),
    (
        "max_accept_to_processed",
        Unit::Ms,
        Better::Lower,
        "202 to final, at most",
    ),
    (
        "throughput",
        Unit::Rate,
        Better::Higher,
        "orders finished a second, first request to drained",
    ),
    (
        "reads",
        Unit::Count,
        Better::Neither,
        "status polls and stock reads sent",
    ),
    (
        "read_first_try_5xx",
        Unit::Share,
        Better::Lower,
        "reads answered 5xx, or not at all",
    ),
    (
        "read_first_try_429",
        Unit::Share,
        Better::Lower,
        "reads answered 429",
    ),
    (
        "p99_read",
        Unit::Ms,
        Better::Lower,
        "due to answer of a read, 99th percentile",
    ),
    (
        "dlq",
        Unit::Count,
        Better::Lower,
        "messages in the order and processed DLQs after the run",
    ),
    (
        "undrained",
        Unit::Count,
        Better::Lower,
        "1 if the queues did not drain in time",
    ),
    (
        "throttled_429",
        Unit::Count,
        Better::Lower,
        "requests API Gateway's throttles answered 429 (deployed shape)",
    ),
    (
        "answered_500",
        Unit::Count,
        Better::Lower,
        "requests answered 500 for a function's concurrency, init or timeout (deployed shape)",
    ),
    (
        "connections_refused",
        Unit::Count,
        Better::Lower,
        "database connections the server refused (deployed shape)",
    ),
    (
        "connections_peak",
        Unit::Count,
        Better::Lower,
        "database connections open at once, at most (deployed shape)",
    ),
    (
        "read_connections_peak",
        Unit::Count,
        Better::Lower,
        "the read function's environments at once, each with its pool (deployed shape)",
    ),
    (
        "bill_usd",
        Unit::Usd,
        Better::Lower,
        "what the run would have cost on AWS (deployed shape)",
    ),
    (
        "echo_rps",
        Unit::Rate,
        Better::Neither,
        "sim bench: a bare axum JSON echo handler, requests/s",
    ),
    (
        "ingest_rps",
        Unit::Rate,
        Better::Higher,
        "sim bench: ingest alone, requests/s",
    ),
    (
        "ingest_vs_echo",
        Unit::Share,
        Better::Higher,
        "sim bench: ingest over the echo handler measured beside it",
    ),
    (
        "autocommit_updates_per_s",
        Unit::Rate,
        Better::Neither,
        "sim bench: the reference of autocommit UPDATEs of one row",
    ),
    (
        "bare_sql_orders_per_s",
        Unit::Rate,
        Better::Neither,
        "sim bench: the reference of the bare SQL of batched transactions",
    ),
    (
        "processor_store_orders_per_s",
        Unit::Rate,
        Better::Higher,
        "sim bench: the processor's store step",
    ),
    (
        "processor_orders_per_s",
        Unit::Rate,
        Better::Higher,
        "sim bench: the whole processor on a full queue",
    ),
    (
        "e2e_orders_per_s",
        Unit::Rate,
        Better::Higher,
        "sim bench: end to end over HTTP at the offered rate",
    ),
    (
        "p99_e2e",
        Unit::Ms,
        Better::Lower,
        "sim bench: end-to-end accept-to-processed, 99th percentile",
    ),
    (
        "local_shape_orders_per_s",
        Unit::Rate,
        Better::Neither,
        "sim bench --topology lambda: the local shape's processor",
    ),
    (
        "deployed_central_orders_per_s",
        Unit::Rate,
        Better::Higher,
        "sim bench --topology lambda: the processor function, central model",
    ),
    (
        "deployed_optimistic_orders_per_s",
        Unit::Rate,
        Better::Higher,
        "sim bench --topology lambda: the same, optimistic model",
    ),
    (
        "deployed_pessimistic_orders_per_s",
        Unit::Rate,
        Better::Higher,
        "sim bench --topology lambda: the same, pessimistic model",
    ),
];

/// The targets a sale is held to when none is given (`sim run --topology
/// lambda`, `sim plan`): the book's Load testing chapter, "Targets".
pub const SALE_DEFAULTS: [&str; 8] = [
    "p99_accept_to_processed<2s",
    "first_try_5xx<0.1%",
    "first_try_429<1%",
    "read_first_try_5xx<1%",
    "refused==0",
    "dlq==0",
    "connections_refused==0",
    "offered>=95%",
];

fn metric(name: &str) -> Option<&'static (&'static str, Unit, Better, &'static str)> {
    METRICS.iter().find(|m| m.0 == name)
}

pub fn unit_of(name: &str) -> Option<Unit> {
    metric(name).map(|m| m.1)
}

pub fn better_of(name: &str) -> Better {
    metric(name).map_or(Better::Neither, |m| m.2)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "==")]
    Eq,
}

impl Op {
    fn holds(self, measured: f64, limit: f64) -> bool {
        match self {
            Op::Lt => measured < limit,
            Op::Le => measured <= limit,
            Op::Gt => measured > limit,
            Op::Ge => measured >= limit,
            Op::Eq => (measured - limit).abs() < 1e-12,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        }
    }
}

/// A parsed target: `metric op value`, the value in the metric's unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub text: String,
    pub metric: &'static str,
    pub op: Op,
    pub value: f64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TargetError {
    #[error(
        "target {0:?}: expected METRIC<VALUE (or <=, >, >=, ==), e.g. 'p99_accept_to_processed<2s'"
    )]
    Shape(String),
    #[error("target {0:?}: no metric {1:?}; the metrics are: {names}", names = METRICS.iter().map(|m| m.0).collect::<Vec<_>>().join(", "))]
    Metric(String, String),
    #[error("target {0:?}: {1}")]
    Value(String, String),
}

impl std::str::FromStr for Target {
    type Err = TargetError;

    fn from_str(text: &str) -> Result<Target, TargetError> {
        let text = text.trim();
        let at = text
            .find(['<', '>', '='])
            .ok_or_else(|| TargetError::Shape(text.into()))?;
        let (name, rest) = text.split_at(at);
        let (op, value) = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .into_iter()
        .find_map(|(s, op)| rest.strip_prefix(s).map(|v| (op, v.trim())))
        .ok_or_else(|| TargetError::Shape(text.into()))?;
        let name = name.trim();
        let (metric, unit) = metric(name)
            .map(|m| (m.0, m.1))
            .ok_or_else(|| TargetError::Metric(text.into(), name.into()))?;
        let value = value_in(unit, value).map_err(|why| TargetError::Value(text.into(), why))?;
        Ok(Target {
            text: text.to_owned(),
            metric,
            op,
            value,
        })
    }
}

/// A target's value in its metric's unit: `2s` and `2000ms` are 2,000 ms;
/// `0.1%` is 0.001.
fn value_in(unit: Unit, value: &str) -> Result<f64, String> {
    let (number, scale) = match unit {
        Unit::Ms => match (value.strip_suffix("ms"), value.strip_suffix('s')) {
            (Some(n), _) => (n, 1.0),
            (None, Some(n)) => (n, 1000.0),
            (None, None) => return Err("a time needs its unit: ms or s".into()),
        },
        Unit::Share => match value.strip_suffix('%') {
            Some(n) => (n, 0.01),
            None => (value, 1.0),
        },
        Unit::Usd => (value.trim_start_matches('$'), 1.0),
        Unit::Count | Unit::Rate => (value.trim_end_matches("/s"), 1.0),
    };
    let n: f64 = number
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{value:?} is not a number with a unit this metric takes"))?;
    match n.is_finite() {
        true => Ok(n * scale),
        false => Err(format!("{value:?} is not a finite number")),
    }
}

/// A metric's value as a person reads it: `1,240 ms`, `0.35 %`, `12`.
pub fn show(metric: &str, value: f64) -> String {
    match unit_of(metric) {
        Some(Unit::Ms) => format!("{value:.0} ms"),
        Some(Unit::Share) => format!("{:.2} %", value * 100.0),
        Some(Unit::Rate) => format!("{value:.0}/s"),
        Some(Unit::Usd) => format!("${value:.4}"),
        _ => format!("{value}"),
    }
}

/// A target judged against a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    pub target: String,
    pub metric: String,
    pub op: Op,
    pub limit: f64,
    /// None: the run did not measure it (a miss).
    pub measured: Option<f64>,
    pub passed: bool,
    /// Missed on a host that could not keep the model, on a figure that
    /// depends on the host's speed: no verdict (the result's `no_verdict`
    /// says why).
    #[serde(default)]
    pub withheld: bool,
    /// The measured value and how far from the limit, in words.
    pub detail: String,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = match (self.passed, self.withheld) {
            (true, _) => "PASS",
            (false, true) => "NO VERDICT",
            (false, false) => "MISS",
        };
        write!(f, "{mark} {}: {}", self.target, self.detail)
    }
}

impl Target {
    pub fn judge(&self, metrics: &BTreeMap<String, f64>) -> Verdict {
        let measured = metrics.get(self.metric).copied();
        let passed = measured.is_some_and(|m| self.op.holds(m, self.value));
        let detail = match measured {
            None => "not measured by this run".to_owned(),
            Some(m) => {
                let gap = show(self.metric, (m - self.value).abs());
                let how = match (passed, self.op) {
                    _ if m == self.value => "at the limit".to_owned(),
                    (true, _) => format!("{gap} to spare"),
                    (false, _) if m > self.value => format!("{gap} over"),
                    (false, _) => format!("{gap} under"),
                };
                format!(
                    "measured {}, limit {}{} ({how})",
                    show(self.metric, m),
                    self.op.text(),
                    show(self.metric, self.value)
                )
            }
        };
        Verdict {
            target: self.text.clone(),
            metric: self.metric.to_owned(),
            op: self.op,
            limit: self.value,
            measured,
            passed,
            withheld: false,
            detail,
        }
    }
}

/// Whether a metric's value depends on the speed of the machine that ran
/// the sim: every time, rate, share and price does, and the counts that
/// timing drives (500s, connections at once, what did not drain). What was
/// lost or refused outright (refused, DLQ, connections refused), what was
/// sent, and API Gateway's 429s do not: a throttle's token bucket answers
/// the client's schedule, which the run checks it kept.
pub fn depends_on_host(name: &str) -> bool {
    if matches!(
        name,
        "first_try_429" | "read_first_try_429" | "throttled_429"
    ) {
        return false;
    }
    match metric(name) {
        Some((_, Unit::Count, _, _)) => matches!(
            name,
            "answered_500" | "connections_peak" | "read_connections_peak" | "undrained"
        ),
        Some(_) => true,
        None => false,
    }
}

/// The sale's default targets, less those whose metric the run does not
/// measure (a closed-loop load has no offered rate).
pub fn sale_defaults(metrics: &BTreeMap<String, f64>) -> Vec<Target> {
    SALE_DEFAULTS
        .iter()
        .filter_map(|t| t.parse::<Target>().ok())
        .filter(|t| metrics.contains_key(t.metric))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn targets_read_their_units_and_judge_a_result() {
        let t: Target = "p99_accept_to_processed<2s".parse().unwrap();
        assert_eq!((t.op, t.value), (Op::Lt, 2000.0));
        let t5: Target = "first_try_5xx<0.1%".parse().unwrap();
        assert!((t5.value - 0.001).abs() < 1e-15);
        let m = metrics(&[("p99_accept_to_processed", 2604.0), ("first_try_5xx", 0.0)]);
        let v = t.judge(&m);
        assert!(!v.passed);
        assert_eq!(v.detail, "measured 2604 ms, limit <2000 ms (604 ms over)");
        assert!(t5.judge(&m).passed);
        let missing: Target = "dlq==0".parse().unwrap();
        assert!(
            !missing.judge(&m).passed,
            "a metric the run lacks is a miss"
        );
    }

    #[test]
    fn a_bad_target_says_what_is_wrong() {
        assert!(matches!(
            "p99".parse::<Target>(),
            Err(TargetError::Shape(_))
        ));
        let e = "p99_latency<2s".parse::<Target>().unwrap_err().to_string();
        assert!(
            e.contains("no metric \"p99_latency\"") && e.contains("p99_accept_to_processed"),
            "{e}"
        );
        let e = "p99_accept_to_processed<2"
            .parse::<Target>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("ms or s"), "{e}");
        assert!("refused==zero".parse::<Target>().is_err());
    }

    /// The book's table of metrics (Load testing, "Every metric") lists
    /// every one, so a team can look up what a target may name.
    #[test]
    fn the_book_lists_every_metric() {
        let page = include_str!("../../../docs/src/load-testing.md");
        for (name, ..) in METRICS {
            assert!(
                page.contains(&format!("| `{name}` |")),
                "docs/src/load-testing.md lacks the metric {name}"
            );
        }
    }

    #[test]
    fn every_default_parses_and_names_a_known_metric() {
        for t in SALE_DEFAULTS {
            let parsed: Target = t.parse().unwrap();
            assert!(metric(parsed.metric).is_some());
        }
    }
}
