//! The AWS the deployed shape runs on, modelled: `--topology lambda` runs
//! the pipeline in the shape `pulumi up` deploys, in one process, over
//! simulated API Gateway, Lambda, SQS event source mappings and RDS; `sim
//! plan`'s screen uses the same model's rules ([`model`], [`esm`]'s
//! scaling, [`sqs`]'s receives) without running anything. API Gateway's route throttles in front of the ingest
//! function (orders) and the read function (the reads); an SQS event source mapping per queue ([`esm`]) invoking the
//! processor and notifier functions, whose execution environments
//! ([`function`]) run the real handlers of the `orderflow-lambda` crate with their own
//! pools; the database as RDS would be ([`rds`]): a user limited to the
//! settings' explicit `max_connections`, behind each availability zone's
//! modelled round trip; every SQS call with its modelled latency ([`sqs`]).
//! The deployment's values come from the settings file Pulumi deploys; AWS's
//! behaviour and costs from the model file ([`model`]), at the end of its
//! ranges `--model` picks.

// The running shape needs the engine's Lambda handlers (the `aws`
// feature); without it the command line is the same, and `main` refuses
// what would run the shape before anything starts (`crate::needs`).
#[cfg(feature = "aws")]
pub mod bill;
#[cfg(feature = "aws")]
pub mod cpu;
#[cfg(feature = "aws")]
pub mod esm;
#[cfg(feature = "aws")]
pub mod function;
#[cfg(feature = "aws")]
pub mod gateway;
#[cfg(feature = "aws")]
pub mod lag;
#[cfg(feature = "aws")]
pub mod model;
#[cfg(feature = "aws")]
pub mod rds;
#[cfg(feature = "aws")]
pub mod shape;
// The settings file the Pulumi program deploys and the shape runs: both
// builds read it (`sim deployment`).
pub mod settings;
#[cfg(feature = "aws")]
pub mod sqs;

#[cfg(not(feature = "aws"))]
mod absent;

#[cfg(not(feature = "aws"))]
pub use absent::{Shape, ShapeSpec};
#[cfg(feature = "aws")]
pub use shape::{queue_checks, Shape, ShapeSpec, Surroundings};

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use engine::context::Books;
use engine::notifier::Notifier;
use engine::queues::Queues;

/// Which end of each uncertain constant's range a run takes (`--model`;
/// the model itself is [`model`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum End {
    /// Every uncertain constant at its cheapest plausible value.
    Optimistic,
    /// The sourced (or best assumed) value of each constant.
    #[default]
    Central,
    /// Every uncertain constant at its costliest plausible value.
    Pessimistic,
}

impl End {
    pub fn as_str(self) -> &'static str {
        match self {
            End::Optimistic => "optimistic",
            End::Central => "central",
            End::Pessimistic => "pessimistic",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Topology {
    /// One process: processor and notifier loops over one pool (fast).
    #[default]
    Local,
    /// The deployed shape: API Gateway's throttle, event source mappings,
    /// Lambda execution environments with a pool each, RDS's connection
    /// limit and a network round trip to the database (MySQL only).
    Lambda,
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Deployed shape")]
pub struct ShapeArgs {
    /// `local`: one process, as fast as it goes. `lambda`: the shape
    /// `pulumi up` deploys, with the deployment settings file (the book's
    /// "Will it survive the sale?").
    #[arg(long, value_enum, default_value = "local")]
    pub topology: Topology,
    /// The deployment settings to simulate (`--topology lambda`); default:
    /// deploy/settings.json as shipped.
    #[arg(long, value_name = "PATH")]
    pub settings: Option<PathBuf>,
    /// Run the event source mappings' scaling ramp (and the visibility
    /// timeout) this many times faster than AWS does; 1 is real time.
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0)]
    pub time_scale: f64,
    /// Seconds an execution environment stays warm without an invocation
    /// before it is reaped (default: the model's `environment_idle_secs`;
    /// AWS does not document it).
    #[arg(long, value_name = "SECS")]
    pub idle_secs: Option<u64>,
    /// Which end of the model's ranges to run under: `central` (the sourced
    /// values), or every uncertain constant at its `optimistic` or
    /// `pessimistic` end (the book's "The model of AWS").
    #[arg(long, value_enum, default_value = "central")]
    pub model: End,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// The model file, the database's zones and the prices' region: what a
/// simulated run (through [`ShapeArgs`]) and `sim plan` both take,
/// declared once. (`--model`, the end of the ranges, is each one's own:
/// a run defaults to `central`, a plan to `pessimistic`.)
#[derive(Args, Clone, Debug)]
pub struct AwsArgs {
    /// A model file to read instead of deploy/model.json as shipped.
    #[arg(long, value_name = "PATH")]
    pub model_file: Option<PathBuf>,
    /// A Multi-AZ database, as the Pulumi program's `production` preset
    /// deploys: every commit waits for the standby (the model's
    /// `multi_az_commit_ms`) and the instance is billed twice. Off:
    /// single-AZ, the `dev` preset.
    #[arg(long)]
    pub multi_az: bool,
    /// The AWS region whose prices the bill uses: a table of
    /// deploy/prices.json (us-east-1 is the one shipped).
    #[arg(long, value_name = "REGION", default_value = "us-east-1")]
    pub region: String,
}

impl ShapeArgs {
    pub fn is_lambda(&self) -> bool {
        self.topology == Topology::Lambda
    }
}

/// What the functions reach of the pipeline around them: its queues, the
/// books it reports from, and where notifications go. Opened before the
/// shape is built, and handed to both.
#[derive(Clone)]
pub struct Wiring {
    pub queues: Queues,
    pub books: Books,
    // Read by the shape's functions alone, which only `aws` builds.
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    pub notifier: Arc<dyn Notifier>,
}
/// The shape's state at one moment of a run.
#[derive(Debug, Clone, Default)]
pub struct ShapeSample {
    /// Seconds since the load started.
    pub t: f64,
    /// Environments alive per function (ingest, processor, notifier).
    pub environments: Vec<u64>,
    /// Cold starts so far per function.
    pub cold_starts: Vec<u64>,
    /// Invocations running now per function (CloudWatch's
    /// `ConcurrentExecutions`).
    pub busy: Vec<u64>,
    /// Requests the stage throttle answered 429 so far.
    pub throttled: u64,
    /// Database connections open now (through the modelled network).
    pub connections: u64,
    /// Connections the database refused so far.
    pub refused: u64,
    /// Age of the oldest message in the order queue, seconds.
    pub oldest_order_secs: Option<f64>,
}
