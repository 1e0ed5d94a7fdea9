//! A run's result as one owned, serialisable value: what it ran, what it
//! measured (as sections, and as the flat metrics targets and `sim compare`
//! read), each check and target with its verdict. The text report, the
//! HTML page, the Markdown summary and the JSON (`--json`, schema
//! `results.schema.json`) are all rendered from it.
//!
//! Here the value: its fields, its metrics, its verdicts and its exit
//! status; the rows it holds in [`rows`], its JSON in [`json`].

mod json;
mod rows;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::load::measure::{LoadReport, ReadsReport};
use crate::targets::{self, Target, Verdict};

use super::faults::FaultRow;
use super::shape::ShapeReport;

pub use json::schema;
pub use rows::{
    settings_ref, BenchRow, Bill, BillLine, CheckRow, Confirmation, OrderRow, PipelineReport,
    PlanReport, ProfileSetup, SettingsRef, Setup, StockRow,
};

/// The schema's name and version: a reader refuses another major version.
pub const SCHEMA: &str = "orderflow.result/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunResult {
    /// `orderflow.result/1`.
    pub schema: String,
    /// The subcommand that wrote it: `run`, `load`, `bench`, `plan` or `check`.
    pub command: String,
    /// The checkout's commit (`git describe --always --dirty`), if any.
    pub commit: Option<String>,
    /// When it started, RFC 3339 UTC.
    pub started_at: String,
    pub seed: Option<u64>,
    pub setup: Setup,
    /// Every figure by name, in the unit `sim run --help` lists for it:
    /// what targets and `sim compare` read.
    pub metrics: BTreeMap<String, f64>,
    pub targets: Vec<Verdict>,
    /// Scenarios, invariants and the run's own conditions (the client kept
    /// its schedule, the queues drained).
    pub checks: Vec<CheckRow>,
    /// Every check and every target passed: the exit status is 0.
    pub passed: bool,
    /// Why the machine that ran it could not keep the model, if it could
    /// not: its missed targets on figures that depend on its speed are
    /// withheld (no verdict, exit status 2 unless something else failed).
    #[serde(default)]
    pub no_verdict: Option<String>,
    pub load: Option<LoadReport>,
    pub reads: Option<ReadsReport>,
    pub pipeline: Option<PipelineReport>,
    pub shape: Option<ShapeReport>,
    pub faults: Vec<FaultRow>,
    pub bill: Option<Bill>,
    /// `sim bench`: each figure and its references, as printed.
    pub bench: Vec<BenchRow>,
    /// `sim plan`: the chosen settings file and each confirming run.
    pub plan: Option<PlanReport>,
    /// `sim check`: the inventory, and the newest orders.
    pub inventory: Vec<StockRow>,
    pub orders: Vec<OrderRow>,
}

impl RunResult {
    /// An empty result of `command`, stamped with the commit and the time.
    pub fn new(command: &str, seed: Option<u64>) -> RunResult {
        RunResult {
            schema: SCHEMA.to_owned(),
            command: command.to_owned(),
            commit: commit(),
            started_at: engine::events::now_millis()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            seed,
            setup: Setup::default(),
            metrics: BTreeMap::new(),
            targets: Vec::new(),
            checks: Vec::new(),
            passed: false,
            no_verdict: None,
            load: None,
            reads: None,
            pipeline: None,
            shape: None,
            faults: Vec::new(),
            bill: None,
            bench: Vec::new(),
            plan: None,
            inventory: Vec::new(),
            orders: Vec::new(),
        }
    }

