//! `sim`: the whole orderflow pipeline in one process, as a library under a
//! thin binary (`src/main.rs` parses the command line and calls [`cli::run`]).
//!
//! - `sim` (or `sim run`): start the pipeline, run the original
//!   system's four verification scenarios over HTTP, a generated load, then check every
//!   invariant and print a report. Exits non-zero if anything failed.
//! - `sim serve`: the API and all workers until Ctrl-C.
//! - `sim check`: print the inventory and recent orders.
//! - `sim migrate`: bring a database (the original system's, too) to
//!   orderflow's schema.
//! - `sim dlq list|redrive`: the dead-letter queues of a running `sim serve`.
//! - `sim bench`: the processor against MySQL, beside reference points.
//! - `sim deployment`, `sim model`: the deployed shape and the model of AWS.
//! - `sim plan`: the cheapest deployed shape that survives a load, and its bill.
//! - `sim load --url URL`: the sim's open-loop customers against any API.
//! - `sim compare`: two results' metrics side by side, failing on a regression.
//!
//! Each subcommand is a module of [`cmd`], dispatched by [`cli`];
//! ARCHITECTURE.md maps the rest.

pub mod aws;
pub mod chaos;
pub mod cli;
pub mod cmd;
pub mod console;
pub mod gather;
pub mod invariants;
pub mod load;
pub mod needs;
pub mod netem;
#[cfg(feature = "aws")]
pub mod observed;
pub mod pipeline;
#[cfg(feature = "aws")]
pub mod plan;
pub mod report;
pub mod scenarios;
pub mod targets;
pub mod timeline;
