//! `sim collect`'s work: what a deployed stack did during a sale, read
//! from AWS into an [`Observed`]. The files first (the stack's outputs,
//! the load's result, the settings, the bill: [`inputs`]), then AWS:
//! CloudWatch's metrics ([`cloudwatch`]), the functions' log groups
//! ([`logs`]) and the dead-letter queues ([`outcome`]). What AWS does not
//! answer becomes a note; a collection AWS answered nothing of is refused.
//!
//! Every client comes from the SDK's default chain (credentials, region,
//! and `AWS_ENDPOINT_URL`, which the tests point at a local moto server).

pub mod cloudwatch;
pub mod inputs;
pub mod logs;
pub mod outcome;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::aws::settings::{DeploymentSettings, FunctionName};
use crate::observed::{
    BillObserved, DatabaseObserved, Failover, FunctionObserved, Metrics, Observed, Sale, Window,
    FORMAT,
};
use crate::report::result::RunResult;

use cloudwatch::{Collected, Part};
use inputs::StackOutputs;
use logs::{FunctionLogs, LogsError};

/// What to collect, as `sim collect` was asked.
#[derive(Debug, Clone)]
pub struct Request {
    /// `pulumi stack output --json`'s file.
    pub outputs: PathBuf,
    /// `sim load --json`'s file.
    pub load: PathBuf,
    /// The settings the stack was deployed with.
    pub settings: PathBuf,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// CloudWatch's period, seconds.
    pub period_secs: u32,
    /// The region; `None`: the SDK's (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// The Pulumi stack; `None`: as the function names carry it.
    pub stack: Option<String>,
    /// A `production` preset's stack (its class, Multi-AZ), else `dev`.
    pub production: bool,
    /// Cost Explorer's answer, if it is in.
    pub bill: Option<PathBuf>,
    pub failover: Option<Failover>,
}

/// What the files say.
struct Inputs {
    outputs: StackOutputs,
    /// The load's figures.
    figures: BTreeMap<String, f64>,
    sale: Sale,
    bill: Option<BillObserved>,
}

fn read_inputs(request: &Request) -> anyhow::Result<Inputs> {
    anyhow::ensure!(
        request.end > request.start,
        "--end ({}) is not after --start ({})",
        rfc3339(request.end),
        rfc3339(request.start)
    );
    let settings = DeploymentSettings::load(&request.settings)?;
    let outputs = StackOutputs::read(&request.outputs, &settings)?;
    let load_file = || format!("the load's result {}", request.load.display());
    let load = RunResult::read(&request.load).with_context(load_file)?;
    let failover = request.failover.clone();
    let sale =
        inputs::sale_of(&load, settings, request.production, failover).with_context(load_file)?;
    let bill = request.bill.as_deref().map(inputs::read_bill).transpose()?;
    Ok(Inputs {
        outputs,
        figures: load.metrics,
        sale,
        bill,
    })
}

/// What AWS answered and what it did not.
#[derive(Debug, Default)]
struct Calls {
    answered: usize,
    notes: Vec<String>,
}

impl Calls {
    fn take<T>(&mut self, result: anyhow::Result<T>) -> Option<T> {
        match result {
            Ok(v) => {
                self.answered += 1;
                Some(v)
            }
            Err(e) => {
                self.notes.push(format!("{e:#}"));
                None
            }
        }
    }
}

/// Collects what the stack did over the request's window.
pub async fn collect(request: &Request) -> anyhow::Result<Observed> {
    let inputs = read_inputs(request)?;
    let config = sdk_config(request.region.as_deref()).await;
    let region = config
        .region()
        .map(ToString::to_string)
        .context("no region: pass --region or set AWS_REGION")?;
    let aws = ask_aws(&config, &inputs.outputs, request).await?;
    Ok(observed(request, region, inputs, aws))
}

/// What AWS answered.
struct FromAws {
    metrics: Collected,
    logs: BTreeMap<String, FunctionLogs>,
    /// The messages in the dead-letter queues, if they said.
    dead_letters: Option<f64>,
    notes: Vec<String>,
}

/// Every call: the metrics, each function's log group, the dead-letter
/// queues. Refused if AWS answered none of them.
async fn ask_aws(
    config: &SdkConfig,
    outputs: &StackOutputs,
    request: &Request,
) -> anyhow::Result<FromAws> {
    let mut calls = Calls::default();
    let window = cloudwatch::Window {
        start: request.start,
        end: request.end,
        period_secs: request.period_secs,
    };
    let cw = aws_sdk_cloudwatch::Client::new(config);
    let mut metrics = cloudwatch::fetch(&cw, &cloudwatch::plan(outputs), window).await;
    calls.answered += metrics.answered;
    calls.notes.append(&mut metrics.refused);

    let logs = function_logs(config, outputs, request, &mut calls).await;

    let sqs = aws_sdk_sqs::Client::new(config);
    let dlqs = [outputs.url("orders-dlq"), outputs.url("processed-dlq")];
    let counted = outcome::dead_letters(&sqs, dlqs).await;
    let dead_letters = calls.take(counted.context("the dead-letter queues (the load's dlq kept)"));

    anyhow::ensure!(
        calls.answered > 0,
        "AWS answered none of the calls (check the credentials, the region and the outputs): {}",
        calls.notes.join("; ")
    );
    Ok(FromAws {
        metrics,
        logs,
        dead_letters,
        notes: calls.notes,
    })
}