    /// Fills the flat metrics from the sections.
    pub fn derive_metrics(&mut self) {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: f64| {
            m.insert(k.to_owned(), v);
        };
        if let Some(l) = &self.load {
            put("requests", l.requests as f64);
            put(
                "accepted",
                l.after_retries.get("202").copied().unwrap_or(0) as f64,
            );
            put("achieved_peak_rps", l.achieved_peak_rps);
            if let (Some(p), Some(o)) = (l.planned_peak_rps, l.offered) {
                put("planned_peak_rps", p);
                put("offered", o);
                put("p99_send_lag", l.send_lag_ms.p99);
                put("max_send_lag", l.send_lag_ms.max);
            }
            put("first_try_5xx", l.first_try_5xx);
            put("first_try_429", l.first_try_429);
            put("first_try_timeout", l.first_try_timeout);
            put("first_try_errors", l.first_try_errors);
            put("refused", l.refused as f64);
            for (name, v) in l.submit_to_202_ms.named() {
                put(&format!("{name}_submit_to_202"), v);
            }
        }
        if let Some(r) = self.reads.as_ref().filter(|r| r.requests > 0) {
            put("reads", r.requests as f64);
            put("read_first_try_5xx", r.first_try_5xx);
            put("read_first_try_429", r.first_try_429);
            put("p99_read", r.latency_ms.p99);
        }
        if let Some(p) = &self.pipeline {
            for (name, v) in p.accept_to_processed_ms.named() {
                put(&format!("{name}_accept_to_processed"), v);
            }
            put("throughput", p.throughput);
            put("dlq", (p.order_dlq + p.processed_dlq) as f64);
            put("undrained", f64::from(u8::from(!p.drained)));
        }
        if let Some(s) = &self.shape {
            put("throttled_429", s.throttled_429 as f64);
            put("answered_500", s.answered_500 as f64);
            put("connections_refused", s.connections_refused as f64);
            put("connections_peak", s.connections_peak as f64);
            put("read_connections_peak", s.read_connections_peak as f64);
        }
        if let Some(b) = &self.bill {
            put("bill_usd", b.total);
        }
        for b in &self.bench {
            put(&b.name, b.value);
        }
        self.metrics.extend(m);
    }

    /// Judges `targets` (or, with `defaults`, the sale's defaults when none
    /// is given) and sets `passed`.
    pub fn judge(&mut self, given: &[Target], defaults: bool) {
        let targets = match (given.is_empty(), defaults) {
            (true, true) => targets::sale_defaults(&self.metrics),
            _ => given.to_vec(),
        };
        self.targets = targets.iter().map(|t| t.judge(&self.metrics)).collect();
        self.passed = self.checks.iter().all(|c| c.passed) && self.targets.iter().all(|t| t.passed);
    }

    /// The machine that ran it could not keep the model (`why`): a missed
    /// target on a figure that depends on the machine's speed gets no
    /// verdict. A met one stands, since such a machine only slows the
    /// simulated AWS down.
    pub fn withhold(&mut self, why: String) {
        for t in &mut self.targets {
            t.withheld = !t.passed && targets::depends_on_host(&t.metric);
        }
        self.no_verdict = Some(why);
    }

    /// 0 when everything passed; 1 when a check or a target failed outright;
    /// 2 when nothing failed outright but a target got no verdict.
    pub fn exit_status(&self) -> u8 {
        let failed = self.checks.iter().any(|c| !c.passed)
            || self.targets.iter().any(|t| !t.passed && !t.withheld);
        match (self.passed, failed) {
            (true, _) => 0,
            (false, true) => 1,
            (false, false) => 2,
        }
    }
}

// What `sim plan` reads of its confirming runs (a build without `aws` has
// no plan).
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
impl RunResult {
    /// A metric's value, 0 if the result lacks it.
    pub fn metric(&self, name: &str) -> f64 {
        self.metrics.get(name).copied().unwrap_or(0.0)
    }

    pub fn p99_ms(&self) -> i64 {
        self.metric("p99_accept_to_processed").round() as i64
    }

    pub fn refused(&self) -> u64 {
        self.metric("refused") as u64
    }

    pub fn dlq(&self) -> u64 {
        self.metric("dlq") as u64
    }

    /// The first check or target that failed, in words.
    pub fn first_miss(&self) -> Option<String> {
        self.targets
            .iter()
            .find(|t| !t.passed)
            .map(|t| match (t.withheld, &self.no_verdict) {
                (true, Some(why)) => format!("no verdict on {}: {} ({why})", t.target, t.detail),
                _ => format!("{}: {}", t.target, t.detail),
            })
            .or_else(|| {
                self.checks
                    .iter()
                    .find(|c| !c.passed)
                    .map(|c| format!("{}: {}", c.name, c.detail))
            })
    }
}

/// The checkout's commit, if the sim runs in one and git is there.
fn commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}
