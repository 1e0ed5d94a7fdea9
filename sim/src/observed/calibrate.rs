//! The model's assumed constants fitted to what a stack did: each fit reads
//! the observations that inform one constant, takes away what the model
//! already charges besides it (at the base model's central values), and
//! states how far it can be trusted ([`Fit::tolerance`]). The calibrated
//! model file keeps every other constant as it was, and gives each fitted
//! one the range of its tolerance around the fitted value, its source
//! `observed <stack> <date>` and the method.
//!
//! | constant | from |
//! |---|---|
//! | `sqs_api_p50_ms`, `sqs_api_p99_ms` | the ingest function's warm durations: one `SendMessage` each, less its CPU |
//! | `runtime_start_ms` | the ingest function's cold starts' `Init Duration`, less its secret read, its queue check and the connect's extra round trips |
//! | `lambda_cpu_slowdown` | the processor's EMF `CpuMillis` over the same work's CPU time on the reference host |
//! | `esm_scale_per_minute` | the processor's concurrency (rebuilt from its `REPORT` lines) while it ramps from the initial 5 |
//! | `rds_commit_ms` (`multi_az_commit_ms` on Multi-AZ) | RDS's `WriteLatency`: a commit waits for one log flush |
//!
//! What a sale cannot inform (the mapping's parallel receives, how full a
//! receive comes back, its back-offs, the zones' round trips) stays as it
//! was, and the command says why.

use serde_json::Value;

use super::{names, Observed, Report};
use crate::aws::model::Model;
use crate::aws::settings::FunctionName;

/// One fitted constant.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub constant: &'static str,
    pub value: f64,
    /// How far off the fit may be, relative (0.25: 25 %): the range the
    /// calibrated model gives the constant, and what the round-trip test
    /// holds the fit to.
    pub tolerance: f64,
    /// Observations it rests on.
    pub n: usize,
    pub method: String,
}

/// What calibrating an observed file found: the fits, and each constant
/// it could not inform with the reason.
#[derive(Debug, Default)]
pub struct Calibration {
    pub fits: Vec<Fit>,
    pub not_informed: Vec<(&'static str, String)>,
}

impl Calibration {
    pub fn get(&self, constant: &str) -> Option<&Fit> {
        self.fits.iter().find(|f| f.constant == constant)
    }
}

/// The fewest observations a fit takes.
const MIN_WARM: usize = 20;
const MIN_COLD: usize = 5;
const MIN_BATCHES: usize = 10;

/// Fits every constant `observed` informs; `base` is the model the fits
/// take the other terms from (at its central values).
pub fn calibrate(observed: &Observed, base: &Model) -> Calibration {
    let mut out = Calibration::default();
    let mut push = |name: &'static str, fit: Result<Fit, String>| match fit {
        Ok(f) => out.fits.push(f),
        Err(why) => out.not_informed.push((name, why)),
    };
    let slowdown = cpu_slowdown(observed, base);
    let slowdown_value = slowdown
        .as_ref()
        .map_or(base.v(&base.c.lambda_cpu_slowdown), |f| f.value);
    push("lambda_cpu_slowdown", slowdown);
    let (p50, p99) = sqs_latency(observed, base, slowdown_value);
    let p50_value = p50
        .as_ref()
        .map_or(base.v(&base.c.sqs_api_p50_ms), |f| f.value);
    push("sqs_api_p50_ms", p50);
    push("sqs_api_p99_ms", p99);
    push("runtime_start_ms", runtime_start(observed, base, p50_value));
    push("esm_scale_per_minute", esm_ramp(observed, base));
    let (commit_name, commit) = commit(observed, base);
    push(commit_name, commit);
    for (name, why) in [
        ("esm_parallel_receives", "CloudWatch counts messages received, not receive calls, so how many receives a poller makes at once is not seen"),
        ("sqs_full_receive_depth", "how full each receive came back is not in any metric or log"),
        ("esm_scale_step_secs", "one-minute metrics and a sale's REPORT lines cannot tell a smooth ramp from steps of a few seconds"),
        ("rtt_same_az_ms", "the functions' round trips to the database are not logged"),
    ] {
        out.not_informed.push((name, why.to_owned()));
    }
    out
}

