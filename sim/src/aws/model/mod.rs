//! The model of AWS that `--topology lambda` runs under: every modelled
//! behaviour's number, read from one file (`deploy/model.json`, compiled
//! in; `--model-file` reads another) in which each constant carries its
//! source and the date it was read, or the word *assumed* and why. An
//! uncertain constant has three values; `--model optimistic|central|
//! pessimistic` picks one column for all of them, so a verdict can be
//! checked at both ends of what AWS plausibly does.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

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

/// `deploy/instance-classes.json`, as shipped: the RDS classes a plan may
/// choose, and how fast each runs a statement.
pub const CLASSES: &str = include_str!("../../../../deploy/instance-classes.json");

/// One RDS instance class.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Class {
    pub memory_gib: f64,
    pub vcpus: u32,
    /// The `max_connections` a settings file sets for this class.
    pub max_connections: u32,
    /// How fast it runs a statement, relative to the model's
    /// `rds_cpu_slowdown` (1: as the model says).
    pub speed: f64,
}

#[derive(Debug, Deserialize)]
struct ClassFile {
    #[allow(dead_code)]
    about: String,
    #[allow(dead_code)]
    source: String,
    #[allow(dead_code)]
    read: String,
    classes: BTreeMap<String, Class>,
}

/// The classes of `deploy/instance-classes.json`, by name.
pub fn classes() -> anyhow::Result<BTreeMap<String, Class>> {
    let file: ClassFile =
        serde_json::from_str(CLASSES).context("deploy/instance-classes.json is not readable")?;
    Ok(file.classes)
}

impl Model {
    /// What the database costs beyond the network on instance `class`: a
    /// commit's storage flush (and the standby's write if `multi_az`), and
    /// how much longer a statement's own work takes than on this machine's
    /// server. A class the file does not list runs at speed 1.
    pub fn server_costs(&self, class: &str, multi_az: bool) -> crate::netem::ServerCosts {
        let speed = classes()
            .ok()
            .and_then(|c| c.get(class).map(|c| c.speed))
            .unwrap_or(1.0);
        let c = &self.c;
        let commit = self.v(&c.rds_commit_ms)
            + match multi_az {
                true => self.v(&c.multi_az_commit_ms),
                false => 0.0,
            };
        crate::netem::ServerCosts {
            commit_extra: Duration::from_secs_f64(commit.max(0.0) / 1000.0),
            statement_stretch: self.v(&c.rds_cpu_slowdown) / speed.max(1e-3),
        }
    }
}

/// The value at `z` standard deviations of the log-normal distribution
/// whose median is `p50` and 99th percentile `p99`.
pub fn lognormal(p50: f64, p99: f64, z: f64) -> f64 {
    p50 * (lognormal_sigma(p50, p99) * z).exp()
}

/// The mean of that distribution (above its median).
pub fn lognormal_mean(p50: f64, p99: f64) -> f64 {
    let sigma = lognormal_sigma(p50, p99);
    p50 * (sigma * sigma / 2.0).exp()
}

/// The expected slowest of `k` calls drawn from that distribution, as the
/// sim waits for `k` parallel calls (the mean for one): the quantile at
/// Blom's plotting position (k - 0.375) / (k + 0.25).
pub fn lognormal_max_mean(p50: f64, p99: f64, k: u32) -> f64 {
    if k <= 1 {
        return lognormal_mean(p50, p99);
    }
    let k = f64::from(k);
    lognormal(p50, p99, normal_quantile((k - 0.375) / (k + 0.25)))
}

/// The standard normal quantile of `p` in (0, 1) (Acklam's rational
/// approximation, relative error below 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

fn lognormal_sigma(p50: f64, p99: f64) -> f64 {
    const Z99: f64 = 2.326_347_874;
    ((p99.max(p50) / p50.max(1e-9)).ln() / Z99).max(0.0)
}

