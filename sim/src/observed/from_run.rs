//! The observed file of a run of the simulated stack (`sim run --topology
//! lambda --observed FILE`): what CloudWatch and CloudWatch Logs would hold
//! had the run been on AWS, from the shape's samples and its functions'
//! invocations, so that `sim calibrate` can be checked on a run whose
//! constants are known.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::{
    names, DatabaseObserved, Emf, FunctionObserved, Metrics, Observed, Report, Sale, Series,
    Window, FORMAT,
};
use crate::aws::function::{Function, Invocation};
use crate::aws::shape::Shape;
use crate::aws::ShapeSample;

/// One second: the period of every series the sim writes (CloudWatch's
/// high-resolution period; a stack's own metrics come by the minute).
const PERIOD: f64 = 1.0;

/// The observed file of a run: `sale` says what it was, `outcome` holds
/// its result's metrics, `samples` the shape's states from the load's
/// start (`started`, at wall-clock `start`) to `ended`.
pub fn observed(
    shape: &Shape,
    samples: &[ShapeSample],
    (started, start): (Instant, DateTime<Utc>),
    sale: Sale,
    outcome: BTreeMap<String, f64>,
) -> Observed {
    let ended = start + chrono::Duration::milliseconds(started.elapsed().as_millis() as i64);
    let functions = shape
        .functions
        .all()
        .enumerate()
        .map(|(i, f)| (f.name.to_string(), function(shape, f, samples, i, started)))
        .collect();
    let commit = shape
        .model
        .server_costs(&shape.settings.instance_class, shape.multi_az)
        .commit_extra
        .as_secs_f64();
    let mut database = Metrics::new();
    database.insert(
        names::DB_CONNECTIONS.into(),
        per_second(samples, "Maximum", "Count", |s| Some(s.connections as f64)),
    );
    database.insert(
        names::WRITE_LATENCY.into(),
        per_second(samples, "Average", "Seconds", |_| Some(commit)),
    );
    let mut orders = Metrics::new();
    orders.insert(
        names::AGE_OF_OLDEST.into(),
        per_second(samples, "Maximum", "Seconds", |s| {
            Some(s.oldest_order_secs.unwrap_or(0.0))
        }),
    );
    Observed {
        format: FORMAT.into(),
        source: "sim".into(),
        stack: "sim".into(),
        region: shape.region.clone(),
        collected_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        window: Window {
            start: start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            end: ended.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        },
        sale,
        outcome,
        functions,
        queues: BTreeMap::from([("orders".to_owned(), orders)]),
        database: DatabaseObserved {
            instance: "sim".into(),
            class: shape.settings.instance_class.clone(),
            multi_az: shape.multi_az,
            metrics: database,
        },
        api: Metrics::new(),
        bill: None,
        notes: vec![
            "written by the sim: its series are the simulated stack's, a second apart; \
             WriteLatency is the commit term the model charged"
                .into(),
        ],
    }
}

/// Function `f` (the `i`th of the samples' lists): its concurrency, its
/// invocations as REPORT lines, and for the queue functions an EMF record
/// of each batch's CPU time.
fn function(
    shape: &Shape,
    f: &Function,
    samples: &[ShapeSample],
    i: usize,
    started: Instant,
) -> FunctionObserved {
    let memory_mb = shape
        .settings
        .functions
        .get(f.name)
        .map_or(0, |s| s.memory_mb);
    let invocations: Vec<Invocation> = f
        .invocations()
        .into_iter()
        .filter(|v| v.ended >= started)
        .collect();
    let at = |v: &Invocation| v.ended.duration_since(started).as_secs_f64();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let reports: Vec<Report> = invocations
        .iter()
        .map(|v| Report {
            t: at(v),
            duration_ms: ms(v.duration),
            billed_ms: (ms(v.duration + v.init.unwrap_or_default())).ceil(),
            init_ms: v.init.map(ms),
            max_memory_mb: None,
        })
        .collect();
    let queue_function = shape.mappings.iter().any(|(name, _)| *name == f.name);
    let emf = match queue_function {
        true => invocations
            .iter()
            .map(|v| Emf {
                t: at(v),
                values: BTreeMap::from([(names::EMF_CPU.to_owned(), ms(v.cpu))]),
            })
            .collect(),
        false => Vec::new(),
    };
    let mut metrics = Metrics::new();
    metrics.insert(
        names::CONCURRENT.into(),
        per_second(samples, "Maximum", "Count", |s| {
            s.busy.get(i).map(|&b| b as f64)
        }),
    );
    metrics.insert(
        names::INVOCATIONS.into(),
        counts(reports.iter().map(|r| r.t)),
    );
    FunctionObserved {
        name: format!("orderflow-sim-{}", f.name),
        memory_mb,
        metrics,
        reports,
        emf,
        reference_cpu_ms: Some(invocations.iter().map(|v| ms(v.reference_cpu)).sum()),
    }
}

/// `value` of the samples, one point a second: the largest (`Maximum`) or
/// the mean (`Average`) of the samples in it.
fn per_second(
    samples: &[ShapeSample],
    stat: &str,
    unit: &str,
    value: impl Fn(&ShapeSample) -> Option<f64>,
) -> Series {
    let mut buckets: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for s in samples {
        if let Some(v) = value(s) {
            buckets
                .entry((s.t / PERIOD).floor() as i64)
                .or_default()
                .push(v);
        }
    }
    let points = buckets
        .into_iter()
        .map(|(k, vs)| {
            let v = match stat {
                "Maximum" => vs.iter().copied().fold(f64::MIN, f64::max),
                _ => vs.iter().sum::<f64>() / vs.len() as f64,
            };
            (k as f64 * PERIOD, v)
        })
        .collect();
    Series {
        stat: stat.into(),
        unit: unit.into(),
        period_secs: PERIOD as u32,
        points,
    }
}

/// How many of `times` fall in each second.
fn counts(times: impl Iterator<Item = f64>) -> Series {
    let mut buckets: BTreeMap<i64, f64> = BTreeMap::new();
    for t in times {
        *buckets.entry((t / PERIOD).floor() as i64).or_default() += 1.0;
    }
    Series {
        stat: "Sum".into(),
        unit: "Count".into(),
        period_secs: PERIOD as u32,
        points: buckets
            .into_iter()
            .map(|(k, v)| (k as f64 * PERIOD, v))
            .collect(),
    }
}
