//! `sim collect`: what a deployed stack did during a sale, read from AWS
//! into one observed file ([`crate::observed`]; the work is
//! `crate::observed::collect`).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

#[derive(Args, Clone, Debug)]
#[command(
    after_help = super::help::short("collect"),
    after_long_help = super::help::long("collect", NOTES)
)]
pub struct CollectArgs {
    /// The stack's outputs: the JSON `pulumi stack output --json` prints.
    /// Read: api_id, stage, function_names (ingest, read, processor,
    /// notifier: each function the settings have), db_instance_id,
    /// order_queue_url, order_dlq_url, processed_queue_url,
    /// processed_dlq_url.
    #[arg(long, value_name = "FILE")]
    pub outputs: PathBuf,
    /// The sale's result, as `sim load --json` wrote it: its figures are
    /// the outcome (but `dlq`, counted in the dead-letter queues), its
    /// profile, requests, duration and seed the sale.
    #[arg(long, value_name = "FILE")]
    pub load: PathBuf,
    /// The settings the stack was deployed with (deploy/settings.json, or
    /// the file the stack's `settingsFile` names).
    #[arg(long, value_name = "FILE")]
    pub settings: PathBuf,
    /// When the sale's window began, RFC 3339 (2026-12-06T10:00:00Z): the
    /// series' times count seconds from it.
    #[arg(long, value_name = "RFC3339", value_parser = rfc3339)]
    pub start: DateTime<Utc>,
    /// When the sale's window ended, RFC 3339.
    #[arg(long, value_name = "RFC3339", value_parser = rfc3339)]
    pub end: DateTime<Utc>,
    /// The stack's region [default: the SDK's: AWS_REGION, or the
    /// profile's].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// The Pulumi stack's name, for the file and the bill's tag [default:
    /// as the function names carry it, orderflow-STACK-ingest].
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    /// The stack's preset (`pulumi config get preset`): a production
    /// stack's database runs the settings' production_instance_class,
    /// Multi-AZ; a dev stack's the instance_class, in one zone.
    #[arg(long, value_enum, default_value_t = Preset::Production)]
    pub preset: Preset,
    /// Cost Explorer's answer for the stack, as JSON: `aws ce
    /// get-cost-and-usage --granularity DAILY --metrics UnblendedCost
    /// --filter '{"Tags":{"Key":"stack","Values":["STACK"]}}'
    /// --time-period ...`; every day's total is summed. Without it the
    /// bill is null and a note says how to add it (Cost Explorer lags
    /// about a day).
    #[arg(long, value_name = "FILE")]
    pub bill: Option<PathBuf>,
    /// CloudWatch's period for every series, seconds: 60 or a multiple
    /// (AWS's own metrics are per minute).
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = period)]
    pub period: u32,
    /// A failover forced during the sale: when it began, seconds from
    /// --start.
    #[arg(long, value_name = "SECS")]
    pub failover_at: Option<f64>,
    /// How long the database was away in that failover, seconds (default:
    /// the model's central `rds_failover_secs`, which the file's notes then
    /// say).
    #[arg(long, value_name = "SECS", requires = "failover_at")]
    pub failover_secs: Option<f64>,
    /// Where to write the observed file.
    #[arg(long, value_name = "PATH", default_value = "observed.json")]
    pub out: PathBuf,
}

/// The Pulumi program's presets, as far as the database goes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    Production,
    Dev,
}

const NOTES: &str = "What it reads: CloudWatch's GetMetricData (every function's \
ConcurrentExecutions, Duration average and p99, Invocations, Throttles and Errors; each queue's \
age of oldest message, visible messages, sent and received; the database's connections, CPU, \
write latency and CPU credits; the API's Count, 4xx, 5xx and p99 Latency), each function's log \
group /aws/lambda/NAME (REPORT lines in either log format, and EMF records) and the dead-letter \
queues' message counts. What AWS does not answer (a log group gone, a refused call) is a note in \
the file, not an error. It needs cloudwatch:GetMetricData, logs:FilterLogEvents and \
sqs:GetQueueAttributes.";

fn rfc3339(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e} (RFC 3339, such as 2026-12-06T10:00:00Z)"))
}

fn period(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(secs) if secs >= 60 && secs % 60 == 0 => Ok(secs),
        _ => Err("60 or a multiple of 60 seconds".to_owned()),
    }
}

#[cfg(feature = "aws")]
pub async fn collect(args: CollectArgs) -> std::process::ExitCode {
    use crate::observed::collect::{self, Request};
    use crate::observed::Failover;
    use std::process::ExitCode;

    let request = Request {
        outputs: args.outputs,
        load: args.load,
        settings: args.settings,
        start: args.start,
        end: args.end,
        period_secs: args.period,
        region: args.region,
        stack: args.stack,
        production: args.preset == Preset::Production,
        bill: args.bill,
        failover: args.failover_at.map(|at_secs| Failover {
            at_secs,
            lasted_secs: args.failover_secs.unwrap_or_else(modelled_failover_secs),
        }),
    };
    let assumed_failover = args.failover_at.is_some() && args.failover_secs.is_none();
    let observed = match collect::collect(&request).await {
        Ok(mut observed) => {
            if assumed_failover {
                observed.notes.push(format!(
                    "the failover's length was not measured (--failover-secs): taken as the model's central rds_failover_secs, {} s",
                    modelled_failover_secs()
                ));
            }
            observed
        }
        Err(e) => {
            eprintln!("sim collect: {e:#}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = observed.write(&args.out) {
        eprintln!("sim collect: {e:#}");
        return ExitCode::from(2);
    }
    let reports: usize = observed.functions.values().map(|f| f.reports.len()).sum();
    let emf: usize = observed.functions.values().map(|f| f.emf.len()).sum();
    println!(
        "sim collect: wrote {} ({} functions, {reports} REPORT lines, {emf} EMF records, {} notes)",
        args.out.display(),
        observed.functions.len(),
        observed.notes.len()
    );
    for note in &observed.notes {
        eprintln!("sim collect: note: {note}");
    }
    ExitCode::SUCCESS
}

/// How long the shipped model says a Multi-AZ failover keeps the database
/// away, at its central end.
#[cfg(feature = "aws")]
fn modelled_failover_secs() -> f64 {
    crate::aws::model::Model::shipped(crate::aws::End::Central, 0)
        .map_or(90.0, |m| m.v(&m.c.rds_failover_secs))
}