/// The observed file of what the files said and AWS answered.
fn observed(request: &Request, region: String, inputs: Inputs, aws: FromAws) -> Observed {
    let FromAws {
        mut metrics,
        logs,
        dead_letters,
        mut notes,
    } = aws;
    let named = request
        .stack
        .clone()
        .or_else(|| inputs.outputs.stack_name());
    let stack = named.unwrap_or_else(|| {
        notes.push(
            "the stack's name: not given (--stack), nor carried by the function names".into(),
        );
        "unknown".into()
    });
    if inputs.bill.is_none() {
        notes.push(inputs::no_bill_note(&stack, &rfc3339(request.start)));
    }
    let functions = functions(&inputs, &mut metrics, logs);
    let database = database(&inputs, request.production, metrics.take(&Part::Database));
    let queues = inputs
        .outputs
        .queues
        .keys()
        .map(|q| (q.clone(), metrics.take(&Part::Queue(q.clone()))))
        .collect();
    Observed {
        format: FORMAT.to_owned(),
        source: "aws".to_owned(),
        stack,
        region,
        collected_at: rfc3339(Utc::now()),
        window: Window {
            start: rfc3339(request.start),
            end: rfc3339(request.end),
        },
        outcome: outcome::outcome(&inputs.figures, dead_letters),
        sale: inputs.sale,
        functions,
        queues,
        database,
        api: metrics.take(&Part::Api),
        bill: inputs.bill,
        notes,
    }
}

/// The SDK's configuration: its default chain, in `region` if given.
async fn sdk_config(region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    loader.load().await
}

/// Each function's log group over the window (`/aws/lambda/NAME`, as the
/// Pulumi program names them), by the settings' function name.
async fn function_logs(
    config: &SdkConfig,
    outputs: &StackOutputs,
    request: &Request,
    calls: &mut Calls,
) -> BTreeMap<String, FunctionLogs> {
    let client = aws_sdk_cloudwatchlogs::Client::new(config);
    let (start, end) = (
        request.start.timestamp_millis(),
        request.end.timestamp_millis(),
    );
    let mut all = BTreeMap::new();
    for (function, name) in &outputs.functions {
        let group = format!("/aws/lambda/{name}");
        match logs::fetch(&client, &group, start, end).await {
            Ok(logs) => {
                calls.answered += 1;
                all.insert(function.clone(), logs);
            }
            Err(e @ LogsError::NoGroup(_)) => {
                calls.answered += 1;
                calls.notes.push(format!(
                    "{e}: {function}'s REPORT lines and EMF records are missing"
                ));
            }
            Err(e) => calls.notes.push(e.to_string()),
        }
    }
    all
}

fn functions(
    inputs: &Inputs,
    metrics: &mut Collected,
    mut logs: BTreeMap<String, FunctionLogs>,
) -> BTreeMap<String, FunctionObserved> {
    let mut functions = BTreeMap::new();
    for f in FunctionName::ALL {
        let (Some(settings), Some(name)) = (
            inputs.sale.settings.functions.get(f),
            inputs.outputs.functions.get(f.as_str()),
        ) else {
            continue;
        };
        let key = f.as_str().to_owned();
        let logs = logs.remove(&key).unwrap_or_default();
        let observed = FunctionObserved {
            name: name.clone(),
            memory_mb: settings.memory_mb,
            metrics: metrics.take(&Part::Function(key.clone())),
            reports: logs.reports,
            emf: logs.emf,
            // On AWS the reference is the model's code cost a message.
            reference_cpu_ms: None,
        };
        functions.insert(key, observed);
    }
    functions
}

/// The database as the preset deploys it: a production stack runs the
/// settings' `production_instance_class`, Multi-AZ (the Pulumi program's
/// presets).
fn database(inputs: &Inputs, production: bool, metrics: Metrics) -> DatabaseObserved {
    let s = &inputs.sale.settings;
    let class = match (production, &s.production_instance_class) {
        (true, Some(class)) => class.clone(),
        _ => s.instance_class.clone(),
    };
    DatabaseObserved {
        instance: inputs.outputs.db_instance_id.clone(),
        class,
        multi_az: production,
        metrics,
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
