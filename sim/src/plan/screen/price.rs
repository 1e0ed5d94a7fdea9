//! What a candidate costs: the sale's use of the shape in AWS's units, and
//! its bill for one sale, an idle month and a month of sales, by the same
//! arithmetic a run's bill takes ([`crate::aws::bill`]). Apart from the
//! judging (the parent): the rules and targets decide whether a candidate
//! is kept, this what it would cost.

use super::{Flow, Screen, DRAIN_SECS};
use crate::aws::bill::{self, FunctionUsage, Usage};
use crate::aws::settings::{Architecture, FunctionName};
use crate::plan::space::Candidate;
use crate::plan::Load;

impl Screen<'_> {
    pub(super) fn price(&self, usage: &Usage) -> (f64, f64, f64) {
        let pollers = 2.0 * self.model.v(&self.model.c.esm_initial_concurrency);
        let (Ok(sale), Ok(idle)) = (
            bill::bill(usage, self.prices),
            bill::bill(&bill::idle_month(usage, pollers), self.prices),
        ) else {
            return (f64::INFINITY, f64::INFINITY, f64::INFINITY);
        };
        // The sale's hours of the fixed items are in the idle month
        // already; a month adds what the sales use beyond them.
        let variable: f64 = sale.iter().filter(|l| !l.fixed).map(|l| l.usd).sum();
        let idle = bill::total(&idle);
        (
            bill::total(&sale),
            idle,
            idle + self.sales_per_month * variable,
        )
    }

    /// The sale's use of the shape, in AWS's units, for its bill.
    pub(super) fn usage(&self, c: &Candidate, load: &Load, f: &Flow) -> Usage {
        let orders = load.orders as f64;
        let ingest_envs = (load.peak() * self.ingest_ms(c) / 1000.0).ceil();
        let arm64 = c.architecture == Architecture::Arm64;
        let size = |batches: f64| orders / batches.max(1.0);
        let p_cycle = self.processor_cycle(c, size(f.processor_batches), f64::INFINITY);
        let n_cycle = self.notifier_cycle(c, size(f.notifier_batches), f64::INFINITY);
        let function =
            |name: &str, memory_mb, requests: f64, each_ms: f64, inits: f64, init_ms: f64| {
                FunctionUsage {
                    name: name.to_owned(),
                    memory_mb,
                    arm64,
                    requests: requests.round() as u64,
                    billed_ms: (requests * each_ms.ceil() + inits * init_ms.ceil()).round() as u64,
                }
            };
        let receives = |batches: f64, batch: u32| batches * f64::from(batch.div_ceil(10));
        let seconds = load.duration + f.drain_secs.min(DRAIN_SECS) + 5.0;
        let pollers = 2.0 * self.model.v(&self.model.c.esm_initial_concurrency);
        // A batch's publishes and deletes go out in calls of ten, as the
        // engine and the mapping make them.
        let chunks = |batches: f64| batches * (size(batches) / 10.0).ceil();
        let sqs = orders
            + 2.0 * chunks(f.processor_batches)
            + receives(f.processor_batches, c.processor.batch_size)
            + chunks(f.notifier_batches)
            + receives(f.notifier_batches, c.notifier.batch_size)
            + pollers * seconds / bill::IDLE_POLL_SECS;
        let invocations = orders + f.processor_batches + f.notifier_batches;
        let inits = ingest_envs + f.processor_envs + f.notifier_envs;
        Usage {
            seconds,
            api_requests: load.orders as u64,
            functions: vec![
                function(
                    "ingest",
                    c.ingest_memory,
                    orders,
                    self.ingest_ms(c),
                    ingest_envs,
                    self.init_ms(FunctionName::Ingest, 1.0, false),
                ),
                function(
                    "processor",
                    c.processor_memory,
                    f.processor_batches,
                    p_cycle.handler_ms,
                    f.processor_envs,
                    self.init_ms(FunctionName::Processor, 1.0, true),
                ),
                function(
                    "notifier",
                    c.processor_memory,
                    f.notifier_batches,
                    n_cycle.handler_ms,
                    f.notifier_envs,
                    self.init_ms(FunctionName::Notifier, 1.0, true),
                ),
            ],
            sqs_requests: sqs.round() as u64,
            instance_class: c.class.clone(),
            multi_az: self.multi_az,
            storage_gb: bill::STORAGE_GB,
            endpoints: bill::ENDPOINTS,
            zones: bill::ZONES,
            endpoint_bytes: load.orders as u64 * self.code(|k| &k.endpoint_bytes_per_order) as u64,
            log_bytes: invocations as u64 * bill::LOG_BYTES_PER_INVOCATION
                + load.orders as u64 * self.code(|k| &k.notification_log_bytes) as u64
                + (f.processor_batches + f.notifier_batches) as u64 * emf_line_bytes(),
            alarms: bill::ALARMS,
            secrets: bill::SECRETS,
            secret_calls: inits as u64,
        }
    }
}
/// One EMF record's line, as the engine writes it after a queue function's
/// batch (the bill of a run counts the same).
fn emf_line_bytes() -> u64 {
    crate::aws::bill::emf_line_bytes("orderflow-dev-processor")
}
