//! Targets that set a run's exit status, in one vocabulary for `sim run`,
//! `sim plan` and `sim bench` (in the style of k6's thresholds):
//! `--target 'p99_accept_to_processed<2s'`. A target names a metric of the
//! run's result ([`METRICS`]), a comparison and a value with its unit.
//! `sim compare` judges two results' metrics with the same table.
//!
//! Here the targets: read from their text, judged against a result's
//! metrics, and the sale's defaults; the table of metrics itself in
//! [`metrics`].

mod metrics;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use metrics::metric;
pub use metrics::{better_of, depends_on_host, unit_of, Better, Unit, METRICS};

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

/// The sale's default targets, less those whose metric the run does not
/// measure (a closed-loop load has no offered rate).
pub fn sale_defaults(metrics: &BTreeMap<String, f64>) -> Vec<Target> {
    SALE_DEFAULTS
        .iter()
        .filter_map(|t| t.parse::<Target>().ok())
        .filter(|t| metrics.contains_key(t.metric))
        .collect()
}
