//! What the collector reads from files before it asks AWS anything: the
//! stack's outputs (`pulumi stack output --json`), the load's result (`sim
//! load --json`) and Cost Explorer's answer for the bill. Each refusal
//! names the file and the key.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde_json::Value;

use crate::aws::settings::{DeploymentSettings, FunctionName};
use crate::observed::{BillObserved, Failover, Sale};
use crate::report::result::RunResult;

/// The stack's outputs the collector reads, by the names the Pulumi
/// program exports.
#[derive(Debug, Clone, PartialEq)]
pub struct StackOutputs {
    /// The HTTP API's id (`api_id`).
    pub api_id: String,
    /// The API's stage (`stage`, `$default` for an HTTP API's).
    pub stage: String,
    /// The functions' names on AWS, by the settings' names (`ingest`,
    /// `read`, `processor`, `notifier`).
    pub functions: BTreeMap<String, String>,
    /// The RDS instance's identifier (`db_instance_id`).
    pub db_instance_id: String,
    /// The queues' URLs by the observed file's names (`orders`,
    /// `orders-dlq`, `processed`, `processed-dlq`).
    pub queues: BTreeMap<String, String>,
}

/// The output keys of the queues, by the observed file's queue names.
pub const QUEUE_OUTPUTS: [(&str, &str); 4] = [
    ("orders", "order_queue_url"),
    ("orders-dlq", "order_dlq_url"),
    ("processed", "processed_queue_url"),
    ("processed-dlq", "processed_dlq_url"),
];

impl StackOutputs {
    /// Reads `pulumi stack output --json`'s file; the functions it must
    /// name are the settings' (`read` only if the settings have one).
    pub fn read(path: &Path, settings: &DeploymentSettings) -> anyhow::Result<StackOutputs> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the stack's outputs {}", path.display()))?;
        StackOutputs::parse(&text, settings).with_context(|| {
            format!(
                "{} (the stack's outputs, as `pulumi stack output --json` prints them)",
                path.display()
            )
        })
    }

    pub fn parse(text: &str, settings: &DeploymentSettings) -> anyhow::Result<StackOutputs> {
        let all: Value = serde_json::from_str(text).context("not JSON")?;
        let text_of = |key: &str| -> anyhow::Result<String> {
            match all.get(key) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(other) => anyhow::bail!("`{key}` is not a name: {other}"),
                None => anyhow::bail!("no `{key}` output"),
            }
        };
        let names = all
            .get("function_names")
            .context("no `function_names` output")?;
        let mut functions = BTreeMap::new();
        for f in FunctionName::ALL {
            if settings.functions.get(f).is_none() {
                continue;
            }
            let key = f.as_str();
            let name = names
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .with_context(|| {
                    format!("no `function_names.{key}` output (the settings have a {key} function)")
                })?;
            functions.insert(key.to_owned(), name.to_owned());
        }
        let mut queues = BTreeMap::new();
        for (queue, key) in QUEUE_OUTPUTS {
            queues.insert(queue.to_owned(), text_of(key)?);
        }
        Ok(StackOutputs {
            api_id: text_of("api_id")?,
            stage: text_of("stage")?,
            functions,
            db_instance_id: text_of("db_instance_id")?,
            queues,
        })
    }

    /// The URL of `queue` (an observed file's queue name).
    pub fn url(&self, queue: &str) -> &str {
        self.queues.get(queue).map_or("", String::as_str)
    }

    /// The Pulumi stack's name as the function names carry it
    /// (`orderflow-STACK-ingest`), if they do.
    pub fn stack_name(&self) -> Option<String> {
        let ingest = self.functions.get("ingest")?;
        let stack = ingest.strip_prefix("orderflow-")?.strip_suffix("-ingest")?;
        (!stack.is_empty()).then(|| stack.to_owned())
    }
}

/// A queue's name: its URL's last path segment (what CloudWatch's
/// `QueueName` dimension holds).
pub fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

/// The sale as the load's result describes it, and its figures.
pub fn sale_of(
    load: &RunResult,
    settings: DeploymentSettings,
    multi_az: bool,
    failover: Option<Failover>,
) -> anyhow::Result<Sale> {
    let profile = load.setup.profile.as_ref().with_context(|| {
        format!(
            "the result names no load profile (it is `sim {}`'s; `sim load --json` writes the sale's)",
            load.command
        )
    })?;
    let seed = load
        .seed
        .context("the result has no seed (`sim load --json` writes one)")?;
    Ok(Sale {
        profile: profile.name.clone(),
        requests: profile.requests,
        duration_secs: profile.duration_secs,
        seed,
        multi_az,
        failover,
        settings,
    })
}

/// The bill from Cost Explorer's answer (`aws ce get-cost-and-usage ...
/// --metrics UnblendedCost` as JSON): every day's `Total.UnblendedCost`
/// summed.
pub fn read_bill(path: &Path) -> anyhow::Result<BillObserved> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the bill {}", path.display()))?;
    parse_bill(&text, &path.display().to_string())
        .with_context(|| format!("{} is not Cost Explorer's answer", path.display()))
}

pub fn parse_bill(text: &str, file: &str) -> anyhow::Result<BillObserved> {
    let answer: Value = serde_json::from_str(text).context("not JSON")?;
    let days = answer
        .get("ResultsByTime")
        .and_then(Value::as_array)
        .context("no `ResultsByTime` list")?;
    anyhow::ensure!(!days.is_empty(), "`ResultsByTime` is empty");
    let mut usd = 0.0;
    for (i, day) in days.iter().enumerate() {
        let cost = day
            .pointer("/Total/UnblendedCost")
            .with_context(|| format!("ResultsByTime[{i}] has no `Total.UnblendedCost`"))?;
        let unit = cost.get("Unit").and_then(Value::as_str).unwrap_or("USD");
        anyhow::ensure!(unit == "USD", "ResultsByTime[{i}] is in {unit}, not USD");
        let amount = cost
            .get("Amount")
            .and_then(Value::as_str)
            .and_then(|a| a.parse::<f64>().ok())
            .with_context(|| format!("ResultsByTime[{i}]'s `Amount` is not a number"))?;
        usd += amount;
    }
    let day = |i: usize, end: &str| {
        days[i]
            .pointer(&format!("/TimePeriod/{end}"))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    Ok(BillObserved {
        usd,
        source: format!(
            "Cost Explorer, UnblendedCost by day, {} to {} (whole days), from {file}",
            day(0, "Start"),
            day(days.len() - 1, "End")
        ),
    })
}

/// The note for a missing bill: how to add it once Cost Explorer has it.
pub fn no_bill_note(stack: &str, start: &str) -> String {
    let day = start.get(..10).unwrap_or(start);
    format!(
        "no bill: Cost Explorer's figures lag about a day. Once they are in, save \
         `aws ce get-cost-and-usage --time-period Start={day},End=<the day after the stack was \
         destroyed> --granularity DAILY --metrics UnblendedCost --filter \
         '{{\"Tags\":{{\"Key\":\"stack\",\"Values\":[\"{stack}\"]}}}}'` (the stack's resources \
         carry the tag `stack`; activate it as a cost allocation tag first) to bill.json and \
         collect again with --bill bill.json while the log groups remain, or put the sum in \
         this file as \"bill\": {{\"usd\": ..., \"source\": \"Cost Explorer\"}}"
    )
}
