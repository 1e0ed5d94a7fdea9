//! The sim's integration tests, as one binary: the command line and its
//! reference pages, results and their schema, a graceful stop, and (with
//! the `aws` feature, as the test command builds them) the deployed shape,
//! `sim plan`, `sim rehearse` and the original system's queues.
//!
//! A test that walks a scenario end to end reads as one story, so the
//! function-length lint, which holds for the code, is off here.
#![allow(clippy::too_many_lines)]

#[macro_use]
mod common;
mod bench;
mod cli;
#[cfg(feature = "aws")]
mod collect;
#[cfg(feature = "aws")]
mod deployed_shape;
#[cfg(feature = "aws")]
mod functions;
mod load_follow;
#[cfg(feature = "aws")]
mod lock_wait;
mod netem;
#[cfg(feature = "aws")]
mod observe;
#[cfg(feature = "aws")]
mod original_system;
#[cfg(feature = "aws")]
mod plan;
#[cfg(feature = "aws")]
mod rehearse;
mod results;
mod shutdown;