/// A standard normal draw (Box-Muller).
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_constant_has_a_source_and_a_date_or_says_it_is_assumed() {
        for (name, c) in table(SHIPPED).unwrap() {
            assert!(c.url.starts_with("https://"), "{name}: {}", c.url);
            assert!(
                c.read.len() == 10 && c.read.starts_with("20"),
                "{name}: read {}",
                c.read
            );
            assert!(c.source.len() > 20, "{name}: a source, or why assumed");
            assert!(
                c.is_fixed() || c.is_assumed() || c.source.contains("assumed"),
                "{name}: a range is an assumption and must say so"
            );
            assert!(c.if_aws_differs.len() > 10, "{name}: what changes");
        }
        Model::shipped(End::Central, 1).unwrap();
    }

    #[test]
    fn the_ends_move_every_uncertain_constant_the_costly_way() {
        let o = Model::shipped(End::Optimistic, 1).unwrap();
        let c = Model::shipped(End::Central, 1).unwrap();
        let p = Model::shipped(End::Pessimistic, 1).unwrap();
        let rtt = |m: &Model| m.v(&m.c.rtt_cross_az_ms);
        assert!(rtt(&o) < rtt(&c) && rtt(&c) < rtt(&p));
        assert!(o.cpu_stretch(256) < c.cpu_stretch(256) && c.cpu_stretch(256) < p.cpu_stretch(256));
        let reads = |m: &Model| m.v(&m.c.esm_parallel_receives);
        assert!(reads(&o) > reads(&c) && reads(&c) > reads(&p));
        // A file whose range runs the wrong way is refused.
        let wrong = SHIPPED.replace(
            r#""optimistic": 0.6, "central": 1.0, "pessimistic": 2.0"#,
            r#""optimistic": 2.0, "central": 1.0, "pessimistic": 0.6"#,
        );
        assert_ne!(wrong, SHIPPED);
        let e = Model::parse(&wrong, "test", End::Central, 1).unwrap_err();
        assert!(format!("{e:#}").contains("rtt_cross_az_ms"), "{e:#}");
        // And so is one that lacks a constant the sim uses.
        let missing = SHIPPED.replace("\"secret_read_ms\"", "\"secret_read\"");
        assert!(Model::parse(&missing, "test", End::Central, 1).is_err());
    }

    #[test]
    fn the_cpu_share_is_memory_over_1769_mb_of_a_vcpu_and_at_most_one() {
        let m = Model::shipped(End::Central, 1).unwrap();
        assert!((m.cpu_stretch(256) - 1769.0 / 256.0).abs() < 1e-9);
        assert!((m.cpu_stretch(1769) - 1.0).abs() < 1e-9);
        assert!((m.cpu_stretch(4096) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn latencies_are_drawn_with_the_documented_median_and_tail() {
        assert!((lognormal(16.2, 105.0, 0.0) - 16.2).abs() < 1e-9);
        assert!((lognormal(16.2, 105.0, 2.326_347_874) - 105.0).abs() < 1e-6);
        let m = Model::shipped(End::Central, 7).unwrap();
        let mut draws: Vec<f64> = (0..20_000)
            .map(|_| m.sqs_call().as_secs_f64() * 1000.0)
            .collect();
        draws.sort_by(f64::total_cmp);
        let (p50, p99) = (draws[10_000], draws[19_800]);
        assert!((7.0..9.0).contains(&p50), "p50 {p50}");
        assert!((32.0..50.0).contains(&p99), "p99 {p99}");
    }

    #[test]
    fn the_slowest_of_k_calls_is_what_the_sim_waits_for() {
        assert!((normal_quantile(0.5)).abs() < 1e-9);
        assert!((normal_quantile(0.99) - 2.326_347_874).abs() < 1e-6);
        assert!((normal_quantile(0.01) + 2.326_347_874).abs() < 1e-6);
        // Against draws: the mean of the slowest of 5 and of 20.
        let m = Model::shipped(End::Central, 11).unwrap();
        for k in [5u32, 20] {
            let n = 4000;
            let mean = (0..n)
                .map(|_| {
                    (0..k)
                        .map(|_| m.sqs_call().as_secs_f64() * 1000.0)
                        .fold(0.0, f64::max)
                })
                .sum::<f64>()
                / f64::from(n);
            let screen = lognormal_max_mean(8.0, 40.0, k);
            assert!(
                (screen / mean - 1.0).abs() < 0.1,
                "k {k}: {screen} against {mean}"
            );
        }
        assert!(lognormal_max_mean(8.0, 40.0, 20) > lognormal_max_mean(8.0, 40.0, 5));
        assert_eq!(lognormal_max_mean(8.0, 40.0, 1), lognormal_mean(8.0, 40.0));
    }

    /// The measured delivery (a send, the mapping's receive and the invoke)
    /// bounds the assumed API latency: a model whose send and receive do not
    /// fit inside it is refused.
    #[test]
    fn a_send_and_a_receive_must_fit_inside_the_measured_delivery() {
        for end in [End::Optimistic, End::Central, End::Pessimistic] {
            Model::shipped(end, 1).unwrap();
        }
        let slow = SHIPPED.replacen("\"central\": 8,", "\"central\": 9,", 1);
        assert_ne!(slow, SHIPPED, "sqs_api_p50_ms's central value is 8");
        let e = Model::parse(&slow, "slow", End::Central, 1).unwrap_err();
        assert!(format!("{e:#}").contains("measured delivery"), "{e:#}");
    }
}
