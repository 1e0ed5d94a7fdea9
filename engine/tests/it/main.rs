//! The engine's integration tests, as one binary: the engine, sqlx and the
//! AWS SDK are linked once, not once per file. Each module is one contract
//! (the API, the store, the pipeline, the queues, ...); `common` holds the
//! shared set-up (`spawn_app`, `TestDb`, the both-stores macro).
//!
//! A test that walks a scenario end to end reads as one story, so the
//! function-length lint, which holds for the code, is off here.
#![allow(clippy::too_many_lines)]

#[macro_use]
mod common;
#[macro_use]
mod conformance;
mod api;
mod channel_queue;
mod connection_limit;
mod consumer;
mod migrations;
mod original_system;
mod pipeline;
mod properties;
mod sqs_queue;
mod store;
mod tls;
