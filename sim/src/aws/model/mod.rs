//! The model of AWS that `--topology lambda` runs under: every modelled
//! behaviour's number, read from one file (`deploy/model.json`, compiled
//! in; `--model-file` reads another) in which each constant carries its
//! source and the date it was read, or the word *assumed* and why. An
//! uncertain constant has three values; `--model optimistic|central|
//! pessimistic` picks one column for all of them, so a verdict can be
//! checked at both ends of what AWS plausibly does.
//!
//! Here the file's types, the model read from it and its tables; the
//! log-normal arithmetic its latencies follow in `lognormal.rs`, the RDS
//! instance classes in `classes.rs`.

mod classes;
mod lognormal;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

pub use classes::{classes, Class, CLASSES};
use lognormal::standard_normal;
pub use lognormal::{lognormal, lognormal_max_mean, lognormal_mean, normal_quantile};

/// `deploy/model.json`, as shipped.
pub const SHIPPED: &str = include_str!("../../../../deploy/model.json");

/// Which end of each uncertain constant's range a run takes (beside the
/// flags that take it, as those are built without the model).
pub use super::End;

/// One modelled number, as the file holds it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constant {
    pub what: String,
    pub unit: String,
    pub optimistic: f64,
    pub central: f64,
    pub pessimistic: f64,
    /// Which way costs AWS more: `higher`, `lower`, or `none` (a label).
    pub worse: Worse,
    /// The document (title) the value comes from, or `assumed: why`.
    pub source: String,
    pub url: String,
    /// When the source was read (YYYY-MM-DD).
    pub read: String,
    /// What changes in the verdicts if AWS's real value differs.
    pub if_aws_differs: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Worse {
    Higher,
    Lower,
    None,
}

impl Constant {
    pub fn at(&self, end: End) -> f64 {
        match end {
            End::Optimistic => self.optimistic,
            End::Central => self.central,
            End::Pessimistic => self.pessimistic,
        }
    }

    pub fn is_assumed(&self) -> bool {
        self.source.starts_with("assumed")
    }

    /// Its value with the unit, or its three values (optimistic /
    /// central / pessimistic) when they differ.
    pub fn values(&self) -> String {
        match self.is_fixed() {
            true => format!("{} {}", self.central, self.unit),
            false => format!(
                "{} / {} / {} {}",
                self.optimistic, self.central, self.pessimistic, self.unit
            ),
        }
    }

    /// Whether the three values are one (AWS documents it).
    pub fn is_fixed(&self) -> bool {
        self.optimistic == self.central && self.central == self.pessimistic
    }

    /// The three values run from cheapest to costliest.
    fn ordered(&self) -> bool {
        let (o, c, p) = (self.optimistic, self.central, self.pessimistic);
        match self.worse {
            Worse::Higher => o <= c && c <= p,
            Worse::Lower => o >= c && c >= p,
            Worse::None => self.is_fixed(),
        }
    }
}

/// Every constant the sim uses, by name: the file must hold exactly these.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constants {
    pub esm_initial_concurrency: Constant,
    pub esm_scale_per_minute: Constant,
    pub esm_scale_step_secs: Constant,
    pub esm_error_backoff: Constant,
    pub esm_gather_overlaps: Constant,
    pub esm_deploy_overshoot: Constant,
    pub esm_deploy_overshoot_secs: Constant,
    pub esm_max_concurrency: Constant,
    pub esm_backoff_first_ms: Constant,
    pub esm_backoff_max_ms: Constant,
    pub sqs_api_p50_ms: Constant,
    pub sqs_api_p99_ms: Constant,
    pub sqs_delivery_p50_ms: Constant,
    pub sqs_delivery_p99_ms: Constant,
    pub esm_parallel_receives: Constant,
    pub sqs_full_receive_depth: Constant,
    pub lambda_mb_per_vcpu: Constant,
    pub lambda_cpu_slowdown: Constant,
    pub runtime_start_ms: Constant,
    pub secret_read_ms: Constant,
    pub connect_round_trips: Constant,
    pub rtt_same_az_ms: Constant,
    pub rtt_cross_az_ms: Constant,
    pub cross_az_share: Constant,
    pub linger_share: Constant,
    pub environment_idle_secs: Constant,
    pub rds_internal_connections: Constant,
    pub rds_commit_ms: Constant,
    pub multi_az_commit_ms: Constant,
    pub rds_cpu_slowdown: Constant,
    pub rds_failover_secs: Constant,
    pub gateway_throttled_function_status: Constant,
}

/// What the code itself costs on the reference host, one number each: the
/// simulated functions measure these as they run; `sim plan`'s screen,
/// which runs nothing, reads them here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cost {
    pub what: String,
    pub unit: String,
    pub value: f64,
    /// How it was measured or counted, or `assumed` and why.
    pub source: String,
}

/// Every code cost the screen uses, by name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeCosts {
    pub ingest_cpu_ms: Cost,
    pub processor_cpu_ms: Cost,
    pub notifier_cpu_ms: Cost,
    pub processor_db_ms: Cost,
    pub processor_round_trips: Cost,
    pub lock_fixed_ms: Cost,
    pub lock_db_ms: Cost,
    pub lock_per_order_ms: Cost,
    pub lock_round_trips: Cost,
    pub endpoint_bytes_per_order: Cost,
    pub notification_log_bytes: Cost,
    pub ingest_margin: Cost,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    #[allow(dead_code)]
    about: String,
    constants: Constants,
    code: CodeCosts,
}

/// The model a run takes: the file's constants at one end of their range.
#[derive(Debug)]
pub struct Model {
    pub end: End,
    /// Where the constants came from (for the report).
    pub origin: String,
    pub c: Constants,
    /// What the code costs on the reference host (the screen's).
    pub code: CodeCosts,
    rng: Mutex<StdRng>,
}