fn percentile(mut values: Vec<f64>, q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

fn reports(observed: &Observed, function: FunctionName) -> &[Report] {
    observed
        .functions
        .get(function.as_str())
        .map_or(&[], |f| f.reports.as_slice())
}

/// The share of a vCPU a function of `memory_mb` has.
fn share(base: &Model, memory_mb: u32) -> f64 {
    (f64::from(memory_mb) / base.v(&base.c.lambda_mb_per_vcpu)).clamp(1e-3, 1.0)
}

fn cpu_slowdown(observed: &Observed, base: &Model) -> Result<Fit, String> {
    let f = observed
        .functions
        .get(FunctionName::Processor.as_str())
        .ok_or("no processor function observed")?;
    let cpu: Vec<f64> = f
        .emf
        .iter()
        .filter_map(|e| e.values.get(names::EMF_CPU).copied())
        .collect();
    if cpu.len() < MIN_BATCHES {
        return Err(format!(
            "{} of the processor's EMF records carry CpuMillis; it takes {MIN_BATCHES}",
            cpu.len()
        ));
    }
    let (reference, from) = match f.reference_cpu_ms {
        Some(ms) => (
            ms,
            "the same work's CPU time on the reference host, as the sim measured it",
        ),
        None => {
            let messages: f64 = f
                .emf
                .iter()
                .filter_map(|e| e.values.get(names::EMF_MESSAGES).copied())
                .sum();
            (
                messages * base.code.processor_cpu_ms.value,
                "the model file's processor_cpu_ms a message on the reference host (code cost, assumed)",
            )
        }
    };
    if reference <= 0.0 {
        return Err("the processor's reference CPU time is zero".into());
    }
    let lambda: f64 = cpu.iter().sum();
    Ok(Fit {
        constant: "lambda_cpu_slowdown",
        value: lambda / reference,
        tolerance: 0.15,
        n: cpu.len(),
        method: format!(
            "the processor's CpuMillis ({lambda:.1} ms over {} batches) over {from}",
            cpu.len()
        ),
    })
}

fn sqs_latency(
    observed: &Observed,
    base: &Model,
    slowdown: f64,
) -> (Result<Fit, String>, Result<Fit, String>) {
    let warm: Vec<f64> = reports(observed, FunctionName::Ingest)
        .iter()
        .filter(|r| r.init_ms.is_none())
        .map(|r| r.duration_ms)
        .collect();
    if warm.len() < MIN_WARM {
        let why = format!(
            "{} warm ingest invocations observed; the fit takes {MIN_WARM}",
            warm.len()
        );
        return (Err(why.clone()), Err(why));
    }
    let memory = observed.sale.settings.functions.ingest.memory_mb;
    let cpu = base.code.ingest_cpu_ms.value * slowdown / share(base, memory);
    let n = warm.len();
    // Only the accepted orders were sent on; the refused requests (invalid
    // ones) answered without a call and are the shortest: the calls' `q`
    // is the durations' `1 - sent (1 - q)`.
    let sent = match (
        observed.outcome.get("accepted"),
        observed.outcome.get("requests"),
    ) {
        (Some(&a), Some(&r)) if r > 0.0 && a > 0.0 => (a / r).min(1.0),
        _ => 1.0,
    };
    let fit = |constant: &'static str, q: f64, tolerance: f64| {
        let value = percentile(warm.clone(), 1.0 - sent * (1.0 - q)) - cpu;
        match value > 0.0 {
            true => Ok(Fit {
                constant,
                value,
                tolerance,
                n,
                method: format!(
                    "the ingest function's warm durations at the {:.0}th percentile of the {:.0} % that sent an order on, less its CPU ({cpu:.2} ms: ingest_cpu_ms at the fitted slowdown and {memory} MB's share)",
                    q * 100.0,
                    sent * 100.0
                ),
            }),
            false => Err(format!("the ingest function's durations are shorter than its CPU time ({cpu:.2} ms)")),
        }
    };
    (
        fit("sqs_api_p50_ms", 0.5, 0.25),
        fit("sqs_api_p99_ms", 0.99, 0.35),
    )
}

