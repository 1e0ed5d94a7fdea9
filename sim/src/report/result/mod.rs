//! A run's result as one owned, serialisable value: what it ran, what it
//! measured (as sections, and as the flat metrics targets and `sim compare`
//! read), each check and target with its verdict. The text report, the
//! HTML page, the Markdown summary and the JSON (`--json`, schema
//! `results.schema.json`) are all rendered from it.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::load::measure::{LoadReport, Percentiles, ReadsReport};
use crate::targets::{self, Target, Verdict};

use super::faults::FaultRow;
use super::shape::ShapeReport;

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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRow {
    pub order_id: String,
    pub customer_id: String,
    pub status: String,
    pub failure_reason: Option<String>,
    pub created_at: String,
    pub processed_at: Option<String>,
}

/// What the result was measured with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// `local` or `lambda`.
    pub topology: String,
    pub store: String,
    pub queues: String,
    pub profile: Option<ProfileSetup>,
    /// The deployed shape's settings file and its SHA-256.
    pub settings: Option<SettingsRef>,
    /// The model's end and file.
    pub model: Option<String>,
    pub multi_az: bool,
    pub region: Option<String>,
    /// `--faults` as given.
    pub faults: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileSetup {
    pub name: String,
    pub requests: usize,
    pub duration_secs: f64,
    pub description: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsRef {
    pub file: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRow {
    /// `scenario`, `invariant` or `run`.
    pub group: String,
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// What became of the orders.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineReport {
    pub finished: usize,
    pub processed: usize,
    pub failed: usize,
    pub failure_reasons: BTreeMap<String, u64>,
    /// Orders finished a second, first load request to drained.
    pub throughput: f64,
    pub drain_secs: f64,
    pub drained: bool,
    pub accept_to_processed_ms: Percentiles,
    pub order_dlq: usize,
    pub processed_dlq: usize,
    pub duplicates_answered: u64,
    pub store_retries: u64,
    pub undecodable_receives: u64,
    pub hot_stock: Vec<StockRow>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StockRow {
    pub product_id: String,
    pub from: Option<i64>,
    pub to: i64,
}

/// A run's bill.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bill {
    pub region: String,
    /// The day the prices were read.
    pub read: String,
    pub currency: String,
    /// The stack's seconds the bill covers.
    pub seconds: f64,
    pub total: f64,
    pub per_million: Option<f64>,
    pub idle_month: f64,
    pub lines: Vec<BillLine>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BillLine {
    pub service: String,
    pub item: String,
    pub quantity: f64,
    pub unit: String,
    pub usd: f64,
    /// A cost of the stack's time, not of its traffic.
    pub fixed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BenchRow {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub note: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanReport {
    /// The chosen settings file, if a candidate met the targets.
    pub chosen: Option<String>,
    pub chosen_shape: Option<String>,
    pub headroom: String,
    pub confirmed: Vec<Confirmation>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    pub name: String,
    pub shape: String,
    pub settings: String,
    pub model: String,
    pub passed: bool,
    /// The first target or check it missed.
    pub missed: Option<String>,
    pub metrics: BTreeMap<String, f64>,
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

impl RunResult {
    pub fn to_json(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(self)? + "\n")
    }

    /// Writes the JSON to `path`, or to standard output for `-`.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        match path.as_os_str() == "-" {
            true => {
                print!("{}", self.to_json()?);
                Ok(())
            }
            false => super::write_file(path, &self.to_json()?),
        }
    }

    /// Writes the JSON (to `json`, or for `-` to `stdout`, the real standard
    /// output [`crate::console::stdout_to_stderr`] kept) and the Markdown
    /// summary, as asked.
    pub fn emit(
        &self,
        json: Option<&Path>,
        stdout: Option<std::fs::File>,
        summary: Option<&Path>,
    ) -> anyhow::Result<()> {
        use std::io::Write as _;
        match (json, stdout) {
            (Some(_), Some(mut out)) => {
                std::io::stdout().flush()?;
                out.write_all(self.to_json()?.as_bytes())?;
            }
            (Some(path), None) => self.write(path)?,
            (None, _) => {}
        }
        if let Some(path) = summary {
            super::write_file(path, &super::markdown::render(self))?;
        }
        Ok(())
    }

    /// Reads a result back, refusing another schema.
    pub fn read(path: &Path) -> anyhow::Result<RunResult> {
        use anyhow::Context as _;
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let schema = value
            .get("schema")
            .and_then(|s| s.as_str())
            .unwrap_or("none");
        if schema != SCHEMA {
            anyhow::bail!(
                "{} has schema {schema:?}; this sim reads {SCHEMA:?}",
                path.display()
            );
        }
        serde_json::from_value(value)
            .with_context(|| format!("{} does not follow {SCHEMA}", path.display()))
    }
}

/// The JSON Schema of a result, as `results.schema.json` holds it.
pub fn schema() -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(&schemars::schema_for!(RunResult))? + "\n")
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

/// A settings file's name and the SHA-256 of its bytes.
pub fn settings_ref(path: Option<&Path>) -> SettingsRef {
    use sha2::Digest as _;
    let (file, bytes) = match path {
        Some(p) => (
            p.display().to_string(),
            std::fs::read(p).unwrap_or_default(),
        ),
        None => (
            "deploy/settings.json (shipped)".to_owned(),
            crate::aws::settings::SHIPPED.as_bytes().to_vec(),
        ),
    };
    let digest = sha2::Sha256::digest(&bytes);
    SettingsRef {
        file,
        sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schema is the one the type makes: a change of the
    /// result's shape shows in review, and a reader's copy stays true.
    #[test]
    fn the_committed_schema_is_the_results_own() {
        let committed = include_str!("../../../../results.schema.json");
        assert!(
            committed == schema().unwrap(),
            "results.schema.json is stale: run `cargo run -p sim -- compare --schema > results.schema.json`"
        );
    }

    #[test]
    fn a_result_reads_back_and_another_schema_is_refused() {
        let mut r = RunResult::new("run", Some(3));
        r.pipeline = Some(PipelineReport {
            order_dlq: 2,
            drained: true,
            ..PipelineReport::default()
        });
        r.derive_metrics();
        r.judge(&[], true);
        assert!(!r.passed, "dlq==0 is a default target");
        let dir = std::env::temp_dir().join(format!("orderflow-result-{}", std::process::id()));
        let path = dir.join("r.json");
        r.write(&path).unwrap();
        assert_eq!(RunResult::read(&path).unwrap(), r);
        std::fs::write(
            &path,
            r.to_json().unwrap().replace(SCHEMA, "orderflow.result/2"),
        )
        .unwrap();
        let e = RunResult::read(&path).unwrap_err().to_string();
        assert!(e.contains("orderflow.result/2"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// On a machine that could not keep the model, a missed target on a
    /// figure that depends on its speed gets no verdict (exit 2), a met one
    /// stands, and a miss of what was lost or refused fails the run (exit 1)
    /// on any machine.
    #[test]
    fn a_busy_machine_withholds_only_its_speed_dependent_misses() {
        let judged = |metrics: &[(&str, f64)]| {
            let mut r = RunResult::new("run", Some(1));
            r.metrics = metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            let targets: Vec<Target> = [
                "p99_accept_to_processed<2s",
                "read_first_try_5xx<1%",
                "dlq==0",
            ]
            .iter()
            .map(|t| t.parse().unwrap())
            .collect();
            r.judge(&targets, false);
            r
        };
        let at_rest = judged(&[
            ("p99_accept_to_processed", 900.0),
            ("read_first_try_5xx", 0.02),
            ("dlq", 0.0),
        ]);
        assert_eq!(at_rest.exit_status(), 1, "a miss at rest is a miss");

        let mut busy = at_rest.clone();
        busy.withhold("too busy".into());
        assert_eq!(busy.exit_status(), 2);
        let marks: Vec<String> = busy.targets.iter().map(|t| t.to_string()).collect();
        assert!(
            marks[0].starts_with("PASS p99_accept_to_processed"),
            "{marks:?}"
        );
        assert!(
            marks[1].starts_with("NO VERDICT read_first_try_5xx"),
            "{marks:?}"
        );
        assert!(
            busy.first_miss().unwrap().contains("no verdict"),
            "{:?}",
            busy.first_miss()
        );

        let mut lost = judged(&[
            ("p99_accept_to_processed", 900.0),
            ("read_first_try_5xx", 0.02),
            ("dlq", 3.0),
        ]);
        lost.withhold("too busy".into());
        assert_eq!(
            lost.exit_status(),
            1,
            "the DLQ's count does not depend on the machine"
        );

        let mut met = judged(&[
            ("p99_accept_to_processed", 900.0),
            ("read_first_try_5xx", 0.0),
            ("dlq", 0.0),
        ]);
        met.withhold("too busy".into());
        assert_eq!(met.exit_status(), 0, "what was met stands");
    }
}