impl Model {
    /// The shipped model at `end`; draws seeded by `seed`.
    pub fn shipped(end: End, seed: u64) -> anyhow::Result<Model> {
        Self::parse(SHIPPED, "deploy/model.json", end, seed)
    }

    /// The model of `path` (or the shipped one) at `end`.
    pub fn load(path: Option<&Path>, end: End, seed: u64) -> anyhow::Result<Model> {
        match path {
            None => Self::shipped(end, seed),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the model {}", path.display()))?;
                Self::parse(&text, &path.display().to_string(), end, seed)
            }
        }
    }

    pub fn parse(text: &str, origin: &str, end: End, seed: u64) -> anyhow::Result<Model> {
        let file: ModelFile =
            serde_json::from_str(text).with_context(|| format!("the model {origin}"))?;
        for (name, c) in table(text)? {
            anyhow::ensure!(
                c.ordered(),
                "the model {origin}: {name} runs the wrong way for `worse: {:?}` ({} / {} / {})",
                c.worse,
                c.optimistic,
                c.central,
                c.pessimistic
            );
        }
        // The measured delivery (a send, the mapping's receive, the invoke)
        // bounds the assumed API latency: a send and a receive fit inside it.
        let c = &file.constants;
        for e in [End::Optimistic, End::Central, End::Pessimistic] {
            for (api, delivery) in [
                (&c.sqs_api_p50_ms, &c.sqs_delivery_p50_ms),
                (&c.sqs_api_p99_ms, &c.sqs_delivery_p99_ms),
            ] {
                anyhow::ensure!(
                    2.0 * api.at(e) <= delivery.at(e),
                    "the model {origin}: two SQS calls ({} ms each) take longer than the measured delivery they are part of ({} ms), {} end",
                    api.at(e),
                    delivery.at(e),
                    e.as_str()
                );
            }
        }
        Ok(Model {
            end,
            origin: origin.to_owned(),
            c: file.constants,
            code: file.code,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        })
    }

    /// `constant`'s value at this run's end.
    pub fn v(&self, constant: &Constant) -> f64 {
        constant.at(self.end)
    }

    /// `constant`, in milliseconds, as a duration.
    pub fn ms(&self, constant: &Constant) -> Duration {
        Duration::from_secs_f64(self.v(constant).max(0.0) / 1000.0)
    }

    /// A uniform draw in [0, 1).
    pub fn uniform(&self) -> f64 {
        self.rng.lock().unwrap_or_else(|p| p.into_inner()).gen()
    }

    /// A latency drawn from the log-normal distribution with the given
    /// median and 99th percentile (milliseconds).
    pub fn draw(&self, p50: &Constant, p99: &Constant) -> Duration {
        let sample = {
            let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
            standard_normal(&mut *rng)
        };
        Duration::from_secs_f64(lognormal(self.v(p50), self.v(p99), sample) / 1000.0)
    }

    /// One SQS call from a function.
    pub fn sqs_call(&self) -> Duration {
        self.draw(&self.c.sqs_api_p50_ms, &self.c.sqs_api_p99_ms)
    }

    /// The share of a vCPU a function of `memory_mb` has (at most one: a
    /// handler runs on one thread), and how much longer CPU work takes in
    /// it than on this machine's core: `slowdown / share`.
    pub fn cpu_stretch(&self, memory_mb: u32) -> f64 {
        let share = (f64::from(memory_mb) / self.v(&self.c.lambda_mb_per_vcpu)).min(1.0);
        self.v(&self.c.lambda_cpu_slowdown) / share.max(1e-3)
    }

    /// One line naming the model, for the report.
    pub fn describe(&self) -> String {
        format!("{} model ({})", self.end.as_str(), self.origin)
    }
}

/// Every code cost of a model file, by name.
pub fn code_table(text: &str) -> anyhow::Result<BTreeMap<String, Cost>> {
    #[derive(Deserialize)]
    struct Loose {
        code: BTreeMap<String, Cost>,
    }
    let loose: Loose = serde_json::from_str(text).context("the model file")?;
    Ok(loose.code)
}

/// Every constant of a model file, by name, in the file's order of names.
pub fn table(text: &str) -> anyhow::Result<BTreeMap<String, Constant>> {
    #[derive(Deserialize)]
    struct Loose {
        constants: BTreeMap<String, Constant>,
    }
    let loose: Loose = serde_json::from_str(text).context("the model file")?;
    Ok(loose.constants)
}

/// The model as a Markdown table, as the book's reference page shows it.
pub fn markdown(text: &str) -> anyhow::Result<String> {
    let mut out = String::from(
        "| constant | what | optimistic / central / pessimistic | source (read) | if AWS differs |\n\
         |---|---|---|---|---|\n",
    );
    for (name, c) in table(text)? {
        let values = c.values();
        let source = if c.is_assumed() {
            format!("*{}* ([ref]({}), {})", c.source, c.url, c.read)
        } else {
            format!("[{}]({}) ({})", c.source, c.url, c.read)
        };
        out.push_str(&format!(
            "| `{name}` | {} | {values} | {source} | {} |\n",
            c.what, c.if_aws_differs
        ));
    }
    out.push_str(
        "\nWhat the code costs on the reference host (`sim plan`'s screen reads these; the \
         simulated functions measure the real figures as they run):\n\n\
         | cost | what | value | source |\n|---|---|---|---|\n",
    );
    for (name, c) in code_table(text)? {
        out.push_str(&format!(
            "| `{name}` | {} | {} {} | {} |\n",
            c.what, c.value, c.unit, c.source
        ));
    }
    Ok(out)
}