fn runtime_start(observed: &Observed, base: &Model, sqs_p50: f64) -> Result<Fit, String> {
    let inits: Vec<f64> = reports(observed, FunctionName::Ingest)
        .iter()
        .filter_map(|r| r.init_ms)
        .collect();
    if inits.len() < MIN_COLD {
        return Err(format!(
            "{} ingest cold starts observed; the fit takes {MIN_COLD}",
            inits.len()
        ));
    }
    let c = &base.c;
    let ingest = &observed.sale.settings.functions.ingest;
    let secrets = 1.0 + f64::from(u8::from(ingest.pool_size > 0));
    let rtt = (base.v(&c.rtt_same_az_ms) + base.v(&c.rtt_cross_az_ms)) / 2.0;
    let connect = (base.v(&c.connect_round_trips) - 2.0).max(0.0) * rtt;
    let others = secrets * base.v(&c.secret_read_ms) + sqs_p50 + connect;
    let value = percentile(inits.clone(), 0.5) - others;
    if value <= 0.0 {
        return Err(format!(
            "the ingest function's cold starts are shorter than what the model charges besides the runtime ({others:.1} ms)"
        ));
    }
    Ok(Fit {
        constant: "runtime_start_ms",
        value,
        tolerance: 0.25,
        n: inits.len(),
        method: format!(
            "the median Init Duration of the ingest function's cold starts, less {others:.1} ms: its secret read(s) (secret_read_ms), its queue check (the fitted SQS median) and the connect's extra round trips, at the base model's central values"
        ),
    })
}

/// The most invocations running at once in each second, rebuilt from
/// REPORT lines (each invocation ran from its end less its duration): a
/// sweep over their starts and ends, an end before a start at the same
/// instant. The logs give times to the millisecond, so a start is taken
/// half a millisecond late: an environment's next invocation does not
/// overlap the one before.
pub fn concurrency_per_second(reports: &[Report]) -> Vec<(f64, f64)> {
    let mut events: Vec<(f64, i32)> = reports
        .iter()
        .flat_map(|r| {
            let start = r.t - r.duration_ms / 1000.0 + 0.0005;
            [(start.max(0.0).min(r.t), 1), (r.t.max(0.0), -1)]
        })
        .collect();
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let Some(&(end, _)) = events.last() else {
        return Vec::new();
    };
    let seconds = end.floor() as usize + 1;
    let mut peaks = Vec::with_capacity(seconds);
    let (mut running, mut next) = (0_i32, 0);
    for second in 0..seconds {
        // What runs as the second begins, then each change inside it.
        let mut peak = running;
        while next < events.len() && events[next].0 < (second + 1) as f64 {
            running += events[next].1;
            peak = peak.max(running);
            next += 1;
        }
        peaks.push((second as f64, f64::from(peak)));
    }
    peaks
}

fn esm_ramp(observed: &Observed, base: &Model) -> Result<Fit, String> {
    let reports = reports(observed, FunctionName::Processor);
    let series = concurrency_per_second(reports);
    let initial = base.v(&base.c.esm_initial_concurrency);
    let peak = series.iter().map(|&(_, c)| c).fold(0.0, f64::max);
    let Some(first_above) = series.iter().position(|&(_, c)| c > initial) else {
        return Err(format!(
            "the processor never ran more than {initial} batches at once: no backlog to ramp on"
        ));
    };
    let reached = series
        .iter()
        .position(|&(_, c)| c >= peak - 0.5)
        .unwrap_or(first_above);
    let seconds = (reached + 1).saturating_sub(first_above) as f64;
    if peak - initial < 3.0 || seconds < 2.0 {
        return Err(format!(
            "the processor's concurrency rose from {initial} to {peak} in {seconds} s: too short a ramp to fit (a backlog that lasts, e.g. a pre-filled queue, shows it)"
        ));
    }
    Ok(Fit {
        constant: "esm_scale_per_minute",
        value: (peak - initial) / seconds * 60.0,
        tolerance: 0.3,
        n: reports.len(),
        method: format!(
            "the processor's concurrency (from its REPORT lines, a second at a time) rising from {initial} to {peak} batches in {seconds} s"
        ),
    })
}

