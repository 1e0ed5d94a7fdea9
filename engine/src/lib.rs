//! # orderflow engine
//!
//! An event-driven order pipeline, written once and run two ways: in one
//! process (the `sim` binary, with channel queues) and on AWS Lambda (the
//! `orderflow-lambda` crate's functions, over SQS and RDS). The engine
//! knows nothing of Lambda: its queues are a trait with an SQS backend
//! (feature `sqs`), and the functions' handlers live in that crate.
//!
//! ```text
//! client -POST /api/orders-> ingest -OrderCreated-> order queue -> processor -> store
//!                              | 400: nothing enqueued          | locks FOR UPDATE in
//!                              v                                | product_id order
//!                         202 + order_id    order DLQ <- 3 failed receives
//!                                                               v
//!             notifier <- processed queue <- OrderProcessed / OrderFailed
//! ```
//!
//! - [`validation`] turns a body into a [`domain::ValidOrder`] or a 400 that
//!   names the field; [`idempotency`] derives the order id from its content.
//! - [`ingest`] publishes `OrderCreated` ([`events`]) and answers 202 only once
//!   the queue has it.
//! - [`queue`]: the [`queue::QueueBackend`] trait with SQS semantics
//!   (visibility timeout, receive count, DLQ), and its in-process backend.
//! - [`store`]: the [`store::OrderStore`] trait, over MySQL or in memory; each
//!   batch of orders is applied atomically and each order at most once.
//! - [`consumer`]: the one consumer loop (receive, top up, decode, set
//!   poison aside, handle, delete, back off), run with two handlers:
//!   [`processor`] applies orders and publishes their outcomes,
//!   [`notifier`] notifies each order once.
//! - [`queues`]: the pipeline's queues (orders, processed, their DLQs),
//!   built from configuration over channels or SQS.
//! - [`dlq`]: listing and redriving dead-letter queues.
//! - `harness` (feature `harness`, for the sim and the tests): seeded fault
//!   injection and bookkeeping, as decorators wrapped around the store and
//!   the queues from outside.
//! - [`http`]: the axum router; [`app`] starts it all in one process.

pub mod app;
pub mod config;
pub mod consumer;
pub mod context;
pub mod dlq;
pub mod domain;
pub mod events;
#[cfg(feature = "harness")]
pub mod harness;
pub mod http;
pub mod idempotency;
pub mod ingest;
pub mod metrics;
pub mod notifier;
pub mod processor;
pub mod queue;
pub mod queues;
pub mod report;
pub mod retry;
pub mod shutdown;
pub mod store;
pub mod tls;
pub mod validation;
