//! What each operation costs a candidate, from the model's per-operation
//! costs: an SQS call and the slowest of several, a round trip to the
//! database and a statement there, a mapping's cycle from its first receive
//! to its delete, a lock held, an ingest request, a cold start. The parts
//! the rest of the screen adds up ([`super::flow`], [`super::price`]), kept
//! apart so that each number has one place.

use super::{Cycle, Screen};
use crate::aws::model::{lognormal_max_mean, lognormal_mean, CodeCosts, Cost};
use crate::aws::settings::FunctionName;
use crate::aws::sqs::mean_messages_per_receive;
use crate::plan::space::Candidate;
use crate::plan::Load;

impl Screen<'_> {
    /// A cost of the code on the reference host, from the model file.
    pub(super) fn code(&self, cost: impl Fn(&CodeCosts) -> &Cost) -> f64 {
        cost(&self.model.code).value
    }

    /// One SQS call's mean latency: the mean of the lognormal the sim
    /// draws each call from, above its median.
    fn sqs_ms(&self) -> f64 {
        let c = &self.model.c;
        lognormal_mean(
            self.model.v(&c.sqs_api_p50_ms),
            self.model.v(&c.sqs_api_p99_ms),
        )
    }

    /// What RDS adds to a commit on the candidate's class (its storage
    /// flush, and the standby's write if Multi-AZ), ms; and how much longer
    /// a statement's work takes there than on this machine's server.
    fn server(&self, c: &Candidate) -> (f64, f64) {
        let costs = self.model.server_costs(&c.class, self.multi_az);
        (
            costs.commit_extra.as_secs_f64() * 1000.0,
            costs.statement_stretch.max(1.0),
        )
    }

    fn rtt_ms(&self) -> f64 {
        let c = &self.model.c;
        let far = self.model.v(&c.cross_az_share);
        (1.0 - far) * self.model.v(&c.rtt_same_az_ms) + far * self.model.v(&c.rtt_cross_az_ms)
    }

    /// How often a mapping's slot finishes a batch, ms: its gathering (and
    /// `fill_ms` of its window) beside its invocation and delete where the
    /// model's pollers overlap them, one after the other where not (the
    /// simulated mapping's own structure, `esm_gather_overlaps`).
    pub(super) fn turn_ms(&self, cycle: &Cycle, fill_ms: f64) -> f64 {
        // The receives wait for arrivals: gathering and filling overlap.
        let gathering = cycle.gather_ms.max(fill_ms);
        let invoking = cycle.handler_ms + cycle.delete_ms;
        match self.model.v(&self.model.c.esm_gather_overlaps) >= 0.5 {
            true => gathering.max(invoking),
            false => gathering + invoking,
        }
    }

    /// A full batch's gathering with messages waiting: one receive, then
    /// rounds of the model's parallel receives until the batch is full
    /// (crate::aws::esm).
    fn gather_ms(&self, batch: u32, depth: f64) -> f64 {
        // A receive from a shallow queue returns fewer than asked, as the
        // simulated mapping's does (`sqs::mean_messages_per_receive`).
        let full = self.model.v(&self.model.c.sqs_full_receive_depth);
        let visible = depth.max(f64::from(batch)).min(1e9) as usize;
        let each = mean_messages_per_receive(10, visible, full);
        let more = ((f64::from(batch) - each).max(0.0) / each).ceil() as u32;
        let parallel = (self.model.v(&self.model.c.esm_parallel_receives).max(1.0)) as u32;
        let rounds = more.div_ceil(parallel);
        self.sqs_ms() + f64::from(rounds) * self.sqs_max_ms(parallel.min(more.max(1)))
    }

    /// The slowest of `k` parallel SQS calls, mean, ms: what the sim waits
    /// for when it makes them at once.
    fn sqs_max_ms(&self, k: u32) -> f64 {
        let c = &self.model.c;
        lognormal_max_mean(
            self.model.v(&c.sqs_api_p50_ms),
            self.model.v(&c.sqs_api_p99_ms),
            k,
        )
    }

    pub(super) fn processor_cycle(&self, c: &Candidate, batch: f64, depth: f64) -> Cycle {
        let m = self.model;
        Cycle {
            gather_ms: self.gather_ms(batch.ceil() as u32, depth),
            handler_ms: batch
                * self.code(|k| &k.processor_cpu_ms)
                * m.cpu_stretch(c.processor_memory)
                + self.code(|k| &k.processor_round_trips) * self.rtt_ms()
                + self.code(|k| &k.processor_db_ms) * self.server(c).1
                + self.server(c).0
                + self.sqs_max_ms((batch / 10.0).ceil() as u32),
            delete_ms: self.sqs_max_ms((batch / 10.0).ceil() as u32),
        }
    }

    /// How long a batch of `batch` orders holds the hot row's lock, ms.
    pub(super) fn lock_hold_ms(&self, c: &Candidate, batch: f64) -> f64 {
        let (commit, stretch) = self.server(c);
        self.code(|k| &k.lock_fixed_ms)
            + self.code(|k| &k.lock_db_ms) * (stretch - 1.0)
            + self.code(|k| &k.lock_round_trips) * self.rtt_ms()
            + commit
            + batch
                * self.code(|k| &k.lock_per_order_ms)
                * self.model.cpu_stretch(c.processor_memory)
    }

    pub(super) fn notifier_cycle(&self, c: &Candidate, batch: f64, depth: f64) -> Cycle {
        Cycle {
            gather_ms: self.gather_ms(batch.ceil() as u32, depth),
            handler_ms: batch
                * self.code(|k| &k.notifier_cpu_ms)
                * self.model.cpu_stretch(c.processor_memory),
            delete_ms: self.sqs_max_ms((batch / 10.0).ceil() as u32),
        }
    }

    pub(super) fn ingest_ms(&self, c: &Candidate) -> f64 {
        self.code(|k| &k.ingest_cpu_ms) * self.model.cpu_stretch(c.ingest_memory) + self.sqs_ms()
    }

    /// Ingest environments the sale needs: at the throttle's rate, warm
    /// (with the model's `ingest_margin`); and at its opening, when every request the
    /// stage's bucket admits in the first second meets an environment that
    /// is still starting (its init, then its handler), whichever is more.
    pub(super) fn ingest_needed(&self, c: &Candidate, load: &Load) -> f64 {
        let warm = f64::from(c.throttle.rate) * self.ingest_ms(c) / 1000.0
            * self.code(|k| &k.ingest_margin);
        let opening = load
            .rate_at(0.0)
            .min(f64::from(c.throttle.rate + c.throttle.burst));
        let cold =
            opening * (self.init_ms(FunctionName::Ingest, 1.0, false) + self.ingest_ms(c)) / 1000.0;
        warm.max(cold)
    }

    /// A cold start's init, ms: the runtime, the secrets it reads, and the
    /// connection's round trips if it has a pool.
    pub(super) fn init_ms(&self, function: FunctionName, secrets: f64, pool: bool) -> f64 {
        let c = &self.model.c;
        let connect = match pool {
            true => self.model.v(&c.connect_round_trips) * self.rtt_ms(),
            false => 0.0,
        };
        // The deployed init's queue checks, as the simulated cold start
        // charges them.
        let checks = f64::from(crate::aws::queue_checks(function));
        self.model.v(&c.runtime_start_ms)
            + secrets * self.model.v(&c.secret_read_ms)
            + connect
            + checks * self.sqs_ms()
    }
}