fn commit(observed: &Observed, base: &Model) -> (&'static str, Result<Fit, String>) {
    let multi_az = observed.database.multi_az;
    let name = match multi_az {
        true => "multi_az_commit_ms",
        false => "rds_commit_ms",
    };
    let Some(latency) = observed
        .database
        .metrics
        .get(names::WRITE_LATENCY)
        .and_then(|s| s.mean())
    else {
        return (name, Err("no WriteLatency datapoints".into()));
    };
    let ms = latency * 1000.0;
    let (value, less) = match multi_az {
        true => (
            ms - base.v(&base.c.rds_commit_ms),
            " less rds_commit_ms (the base model's central value)",
        ),
        false => (ms, ""),
    };
    let points = observed
        .database
        .metrics
        .get(names::WRITE_LATENCY)
        .map_or(0, |s| s.points.len());
    let fit = match value > 0.0 {
        true => Ok(Fit {
            constant: name,
            value,
            tolerance: 0.2,
            n: points,
            method: format!(
                "RDS's average WriteLatency ({ms:.2} ms){less}: a commit waits for one log flush"
            ),
        }),
        false => Err(format!(
            "WriteLatency ({ms:.2} ms) is below what the model charges besides it"
        )),
    };
    (name, fit)
}

/// The base model file's text with each fit written in: central the fitted
/// value, optimistic and pessimistic its tolerance either side (ordered by
/// which way is worse), its source `observed <stack> <date>: <method>`;
/// and the SQS deliveries widened where the fitted calls would no longer
/// fit inside them.
pub fn calibrated_model(
    base_text: &str,
    observed: &Observed,
    calibration: &Calibration,
    file: &str,
) -> anyhow::Result<String> {
    let mut model: Value = serde_json::from_str(base_text)?;
    let date = observed.window.start.get(..10).unwrap_or("").to_owned();
    let constants = model
        .get_mut("constants")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| anyhow::anyhow!("the base model has no constants"))?;
    for fit in &calibration.fits {
        let c = constants
            .get_mut(fit.constant)
            .and_then(Value::as_object_mut)
            .ok_or_else(|| anyhow::anyhow!("the base model has no {}", fit.constant))?;
        let (low, high) = (
            fit.value * (1.0 - fit.tolerance),
            fit.value * (1.0 + fit.tolerance),
        );
        let lower_is_worse = c.get("worse").and_then(Value::as_str) == Some("lower");
        let (optimistic, pessimistic) = match lower_is_worse {
            true => (high, low),
            false => (low, high),
        };
        c.insert("optimistic".into(), round(optimistic).into());
        c.insert("central".into(), round(fit.value).into());
        c.insert("pessimistic".into(), round(pessimistic).into());
        c.insert(
            "source".into(),
            format!(
                "observed {} {date}: {} ({} observations, ±{:.0} %)",
                observed.stack,
                fit.method,
                fit.n,
                fit.tolerance * 100.0
            )
            .into(),
        );
        c.insert("url".into(), file.into());
        c.insert("read".into(), date.clone().into());
    }
    for (api, delivery) in [
        ("sqs_api_p50_ms", "sqs_delivery_p50_ms"),
        ("sqs_api_p99_ms", "sqs_delivery_p99_ms"),
    ] {
        widen_delivery(constants, api, delivery);
    }
    if let Some(about) = model.get_mut("about") {
        *about = format!(
            "Calibrated by sim calibrate from {file} ({} {}, {date}): the constants whose source begins `observed` were fitted to it; the others are as the base model had them. {}",
            observed.source,
            observed.stack,
            about.as_str().unwrap_or("")
        )
        .into();
    }
    Ok(serde_json::to_string_pretty(&model)? + "\n")
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Keeps each end's SQS delivery at least two of its calls (a send and a
/// receive are part of it), as the model requires.
fn widen_delivery(constants: &mut serde_json::Map<String, Value>, api: &str, delivery: &str) {
    let ends = ["optimistic", "central", "pessimistic"];
    let at = |c: &serde_json::Map<String, Value>, name: &str, end: &str| {
        c.get(name)
            .and_then(|v| v.get(end))
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    };
    let mut floor = 0.0_f64;
    let widened: Vec<(&str, f64, bool)> = ends
        .iter()
        .map(|end| {
            let need = 2.0 * at(constants, api, end);
            let had = at(constants, delivery, end);
            floor = floor.max(need.max(had));
            (*end, round(floor), floor > had)
        })
        .collect();
    let Some(d) = constants.get_mut(delivery).and_then(Value::as_object_mut) else {
        return;
    };
    if widened.iter().any(|&(_, _, changed)| changed) {
        for (end, v, _) in widened {
            d.insert(end.into(), v.into());
        }
        let source = d
            .get("source")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        d.insert(
            "source".into(),
            format!("{source}; widened by sim calibrate to hold two of the observed SQS calls")
                .into(),
        );
    }
}
